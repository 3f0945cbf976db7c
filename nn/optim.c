/* nn/optim.c — AdamW, clip_grad_norm_, zero_grad (see optim.h for the PyTorch semantics). */
#include "nn/optim.h"

#include <math.h>
#include <string.h>

/* Fixed number of partial sums for the gradient norm: independent of the thread count, so
 * the reduction order (and the bits of the result) is too. */
#define NORM_BLOCKS 64

nn_adamw_config nn_adamw_defaults(void) {
    return (nn_adamw_config){
        .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 1e-2};
}

void nn_adamw_init(nn_adamw *opt, const nn_adamw_config *cfg) {
    NN_ASSERT(cfg->lr >= 0 && cfg->eps >= 0 && cfg->weight_decay >= 0);
    NN_ASSERT(cfg->beta1 >= 0 && cfg->beta1 < 1 && cfg->beta2 >= 0 && cfg->beta2 < 1);
    opt->cfg = *cfg;
    opt->t = 0;
}

static void check_ctx(const nn_ctx *ctx) {
    NN_ASSERT(ctx->backend == NN_BACKEND_CPU && ctx->n_threads >= 1);
}

void nn_adamw_step(nn_ctx *ctx, nn_adamw *opt, float *params, const float *grads, float *m,
                   float *v, size_t n) {
    check_ctx(ctx);
    const nn_adamw_config *c = &opt->cfg;
    opt->t += 1;
    /* Scalars: double where torch/optim/adam.py computes them in Python, then rounded to float
     * as PyTorch's CPU kernels do with a Python scalar next to a float32 tensor. */
    const double t = (double)opt->t;
    const double bc1 = 1.0 - pow(c->beta1, t);
    const double bc2 = 1.0 - pow(c->beta2, t);
    const float decay = (float)(1.0 - c->lr * c->weight_decay);  /* param.mul_(1 - lr*wd) */
    const float w1 = (float)(1.0 - c->beta1);                    /* exp_avg.lerp_(g, 1-β1) */
    const float beta2 = (float)c->beta2;                         /* exp_avg_sq.mul_(β2) */
    const float w2 = (float)(1.0 - c->beta2);                    /* .addcmul_(g, g, 1-β2) */
    const float bc2_sqrt = (float)sqrt(bc2);
    const float eps = (float)c->eps;
    const float neg_step = (float)(-(c->lr / bc1));              /* addcdiv_(m, denom, -lr/bc1) */
    const ptrdiff_t N = (ptrdiff_t)n;
#pragma omp parallel for schedule(static) num_threads(ctx->n_threads)
    for (ptrdiff_t i = 0; i < N; i++) {
        float p = params[i] * decay;
        float g = grads[i];
        /* at::lerp with |weight| < 0.5: self + weight * (end - self) */
        float mi = m[i] + w1 * (g - m[i]);
        /* addcmul: self + value * t1 * t2, left to right */
        float vi = v[i] * beta2 + w2 * g * g;
        float denom = sqrtf(vi) / bc2_sqrt + eps;
        /* addcdiv: self + value * t1 / t2, left to right */
        params[i] = p + neg_step * mi / denom;
        m[i] = mi;
        v[i] = vi;
    }
}

void nn_adamw_step_params(nn_ctx *ctx, nn_adamw *opt, nn_params *p) {
    NN_ASSERT(p->finalized);
    nn_adamw_step(ctx, opt, p->params, p->grads, p->m, p->v, p->n_trainable);
}

sdpo_status nn_clip_grad_norm(nn_ctx *ctx, float *grads, size_t n, float max_norm,
                              float *total_norm) {
    check_ctx(ctx);
    NN_ASSERT(max_norm > 0);
    double partial[NORM_BLOCKS];
#pragma omp parallel for schedule(static) num_threads(ctx->n_threads)
    for (int b = 0; b < NORM_BLOCKS; b++) {
        size_t lo = n / NORM_BLOCKS * (size_t)b + (n % NORM_BLOCKS) * (size_t)b / NORM_BLOCKS;
        size_t hi = n / NORM_BLOCKS * (size_t)(b + 1) +
                    (n % NORM_BLOCKS) * (size_t)(b + 1) / NORM_BLOCKS;
        double s = 0.0;
        for (size_t i = lo; i < hi; i++) s += (double)grads[i] * grads[i];
        partial[b] = s;
    }
    double sum = 0.0;
    for (int b = 0; b < NORM_BLOCKS; b++) sum += partial[b];
    const float total = (float)sqrt(sum);   /* torch returns the norm as a float32 tensor */
    *total_norm = total;
    if (!isfinite(total))
        return sdpo_fail(SDPO_ERR_NONFINITE,
                         "gradient norm is %g: a gradient is NaN or Inf (step not taken)",
                         (double)total);
    /* `max_norm / (total_norm + 1e-6)` with a tensor on the right is Tensor.__rtruediv__,
     * i.e. reciprocal() * max_norm, all in float32; then clamp(max=1.0). */
    float coef = (1.0f / (total + 1e-6f)) * max_norm;
    if (coef < 1.0f) {   /* multiplying by the clamped 1.0 would leave every bit as it is */
        const ptrdiff_t N = (ptrdiff_t)n;
#pragma omp parallel for schedule(static) num_threads(ctx->n_threads)
        for (ptrdiff_t i = 0; i < N; i++) grads[i] *= coef;
    }
    return SDPO_OK;
}

void nn_zero_grad(nn_ctx *ctx, float *grads, size_t n) {
    check_ctx(ctx);
    if (n) memset(grads, 0, n * sizeof *grads);
}

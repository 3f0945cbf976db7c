/* nn/ops_reduce.c — sum and mean over a whole tensor, and the spatial mean over H·W.
 *
 * CPU reference: clean, minimal, no intrinsics, no fast-math. Sums accumulate in double. The
 * full reduction splits the input into a fixed number of contiguous blocks, however many threads
 * run, and adds the block sums in block order: the result depends on n only, not on the thread
 * count. */
#include "nn/ops.h"
#include "nn/ops_internal.h"

/* Blocks of the full reduction (a fixed count, so the summation order never depends on threads). */
enum { SUM_BLOCKS = 64 };

static double sum_all(const nn_ctx *ctx, const float *x, size_t n) {
    double part[SUM_BLOCKS];
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static) if (n >= NN_OPS_PAR_MIN)
    for (int k = 0; k < SUM_BLOCKS; k++) {
        size_t i0 = n * k / SUM_BLOCKS, i1 = n * (k + 1) / SUM_BLOCKS;
        double acc = 0.0;
        for (size_t i = i0; i < i1; i++) acc += x[i];
        part[k] = acc;
    }
    double total = 0.0;
    for (int k = 0; k < SUM_BLOCKS; k++) total += part[k];
    return total;
}

/* dinp[i] += g for i < n. */
static void add_const(const nn_ctx *ctx, float *dinp, float g, size_t n) {
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static) if (n >= NN_OPS_PAR_MIN)
    for (size_t i = 0; i < n; i++) dinp[i] += g;
}

void nn_sum_forward(nn_ctx *ctx, float *out, const float *inp, size_t n) {
    // inp is (n), out is (1)
    NN_OPS_CHECK_CTX(ctx);
    NN_ASSERT(out && inp && n >= 1);
    out[0] = (float)sum_all(ctx, inp, n);
}

void nn_sum_backward(nn_ctx *ctx, float *dinp, const float *dout, size_t n) {
    // dout is (1), dinp is (n)
    NN_OPS_CHECK_CTX(ctx);
    NN_ASSERT(dinp && dout && n >= 1);
    add_const(ctx, dinp, dout[0], n);
}

void nn_mean_forward(nn_ctx *ctx, float *out, const float *inp, size_t n) {
    // inp is (n), out is (1)
    NN_OPS_CHECK_CTX(ctx);
    NN_ASSERT(out && inp && n >= 1);
    out[0] = (float)(sum_all(ctx, inp, n) / (double)n);
}

void nn_mean_backward(nn_ctx *ctx, float *dinp, const float *dout, size_t n) {
    // dout is (1), dinp is (n)
    NN_OPS_CHECK_CTX(ctx);
    NN_ASSERT(dinp && dout && n >= 1);
    add_const(ctx, dinp, (float)((double)dout[0] / (double)n), n);
}

void nn_mean_hw_forward(nn_ctx *ctx, float *out, const float *inp, int B, int C, int HW) {
    // inp is (B, C, HW), out is (B, C)
    NN_OPS_CHECK_CTX(ctx);
    NN_ASSERT(out && inp && B >= 1 && C >= 1 && HW >= 1);
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static) \
    if ((size_t)B * C * HW >= NN_OPS_PAR_MIN)
    for (int r = 0; r < B * C; r++) {
        const float *x = inp + (size_t)r * HW;
        double acc = 0.0;
        for (int i = 0; i < HW; i++) acc += x[i];
        out[r] = (float)(acc / HW);
    }
}

void nn_mean_hw_backward(nn_ctx *ctx, float *dinp, const float *dout, int B, int C, int HW) {
    // dout is (B, C), dinp is (B, C, HW)
    NN_OPS_CHECK_CTX(ctx);
    NN_ASSERT(dinp && dout && B >= 1 && C >= 1 && HW >= 1);
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static) \
    if ((size_t)B * C * HW >= NN_OPS_PAR_MIN)
    for (int r = 0; r < B * C; r++) {
        float g = (float)((double)dout[r] / HW), *dx = dinp + (size_t)r * HW;
        for (int i = 0; i < HW; i++) dx[i] += g;
    }
}

/* nn/ops_arith.c — elementwise add (plain and broadcast) and constant scale, forward and backward.
 *
 * CPU reference: clean, minimal, no intrinsics, no fast-math. */
#include "nn/ops.h"
#include "nn/ops_internal.h"

void nn_add_forward(nn_ctx *ctx, float *out, const float *a, const float *b, size_t n) {
    // a, b, out are (n)
    NN_OPS_CHECK_CTX(ctx);
    NN_ASSERT(out && a && b);
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static) if (n >= NN_OPS_PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void nn_add_backward(nn_ctx *ctx, float *da, float *db, const float *dout, size_t n) {
    // dout, da, db are (n)
    NN_OPS_CHECK_CTX(ctx);
    NN_ASSERT(dout);
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static) if (n >= NN_OPS_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        if (da) da[i] += dout[i];
        if (db) db[i] += dout[i];
    }
}

void nn_add_broadcast_forward(nn_ctx *ctx, float *out, const float *a, const float *v, int B,
                              int C, int inner, int VB) {
    // a, out are (B, C, inner); v is (VB, C) with VB = B or 1
    NN_OPS_CHECK_CTX(ctx);
    NN_ASSERT(out && a && v && B >= 1 && C >= 1 && inner >= 1 && (VB == B || VB == 1));
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static) \
    if ((size_t)B * C * inner >= NN_OPS_PAR_MIN)
    for (int r = 0; r < B * C; r++) {
        float vr = v[VB == 1 ? r % C : r];
        const float *x = a + (size_t)r * inner;
        float *y = out + (size_t)r * inner;
        for (int i = 0; i < inner; i++) y[i] = x[i] + vr;
    }
}

void nn_add_broadcast_backward(nn_ctx *ctx, float *da, float *dv, const float *dout, int B, int C,
                               int inner, int VB) {
    // dout, da are (B, C, inner); dv is (VB, C)
    NN_OPS_CHECK_CTX(ctx);
    NN_ASSERT(dout && B >= 1 && C >= 1 && inner >= 1 && (VB == B || VB == 1));
    size_t total = (size_t)B * C * inner;
    if (da) {
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static) if (total >= NN_OPS_PAR_MIN)
        for (size_t i = 0; i < total; i++) da[i] += dout[i];
    }
    if (dv) {
        // one thread per entry of v, summing its broadcast copies in (b, i) order
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static) if (total >= NN_OPS_PAR_MIN)
        for (int e = 0; e < VB * C; e++) {
            int b0 = VB == 1 ? 0 : e / C, b1 = VB == 1 ? B : b0 + 1, c = e % C;
            double acc = 0.0;
            for (int b = b0; b < b1; b++) {
                const float *d = dout + ((size_t)b * C + c) * inner;
                for (int i = 0; i < inner; i++) acc += d[i];
            }
            dv[e] += (float)acc;
        }
    }
}

void nn_scale_forward(nn_ctx *ctx, float *out, const float *inp, float s, size_t n) {
    // inp, out are (n)
    NN_OPS_CHECK_CTX(ctx);
    NN_ASSERT(out && inp);
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static) if (n >= NN_OPS_PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = s * inp[i];
}

void nn_scale_backward(nn_ctx *ctx, float *dinp, const float *dout, float s, size_t n) {
    // dout, dinp are (n)
    NN_OPS_CHECK_CTX(ctx);
    NN_ASSERT(dinp && dout);
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static) if (n >= NN_OPS_PAR_MIN)
    for (size_t i = 0; i < n; i++) dinp[i] += s * dout[i];
}

/* nn/ops_linear.c — torch.nn.Linear forward and backward on OpenBLAS sgemm.
 *
 * CPU reference: clean, minimal, no intrinsics, no fast-math. The GEMMs run with ctx->n_threads
 * OpenBLAS threads; everything else is plain loops over disjoint outputs. */

#include "nn/ops.h"
#include "nn/ops_internal.h"

/* Channels per block of the dbias reduction: a block's double accumulators live on the stack. */
enum { BIAS_BLOCK = 64 };

void nn_linear_forward(nn_ctx *ctx, float *out, const float *inp, const float *weight,
                       const float *bias, int N, int C_in, int C_out) {
    // inp is (N, C_in), weight is (C_out, C_in), bias is (C_out) or NULL, out is (N, C_out)
    NN_OPS_CHECK_CTX(ctx);
    NN_ASSERT(out && inp && weight && N >= 1 && C_in >= 1 && C_out >= 1);
    float beta = 0.0f;
    if (bias) {
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static) \
    if ((size_t)N * C_out >= NN_OPS_PAR_MIN)
        for (int n = 0; n < N; n++)
            for (int o = 0; o < C_out; o++) out[(size_t)n * C_out + o] = bias[o];
        beta = 1.0f;
    }
    // out = inp · weightᵀ (+ out holding the bias)
    nn_ops_sgemm(ctx, 0, 1, N, C_out, C_in, inp, C_in, weight, C_in, beta, out, C_out);
}

void nn_linear_backward(nn_ctx *ctx, float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, int N, int C_in, int C_out) {
    // dout is (N, C_out); dinp is (N, C_in), dweight is (C_out, C_in), dbias is (C_out)
    NN_OPS_CHECK_CTX(ctx);
    NN_ASSERT(dout && N >= 1 && C_in >= 1 && C_out >= 1);
    if (dinp) {
        NN_ASSERT(weight);
        // dinp += dout · weight
        nn_ops_sgemm(ctx, 0, 0, N, C_in, C_out, dout, C_out, weight, C_in, 1.0f, dinp, C_in);
    }
    if (dweight) {
        NN_ASSERT(inp);
        // dweight += doutᵀ · inp
        nn_ops_sgemm(ctx, 1, 0, C_out, C_in, N, dout, C_out, inp, C_in, 1.0f, dweight, C_in);
    }
    if (dbias) {
        // one thread per channel block, rows summed in order: no cross-thread reduction
        int n_blocks = (C_out + BIAS_BLOCK - 1) / BIAS_BLOCK;
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static) \
    if ((size_t)N * C_out >= NN_OPS_PAR_MIN)
        for (int blk = 0; blk < n_blocks; blk++) {
            int o0 = blk * BIAS_BLOCK, len = C_out - o0 < BIAS_BLOCK ? C_out - o0 : BIAS_BLOCK;
            double acc[BIAS_BLOCK] = {0};
            for (int n = 0; n < N; n++) {
                const float *row = dout + (size_t)n * C_out + o0;
                for (int j = 0; j < len; j++) acc[j] += row[j];
            }
            for (int j = 0; j < len; j++) dbias[o0 + j] += (float)acc[j];
        }
    }
}

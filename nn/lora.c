/* nn/lora.c — LoRA linear forward/backward and init (see lora.h). */
#include "nn/lora.h"

#include <cblas.h>   /* defines: cblas_sgemm, openblas_set_num_threads */
#include <string.h>

#include "nn/ops.h"      /* defines: nn_linear_forward, nn_linear_backward */
#include "nn/tensor.h"   /* defines: NN_ASSERT */

float nn_lora_scale(double alpha, int rank) {
    NN_ASSERT(rank >= 1);
    return (float)(alpha / rank);
}

void nn_lora_init(sdpo_rng *rng, float *down, float *up, int C_in, int C_out, int rank) {
    NN_ASSERT(C_in >= 1 && C_out >= 1 && rank >= 1);
    const size_t n = (size_t)rank * C_in;
    sdpo_rng_normal_fill(rng, down, n);
    /* torch's normal_(std=s) is mean + s·z in float32; s = 1/rank as a Python float */
    const float std = (float)(1.0 / rank);
    for (size_t i = 0; i < n; i++) down[i] *= std;
    memset(up, 0, (size_t)C_out * rank * sizeof *up);
}

size_t nn_lora_scratch_floats(int N, int rank) { return (size_t)N * rank; }

static void check_args(const nn_ctx *ctx, int N, int C_in, int C_out, int rank) {
    NN_ASSERT(ctx->backend == NN_BACKEND_CPU && ctx->n_threads >= 1);
    NN_ASSERT(N >= 1 && C_in >= 1 && C_out >= 1 && rank >= 1);
}

void nn_lora_linear_forward(nn_ctx *ctx, float *out, float *h, const float *inp,
                            const float *weight, const float *bias, const float *down,
                            const float *up, float scale, int N, int C_in, int C_out, int rank) {
    /* inp [N, C_in], weight [C_out, C_in], bias [C_out], down [rank, C_in], up [C_out, rank],
     * out [N, C_out], h [N, rank] */
    check_args(ctx, N, C_in, C_out, rank);
    nn_linear_forward(ctx, out, inp, weight, bias, N, C_in, C_out);
    nn_linear_forward(ctx, h, inp, down, NULL, N, C_in, rank);
    /* out += scale · (h upᵀ): sgemm applies alpha to the finished product, as diffusers'
     * `scale * lora(x)` does; with up = 0 this adds exact zeros, so out keeps the base bits. */
    /* The rank-r products are small; they run on one OpenBLAS thread, since OpenBLAS's own
     * pthread pool spin-waits against the ops' OpenMP threads (see nn/ops_gemm.c). */
    openblas_set_num_threads(1);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, C_out, rank, scale, h, rank, up,
                rank, 1.0f, out, C_out);
}

void nn_lora_linear_backward(nn_ctx *ctx, float *dinp, float *ddown, float *dup,
                             const float *dout, const float *inp, const float *h,
                             const float *weight, const float *down, const float *up,
                             float scale, int N, int C_in, int C_out, int rank, float *scratch) {
    /* dout [N, C_out]; dinp [N, C_in], ddown [rank, C_in], dup [C_out, rank];
     * scratch dh [N, rank] */
    check_args(ctx, N, C_in, C_out, rank);
    if (dinp)   /* base path: dinp += dout W; W itself is frozen (no dweight, no dbias) */
        nn_linear_backward(ctx, dinp, NULL, NULL, dout, inp, weight, N, C_in, C_out);
    openblas_set_num_threads(1); /* see the forward */
    if (dup)    /* dup += scale · doutᵀ h */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C_out, rank, N, scale, dout, C_out,
                    h, rank, 1.0f, dup, rank);
    if (dinp || ddown) {
        /* dh = scale · dout up, the gradient at the rank-r bottleneck; the down projection is
         * then an ordinary linear layer: dinp += dh down, ddown += dhᵀ inp */
        float *dh = scratch;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, rank, C_out, scale, dout,
                    C_out, up, rank, 0.0f, dh, rank);
        nn_linear_backward(ctx, dinp, ddown, NULL, dh, inp, down, N, C_in, rank);
    }
}

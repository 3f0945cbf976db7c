/* nn/ops_norm.c — torch.nn.GroupNorm and torch.nn.LayerNorm forward and backward.
 *
 * CPU reference: clean, minimal, no intrinsics, no fast-math.
 * Statistics are two-pass in double (mean, then Σ(x − μ)²), the numerically clean textbook form:
 * no cancellation as in E[x²] − μ², and with double accumulation (relative error ≲ n·1.1e-16,
 * ≤ 1e-8 for the ≤ 10⁸-element groups we meet) the float mean and rstd are within one rounding
 * of exact. Variance is biased (÷ n), as
 * PyTorch normalises. The backward is the standard closed form
 *   dx = rstd · (g − mean(g) − x̂ · mean(g · x̂)),  g = dout · weight,  x̂ = (x − μ) · rstd,
 * with both means over the normalised group (row). Parameter gradients are reduced per channel
 * by one thread each, in a fixed (b, i) order. */
#include <math.h>

#include "nn/ops.h"
#include "nn/ops_internal.h"

/* Channels per block of the LayerNorm parameter-gradient reduction (double accumulators on the
 * stack). */
enum { LN_BLOCK = 64 };

/* Mean and 1/√(var + eps) of x[0 … n). */
static void moments(const float *x, size_t n, float eps, float *mean_out, float *rstd_out) {
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += x[i];
    double mean = sum / (double)n, ss = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = x[i] - mean;
        ss += d * d;
    }
    *mean_out = (float)mean;
    *rstd_out = (float)(1.0 / sqrt(ss / (double)n + (double)eps));
}

// ----------------------------------------------------------------------------
// group norm

void nn_group_norm_forward(nn_ctx *ctx, float *out, float *mean, float *rstd, const float *inp,
                           const float *weight, const float *bias, int B, int C, int HW, int G,
                           float eps) {
    // inp, out are (B, C, HW); weight, bias are (C) or NULL; mean, rstd are (B, G) or NULL
    NN_OPS_CHECK_CTX(ctx);
    NN_ASSERT(out && inp && B >= 1 && C >= 1 && HW >= 1 && G >= 1 && C % G == 0);
    NN_ASSERT((mean == NULL) == (rstd == NULL));
    int Cg = C / G;
    size_t n = (size_t)Cg * HW;
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static) \
    if ((size_t)B * C * HW >= NN_OPS_PAR_MIN)
    for (int bg = 0; bg < B * G; bg++) {
        const float *x = inp + (size_t)bg * n;  // group bg = b·G + g starts at channel g·Cg
        float *y = out + (size_t)bg * n;
        float m, r;
        moments(x, n, eps, &m, &r);
        if (mean) {
            mean[bg] = m;
            rstd[bg] = r;
        }
        for (int j = 0; j < Cg; j++) {
            int c = (bg % G) * Cg + j;
            float w = weight ? weight[c] : 1.0f, b0 = bias ? bias[c] : 0.0f;
            const float *xc = x + (size_t)j * HW;
            float *yc = y + (size_t)j * HW;
            for (int i = 0; i < HW; i++) yc[i] = (xc[i] - m) * r * w + b0;
        }
    }
}

void nn_group_norm_backward(nn_ctx *ctx, float *dinp, float *dweight, float *dbias,
                            const float *dout, const float *inp, const float *weight,
                            const float *mean, const float *rstd, int B, int C, int HW, int G) {
    // dout, inp, dinp are (B, C, HW); weight, dweight, dbias are (C); mean, rstd are (B, G)
    NN_OPS_CHECK_CTX(ctx);
    NN_ASSERT(dout && B >= 1 && C >= 1 && HW >= 1 && G >= 1 && C % G == 0);
    NN_ASSERT(!(dinp || dweight) || (inp && mean && rstd));
    int Cg = C / G;
    size_t n = (size_t)Cg * HW, total = (size_t)B * C * HW;
    if (dinp) {
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static) if (total >= NN_OPS_PAR_MIN)
        for (int bg = 0; bg < B * G; bg++) {
            size_t off = (size_t)bg * n;
            float m = mean[bg], r = rstd[bg];
            double sum_g = 0.0, sum_gx = 0.0;
            for (int j = 0; j < Cg; j++) {
                int c = (bg % G) * Cg + j;
                float w = weight ? weight[c] : 1.0f;
                for (int i = 0; i < HW; i++) {
                    size_t k = off + (size_t)j * HW + i;
                    float g = dout[k] * w, xh = (inp[k] - m) * r;
                    sum_g += g;
                    sum_gx += (double)g * xh;
                }
            }
            float mg = (float)(sum_g / (double)n), mgx = (float)(sum_gx / (double)n);
            for (int j = 0; j < Cg; j++) {
                int c = (bg % G) * Cg + j;
                float w = weight ? weight[c] : 1.0f;
                for (int i = 0; i < HW; i++) {
                    size_t k = off + (size_t)j * HW + i;
                    float g = dout[k] * w, xh = (inp[k] - m) * r;
                    dinp[k] += r * (g - mg - xh * mgx);
                }
            }
        }
    }
    if (dweight || dbias) {
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static) if (total >= NN_OPS_PAR_MIN)
        for (int c = 0; c < C; c++) {
            double acc_w = 0.0, acc_b = 0.0;
            for (int b = 0; b < B; b++) {
                size_t off = ((size_t)b * C + c) * HW;
                int bg = b * G + c / Cg;
                for (int i = 0; i < HW; i++) {
                    float d = dout[off + i];
                    acc_b += d;
                    if (dweight) acc_w += (double)d * ((inp[off + i] - mean[bg]) * rstd[bg]);
                }
            }
            if (dweight) dweight[c] += (float)acc_w;
            if (dbias) dbias[c] += (float)acc_b;
        }
    }
}

// ----------------------------------------------------------------------------
// layer norm

void nn_layer_norm_forward(nn_ctx *ctx, float *out, float *mean, float *rstd, const float *inp,
                           const float *weight, const float *bias, int N, int C, float eps) {
    // inp, out are (N, C); weight, bias are (C) or NULL; mean, rstd are (N) or NULL
    NN_OPS_CHECK_CTX(ctx);
    NN_ASSERT(out && inp && N >= 1 && C >= 1);
    NN_ASSERT((mean == NULL) == (rstd == NULL));
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static) \
    if ((size_t)N * C >= NN_OPS_PAR_MIN)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *y = out + (size_t)n * C;
        float m, r;
        moments(x, (size_t)C, eps, &m, &r);
        if (mean) {
            mean[n] = m;
            rstd[n] = r;
        }
        for (int c = 0; c < C; c++)
            y[c] = (x[c] - m) * r * (weight ? weight[c] : 1.0f) + (bias ? bias[c] : 0.0f);
    }
}

void nn_layer_norm_backward(nn_ctx *ctx, float *dinp, float *dweight, float *dbias,
                            const float *dout, const float *inp, const float *weight,
                            const float *mean, const float *rstd, int N, int C) {
    // dout, inp, dinp are (N, C); weight, dweight, dbias are (C); mean, rstd are (N)
    NN_OPS_CHECK_CTX(ctx);
    NN_ASSERT(dout && N >= 1 && C >= 1);
    NN_ASSERT(!(dinp || dweight) || (inp && mean && rstd));
    size_t total = (size_t)N * C;
    if (dinp) {
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static) if (total >= NN_OPS_PAR_MIN)
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
            float *dx = dinp + (size_t)n * C;
            float m = mean[n], r = rstd[n];
            double sum_g = 0.0, sum_gx = 0.0;
            for (int c = 0; c < C; c++) {
                float g = dy[c] * (weight ? weight[c] : 1.0f), xh = (x[c] - m) * r;
                sum_g += g;
                sum_gx += (double)g * xh;
            }
            float mg = (float)(sum_g / C), mgx = (float)(sum_gx / C);
            for (int c = 0; c < C; c++) {
                float g = dy[c] * (weight ? weight[c] : 1.0f), xh = (x[c] - m) * r;
                dx[c] += r * (g - mg - xh * mgx);
            }
        }
    }
    if (dweight || dbias) {
        int n_blocks = (C + LN_BLOCK - 1) / LN_BLOCK;
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static) if (total >= NN_OPS_PAR_MIN)
        for (int blk = 0; blk < n_blocks; blk++) {
            int c0 = blk * LN_BLOCK, len = C - c0 < LN_BLOCK ? C - c0 : LN_BLOCK;
            double acc_w[LN_BLOCK] = {0}, acc_b[LN_BLOCK] = {0};
            for (int n = 0; n < N; n++) {
                const float *x = inp + (size_t)n * C + c0, *dy = dout + (size_t)n * C + c0;
                for (int j = 0; j < len; j++) {
                    acc_b[j] += dy[j];
                    if (dweight) acc_w[j] += (double)dy[j] * ((x[j] - mean[n]) * rstd[n]);
                }
            }
            for (int j = 0; j < len; j++) {
                if (dweight) dweight[c0 + j] += (float)acc_w[j];
                if (dbias) dbias[c0 + j] += (float)acc_b[j];
            }
        }
    }
}

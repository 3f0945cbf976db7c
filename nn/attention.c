/* nn/attention.c — blocked multi-head attention, forward and flash-style backward (see
 * attention.h). */
#include "nn/attention.h"
#include "nn/vexp.h"

#include <cblas.h>   /* defines: cblas_sgemm, openblas_{get,set}_num_threads */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "nn/tensor.h"   /* defines: NN_ASSERT */

/* Per-thread scratch: the score/probability tile P and the dP/dS tile, each
 * NN_ATTN_BLOCK_Q × Lk, rounded to 16 floats so every thread's slice is 64-byte aligned. */
static size_t per_thread_floats(const nn_attention_shape *s) {
    size_t n = 2 * (size_t)NN_ATTN_BLOCK_Q * (size_t)s->Lk;
    return (n + 15) / 16 * 16;
}

static void check_args(const nn_ctx *ctx, const nn_attention_shape *s, const float *mask) {
    NN_ASSERT(ctx->backend == NN_BACKEND_CPU && ctx->n_threads >= 1);
    NN_ASSERT(s->B >= 1 && s->H >= 1 && s->Lq >= 1 && s->Lk >= 1 && s->dh >= 1);
    NN_ASSERT(s->scale >= 0);
    NN_ASSERT((mask != NULL) == (s->mask_kind != NN_ATTN_MASK_NONE));
}

size_t nn_attention_scratch_floats(const nn_ctx *ctx, const nn_attention_shape *s) {
    return (size_t)ctx->n_threads * per_thread_floats(s);
}

static float scale_of(const nn_attention_shape *s) {
    return s->scale > 0 ? s->scale : (float)(1.0 / sqrt((double)s->dh));
}

/* x[j] = e^(x[j] − shift): glibc's expf is a scalar call GCC cannot vectorise, and attention
 * takes two exps per score (forward, and the backward's recomputation of P); nn/vexp.h's
 * vectorisable expf is ~2.5× its throughput. Inputs are scores minus the row max or the lse,
 * so x ≲ 0: e^x below FLT_MIN gives 0, a weight that cannot matter next to the row's largest. */
static void exp_shifted(float *x, int n, float shift) {
#pragma omp simd
    for (int j = 0; j < n; j++) x[j] = nn_vexp(x[j] - shift);
}

/* Σ x[0..n) in double with four interleaved accumulators: a fixed order (so bit-reproducible)
 * without one long dependency chain. */
static double sum_row(const float *x, int n) {
    double a[4] = {0, 0, 0, 0};
    int j = 0;
    for (; j + 4 <= n; j += 4)
        for (int l = 0; l < 4; l++) a[l] += x[j + l];
    for (; j < n; j++) a[j % 4] += x[j];
    return (a[0] + a[1]) + (a[2] + a[3]);
}

/* Additive mask row for (batch b, query i), or NULL. */
static const float *mask_row(const float *mask, const nn_attention_shape *s, int b, int i) {
    switch (s->mask_kind) {
    case NN_ATTN_MASK_NONE: return NULL;
    case NN_ATTN_MASK_QK: return mask + (size_t)i * s->Lk;
    case NN_ATTN_MASK_BQK: return mask + ((size_t)b * s->Lq + i) * s->Lk;
    case NN_ATTN_MASK_BK: return mask + (size_t)b * s->Lk;
    }
    return NULL;
}

/* Keys a query block [q0, q1) can see: with the causal mask, j ≤ i < q1. */
static int keys_for_block(const nn_attention_shape *s, int q1) {
    return s->causal && q1 < s->Lk ? q1 : s->Lk;
}

/* S[bq, nk] = scale · Q Kᵀ + mask, with −∞ above the causal diagonal. Q rows q0.. of one
 * head, K that head's keys; both with row stride H·dh. */
static void scores(float *S, const float *Q, const float *K, const float *mask,
                   const nn_attention_shape *s, int b, int q0, int bq, int nk, float scale) {
    const int HD = s->H * s->dh;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bq, nk, s->dh, scale, Q, HD, K, HD,
                0.0f, S, nk);
    for (int r = 0; r < bq; r++) {
        float *row = S + (size_t)r * nk;
        const float *mrow = mask_row(mask, s, b, q0 + r);
        if (mrow) {
#pragma omp simd
            for (int j = 0; j < nk; j++) row[j] += mrow[j];
        }
        if (s->causal)
            for (int j = q0 + r + 1; j < nk; j++) row[j] = -INFINITY;
    }
}

/* Around each parallel region OpenBLAS is set to one thread: the parallelism is ours
 * (disjoint outputs per task), and a pthreads OpenBLAS would otherwise try to fan every
 * OpenMP thread's sgemm out to its own pool. The caller's setting is restored after. */
static int serial_blas_begin(void) {
    int n = openblas_get_num_threads();
    openblas_set_num_threads(1);
    return n;
}

static void serial_blas_end(int n) { openblas_set_num_threads(n); }

void nn_attention_forward(nn_ctx *ctx, float *out, float *lse, const float *q, const float *k,
                          const float *v, const float *mask, const nn_attention_shape *s,
                          float *scratch) {
    /* q [B, Lq, H·dh], k/v [B, Lk, H·dh], out [B, Lq, H·dh], lse [B, H, Lq] */
    check_args(ctx, s, mask);
    const int H = s->H, dh = s->dh, HD = H * dh, Lq = s->Lq, Lk = s->Lk;
    const float scale = scale_of(s);
    const int nqb = (Lq + NN_ATTN_BLOCK_Q - 1) / NN_ATTN_BLOCK_Q;
    const int ntasks = s->B * H * nqb;
    const size_t stride = per_thread_floats(s);
    const int blas_threads = serial_blas_begin();
#pragma omp parallel num_threads(ctx->n_threads)
    {
        float *S = scratch + (size_t)omp_get_thread_num() * stride;
#pragma omp for schedule(static)
        for (int task = 0; task < ntasks; task++) {
            const int b = task / (H * nqb), h = task / nqb % H, qb = task % nqb;
            const int q0 = qb * NN_ATTN_BLOCK_Q;
            const int bq = q0 + NN_ATTN_BLOCK_Q <= Lq ? NN_ATTN_BLOCK_Q : Lq - q0;
            const int nk = keys_for_block(s, q0 + bq);
            const float *Q = q + ((size_t)b * Lq + q0) * HD + (size_t)h * dh;
            const float *K = k + (size_t)b * Lk * HD + (size_t)h * dh;
            const float *V = v + (size_t)b * Lk * HD + (size_t)h * dh;
            float *O = out + ((size_t)b * Lq + q0) * HD + (size_t)h * dh;
            float *L = lse + ((size_t)b * H + h) * Lq + q0;
            scores(S, Q, K, mask, s, b, q0, bq, nk, scale);
            float inv[NN_ATTN_BLOCK_Q];   /* 1 / row sum, applied to out after P v */
            for (int r = 0; r < bq; r++) {
                float *row = S + (size_t)r * nk;
                float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
                for (int j = 0; j < nk; j++) mx = row[j] > mx ? row[j] : mx;
                if (mx == -INFINITY) {
                    /* Every key masked: out = 0, lse = −∞. The max skips NaN, so a NaN score
                     * lands here too and must still give NaN (NaN in, NaN out). */
                    int nan = 0;
                    for (int j = 0; j < nk; j++) nan |= isnan(row[j]);
                    memset(row, 0, (size_t)nk * sizeof *row);
                    inv[r] = nan ? NAN : 0.0f;
                    L[r] = nan ? NAN : -INFINITY;
                    continue;
                }
                /* Subtracting the row max keeps exp ≤ 1 (no overflow for any logits). */
                exp_shifted(row, nk, mx);
                const double sum = sum_row(row, nk);
                L[r] = mx + (float)log(sum);
                inv[r] = (float)(1.0 / sum);
            }
            /* out = softmax(S) v = diag(1/sum) · (e^(S − max) v): normalising the bq × dh
             * product instead of the bq × nk probabilities saves a pass over the tile. */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, bq, dh, nk, 1.0f, S, nk,
                        V, HD, 0.0f, O, HD);
            for (int r = 0; r < bq; r++) {
                float *orow = O + (size_t)r * HD;
#pragma omp simd
                for (int d = 0; d < dh; d++) orow[d] *= inv[r];
            }
        }
    }
    serial_blas_end(blas_threads);
}

void nn_attention_backward(nn_ctx *ctx, float *dq, float *dk, float *dv, const float *dout,
                           const float *q, const float *k, const float *v, const float *out,
                           const float *lse, const float *mask, const nn_attention_shape *s,
                           float *scratch) {
    /* dout/out/q/dq [B, Lq, H·dh], k/v/dk/dv [B, Lk, H·dh], lse [B, H, Lq] */
    check_args(ctx, s, mask);
    if (!dq && !dk && !dv) return;
    const int H = s->H, dh = s->dh, HD = H * dh, Lq = s->Lq, Lk = s->Lk;
    const float scale = scale_of(s);
    const int ntasks = s->B * H;
    const size_t stride = per_thread_floats(s);
    const size_t tile = (size_t)NN_ATTN_BLOCK_Q * Lk;
    const int blas_threads = serial_blas_begin();
#pragma omp parallel num_threads(ctx->n_threads)
    {
        float *P = scratch + (size_t)omp_get_thread_num() * stride;
        float *dS = P + tile;
#pragma omp for schedule(static)
        for (int task = 0; task < ntasks; task++) {
            const int b = task / H, h = task % H;
            const size_t qoff = (size_t)b * Lq * HD + (size_t)h * dh;
            const size_t koff = (size_t)b * Lk * HD + (size_t)h * dh;
            for (int q0 = 0; q0 < Lq; q0 += NN_ATTN_BLOCK_Q) {
                const int bq = q0 + NN_ATTN_BLOCK_Q <= Lq ? NN_ATTN_BLOCK_Q : Lq - q0;
                const int nk = keys_for_block(s, q0 + bq);
                const size_t roff = qoff + (size_t)q0 * HD;
                const float *L = lse + ((size_t)b * H + h) * Lq + q0;
                /* P = exp(S − lse): the forward's probabilities, recomputed. */
                scores(P, q + roff, k + koff, mask, s, b, q0, bq, nk, scale);
                for (int r = 0; r < bq; r++) {
                    float *row = P + (size_t)r * nk;
                    if (L[r] == -INFINITY)   /* fully masked row: P = 0 */
                        memset(row, 0, (size_t)nk * sizeof *row);
                    else
                        exp_shifted(row, nk, L[r]);
                }
                if (dq || dk) {
                    /* dP = dout vᵀ; dS = P ∘ (dP − D), D_i = Σ_d dout_id out_id
                     * (= Σ_j P_ij dP_ij); dS/dq and dS/dk carry the scale. */
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bq, nk, dh, 1.0f,
                                dout + roff, HD, v + koff, HD, 0.0f, dS, nk);
                    for (int r = 0; r < bq; r++) {
                        const float *dO = dout + roff + (size_t)r * HD;
                        const float *O = out + roff + (size_t)r * HD;
                        double D = 0.0;
                        for (int d = 0; d < dh; d++) D += (double)dO[d] * O[d];
                        const float Df = (float)D;
                        float *dsrow = dS + (size_t)r * nk;
                        const float *prow = P + (size_t)r * nk;
#pragma omp simd
                        for (int j = 0; j < nk; j++) dsrow[j] = prow[j] * (dsrow[j] - Df);
                    }
                    if (dq)   /* dq += scale · dS k */
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, bq, dh, nk,
                                    scale, dS, nk, k + koff, HD, 1.0f, dq + roff, HD);
                    if (dk)   /* dk += scale · dSᵀ q */
                        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nk, dh, bq,
                                    scale, dS, nk, q + roff, HD, 1.0f, dk + koff, HD);
                }
                if (dv)   /* dv += Pᵀ dout */
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nk, dh, bq, 1.0f,
                                P, nk, dout + roff, HD, 1.0f, dv + koff, HD);
            }
        }
    }
    serial_blas_end(blas_threads);
}

/* nn/ops_gemm.c — the sgemm entry of the linear ops, and the work partition shared with conv2d.
 *
 * CPU reference: clean, minimal, no intrinsics, no fast-math.
 * Threading: the ops' loops run on OpenMP threads. If OpenBLAS also ran its own pthread pool,
 * the two pools would spin-wait against each other after every call (measured on a 3×3 conv:
 * 2 threads 5–8× slower than 1). So OpenBLAS is kept single-threaded and a GEMM is split on
 * OpenMP threads instead: C's rows or columns are cut into ctx->n_threads fixed contiguous parts
 * (aligned to NN_OPS_PART_ALIGN), each a complete, independent sgemm over the full K reduction.
 * The partition depends only on the shape and n_threads, and no element is reduced across
 * threads, so the result is reproducible at a fixed thread count. */
#include <cblas.h>  // defines: cblas_sgemm, openblas_set_num_threads

#include "nn/ops_internal.h"

size_t nn_ops_part_start(size_t len, int parts, int p) {
    size_t per = (len + (size_t)parts - 1) / (size_t)parts;
    per = (per + NN_OPS_PART_ALIGN - 1) / NN_OPS_PART_ALIGN * NN_OPS_PART_ALIGN;
    size_t s = per * (size_t)p;
    return s < len ? s : len;
}

int nn_ops_parts(const nn_ctx *ctx, size_t len, double work) {
    if (work < (double)NN_OPS_PAR_MIN * 64) return 1;
    size_t max_parts = (len + NN_OPS_PART_ALIGN - 1) / NN_OPS_PART_ALIGN;
    return (size_t)ctx->n_threads < max_parts ? ctx->n_threads : (int)max_parts;
}

void nn_ops_sgemm(const nn_ctx *ctx, int trans_a, int trans_b, int M, int N, int K,
                  const float *A, int lda, const float *B, int ldb, float beta, float *C,
                  int ldc) {
    enum CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
    openblas_set_num_threads(1);
    int split_n = N >= M;  // cut the longer side of C
    int len = split_n ? N : M;
    int parts = nn_ops_parts(ctx, (size_t)len, (double)M * N * K);
    if (parts <= 1) {
        cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
        return;
    }
#pragma omp parallel for num_threads(parts) schedule(static)
    for (int p = 0; p < parts; p++) {
        int s = (int)nn_ops_part_start((size_t)len, parts, p);
        int e = (int)nn_ops_part_start((size_t)len, parts, p + 1);
        if (e <= s) continue;
        if (split_n) {  // C[:, s:e] = op(A) · op(B)[:, s:e]
            const float *Bp = trans_b ? B + (size_t)s * ldb : B + s;
            cblas_sgemm(CblasRowMajor, ta, tb, M, e - s, K, 1.0f, A, lda, Bp, ldb, beta, C + s,
                        ldc);
        } else {        // C[s:e, :] = op(A)[s:e, :] · op(B)
            const float *Ap = trans_a ? A + s : A + (size_t)s * lda;
            cblas_sgemm(CblasRowMajor, ta, tb, e - s, N, K, 1.0f, Ap, lda, B, ldb, beta,
                        C + (size_t)s * ldc, ldc);
        }
    }
}

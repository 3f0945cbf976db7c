/* nn/ops_internal.h — helpers shared by the CPU reference ops in nn/ops_*.c (not public API). */
#ifndef SDPO_NN_OPS_INTERNAL_H
#define SDPO_NN_OPS_INTERNAL_H

#include <stddef.h>

#include "nn/context.h"
#include "nn/tensor.h"  // defines: NN_ASSERT

/* Every op in nn/ops.h is the CPU reference today: a CUDA context reaching it is a dispatch bug. */
#define NN_OPS_CHECK_CTX(ctx)                                                                     \
    NN_ASSERT((ctx) != NULL && (ctx)->backend == NN_BACKEND_CPU && (ctx)->n_threads >= 1)

/* Below this many elements of work a loop runs on the calling thread only (an OpenMP fork costs
 * microseconds); the result is identical either way, since threads write disjoint outputs. */
#define NN_OPS_PAR_MIN 16384

/* Work is split into parts whose boundaries are multiples of this many rows/columns, so each
 * part keeps whole GEMM micro-tiles. */
#define NN_OPS_PART_ALIGN 16

/* How many parts to cut [0, len) into for `work` flops: ctx->n_threads, fewer when len is short,
 * 1 when the work is too small to be worth a fork. */
int nn_ops_parts(const nn_ctx *ctx, size_t len, double work);

/* Start of part p (0 … parts) of [0, len) cut into `parts` contiguous NN_OPS_PART_ALIGN-aligned
 * pieces (the last may be shorter or empty); part p is [start(p), start(p + 1)). */
size_t nn_ops_part_start(size_t len, int parts, int p);

/* Row-major C [M, N] = op(A) · op(B) + beta·C (alpha = 1), op = transpose when trans_* is set,
 * as cblas_sgemm; split across ctx->n_threads OpenMP threads, each running a single-threaded
 * OpenBLAS sgemm on its own block of C (see ops_gemm.c for why). Ops that run cblas_sgemm inside
 * their own OpenMP regions (conv2d) call openblas_set_num_threads(1) first, for the same reason. */
void nn_ops_sgemm(const nn_ctx *ctx, int trans_a, int trans_b, int M, int N, int K,
                  const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);

#endif

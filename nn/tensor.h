/* nn/tensor.h — a thin, non-owning F32 tensor view (data pointer + shape) and shape checks.
 *
 * Model code and loaders pass these around to name what a float* holds; nothing here
 * allocates. Storage is always contiguous row-major ("C order", as PyTorch's default and
 * safetensors), so a view needs no strides. Compute is F32 only: F16/BF16 weights are
 * converted on load by the safetensors reader (nn/safetensors.h).
 * Shape checks return SDPO_ERR_SHAPE with a message naming the tensor and both shapes, in the
 * same "expected … got …" form as the safetensors reader; an expected extent < 0 is a
 * wildcard (same convention as sdpo_st_expect). */
#ifndef SDPO_NN_TENSOR_H
#define SDPO_NN_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Conv weights [C_out, C_in, kh, kw] are the highest-rank tensors in SD-Turbo and the reward
 * towers; attention works on [B, L, H, dh]. */
#define NN_MAX_DIMS 4

/* Always-on precondition check for programmer errors (bad dims, NULL required buffers):
 * not compiled out by NDEBUG, like GGML_ASSERT, because a silently wrong shape in the CPU
 * oracle would poison every parity test downstream. Prints "file:line: func: assertion `x`
 * failed" to stderr and aborts. Recoverable conditions (bad files, full arena) return an
 * sdpo_status instead. */
#define NN_ASSERT(x) ((x) ? (void)0 : nn_assert_fail(#x, __FILE__, __LINE__, __func__))
_Noreturn void nn_assert_fail(const char *expr, const char *file, int line, const char *func);

typedef struct {
    float *data;
    int ndim;                     /* 0 … NN_MAX_DIMS; 0 is a scalar (numel 1) */
    int64_t shape[NN_MAX_DIMS];   /* shape[ndim …] are 0 */
} nn_tensor;

/* Views of rank 1…4; the extents must be ≥ 0 (asserted). */
nn_tensor nn_tensor_1d(float *data, int64_t d0);
nn_tensor nn_tensor_2d(float *data, int64_t d0, int64_t d1);
nn_tensor nn_tensor_3d(float *data, int64_t d0, int64_t d1, int64_t d2);
nn_tensor nn_tensor_4d(float *data, int64_t d0, int64_t d1, int64_t d2, int64_t d3);

/* Product of shape[0 .. ndim) (1 for ndim 0). */
int64_t nn_shape_numel(int ndim, const int64_t *shape);
int64_t nn_tensor_numel(const nn_tensor *t);

/* 1 when ranks and all extents are equal. */
int nn_tensor_same_shape(const nn_tensor *a, const nn_tensor *b);

/* Writes "[d0, d1, …]" into buf (truncated to n bytes, always NUL-terminated); returns buf. */
char *nn_shape_format(char *buf, size_t n, int ndim, const int64_t *shape);

/* Checks t's rank and shape (expected extent < 0 = any). On mismatch returns SDPO_ERR_SHAPE:
 * "tensor '<what>' has shape [..], expected [..]". */
sdpo_status nn_tensor_expect(const nn_tensor *t, const char *what, int ndim,
                             const int64_t *shape);

/* Checks that a and b have identical shapes (e.g. a gradient and its value); SDPO_ERR_SHAPE
 * naming both otherwise. */
sdpo_status nn_tensor_expect_same(const nn_tensor *a, const char *what_a, const nn_tensor *b,
                                  const char *what_b);

#endif

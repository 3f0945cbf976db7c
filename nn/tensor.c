/* nn/tensor.c — tensor views and shape checks (see tensor.h). */
#include "nn/tensor.h"

#include <stdio.h>
#include <stdlib.h>

_Noreturn void nn_assert_fail(const char *expr, const char *file, int line, const char *func) {
    fprintf(stderr, "%s:%d: %s: assertion `%s' failed\n", file, line, func, expr);
    abort();
}

static nn_tensor make_view(float *data, int ndim, const int64_t *shape) {
    NN_ASSERT(ndim >= 0 && ndim <= NN_MAX_DIMS);
    nn_tensor t = {.data = data, .ndim = ndim};
    for (int d = 0; d < ndim; d++) {
        NN_ASSERT(shape[d] >= 0);
        t.shape[d] = shape[d];
    }
    return t;
}

nn_tensor nn_tensor_1d(float *data, int64_t d0) {
    return make_view(data, 1, (const int64_t[]){d0});
}

nn_tensor nn_tensor_2d(float *data, int64_t d0, int64_t d1) {
    return make_view(data, 2, (const int64_t[]){d0, d1});
}

nn_tensor nn_tensor_3d(float *data, int64_t d0, int64_t d1, int64_t d2) {
    return make_view(data, 3, (const int64_t[]){d0, d1, d2});
}

nn_tensor nn_tensor_4d(float *data, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    return make_view(data, 4, (const int64_t[]){d0, d1, d2, d3});
}

int64_t nn_shape_numel(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    return n;
}

int64_t nn_tensor_numel(const nn_tensor *t) { return nn_shape_numel(t->ndim, t->shape); }

int nn_tensor_same_shape(const nn_tensor *a, const nn_tensor *b) {
    if (a->ndim != b->ndim) return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return 0;
    return 1;
}

char *nn_shape_format(char *buf, size_t n, int ndim, const int64_t *shape) {
    size_t len = 0;
    buf[0] = '\0';
    for (int d = -1; d <= ndim && len < n; d++) {
        int w;
        if (d < 0)
            w = snprintf(buf + len, n - len, "[");
        else if (d == ndim)
            w = snprintf(buf + len, n - len, "]");
        else
            w = snprintf(buf + len, n - len, d ? ", %lld" : "%lld", (long long)shape[d]);
        if (w < 0) break;
        len += (size_t)w;
    }
    return buf;
}

sdpo_status nn_tensor_expect(const nn_tensor *t, const char *what, int ndim,
                             const int64_t *shape) {
    int ok = t->ndim == ndim;
    for (int d = 0; ok && d < ndim; d++) ok = shape[d] < 0 || shape[d] == t->shape[d];
    if (ok) return SDPO_OK;
    char got[96], want[96];
    return sdpo_fail(SDPO_ERR_SHAPE, "tensor '%s' has shape %s, expected %s", what,
                     nn_shape_format(got, sizeof got, t->ndim, t->shape),
                     nn_shape_format(want, sizeof want, ndim, shape));
}

sdpo_status nn_tensor_expect_same(const nn_tensor *a, const char *what_a, const nn_tensor *b,
                                  const char *what_b) {
    if (nn_tensor_same_shape(a, b)) return SDPO_OK;
    char sa[96], sb[96];
    return sdpo_fail(SDPO_ERR_SHAPE, "tensor '%s' has shape %s but '%s' has shape %s", what_a,
                     nn_shape_format(sa, sizeof sa, a->ndim, a->shape), what_b,
                     nn_shape_format(sb, sizeof sb, b->ndim, b->shape));
}

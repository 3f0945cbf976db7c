/* nn/params.c — parameter registry and slab layout (see params.h). */
#include "nn/params.h"

#include <stdlib.h>
#include <string.h>

static size_t align_floats(size_t n) {
    return (n + NN_PARAMS_ALIGN_FLOATS - 1) / NN_PARAMS_ALIGN_FLOATS * NN_PARAMS_ALIGN_FLOATS;
}

void nn_params_init(nn_params *p) { *p = (nn_params){0}; }

static int find(const nn_params *p, const char *name) {
    for (int i = 0; i < p->count; i++)
        if (strcmp(p->info[i].name, name) == 0) return i;
    return -1;
}

sdpo_status nn_params_add(nn_params *p, const char *name, int ndim, const int64_t *shape,
                          int trainable) {
    NN_ASSERT(!p->finalized);
    if (!name || !name[0]) return sdpo_fail(SDPO_ERR_ARG, "parameter with an empty name");
    if (ndim < 1 || ndim > NN_MAX_DIMS)
        return sdpo_fail(SDPO_ERR_ARG, "parameter '%s': rank %d not in 1..%d", name, ndim,
                         NN_MAX_DIMS);
    for (int d = 0; d < ndim; d++)
        if (shape[d] < 0)
            return sdpo_fail(SDPO_ERR_ARG, "parameter '%s': extent %lld in dim %d", name,
                             (long long)shape[d], d);
    if (find(p, name) >= 0)
        return sdpo_fail(SDPO_ERR_ARG, "parameter '%s' registered twice", name);
    if (p->count == p->cap) {
        int cap = p->cap ? 2 * p->cap : 64;
        nn_param_info *grown = realloc(p->info, (size_t)cap * sizeof *grown);
        if (!grown) return sdpo_fail(SDPO_ERR_NOMEM, "parameter registry: cannot grow to %d", cap);
        p->info = grown;
        p->cap = cap;
    }
    nn_param_info *e = &p->info[p->count];
    *e = (nn_param_info){.ndim = ndim, .trainable = trainable != 0};
    e->name = strdup(name);
    if (!e->name) return sdpo_fail(SDPO_ERR_NOMEM, "parameter '%s': cannot copy name", name);
    for (int d = 0; d < ndim; d++) e->shape[d] = shape[d];
    e->numel = (size_t)nn_shape_numel(ndim, shape);
    p->count++;
    return SDPO_OK;
}

/* Zeroed, 64-byte aligned; n is a multiple of NN_PARAMS_ALIGN_FLOATS so the size is a
 * multiple of the alignment, as aligned_alloc requires. */
static sdpo_status alloc_slab(float **out, size_t n, const char *what) {
    *out = NULL;
    if (n == 0) return SDPO_OK;
    if (n > SIZE_MAX / sizeof(float))
        return sdpo_fail(SDPO_ERR_NOMEM, "parameter %s slab: %zu floats overflow", what, n);
    *out = aligned_alloc(NN_PARAMS_ALIGN_FLOATS * sizeof(float), n * sizeof(float));
    if (!*out)
        return sdpo_fail(SDPO_ERR_NOMEM, "parameter %s slab: cannot allocate %zu floats (%.2f GiB)",
                         what, n, (double)n * sizeof(float) / (1u << 30));
    memset(*out, 0, n * sizeof(float));
    return SDPO_OK;
}

sdpo_status nn_params_finalize(nn_params *p) {
    NN_ASSERT(!p->finalized);
    size_t off = 0;
    p->n_elems = p->n_trainable_elems = 0;
    for (int pass = 1; pass >= 0; pass--) {   /* trainable tensors first, then frozen */
        for (int i = 0; i < p->count; i++) {
            nn_param_info *e = &p->info[i];
            if (e->trainable != pass) continue;
            e->offset = off;
            off += align_floats(e->numel);
            p->n_elems += e->numel;
            if (pass) p->n_trainable_elems += e->numel;
        }
        if (pass) p->n_trainable = off;
    }
    p->n_floats = off;
    sdpo_status st;
    if ((st = alloc_slab(&p->params, p->n_floats, "value")) ||
        (st = alloc_slab(&p->grads, p->n_trainable, "gradient")) ||
        (st = alloc_slab(&p->m, p->n_trainable, "AdamW m")) ||
        (st = alloc_slab(&p->v, p->n_trainable, "AdamW v"))) {
        free(p->params), free(p->grads), free(p->m), free(p->v);
        p->params = p->grads = p->m = p->v = NULL;
        return st;
    }
    p->finalized = 1;
    return SDPO_OK;
}

nn_param_view nn_params_at(const nn_params *p, int i) {
    NN_ASSERT(p->finalized && i >= 0 && i < p->count);
    const nn_param_info *e = &p->info[i];
    nn_param_view v = {.name = e->name, .trainable = e->trainable};
    /* A registry of empty tensors has NULL slabs; NULL + 0 is undefined behaviour. */
    v.value.data = p->params ? p->params + e->offset : NULL;
    v.value.ndim = e->ndim;
    for (int d = 0; d < e->ndim; d++) v.value.shape[d] = e->shape[d];
    if (e->trainable && p->grads) {
        v.grad = p->grads + e->offset;
        v.m = p->m + e->offset;
        v.v = p->v + e->offset;
    }
    return v;
}

sdpo_status nn_params_get(const nn_params *p, const char *name, nn_param_view *out) {
    NN_ASSERT(p->finalized);
    int i = find(p, name);
    if (i < 0) return sdpo_fail(SDPO_ERR_SHAPE, "unknown parameter '%s'", name);
    *out = nn_params_at(p, i);
    return SDPO_OK;
}

sdpo_status nn_params_expect(const nn_params *p, const char *name, int ndim,
                             const int64_t *shape, nn_param_view *out) {
    sdpo_status st = nn_params_get(p, name, out);
    if (st) return st;
    return nn_tensor_expect(&out->value, name, ndim, shape);
}

void nn_params_free(nn_params *p) {
    for (int i = 0; i < p->count; i++) free(p->info[i].name);
    free(p->info);
    free(p->params), free(p->grads), free(p->m), free(p->v);
    *p = (nn_params){0};
}

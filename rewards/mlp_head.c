/* rewards/mlp_head.c — see mlp_head.h. */
#include "rewards/mlp_head.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/ops.h"

const int sdpo_mlp_head_real_dims[SDPO_MLP_HEAD_LAYERS + 1] = {768, 1024, 128, 64, 16, 1};

/* nn.Sequential indices of the Linear layers (1, 3, 5 are Dropouts). */
static const int seq_index[SDPO_MLP_HEAD_LAYERS] = {0, 2, 4, 6, 7};

static void layer_name(char *buf, size_t n, const char *prefix, int l, const char *what) {
    snprintf(buf, n, "%s%d.%s", prefix, seq_index[l], what);
}

sdpo_status sdpo_mlp_head_dims(const sdpo_safetensors *st, const char *prefix, int in_dim,
                               int dims[SDPO_MLP_HEAD_LAYERS + 1]) {
    dims[0] = in_dim;
    for (int l = 0; l < SDPO_MLP_HEAD_LAYERS; l++) {
        char name[128];
        const sdpo_st_tensor *t;
        const int64_t want_w[2] = {l == SDPO_MLP_HEAD_LAYERS - 1 ? 1 : -1, dims[l]};
        layer_name(name, sizeof name, prefix, l, "weight");
        sdpo_status rc = sdpo_st_expect(st, name, 2, want_w, &t);
        if (rc != SDPO_OK) return rc;
        if (t->shape[0] < 1 || t->shape[0] > 1 << 20)
            return sdpo_fail(SDPO_ERR_SHAPE, "%s: tensor '%s' has %lld outputs", st->path, name,
                             (long long)t->shape[0]);
        dims[l + 1] = (int)t->shape[0];
        layer_name(name, sizeof name, prefix, l, "bias");
        const int64_t want_b[1] = {dims[l + 1]};
        if ((rc = sdpo_st_expect(st, name, 1, want_b, &t)) != SDPO_OK) return rc;
    }
    return SDPO_OK;
}

sdpo_status sdpo_mlp_head_register(nn_params *p, const char *prefix,
                                   const int dims[SDPO_MLP_HEAD_LAYERS + 1]) {
    sdpo_status rc = SDPO_OK;
    for (int l = 0; l < SDPO_MLP_HEAD_LAYERS && rc == SDPO_OK; l++) {
        char name[128];
        const int64_t w[2] = {dims[l + 1], dims[l]}, b[1] = {dims[l + 1]};
        layer_name(name, sizeof name, prefix, l, "weight");
        rc = nn_params_add(p, name, 2, w, 0);
        layer_name(name, sizeof name, prefix, l, "bias");
        if (rc == SDPO_OK) rc = nn_params_add(p, name, 1, b, 0);
    }
    return rc;
}

sdpo_status sdpo_mlp_head_bind(sdpo_mlp_head *h, const nn_params *p, const char *prefix,
                               const int dims[SDPO_MLP_HEAD_LAYERS + 1]) {
    memcpy(h->dims, dims, sizeof h->dims);
    for (int l = 0; l < SDPO_MLP_HEAD_LAYERS; l++) {
        char name[128];
        nn_param_view v;
        const int64_t w[2] = {dims[l + 1], dims[l]}, b[1] = {dims[l + 1]};
        layer_name(name, sizeof name, prefix, l, "weight");
        sdpo_status rc = nn_params_expect(p, name, 2, w, &v);
        if (rc != SDPO_OK) return rc;
        h->w[l] = v.value.data;
        layer_name(name, sizeof name, prefix, l, "bias");
        if ((rc = nn_params_expect(p, name, 1, b, &v)) != SDPO_OK) return rc;
        h->b[l] = v.value.data;
    }
    return SDPO_OK;
}

sdpo_status sdpo_mlp_head_forward(nn_ctx *ctx, const sdpo_mlp_head *h, int B, const float *in,
                                  float *out) {
    int widest = 1;
    for (int l = 0; l <= SDPO_MLP_HEAD_LAYERS; l++)
        if (h->dims[l] > widest) widest = h->dims[l];
    float *a = malloc((size_t)B * widest * sizeof *a), *b = malloc((size_t)B * widest * sizeof *b);
    if (!a || !b) {
        free(a);
        free(b);
        return sdpo_fail(SDPO_ERR_NOMEM, "mlp head: out of memory");
    }
    // in (B, dims[0]) → … → (B, 1); no activations between the layers
    const float *x = in;
    for (int l = 0; l < SDPO_MLP_HEAD_LAYERS; l++) {
        float *y = l == SDPO_MLP_HEAD_LAYERS - 1 ? out : (l % 2 ? b : a);
        nn_linear_forward(ctx, y, x, h->w[l], h->b[l], B, h->dims[l], h->dims[l + 1]);
        x = y;
    }
    free(a);
    free(b);
    return SDPO_OK;
}

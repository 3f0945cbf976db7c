/* models/vit.c — the ViT image towers of the reward models (vit.h).
 *
 * Upstream behaviour reproduced (forward, eval mode, no dropout):
 *   transformers CLIPVisionTransformer.forward + CLIPModel.get_image_features
 *     (embeddings → pre_layrnorm → encoder → post_layernorm(pooled CLS) → visual_projection);
 *   open_clip VisionTransformer.forward (conv1 → cat class_embedding → + positional_embedding →
 *     ln_pre → resblocks (nn.MultiheadAttention with fused in_proj) → ln_post(x[:, 0]) @ proj);
 *   BLIP models/vit.py VisionTransformer.forward (patch_embed → cat cls_token → + pos_embed →
 *     blocks (timm Attention with fused qkv) → norm), the image_embeds ImageReward feeds to BERT.
 * Fused projections (in_proj / qkv [3D, D], rows q | k | v) are used in place as three [D, D]
 * row blocks, so no weight is split or copied. */
#include "models/vit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/attention.h"
#include "nn/ops.h"

/* Images per pass: bounds the activations (ViT-H: ≈ 15 MB per image). */
#define VIT_CHUNK 8

/* ---------------------------------------------------------------------------------------------
 * configs */

sdpo_status sdpo_vit_config_check(const sdpo_vit_config *c) {
    if (c->image_size < 1 || c->patch_size < 1 || c->width < 1 || c->layers < 1 ||
        c->heads < 1 || c->mlp_dim < 1 || c->embed_dim < 0 || !(c->ln_eps > 0.0f))
        return sdpo_fail(SDPO_ERR_ARG, "vit: sizes must be positive (image %d, patch %d, width %d, "
                         "layers %d, heads %d, mlp %d, embed %d)", c->image_size, c->patch_size,
                         c->width, c->layers, c->heads, c->mlp_dim, c->embed_dim);
    if (c->width % c->heads)
        return sdpo_fail(SDPO_ERR_ARG, "vit: width %d is not a multiple of heads %d", c->width,
                         c->heads);
    if (c->image_size % c->patch_size)
        return sdpo_fail(SDPO_ERR_ARG, "vit: image_size %d is not a multiple of patch_size %d",
                         c->image_size, c->patch_size);
    if ((c->layout == SDPO_VIT_BLIP) != (c->embed_dim == 0))
        return sdpo_fail(SDPO_ERR_ARG, "vit: CLIP towers need a projection width, BLIP has none");
    return SDPO_OK;
}

sdpo_status sdpo_vit_config_hf_clip(const sdpo_config *vision, int projection_dim,
                                    sdpo_vit_config *out) {
    /* Defaults are transformers' CLIPVisionConfig.__init__ defaults. */
    memset(out, 0, sizeof *out);
    out->layout = SDPO_VIT_HF_CLIP;
    snprintf(out->prefix, sizeof out->prefix, "vision_model.");
    const char *act;
    double eps;
    sdpo_status rc;
    if ((rc = sdpo_config_int_or(vision, "image_size", 224, &out->image_size)) != SDPO_OK ||
        (rc = sdpo_config_int_or(vision, "patch_size", 32, &out->patch_size)) != SDPO_OK ||
        (rc = sdpo_config_int_or(vision, "hidden_size", 768, &out->width)) != SDPO_OK ||
        (rc = sdpo_config_int_or(vision, "num_hidden_layers", 12, &out->layers)) != SDPO_OK ||
        (rc = sdpo_config_int_or(vision, "num_attention_heads", 12, &out->heads)) != SDPO_OK ||
        (rc = sdpo_config_int_or(vision, "intermediate_size", 3072, &out->mlp_dim)) != SDPO_OK ||
        (rc = sdpo_config_double_or(vision, "layer_norm_eps", 1e-5, &eps)) != SDPO_OK ||
        (rc = sdpo_config_string_or(vision, "hidden_act", "quick_gelu", &act)) != SDPO_OK)
        return rc;
    int nc;
    if ((rc = sdpo_config_int_or(vision, "num_channels", 3, &nc)) != SDPO_OK) return rc;
    if (nc != 3) return sdpo_fail(SDPO_ERR_FORMAT, "%s: num_channels %d (RGB towers only)",
                                  vision->path, nc);
    if (!strcmp(act, "quick_gelu")) out->quick_gelu = 1;
    else if (!strcmp(act, "gelu")) out->quick_gelu = 0;
    else return sdpo_fail(SDPO_ERR_FORMAT, "%s: key 'hidden_act': '%s' is not gelu or quick_gelu",
                          vision->path, act);
    out->ln_eps = (float)eps;
    out->embed_dim = projection_dim;
    return sdpo_vit_config_check(out);
}

sdpo_status sdpo_vit_config_open_clip(const sdpo_config *vision, int embed_dim, int quick_gelu,
                                      sdpo_vit_config *out) {
    /* Defaults are open_clip's CLIPVisionCfg defaults. */
    memset(out, 0, sizeof *out);
    out->layout = SDPO_VIT_OPEN_CLIP;
    snprintf(out->prefix, sizeof out->prefix, "visual.");
    int head_width;
    double mlp_ratio;
    sdpo_status rc;
    if ((rc = sdpo_config_int_or(vision, "image_size", 224, &out->image_size)) != SDPO_OK ||
        (rc = sdpo_config_int_or(vision, "patch_size", 16, &out->patch_size)) != SDPO_OK ||
        (rc = sdpo_config_int_or(vision, "width", 768, &out->width)) != SDPO_OK ||
        (rc = sdpo_config_int_or(vision, "layers", 12, &out->layers)) != SDPO_OK ||
        (rc = sdpo_config_int_or(vision, "head_width", 64, &head_width)) != SDPO_OK ||
        (rc = sdpo_config_double_or(vision, "mlp_ratio", 4.0, &mlp_ratio)) != SDPO_OK)
        return rc;
    if (head_width < 1 || out->width % head_width)
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: head_width %d does not divide width %d",
                         vision->path, head_width, out->width);
    out->heads = out->width / head_width;
    out->mlp_dim = (int)(out->width * mlp_ratio);
    out->quick_gelu = quick_gelu;
    out->ln_eps = 1e-5f;
    out->embed_dim = embed_dim;
    return sdpo_vit_config_check(out);
}

sdpo_status sdpo_vit_config_blip(const sdpo_config *c, sdpo_vit_config *out) {
    memset(out, 0, sizeof *out);
    out->layout = SDPO_VIT_BLIP;
    snprintf(out->prefix, sizeof out->prefix, "blip.visual_encoder.");
    int ratio;
    double eps;
    sdpo_status rc;
    if ((rc = sdpo_config_int(c, "image_size", &out->image_size)) != SDPO_OK ||
        (rc = sdpo_config_int(c, "vision_patch_size", &out->patch_size)) != SDPO_OK ||
        (rc = sdpo_config_int(c, "vision_width", &out->width)) != SDPO_OK ||
        (rc = sdpo_config_int(c, "vision_layers", &out->layers)) != SDPO_OK ||
        (rc = sdpo_config_int(c, "vision_heads", &out->heads)) != SDPO_OK ||
        (rc = sdpo_config_int(c, "vision_mlp_ratio", &ratio)) != SDPO_OK ||
        (rc = sdpo_config_double(c, "vision_layer_norm_eps", &eps)) != SDPO_OK)
        return rc;
    out->mlp_dim = out->width * ratio;
    out->ln_eps = (float)eps;
    return sdpo_vit_config_check(out);
}

/* ---------------------------------------------------------------------------------------------
 * tensor names */

typedef enum {
    T_CLS, T_POS, T_PATCH_W, T_PATCH_B, T_LN_PRE, T_LN_POST, T_PROJ,
    T_LN1, T_LN2, T_QKV, T_Q, T_K, T_V, T_OUT, T_FC1, T_FC2, T_COUNT
} tensor_kind;

/* Name patterns: "" = absent in this layout; per-layer ones take the layer index. Norms and
 * linears get ".weight"/".bias" appended by the caller. */
static const char *const names[3][T_COUNT] = {
    [SDPO_VIT_HF_CLIP] = {
        "embeddings.class_embedding", "embeddings.position_embedding.weight",
        "embeddings.patch_embedding.weight", "", "pre_layrnorm", "post_layernorm",
        "visual_projection.weight",
        "encoder.layers.%d.layer_norm1", "encoder.layers.%d.layer_norm2", "",
        "encoder.layers.%d.self_attn.q_proj", "encoder.layers.%d.self_attn.k_proj",
        "encoder.layers.%d.self_attn.v_proj", "encoder.layers.%d.self_attn.out_proj",
        "encoder.layers.%d.mlp.fc1", "encoder.layers.%d.mlp.fc2"},
    [SDPO_VIT_OPEN_CLIP] = {
        "class_embedding", "positional_embedding", "conv1.weight", "", "ln_pre", "ln_post", "proj",
        "transformer.resblocks.%d.ln_1", "transformer.resblocks.%d.ln_2",
        "transformer.resblocks.%d.attn.in_proj_", "", "", "",
        "transformer.resblocks.%d.attn.out_proj", "transformer.resblocks.%d.mlp.c_fc",
        "transformer.resblocks.%d.mlp.c_proj"},
    [SDPO_VIT_BLIP] = {
        "cls_token", "pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias", "", "norm", "",
        "blocks.%d.norm1", "blocks.%d.norm2", "blocks.%d.attn.qkv.", "", "", "",
        "blocks.%d.attn.proj", "blocks.%d.mlp.fc1", "blocks.%d.mlp.fc2"},
};

/* Full name of tensor `kind` (layer i) with `suffix` ("weight", "bias" or "" for a raw name).
 * The HF projection lives outside the vision_model. prefix. */
static void tensor_name(const sdpo_vit_config *c, tensor_kind kind, int i, const char *suffix,
                        char *buf, size_t n) {
    char base[128];
    snprintf(base, sizeof base, names[c->layout][kind], i);
    const char *prefix = (c->layout == SDPO_VIT_HF_CLIP && kind == T_PROJ) ? "" : c->prefix;
    /* Fused names end in "_" or "." and take the suffix directly ("in_proj_weight",
     * "qkv.weight"); others get ".suffix". */
    size_t bl = strlen(base);
    int fused = bl && (base[bl - 1] == '_' || base[bl - 1] == '.');
    snprintf(buf, n, "%s%s%s%s", prefix, base, (*suffix && !fused) ? "." : "", suffix);
}

static int has(const sdpo_vit_config *c, tensor_kind kind) { return names[c->layout][kind][0] != 0; }

/* ---------------------------------------------------------------------------------------------
 * registration and binding */

typedef struct {
    nn_params *p;
    const nn_params *cp;
    const sdpo_vit_config *c;
    sdpo_status rc;
} walker;

/* Registers (w->p) or looks up (w->cp) one tensor; returns its data when looking up. */
static const float *visit(walker *w, tensor_kind kind, int i, const char *suffix, int ndim,
                          int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    if (w->rc != SDPO_OK) return NULL;
    char name[192];
    tensor_name(w->c, kind, i, suffix, name, sizeof name);
    const int64_t shape[4] = {d0, d1, d2, d3};
    if (w->p) {
        w->rc = nn_params_add(w->p, name, ndim, shape, 0);
        return NULL;
    }
    nn_param_view v;
    w->rc = nn_params_expect(w->cp, name, ndim, shape, &v);
    return w->rc == SDPO_OK ? v.value.data : NULL;
}

/* A norm or linear: weight [d0(, d1)] and bias [d0]. */
static void visit_wb(walker *w, tensor_kind kind, int i, int ndim, int64_t d0, int64_t d1,
                     const float **wt, const float **b) {
    *wt = visit(w, kind, i, "weight", ndim, d0, d1, 0, 0);
    *b = visit(w, kind, i, "bias", 1, d0, 0, 0, 0);
}

/* The whole tower in one walk, so registration and binding cannot disagree. */
static void walk(walker *w, sdpo_vit *v) {
    const sdpo_vit_config *c = w->c;
    const int64_t D = c->width, M = c->mlp_dim, p = c->patch_size, g = c->image_size / p;
    const int64_t L = 1 + g * g;
    sdpo_vit tmp;
    if (!v) v = &tmp;
    if (c->layout == SDPO_VIT_BLIP) {
        v->cls = visit(w, T_CLS, 0, "", 3, 1, 1, D, 0);
        v->pos = visit(w, T_POS, 0, "", 3, 1, L, D, 0);
        v->patch_b = visit(w, T_PATCH_B, 0, "", 1, D, 0, 0, 0);
    } else {
        v->cls = visit(w, T_CLS, 0, "", 1, D, 0, 0, 0);
        v->pos = visit(w, T_POS, 0, "", 2, L, D, 0, 0);
        v->patch_b = NULL;
    }
    v->patch_w = visit(w, T_PATCH_W, 0, "", 4, D, 3, p, p);
    v->ln_pre_w = v->ln_pre_b = v->ln_post_w = v->ln_post_b = NULL;
    if (has(c, T_LN_PRE)) visit_wb(w, T_LN_PRE, 0, 1, D, 0, &v->ln_pre_w, &v->ln_pre_b);
    for (int i = 0; i < c->layers; i++) {
        sdpo_vit_layer tl, *l = w->cp ? &v->layer[i] : &tl;
        visit_wb(w, T_LN1, i, 1, D, 0, &l->ln1_w, &l->ln1_b);
        if (has(c, T_QKV)) {
            const float *qkv_w, *qkv_b;
            visit_wb(w, T_QKV, i, 2, 3 * D, D, &qkv_w, &qkv_b);
            if (qkv_w) {
                l->q_w = qkv_w, l->k_w = qkv_w + D * D, l->v_w = qkv_w + 2 * D * D;
                l->q_b = qkv_b, l->k_b = qkv_b + D, l->v_b = qkv_b + 2 * D;
            }
        } else {
            visit_wb(w, T_Q, i, 2, D, D, &l->q_w, &l->q_b);
            visit_wb(w, T_K, i, 2, D, D, &l->k_w, &l->k_b);
            visit_wb(w, T_V, i, 2, D, D, &l->v_w, &l->v_b);
        }
        visit_wb(w, T_OUT, i, 2, D, D, &l->out_w, &l->out_b);
        visit_wb(w, T_LN2, i, 1, D, 0, &l->ln2_w, &l->ln2_b);
        visit_wb(w, T_FC1, i, 2, M, D, &l->fc1_w, &l->fc1_b);
        visit_wb(w, T_FC2, i, 2, D, M, &l->fc2_w, &l->fc2_b);
    }
    /* BLIP's final `norm` (on every token) sits in ln_post's slot. */
    visit_wb(w, T_LN_POST, 0, 1, D, 0, &v->ln_post_w, &v->ln_post_b);
}

sdpo_status sdpo_vit_register(const sdpo_vit_config *c, nn_params *p) {
    sdpo_status rc = sdpo_vit_config_check(c);
    if (rc != SDPO_OK) return rc;
    walker w = {.p = p, .c = c, .rc = SDPO_OK};
    walk(&w, NULL);
    if (w.rc == SDPO_OK && c->embed_dim > 0) {
        char name[192];
        tensor_name(c, T_PROJ, 0, "", name, sizeof name);
        /* HF: Linear weight [E, D]; open_clip: proj [D, E] used as x @ proj. */
        const int64_t hf[2] = {c->embed_dim, c->width}, oc[2] = {c->width, c->embed_dim};
        w.rc = nn_params_add(p, name, 2, c->layout == SDPO_VIT_HF_CLIP ? hf : oc, 0);
    }
    return w.rc;
}

sdpo_status sdpo_vit_bind(sdpo_vit *v, const sdpo_vit_config *c, const nn_params *p) {
    memset(v, 0, sizeof *v);
    sdpo_status rc = sdpo_vit_config_check(c);
    if (rc != SDPO_OK) return rc;
    v->cfg = *c;
    v->grid = c->image_size / c->patch_size;
    v->tokens = 1 + v->grid * v->grid;
    v->layer = calloc((size_t)c->layers, sizeof *v->layer);
    if (!v->layer) return sdpo_fail(SDPO_ERR_NOMEM, "vit: out of memory");
    walker w = {.cp = p, .c = c, .rc = SDPO_OK};
    walk(&w, v);
    if (w.rc == SDPO_OK && c->embed_dim > 0) {
        const size_t D = (size_t)c->width, E = (size_t)c->embed_dim;
        char name[192];
        tensor_name(c, T_PROJ, 0, "", name, sizeof name);
        nn_param_view pv;
        const int64_t hf[2] = {(int64_t)E, (int64_t)D}, oc[2] = {(int64_t)D, (int64_t)E};
        w.rc = nn_params_expect(p, name, 2, c->layout == SDPO_VIT_HF_CLIP ? hf : oc, &pv);
        if (w.rc == SDPO_OK && !(v->proj_t = malloc(E * D * sizeof(float))))
            w.rc = sdpo_fail(SDPO_ERR_NOMEM, "vit: out of memory for the projection");
        if (w.rc == SDPO_OK) {
            if (c->layout == SDPO_VIT_HF_CLIP) {
                memcpy(v->proj_t, pv.value.data, E * D * sizeof(float));
            } else {
                /* One-time transpose at load so that the forward is a plain linear. */
                for (size_t d = 0; d < D; d++)
                    for (size_t e = 0; e < E; e++) v->proj_t[e * D + d] = pv.value.data[d * E + e];
            }
        }
    }
    if (w.rc != SDPO_OK) sdpo_vit_free(v);
    return w.rc;
}

void sdpo_vit_free(sdpo_vit *v) {
    free(v->layer);
    free(v->proj_t);
    v->layer = NULL;
    v->proj_t = NULL;
}

size_t sdpo_vit_out_floats(const sdpo_vit *v) {
    return v->cfg.embed_dim > 0 ? (size_t)v->cfg.embed_dim
                                : (size_t)v->tokens * (size_t)v->cfg.width;
}

/* ---------------------------------------------------------------------------------------------
 * forward */

typedef struct {
    float *x, *h, *q, *k, *v, *a, *m, *lse, *attn_scratch, *conv_scratch;
    void *base;
} activations;

static sdpo_status activations_alloc(nn_ctx *ctx, const sdpo_vit *v, int B, activations *act,
                                     nn_attention_shape *as, nn_conv2d_shape *cs) {
    const sdpo_vit_config *c = &v->cfg;
    const size_t L = (size_t)v->tokens, D = (size_t)c->width, M = (size_t)c->mlp_dim;
    *as = (nn_attention_shape){.B = B, .H = c->heads, .Lq = v->tokens, .Lk = v->tokens,
                               .dh = c->width / c->heads, .scale = 0.0f, .causal = 0,
                               .mask_kind = NN_ATTN_MASK_NONE};
    *cs = (nn_conv2d_shape){.B = B, .C_in = 3, .H = c->image_size, .W = c->image_size,
                            .C_out = c->width, .kh = c->patch_size, .kw = c->patch_size,
                            .stride = c->patch_size};
    const size_t tok = (size_t)B * L * D;
    const size_t sizes[10] = {tok, tok, tok, tok, tok, tok, (size_t)B * L * M,
                              (size_t)B * (size_t)c->heads * L,
                              nn_attention_scratch_floats(ctx, as),
                              nn_conv2d_scratch_floats(cs)};
    size_t total = 0;
    for (int i = 0; i < 10; i++) total += (sizes[i] + 15) & ~(size_t)15;
    float *base = malloc(total * sizeof(float));
    if (!base)
        return sdpo_fail(SDPO_ERR_NOMEM, "vit: out of memory for %zu MB of activations",
                         total * sizeof(float) >> 20);
    float **slots[10] = {&act->x, &act->h, &act->q, &act->k, &act->v, &act->a, &act->m,
                         &act->lse, &act->attn_scratch, &act->conv_scratch};
    float *cur = base;
    for (int i = 0; i < 10; i++) {
        *slots[i] = cur;
        cur += (sizes[i] + 15) & ~(size_t)15;
    }
    act->base = base;
    return SDPO_OK;
}

static void block_forward(nn_ctx *ctx, const sdpo_vit *v, const sdpo_vit_layer *l, int B,
                          activations *t, const nn_attention_shape *as) {
    const sdpo_vit_config *c = &v->cfg;
    const int N = B * v->tokens, D = c->width, M = c->mlp_dim;
    const size_t n = (size_t)N * (size_t)D;
    // x is (B, L, D): x += out_proj(attn(LN1 x))
    nn_layer_norm_forward(ctx, t->h, NULL, NULL, t->x, l->ln1_w, l->ln1_b, N, D, c->ln_eps);
    nn_linear_forward(ctx, t->q, t->h, l->q_w, l->q_b, N, D, D);
    nn_linear_forward(ctx, t->k, t->h, l->k_w, l->k_b, N, D, D);
    nn_linear_forward(ctx, t->v, t->h, l->v_w, l->v_b, N, D, D);
    nn_attention_forward(ctx, t->a, t->lse, t->q, t->k, t->v, NULL, as, t->attn_scratch);
    nn_linear_forward(ctx, t->h, t->a, l->out_w, l->out_b, N, D, D);
    nn_add_forward(ctx, t->x, t->x, t->h, n);
    // x += fc2(act(fc1(LN2 x))), hidden (B, L, M)
    nn_layer_norm_forward(ctx, t->h, NULL, NULL, t->x, l->ln2_w, l->ln2_b, N, D, c->ln_eps);
    nn_linear_forward(ctx, t->m, t->h, l->fc1_w, l->fc1_b, N, D, M);
    if (c->quick_gelu) nn_quick_gelu_forward(ctx, t->m, t->m, (size_t)N * (size_t)M);
    else nn_gelu_forward(ctx, t->m, t->m, (size_t)N * (size_t)M);
    nn_linear_forward(ctx, t->h, t->m, l->fc2_w, l->fc2_b, N, M, D);
    nn_add_forward(ctx, t->x, t->x, t->h, n);
}

static void chunk_forward(nn_ctx *ctx, const sdpo_vit *v, int B, const float *pixels, float *out,
                          activations *t, const nn_attention_shape *as,
                          const nn_conv2d_shape *cs) {
    const sdpo_vit_config *c = &v->cfg;
    const int D = c->width, L = v->tokens, G2 = v->grid * v->grid;
    // patches: conv (B, D, g, g) in m, as tokens (B, g², D) in h; x = [cls | tokens] + pos
    nn_conv2d_forward(ctx, t->m, pixels, v->patch_w, v->patch_b, cs, t->conv_scratch);
    nn_nchw_to_tokens_forward(ctx, t->h, t->m, B, D, G2);
    for (int b = 0; b < B; b++)
        nn_concat_channels_forward(ctx, t->x + (size_t)b * L * D, v->cls,
                                   t->h + (size_t)b * G2 * D, 1, 1, G2, D);
    nn_add_broadcast_forward(ctx, t->x, t->x, v->pos, B, L * D, 1, 1);
    if (v->ln_pre_w) {
        nn_layer_norm_forward(ctx, t->h, NULL, NULL, t->x, v->ln_pre_w, v->ln_pre_b, B * L, D,
                              c->ln_eps);
        memcpy(t->x, t->h, (size_t)B * L * D * sizeof(float));
    }
    for (int i = 0; i < c->layers; i++) block_forward(ctx, v, &v->layer[i], B, t, as);
    if (c->embed_dim == 0) {
        // BLIP: norm over all tokens → out (B, L, D)
        nn_layer_norm_forward(ctx, out, NULL, NULL, t->x, v->ln_post_w, v->ln_post_b, B * L, D,
                              c->ln_eps);
        return;
    }
    // CLIP: cls rows (B, D) → ln_post → (B, E) = · projᵀ
    nn_split_channels_forward(ctx, t->q, t->k, t->x, B, 1, L - 1, D);
    nn_layer_norm_forward(ctx, t->h, NULL, NULL, t->q, v->ln_post_w, v->ln_post_b, B, D,
                          c->ln_eps);
    nn_linear_forward(ctx, out, t->h, v->proj_t, NULL, B, D, c->embed_dim);
}

sdpo_status sdpo_vit_forward(nn_ctx *ctx, const sdpo_vit *v, int B, const float *pixels,
                             float *out) {
    if (B < 1) return sdpo_fail(SDPO_ERR_ARG, "vit: batch %d", B);
    const int chunk = B < VIT_CHUNK ? B : VIT_CHUNK;
    activations t = {0};
    nn_attention_shape as;
    nn_conv2d_shape cs;
    sdpo_status rc = activations_alloc(ctx, v, chunk, &t, &as, &cs);
    if (rc != SDPO_OK) return rc;
    const size_t in_floats = (size_t)3 * v->cfg.image_size * v->cfg.image_size;
    const size_t out_floats = sdpo_vit_out_floats(v);
    for (int b0 = 0; b0 < B; b0 += chunk) {
        int n = B - b0 < chunk ? B - b0 : chunk;
        as.B = cs.B = n;
        chunk_forward(ctx, v, n, pixels + (size_t)b0 * in_floats, out + (size_t)b0 * out_floats,
                      &t, &as, &cs);
    }
    free(t.base);
    return SDPO_OK;
}

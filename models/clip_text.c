/* models/clip_text.c — CLIP text transformer forward (see clip_text.h; transformers
 * modeling_clip.py CLIPTextEmbeddings, CLIPEncoderLayer, CLIPTextTransformer; open_clip
 * model.py CLIP.encode_text with transformer.py TextTransformer/ResidualAttentionBlock, whose
 * nn.MultiheadAttention in_proj rows are q | k | v). */
#include "models/clip_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/weights.h"
#include "nn/attention.h"
#include "nn/ops.h"
#include "nn/safetensors.h"

const sdpo_clip_text_layout sdpo_clip_text_layout_sd = {SDPO_CLIP_TEXT_HF, "text_model.", NULL};
const sdpo_clip_text_select sdpo_clip_text_last_hidden = {0, 1};

/* ---------------------------------------------------------------------------------------------
 * config */

static sdpo_status positive(const sdpo_config *c, const char *key, int def, int *out) {
    sdpo_status st = def > 0 ? sdpo_config_int_or(c, key, def, out) : sdpo_config_int(c, key, out);
    if (st == SDPO_OK && *out < 1)
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: key '%s': must be ≥ 1, got %d", c->path, key, *out);
    return st;
}

static sdpo_status check_config(const sdpo_config *c, sdpo_clip_text_config *out, double eps) {
    if (out->hidden_size % out->num_heads)
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: hidden size %d is not a multiple of the %d "
                         "attention heads", c->path, out->hidden_size, out->num_heads);
    if (!(eps > 0)) return sdpo_fail(SDPO_ERR_FORMAT, "%s: key 'layer_norm_eps': must be > 0", c->path);
    out->layer_norm_eps = (float)eps;
    return SDPO_OK;
}

sdpo_status sdpo_clip_text_config_load(const sdpo_config *c, sdpo_clip_text_config *out) {
    memset(out, 0, sizeof *out);
    const char *act = NULL;
    double eps = 0;
    sdpo_status st;
    if ((st = positive(c, "vocab_size", 0, &out->vocab_size)) ||
        (st = positive(c, "hidden_size", 0, &out->hidden_size)) ||
        (st = positive(c, "intermediate_size", 0, &out->intermediate_size)) ||
        (st = positive(c, "num_hidden_layers", 0, &out->num_layers)) ||
        (st = positive(c, "num_attention_heads", 0, &out->num_heads)) ||
        (st = positive(c, "max_position_embeddings", 0, &out->max_positions)) ||
        (st = sdpo_config_string_or(c, "hidden_act", "quick_gelu", &act)) ||
        (st = sdpo_config_double_or(c, "layer_norm_eps", 1e-5, &eps)) ||
        (st = sdpo_config_int_or(c, "eos_token_id", 49407, &out->eos_token_id)) ||
        (st = positive(c, "projection_dim", 512, &out->projection_dim)))
        return st;
    if (!strcmp(act, "gelu")) out->act = SDPO_CLIP_ACT_GELU;
    else if (!strcmp(act, "quick_gelu")) out->act = SDPO_CLIP_ACT_QUICK_GELU;
    else
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: key 'hidden_act': '%s' is not supported (gelu or "
                         "quick_gelu)", c->path, act);
    out->pool_argmax = out->eos_token_id == 2;
    return check_config(c, out, eps);
}

sdpo_status sdpo_clip_text_config_open_clip(const sdpo_config *c, int embed_dim, int quick_gelu,
                                            sdpo_clip_text_config *out) {
    memset(out, 0, sizeof *out);
    double mlp_ratio = 0;
    const char *pool = NULL;
    int embed_cls = 0, no_causal = 0, proj_bias = 0;
    sdpo_status st;
    if ((st = positive(c, "context_length", 77, &out->max_positions)) ||
        (st = positive(c, "vocab_size", 49408, &out->vocab_size)) ||
        (st = positive(c, "width", 512, &out->hidden_size)) ||
        (st = positive(c, "heads", 8, &out->num_heads)) ||
        (st = positive(c, "layers", 12, &out->num_layers)) ||
        (st = sdpo_config_double_or(c, "mlp_ratio", 4.0, &mlp_ratio)) ||
        (st = sdpo_config_string_or(c, "pool_type", "argmax", &pool)) ||
        (st = sdpo_config_bool_or(c, "embed_cls", 0, &embed_cls)) ||
        (st = sdpo_config_bool_or(c, "no_causal_mask", 0, &no_causal)) ||
        (st = sdpo_config_bool_or(c, "proj_bias", 0, &proj_bias)))
        return st;
    const char *unsupported = sdpo_config_has(c, "ls_init_value") ? "ls_init_value"
                              : embed_cls                         ? "embed_cls"
                              : strcmp(pool, "argmax")            ? "pool_type"
                              : no_causal                         ? "no_causal_mask"
                              : proj_bias                         ? "proj_bias"
                                                                  : NULL;
    if (unsupported)
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: key '%s': this open_clip text option is not "
                         "supported", c->path, unsupported);
    out->intermediate_size = (int)(out->hidden_size * mlp_ratio);   /* int(width * mlp_ratio) */
    if (out->intermediate_size < 1 || embed_dim < 1)
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: key 'mlp_ratio' or embed_dim gives an empty layer",
                         c->path);
    out->act = quick_gelu ? SDPO_CLIP_ACT_QUICK_GELU : SDPO_CLIP_ACT_GELU;
    out->pool_argmax = 1;
    out->eos_token_id = 49407;
    out->projection_dim = embed_dim;
    return check_config(c, out, 1e-5);
}

/* ---------------------------------------------------------------------------------------------
 * registry and binding: one walk over the checkpoint's tensors names each one, its shape and
 * the fields it binds to (m == NULL: registration only) */

/* dst[k] (non-NULL ones) receives data + k·step: a fused in_proj binds q, k and v. */
typedef sdpo_status (*tensor_fn)(const char *name, int ndim, const int64_t *shape,
                                 const float **const dst[3], size_t step, void *arg);

typedef struct {
    tensor_fn fn;
    void *arg;
} walker;

static sdpo_status put(walker *k, const char *name, int ndim, const int64_t *shape,
                       const float **d0, const float **d1, const float **d2, size_t step) {
    const float **const dst[3] = {d0, d1, d2};
    return k->fn(name, ndim, shape, dst, step, k->arg);
}

#define FIELD(m, f) ((m) ? &(m)->f : NULL)

/* weight [out, in] (or [out] when in == 0) and bias [out] of "<base>.weight/.bias". */
static sdpo_status put_wb(walker *k, const char *base, int64_t out, int64_t in, const float **w,
                          const float **b) {
    char name[256];
    snprintf(name, sizeof name, "%s.weight", base);
    sdpo_status st = in ? put(k, name, 2, (const int64_t[]){out, in}, w, NULL, NULL, 0)
                        : put(k, name, 1, (const int64_t[]){out}, w, NULL, NULL, 0);
    if (st != SDPO_OK) return st;
    snprintf(name, sizeof name, "%s.bias", base);
    return put(k, name, 1, (const int64_t[]){out}, b, NULL, NULL, 0);
}

static sdpo_status walk_layer_hf(walker *k, const char *pre, int l, int64_t D, int64_t I,
                                 sdpo_clip_text_layer *L) {
    char b[256];
    sdpo_status st;
#define BASE(s) (snprintf(b, sizeof b, "%sencoder.layers.%d.%s", pre, l, s), b)
    if ((st = put_wb(k, BASE("layer_norm1"), D, 0, FIELD(L, ln1_w), FIELD(L, ln1_b))) ||
        (st = put_wb(k, BASE("self_attn.q_proj"), D, D, FIELD(L, q_w), FIELD(L, q_b))) ||
        (st = put_wb(k, BASE("self_attn.k_proj"), D, D, FIELD(L, k_w), FIELD(L, k_b))) ||
        (st = put_wb(k, BASE("self_attn.v_proj"), D, D, FIELD(L, v_w), FIELD(L, v_b))) ||
        (st = put_wb(k, BASE("self_attn.out_proj"), D, D, FIELD(L, o_w), FIELD(L, o_b))) ||
        (st = put_wb(k, BASE("layer_norm2"), D, 0, FIELD(L, ln2_w), FIELD(L, ln2_b))) ||
        (st = put_wb(k, BASE("mlp.fc1"), I, D, FIELD(L, fc1_w), FIELD(L, fc1_b))))
        return st;
    return put_wb(k, BASE("mlp.fc2"), D, I, FIELD(L, fc2_w), FIELD(L, fc2_b));
#undef BASE
}

static sdpo_status walk_layer_open_clip(walker *k, const char *pre, int l, int64_t D, int64_t I,
                                        sdpo_clip_text_layer *L) {
    char b[256];
    sdpo_status st;
#define BASE(s) (snprintf(b, sizeof b, "%stransformer.resblocks.%d.%s", pre, l, s), b)
    if ((st = put_wb(k, BASE("ln_1"), D, 0, FIELD(L, ln1_w), FIELD(L, ln1_b))) ||
        (st = put(k, BASE("attn.in_proj_weight"), 2, (const int64_t[]){3 * D, D}, FIELD(L, q_w),
                  FIELD(L, k_w), FIELD(L, v_w), (size_t)(D * D))) ||
        (st = put(k, BASE("attn.in_proj_bias"), 1, (const int64_t[]){3 * D}, FIELD(L, q_b),
                  FIELD(L, k_b), FIELD(L, v_b), (size_t)D)) ||
        (st = put_wb(k, BASE("attn.out_proj"), D, D, FIELD(L, o_w), FIELD(L, o_b))) ||
        (st = put_wb(k, BASE("ln_2"), D, 0, FIELD(L, ln2_w), FIELD(L, ln2_b))) ||
        (st = put_wb(k, BASE("mlp.c_fc"), I, D, FIELD(L, fc1_w), FIELD(L, fc1_b))))
        return st;
    return put_wb(k, BASE("mlp.c_proj"), D, I, FIELD(L, fc2_w), FIELD(L, fc2_b));
#undef BASE
}

/* proj_src: where the projection tensor binds (m->projection for HF; for open_clip a
 * temporary, transposed by the caller). */
static sdpo_status walk(walker *k, const sdpo_clip_text_config *cfg,
                        const sdpo_clip_text_layout *layout, sdpo_clip_text *m,
                        const float **proj_src) {
    const int64_t D = cfg->hidden_size, I = cfg->intermediate_size, P = cfg->projection_dim;
    const char *pre = layout->prefix ? layout->prefix : "";
    const int hf = layout->naming == SDPO_CLIP_TEXT_HF;
    char name[256];
    sdpo_status st;
    snprintf(name, sizeof name,
             hf ? "%sembeddings.token_embedding.weight" : "%stoken_embedding.weight", pre);
    if ((st = put(k, name, 2, (const int64_t[]){cfg->vocab_size, D}, FIELD(m, token_embedding),
                  NULL, NULL, 0)))
        return st;
    snprintf(name, sizeof name,
             hf ? "%sembeddings.position_embedding.weight" : "%spositional_embedding", pre);
    if ((st = put(k, name, 2, (const int64_t[]){cfg->max_positions, D},
                  FIELD(m, position_embedding), NULL, NULL, 0)))
        return st;
    for (int l = 0; l < cfg->num_layers; l++) {
        sdpo_clip_text_layer *L = m ? &m->layers[l] : NULL;
        st = hf ? walk_layer_hf(k, pre, l, D, I, L) : walk_layer_open_clip(k, pre, l, D, I, L);
        if (st != SDPO_OK) return st;
    }
    snprintf(name, sizeof name, hf ? "%sfinal_layer_norm" : "%sln_final", pre);
    if ((st = put_wb(k, name, D, 0, FIELD(m, final_ln_w), FIELD(m, final_ln_b)))) return st;
    if (!layout->projection_name) return SDPO_OK;
    return put(k, layout->projection_name, 2, hf ? (const int64_t[]){P, D} : (const int64_t[]){D, P},
               proj_src, NULL, NULL, 0);
}

static sdpo_status add_frozen(const char *name, int ndim, const int64_t *shape,
                              const float **const dst[3], size_t step, void *arg) {
    (void)dst, (void)step;
    return nn_params_add(arg, name, ndim, shape, 0);
}

sdpo_status sdpo_clip_text_register(nn_params *p, const sdpo_clip_text_config *cfg,
                                    const sdpo_clip_text_layout *layout) {
    walker k = {add_frozen, p};
    return walk(&k, cfg, layout, NULL, NULL);
}

static sdpo_status bind_one(const char *name, int ndim, const int64_t *shape,
                            const float **const dst[3], size_t step, void *arg) {
    nn_param_view v;
    sdpo_status st = nn_params_expect(arg, name, ndim, shape, &v);
    for (int i = 0; i < 3 && st == SDPO_OK; i++)
        if (dst[i]) *dst[i] = v.value.data + (size_t)i * step;
    return st;
}

sdpo_status sdpo_clip_text_bind(sdpo_clip_text *m, const nn_params *p,
                                const sdpo_clip_text_config *cfg,
                                const sdpo_clip_text_layout *layout) {
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    m->layers = calloc((size_t)cfg->num_layers, sizeof *m->layers);
    if (!m->layers)
        return sdpo_fail(SDPO_ERR_NOMEM, "clip text: out of memory for %d layers", cfg->num_layers);
    const int transpose = layout->naming == SDPO_CLIP_TEXT_OPEN_CLIP;
    const float *proj_src = NULL;
    walker k = {bind_one, (void *)p};
    sdpo_status st = walk(&k, cfg, layout, m, transpose ? &proj_src : &m->projection);
    if (st == SDPO_OK && proj_src) {   /* open_clip [D, P] used as x @ P → Linear weight [P, D] */
        const size_t D = (size_t)cfg->hidden_size, P = (size_t)cfg->projection_dim;
        if (!(m->projection_owned = malloc(P * D * sizeof(float)))) {
            st = sdpo_fail(SDPO_ERR_NOMEM, "clip text: out of memory for the projection");
        } else {
            for (size_t d = 0; d < D; d++)
                for (size_t e = 0; e < P; e++) m->projection_owned[e * D + d] = proj_src[d * P + e];
            m->projection = m->projection_owned;
        }
    }
    if (st != SDPO_OK) sdpo_clip_text_unbind(m);
    return st;
}

void sdpo_clip_text_unbind(sdpo_clip_text *m) {
    free(m->layers);
    free(m->projection_owned);
    memset(m, 0, sizeof *m);
}

sdpo_status sdpo_clip_text_file_layout(const char *path, const sdpo_clip_text_layout *want,
                                       sdpo_clip_text_layout *out) {
    *out = *want;
    const char *pre = want->prefix ? want->prefix : "";
    const char *probe = want->naming == SDPO_CLIP_TEXT_HF ? "embeddings.token_embedding.weight"
                                                          : "token_embedding.weight";
    if (!pre[0]) return SDPO_OK;
    sdpo_safetensors st;
    sdpo_status rc = sdpo_st_open(path, &st);
    if (rc != SDPO_OK) return rc;
    char name[256];
    snprintf(name, sizeof name, "%s%s", pre, probe);
    if (!sdpo_st_find(&st, name) && sdpo_st_find(&st, probe)) out->prefix = pre + strlen(pre);
    sdpo_st_close(&st);
    return SDPO_OK;
}

static int is_position_ids(const char *name) {
    const char *tail = "embeddings.position_ids";
    size_t n = strlen(name), t = strlen(tail);
    return n >= t && !strcmp(name + n - t, tail);
}

sdpo_status sdpo_clip_text_load(const sdpo_model_component *c,
                                const sdpo_clip_text_layout *layout, nn_params *p,
                                sdpo_clip_text *m) {
    nn_params_init(p);
    memset(m, 0, sizeof *m);
    sdpo_config cfg_file;
    sdpo_clip_text_config cfg;
    sdpo_status st = sdpo_model_dir_config(c, &cfg_file);
    if (st != SDPO_OK) return st;
    st = sdpo_clip_text_config_load(&cfg_file, &cfg);
    sdpo_config_free(&cfg_file);
    char path[4096];
    const sdpo_weights_filter filter = {NULL, is_position_ids};
    sdpo_clip_text_layout file_layout;
    if (st == SDPO_OK) st = sdpo_weights_find(c->dir, path, sizeof path);
    if (st == SDPO_OK) st = sdpo_clip_text_file_layout(path, layout, &file_layout);
    if (st == SDPO_OK) st = sdpo_clip_text_register(p, &cfg, &file_layout);
    if (st == SDPO_OK) st = nn_params_finalize(p);
    if (st == SDPO_OK) st = sdpo_weights_load(p, path, &filter);
    if (st == SDPO_OK) st = sdpo_clip_text_bind(m, p, &cfg, &file_layout);
    if (st != SDPO_OK) nn_params_free(p);
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * forward */

/* Activation pieces of one forward (N = B·L rows): x, t, q, k, v, a [N, D]; f [N, I];
 * lse [B, H, L]; attention scratch. */
typedef struct {
    size_t nd, ni, lse, attn;
} clip_sizes;

static nn_attention_shape attn_shape(const sdpo_clip_text_config *cfg, int B, int L) {
    return (nn_attention_shape){.B = B, .H = cfg->num_heads, .Lq = L, .Lk = L,
                                .dh = cfg->hidden_size / cfg->num_heads, .scale = 0,
                                .causal = 1, .mask_kind = NN_ATTN_MASK_NONE};
}

static clip_sizes sizes_of(const nn_ctx *ctx, const sdpo_clip_text_config *cfg, int B, int L) {
    nn_attention_shape as = attn_shape(cfg, B, L);
    size_t N = (size_t)B * L;
    return (clip_sizes){N * cfg->hidden_size, N * cfg->intermediate_size,
                        (size_t)B * cfg->num_heads * L, nn_attention_scratch_floats(ctx, &as)};
}

size_t sdpo_clip_text_arena_bytes(const nn_ctx *ctx, const sdpo_clip_text_config *cfg, int B,
                                  int L) {
    clip_sizes s = sizes_of(ctx, cfg, B, L);
    return 6 * nn_arena_bytes_f32(s.nd) + nn_arena_bytes_f32(s.ni) + nn_arena_bytes_f32(s.lse) +
           nn_arena_bytes_f32(s.attn);
}

/* Position of the token whose final hidden state is pooled (CLIPTextTransformer.forward,
 * open_clip encode_text): argmax(ids), or the first eos_token_id (0 when there is none, as
 * torch's argmax over an all-false row). */
static int eos_position(const sdpo_clip_text_config *cfg, const int64_t *ids, int L) {
    int best = 0;
    for (int i = 0; i < L; i++) {
        if (!cfg->pool_argmax && ids[i] == cfg->eos_token_id) return i;
        if (ids[i] > ids[best]) best = i;   /* the first maximum */
    }
    return cfg->pool_argmax ? best : 0;
}

static void activation(nn_ctx *ctx, sdpo_clip_act act, float *x, size_t n) {
    if (act == SDPO_CLIP_ACT_GELU) nn_gelu_forward(ctx, x, x, n);
    else nn_quick_gelu_forward(ctx, x, x, n);
}

sdpo_status sdpo_clip_text_forward(nn_ctx *ctx, const sdpo_clip_text *m, nn_arena *arena,
                                   const int64_t *ids, int B, int L,
                                   const sdpo_clip_text_select *sel, float *hidden, float *pooled,
                                   float *text_embeds) {
    const sdpo_clip_text_config *cfg = &m->cfg;
    const int D = cfg->hidden_size, I = cfg->intermediate_size;
    if (!sel) sel = &sdpo_clip_text_last_hidden;
    if (B < 1 || L < 1 || L > cfg->max_positions)
        return sdpo_fail(SDPO_ERR_ARG, "clip text: %d sequences of length %d (1..%d allowed)", B, L,
                         cfg->max_positions);
    if (sel->skip_layers < 0 || sel->skip_layers > cfg->num_layers)
        return sdpo_fail(SDPO_ERR_ARG, "clip text: cannot skip %d of %d layers", sel->skip_layers,
                         cfg->num_layers);
    int want_pool = pooled || text_embeds;
    if (want_pool && hidden && (sel->skip_layers != 0 || !sel->final_layer_norm))
        return sdpo_fail(SDPO_ERR_ARG, "clip text: the pooled output comes from last_hidden_state; "
                         "request another hidden state in a separate call");
    if (text_embeds && !m->projection)
        return sdpo_fail(SDPO_ERR_ARG, "clip text: text_embeds requested but the model has no "
                         "text_projection");
    for (size_t n = 0; n < (size_t)B * L; n++)
        if (ids[n] < 0 || ids[n] >= cfg->vocab_size)
            return sdpo_fail(SDPO_ERR_ARG, "clip text: token id %lld at [%zu, %zu] is outside the "
                             "vocabulary (vocab_size %d)", (long long)ids[n], n / (size_t)L,
                             n % (size_t)L, cfg->vocab_size);

    const size_t mark = nn_arena_mark(arena);
    clip_sizes sz = sizes_of(ctx, cfg, B, L);
    float *x, *t, *q, *k, *v, *a, *f, *lse, *scratch;
    sdpo_status st;
    if ((st = nn_arena_alloc_f32(arena, sz.nd, "clip_text.x", &x)) ||
        (st = nn_arena_alloc_f32(arena, sz.nd, "clip_text.t", &t)) ||
        (st = nn_arena_alloc_f32(arena, sz.nd, "clip_text.q", &q)) ||
        (st = nn_arena_alloc_f32(arena, sz.nd, "clip_text.k", &k)) ||
        (st = nn_arena_alloc_f32(arena, sz.nd, "clip_text.v", &v)) ||
        (st = nn_arena_alloc_f32(arena, sz.nd, "clip_text.attn", &a)) ||
        (st = nn_arena_alloc_f32(arena, sz.ni, "clip_text.mlp", &f)) ||
        (st = nn_arena_alloc_f32(arena, sz.lse, "clip_text.lse", &lse)) ||
        (st = nn_arena_alloc_f32(arena, sz.attn, "clip_text.attn_scratch", &scratch))) {
        nn_arena_reset(arena, mark);
        return st;
    }
    const int N = B * L;
    /* x [B, L, D] = token_embedding[ids] + position_embedding[0:L]. The row gather runs on the
     * host (ids are host data); it becomes an nn op with the CUDA backend. */
    for (int n = 0; n < N; n++)
        memcpy(x + (size_t)n * D, m->token_embedding + (size_t)ids[n] * D, (size_t)D * sizeof *x);
    nn_add_broadcast_forward(ctx, x, x, m->position_embedding, B, L * D, 1, 1);

    const nn_attention_shape as = attn_shape(cfg, B, L);
    const int n_run = want_pool && !hidden ? cfg->num_layers : cfg->num_layers - sel->skip_layers;
    for (int l = 0; l < n_run; l++) {
        const sdpo_clip_text_layer *w = &m->layers[l];
        // self-attention block: x += out_proj(MHA(LN1 x)), causal
        nn_layer_norm_forward(ctx, t, NULL, NULL, x, w->ln1_w, w->ln1_b, N, D, cfg->layer_norm_eps);
        nn_linear_forward(ctx, q, t, w->q_w, w->q_b, N, D, D);
        nn_linear_forward(ctx, k, t, w->k_w, w->k_b, N, D, D);
        nn_linear_forward(ctx, v, t, w->v_w, w->v_b, N, D, D);
        nn_attention_forward(ctx, a, lse, q, k, v, NULL, &as, scratch);
        nn_linear_forward(ctx, t, a, w->o_w, w->o_b, N, D, D);
        nn_add_forward(ctx, x, x, t, sz.nd);
        // MLP block: x += fc2(act(fc1(LN2 x)))
        nn_layer_norm_forward(ctx, t, NULL, NULL, x, w->ln2_w, w->ln2_b, N, D, cfg->layer_norm_eps);
        nn_linear_forward(ctx, f, t, w->fc1_w, w->fc1_b, N, D, I);
        activation(ctx, cfg->act, f, sz.ni);
        nn_linear_forward(ctx, t, f, w->fc2_w, w->fc2_b, N, I, D);
        nn_add_forward(ctx, x, x, t, sz.nd);
    }
    if (hidden) {
        if (sel->final_layer_norm)
            nn_layer_norm_forward(ctx, hidden, NULL, NULL, x, m->final_ln_w, m->final_ln_b, N, D,
                                  cfg->layer_norm_eps);
        else
            memcpy(hidden, x, sz.nd * sizeof *x);
    }
    if (want_pool) {
        /* last_hidden_state into t, then its eos rows (host row gather, as above) */
        nn_layer_norm_forward(ctx, t, NULL, NULL, x, m->final_ln_w, m->final_ln_b, N, D,
                              cfg->layer_norm_eps);
        float *pool = pooled ? pooled : a;   /* a [N, D] ≥ [B, D] is free now */
        for (int b = 0; b < B; b++)
            memcpy(pool + (size_t)b * D,
                   t + ((size_t)b * L + eos_position(cfg, ids + (size_t)b * L, L)) * D,
                   (size_t)D * sizeof *t);
        if (text_embeds)
            nn_linear_forward(ctx, text_embeds, pool, m->projection, NULL, B, D,
                              cfg->projection_dim);
    }
    nn_arena_reset(arena, mark);
    return SDPO_OK;
}

/* models/bert.c — BLIP's MED BERT encoder with cross-attention (bert.h). Upstream: BLIP
 * models/med.py BertEmbeddings (absolute positions, no token types), BertSelfAttention
 * (extended mask (1 − m)·−10000 added to the scaled scores), BertSelfOutput / BertOutput
 * (LayerNorm(dense(x) + input)), BertLayer.forward(mode='multimodal'). */
#include "models/bert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/attention.h"
#include "nn/ops.h"

sdpo_status sdpo_bert_config_load(const sdpo_config *c, const char *prefix, int encoder_width,
                                  sdpo_bert_config *out) {
    memset(out, 0, sizeof *out);
    snprintf(out->prefix, sizeof out->prefix, "%s", prefix);
    const char *act;
    double eps;
    int cross;
    sdpo_status rc;
    if ((rc = sdpo_config_int(c, "vocab_size", &out->vocab_size)) != SDPO_OK ||
        (rc = sdpo_config_int(c, "hidden_size", &out->hidden_size)) != SDPO_OK ||
        (rc = sdpo_config_int(c, "num_hidden_layers", &out->layers)) != SDPO_OK ||
        (rc = sdpo_config_int(c, "num_attention_heads", &out->heads)) != SDPO_OK ||
        (rc = sdpo_config_int(c, "intermediate_size", &out->intermediate_size)) != SDPO_OK ||
        (rc = sdpo_config_int(c, "max_position_embeddings", &out->max_positions)) != SDPO_OK ||
        (rc = sdpo_config_double_or(c, "layer_norm_eps", 1e-12, &eps)) != SDPO_OK ||
        (rc = sdpo_config_string_or(c, "hidden_act", "gelu", &act)) != SDPO_OK ||
        (rc = sdpo_config_bool_or(c, "add_cross_attention", 0, &cross)) != SDPO_OK)
        return rc;
    if (strcmp(act, "gelu"))
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: key 'hidden_act': '%s' (BLIP's BERT uses gelu)",
                         c->path, act);
    if (!cross)
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: key 'add_cross_attention' must be true (ImageReward "
                         "attends to the image)", c->path);
    if (out->vocab_size < 1 || out->hidden_size < 1 || out->layers < 1 || out->heads < 1 ||
        out->intermediate_size < 1 || out->max_positions < 1 || encoder_width < 1 ||
        out->hidden_size % out->heads || !(eps > 0))
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: sizes must be positive and hidden_size a multiple "
                         "of num_attention_heads", c->path);
    out->encoder_width = encoder_width;
    out->ln_eps = (float)eps;
    return SDPO_OK;
}

/* ---------------------------------------------------------------------------------------------
 * registration and binding in one walk */

typedef struct {
    nn_params *p;
    const nn_params *cp;
    const sdpo_bert_config *c;
    sdpo_status rc;
} walker;

static const float *visit(walker *w, const char *name, int ndim, int64_t d0, int64_t d1) {
    if (w->rc != SDPO_OK) return NULL;
    char full[192];
    snprintf(full, sizeof full, "%s%s", w->c->prefix, name);
    const int64_t shape[2] = {d0, d1};
    if (w->p) {
        w->rc = nn_params_add(w->p, full, ndim, shape, 0);
        return NULL;
    }
    nn_param_view v;
    w->rc = nn_params_expect(w->cp, full, ndim, shape, &v);
    return w->rc == SDPO_OK ? v.value.data : NULL;
}

/* "<base>.weight" [d0(, d1)] and "<base>.bias" [d0]. */
static void visit_wb(walker *w, const char *base, int ndim, int64_t d0, int64_t d1,
                     const float **wt, const float **b) {
    char name[160];
    snprintf(name, sizeof name, "%s.weight", base);
    *wt = visit(w, name, ndim, d0, d1);
    snprintf(name, sizeof name, "%s.bias", base);
    *b = visit(w, name, 1, d0, 0);
}

static void walk(walker *w, sdpo_bert *m) {
    const sdpo_bert_config *c = w->c;
    const int64_t D = c->hidden_size, I = c->intermediate_size, Ew = c->encoder_width;
    sdpo_bert tmp = {0};
    sdpo_bert_layer tl;
    if (!m) m = &tmp;
    m->word = visit(w, "embeddings.word_embeddings.weight", 2, c->vocab_size, D);
    m->pos = visit(w, "embeddings.position_embeddings.weight", 2, c->max_positions, D);
    visit_wb(w, "embeddings.LayerNorm", 1, D, 0, &m->emb_ln_w, &m->emb_ln_b);
    for (int i = 0; i < c->layers; i++) {
        sdpo_bert_layer *l = m->layer ? &m->layer[i] : &tl;
        char b[128];
#define BASE(s) (snprintf(b, sizeof b, "encoder.layer.%d.%s", i, s), b)
        visit_wb(w, BASE("attention.self.query"), 2, D, D, &l->q_w, &l->q_b);
        visit_wb(w, BASE("attention.self.key"), 2, D, D, &l->k_w, &l->k_b);
        visit_wb(w, BASE("attention.self.value"), 2, D, D, &l->v_w, &l->v_b);
        visit_wb(w, BASE("attention.output.dense"), 2, D, D, &l->o_w, &l->o_b);
        visit_wb(w, BASE("attention.output.LayerNorm"), 1, D, 0, &l->ln1_w, &l->ln1_b);
        visit_wb(w, BASE("crossattention.self.query"), 2, D, D, &l->cq_w, &l->cq_b);
        visit_wb(w, BASE("crossattention.self.key"), 2, D, Ew, &l->ck_w, &l->ck_b);
        visit_wb(w, BASE("crossattention.self.value"), 2, D, Ew, &l->cv_w, &l->cv_b);
        visit_wb(w, BASE("crossattention.output.dense"), 2, D, D, &l->co_w, &l->co_b);
        visit_wb(w, BASE("crossattention.output.LayerNorm"), 1, D, 0, &l->ln2_w, &l->ln2_b);
        visit_wb(w, BASE("intermediate.dense"), 2, I, D, &l->fc1_w, &l->fc1_b);
        visit_wb(w, BASE("output.dense"), 2, D, I, &l->fc2_w, &l->fc2_b);
        visit_wb(w, BASE("output.LayerNorm"), 1, D, 0, &l->ln3_w, &l->ln3_b);
#undef BASE
    }
}

sdpo_status sdpo_bert_register(const sdpo_bert_config *c, nn_params *p) {
    walker w = {.p = p, .c = c, .rc = SDPO_OK};
    walk(&w, NULL);
    return w.rc;
}

sdpo_status sdpo_bert_bind(sdpo_bert *m, const sdpo_bert_config *c, const nn_params *p) {
    memset(m, 0, sizeof *m);
    m->cfg = *c;
    m->layer = calloc((size_t)c->layers, sizeof *m->layer);
    if (!m->layer) return sdpo_fail(SDPO_ERR_NOMEM, "bert: out of memory");
    walker w = {.cp = p, .c = c, .rc = SDPO_OK};
    walk(&w, m);
    if (w.rc != SDPO_OK) sdpo_bert_free(m);
    return w.rc;
}

void sdpo_bert_free(sdpo_bert *m) {
    free(m->layer);
    m->layer = NULL;
}

/* ---------------------------------------------------------------------------------------------
 * forward */

sdpo_status sdpo_bert_forward(nn_ctx *ctx, const sdpo_bert *m, int B, int L, const int64_t *ids,
                              const int64_t *mask, int Li, const float *image_embeds, float *out) {
    const sdpo_bert_config *c = &m->cfg;
    const int D = c->hidden_size, I = c->intermediate_size, Ew = c->encoder_width, N = B * L;
    if (B < 1 || L < 1 || L > c->max_positions || Li < 1)
        return sdpo_fail(SDPO_ERR_ARG, "bert: %d sequences of length %d (1..%d) over %d image "
                         "tokens", B, L, c->max_positions, Li);
    for (int n = 0; n < N; n++)
        if (ids[n] < 0 || ids[n] >= c->vocab_size)
            return sdpo_fail(SDPO_ERR_ARG, "bert: token id %lld at [%d, %d] is outside the "
                             "vocabulary (vocab_size %d)", (long long)ids[n], n / L, n % L,
                             c->vocab_size);
    const nn_attention_shape self_as = {.B = B, .H = c->heads, .Lq = L, .Lk = L,
                                        .dh = D / c->heads, .mask_kind = NN_ATTN_MASK_BK};
    const nn_attention_shape cross_as = {.B = B, .H = c->heads, .Lq = L, .Lk = Li,
                                         .dh = D / c->heads, .mask_kind = NN_ATTN_MASK_NONE};
    size_t scratch_n = nn_attention_scratch_floats(ctx, &self_as);
    size_t cross_n = nn_attention_scratch_floats(ctx, &cross_as);
    if (cross_n > scratch_n) scratch_n = cross_n;
    const size_t nd = (size_t)N * D, nk = (size_t)B * Li * D;
    const size_t lse_n = (size_t)B * c->heads * (L > Li ? L : Li);
    const size_t total = 5 * nd + 2 * nk + (size_t)N * I + lse_n + (size_t)N + scratch_n;
    float *base = malloc(total * sizeof *base);
    if (!base)
        return sdpo_fail(SDPO_ERR_NOMEM, "bert: out of memory for %zu MB of activations",
                         total * sizeof *base >> 20);
    float *h = out, *t = base, *q = t + nd, *k = q + nd, *v = k + nd, *a = v + nd;
    float *ck = a + nd, *cv = ck + nk, *f = cv + nk, *lse = f + (size_t)N * I;
    float *kmask = lse + lse_n, *scratch = kmask + N;
    // extended key mask (B, L): (1 − m)·−10000, BertModel.get_extended_attention_mask
    for (int n = 0; n < N; n++) kmask[n] = (1.0f - (float)mask[n]) * -10000.0f;
    // embeddings: t = word[ids] + pos[0:L] (host gather of the id rows), h = LN(t)
    for (int n = 0; n < N; n++)
        memcpy(t + (size_t)n * D, m->word + (size_t)ids[n] * D, (size_t)D * sizeof *t);
    nn_add_broadcast_forward(ctx, t, t, m->pos, B, L * D, 1, 1);
    nn_layer_norm_forward(ctx, h, NULL, NULL, t, m->emb_ln_w, m->emb_ln_b, N, D, c->ln_eps);
    for (int i = 0; i < c->layers; i++) {
        const sdpo_bert_layer *l = &m->layer[i];
        // self-attention: h = LN(dense(attn(h)) + h)
        nn_linear_forward(ctx, q, h, l->q_w, l->q_b, N, D, D);
        nn_linear_forward(ctx, k, h, l->k_w, l->k_b, N, D, D);
        nn_linear_forward(ctx, v, h, l->v_w, l->v_b, N, D, D);
        nn_attention_forward(ctx, a, lse, q, k, v, kmask, &self_as, scratch);
        nn_linear_forward(ctx, t, a, l->o_w, l->o_b, N, D, D);
        nn_add_forward(ctx, t, t, h, nd);
        nn_layer_norm_forward(ctx, h, NULL, NULL, t, l->ln1_w, l->ln1_b, N, D, c->ln_eps);
        // cross-attention to the image tokens (B, Li, Ew): h = LN(dense(attn) + h)
        nn_linear_forward(ctx, q, h, l->cq_w, l->cq_b, N, D, D);
        nn_linear_forward(ctx, ck, image_embeds, l->ck_w, l->ck_b, B * Li, Ew, D);
        nn_linear_forward(ctx, cv, image_embeds, l->cv_w, l->cv_b, B * Li, Ew, D);
        nn_attention_forward(ctx, a, lse, q, ck, cv, NULL, &cross_as, scratch);
        nn_linear_forward(ctx, t, a, l->co_w, l->co_b, N, D, D);
        nn_add_forward(ctx, t, t, h, nd);
        nn_layer_norm_forward(ctx, h, NULL, NULL, t, l->ln2_w, l->ln2_b, N, D, c->ln_eps);
        // feed-forward: h = LN(fc2(gelu(fc1 h)) + h)
        nn_linear_forward(ctx, f, h, l->fc1_w, l->fc1_b, N, D, I);
        nn_gelu_forward(ctx, f, f, (size_t)N * I);
        nn_linear_forward(ctx, t, f, l->fc2_w, l->fc2_b, N, I, D);
        nn_add_forward(ctx, t, t, h, nd);
        nn_layer_norm_forward(ctx, h, NULL, NULL, t, l->ln3_w, l->ln3_b, N, D, c->ln_eps);
    }
    free(base);
    return SDPO_OK;
}

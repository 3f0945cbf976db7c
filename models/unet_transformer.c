/* models/unet_transformer.c — Transformer2DModel with BasicTransformerBlocks, forward and
 * backward (see unet_internal.h).
 *
 * diffusers transformers/transformer_2d.py (continuous input, use_linear_projection=True) and
 * attention.py BasicTransformerBlock (norm_type "layer_norm", cross-attention, GEGLU), with
 * attention_processor.py Attention (to_q/to_k/to_v without bias, to_out.0 with bias, heads of
 * C/heads, scale dh^-0.5, no mask) — architectures.md §2.3:
 *   g = GroupNorm(G, C, eps 1e-6)(x); t0 = g.permute(0,2,3,1).reshape(B, HW, C)
 *   s = proj_in(t0)
 *   per block: s = attn1(LN1 s) + s;  s = attn2(LN2 s, ctx) + s;  s = ff(LN3 s) + s   (LN eps 1e-5)
 *              ff(y) = ff.net.2(a · gelu(gate)), [a | gate] = ff.net.0.proj(y)
 *   out = proj_out(s).reshape(B, H, W, C).permute(0,3,1,2) + x
 * LoRA (unet_linear) sits on to_q/to_k/to_v/to_out.0 of attn1 and attn2.
 *
 * Saved per block, N = B·HW tokens: LN outputs and stats, q, k, v, both attention outputs and
 * log-sum-exps, the residual stream after each sub-layer and the GEGLU input; the GEGLU output
 * is recomputed from its input in backward. */
#include "models/unet_internal.h"
#include "nn/attention.h"
#include "nn/optim.h"   /* defines: nn_zero_grad */

/* diffusers: Transformer2DModel.norm eps 1e-6; BasicTransformerBlock LayerNorms 1e-5. */
#define XF_GN_EPS 1e-6f
#define XF_LN_EPS 1e-5f

typedef struct {
    int B, HW, N, C, L, BL, heads;
} xf_dims;

static xf_dims dims_of(const sdpo_unet *u, const unet_unit *un) {
    const unet_state *st = u->state;
    xf_dims d;
    d.B = st->B;
    d.HW = unet_level_h(st, un->level) * unet_level_w(st, un->level);
    d.N = d.B * d.HW;
    d.C = un->C_out;
    d.L = st->L;
    d.BL = d.B * d.L;
    d.heads = un->heads;
    return d;
}

static nn_attention_shape attn_shape(const xf_dims *d, int Lk) {
    return (nn_attention_shape){.B = d->B, .H = d->heads, .Lq = d->HW, .Lk = Lk,
                                .dh = d->C / d->heads, .scale = 0.0f,   /* 1/√dh */
                                .causal = 0, .mask_kind = NN_ATTN_MASK_NONE};
}

/* ---------------------------------------------------------------------------------------------
 * BasicTransformerBlock */

static sdpo_status tblock_alloc(sdpo_unet *u, unet_unit *un, unet_tblock *tb, const xf_dims *d,
                                int save) {
    unet_state *st = u->state;
    const char *nm = un->name;
    const size_t NC = (size_t)d->N * d->C, LC = (size_t)d->BL * d->C;
    const size_t nl = (size_t)d->B * d->heads * d->HW;
    tb->mean1 = tb->rstd1 = tb->mean2 = tb->rstd2 = tb->mean3 = tb->rstd3 = NULL;
    if (save) {   // LayerNorm stats (N) each
        UNET_TRY(unet_alloc(st, (size_t)d->N, nm, "ln1_mean", &tb->mean1));
        UNET_TRY(unet_alloc(st, (size_t)d->N, nm, "ln1_rstd", &tb->rstd1));
        UNET_TRY(unet_alloc(st, (size_t)d->N, nm, "ln2_mean", &tb->mean2));
        UNET_TRY(unet_alloc(st, (size_t)d->N, nm, "ln2_rstd", &tb->rstd2));
        UNET_TRY(unet_alloc(st, (size_t)d->N, nm, "ln3_mean", &tb->mean3));
        UNET_TRY(unet_alloc(st, (size_t)d->N, nm, "ln3_rstd", &tb->rstd3));
    }
    // (N, C) tokens unless noted; k_x, v_x (B·L, C); lse (B, heads, HW); f (N, 8C)
    UNET_TRY(unet_alloc(st, NC, nm, "ln1", &tb->n1));
    UNET_TRY(unet_alloc(st, NC, nm, "attn1_q", &tb->q));
    UNET_TRY(unet_alloc(st, NC, nm, "attn1_k", &tb->k));
    UNET_TRY(unet_alloc(st, NC, nm, "attn1_v", &tb->v));
    UNET_TRY(unet_alloc(st, NC, nm, "attn1", &tb->att1));
    UNET_TRY(unet_alloc(st, nl, nm, "attn1_lse", &tb->lse1));
    UNET_TRY(unet_alloc(st, NC, nm, "res1", &tb->s1));
    UNET_TRY(unet_alloc(st, NC, nm, "ln2", &tb->n2));
    UNET_TRY(unet_alloc(st, NC, nm, "attn2_q", &tb->q_x));
    UNET_TRY(unet_alloc(st, LC, nm, "attn2_k", &tb->k_x));
    UNET_TRY(unet_alloc(st, LC, nm, "attn2_v", &tb->v_x));
    UNET_TRY(unet_alloc(st, NC, nm, "attn2", &tb->att2));
    UNET_TRY(unet_alloc(st, nl, nm, "attn2_lse", &tb->lse2));
    UNET_TRY(unet_alloc(st, NC, nm, "res2", &tb->s2));
    UNET_TRY(unet_alloc(st, NC, nm, "ln3", &tb->n3));
    UNET_TRY(unet_alloc(st, 8 * NC, nm, "ff_proj", &tb->f));
    UNET_TRY(unet_linear_alloc(u, &tb->q1, d->N, nm));
    UNET_TRY(unet_linear_alloc(u, &tb->k1, d->N, nm));
    UNET_TRY(unet_linear_alloc(u, &tb->v1, d->N, nm));
    UNET_TRY(unet_linear_alloc(u, &tb->o1, d->N, nm));
    UNET_TRY(unet_linear_alloc(u, &tb->q2, d->N, nm));
    UNET_TRY(unet_linear_alloc(u, &tb->k2, d->BL, nm));
    UNET_TRY(unet_linear_alloc(u, &tb->v2, d->BL, nm));
    UNET_TRY(unet_linear_alloc(u, &tb->o2, d->N, nm));
    return SDPO_OK;
}

/* s_out = block(s_in); gg (N, 4C) is scratch for the GEGLU output. */
static void tblock_forward(sdpo_unet *u, unet_tblock *tb, const xf_dims *d, const float *s_in,
                           float *s_out, float *gg) {
    nn_ctx *ctx = u->state->ctx;
    const int N = d->N, C = d->C;
    const size_t NC = (size_t)N * C;
    const nn_attention_shape self = attn_shape(d, d->HW), cross = attn_shape(d, d->L);
    // attn1: s1 = to_out(attention(to_q n1, to_k n1, to_v n1)) + s_in
    nn_layer_norm_forward(ctx, tb->n1, tb->mean1, tb->rstd1, s_in, tb->norm1.w.w, tb->norm1.b.w,
                          N, C, XF_LN_EPS);
    unet_linear_forward(u, &tb->q1, tb->q, tb->n1, N);
    unet_linear_forward(u, &tb->k1, tb->k, tb->n1, N);
    unet_linear_forward(u, &tb->v1, tb->v, tb->n1, N);
    nn_attention_forward(ctx, tb->att1, tb->lse1, tb->q, tb->k, tb->v, NULL, &self,
                         u->state->scratch);
    unet_linear_forward(u, &tb->o1, tb->s1, tb->att1, N);
    nn_add_forward(ctx, tb->s1, tb->s1, s_in, NC);
    // attn2: keys and values from the text (B·L, D)
    nn_layer_norm_forward(ctx, tb->n2, tb->mean2, tb->rstd2, tb->s1, tb->norm2.w.w,
                          tb->norm2.b.w, N, C, XF_LN_EPS);
    unet_linear_forward(u, &tb->q2, tb->q_x, tb->n2, N);
    unet_linear_forward(u, &tb->k2, tb->k_x, u->state->ehs, d->BL);
    unet_linear_forward(u, &tb->v2, tb->v_x, u->state->ehs, d->BL);
    nn_attention_forward(ctx, tb->att2, tb->lse2, tb->q_x, tb->k_x, tb->v_x, NULL, &cross,
                         u->state->scratch);
    unet_linear_forward(u, &tb->o2, tb->s2, tb->att2, N);
    nn_add_forward(ctx, tb->s2, tb->s2, tb->s1, NC);
    // feed-forward (GEGLU)
    nn_layer_norm_forward(ctx, tb->n3, tb->mean3, tb->rstd3, tb->s2, tb->norm3.w.w,
                          tb->norm3.b.w, N, C, XF_LN_EPS);
    unet_linear_forward(u, &tb->ff_in, tb->f, tb->n3, N);
    nn_geglu_forward(ctx, gg, tb->f, N, 4 * C);
    unet_linear_forward(u, &tb->ff_out, s_out, gg, N);
    nn_add_forward(ctx, s_out, s_out, tb->s2, NC);
}

/* Backward temporaries, shared by the blocks of a unit (they run one after another). */
typedef struct {
    float *wide;             /* (N, 8C): the GEGLU output, then d(ff.net.0.proj output) */
    float *wide2;            /* (N, 4C): d(GEGLU output) */
    float *dn, *da, *dq, *dk, *dv, *ds2, *ds1;   /* (N, C) */
    float *dk_x, *dv_x;      /* (B·L, C) */
} tblock_grads;

static sdpo_status tblock_grads_alloc(unet_state *st, const char *nm, const xf_dims *d,
                                      tblock_grads *g) {
    const size_t NC = (size_t)d->N * d->C, LC = (size_t)d->BL * d->C;
    UNET_TRY(unet_alloc(st, 8 * NC, nm, "d_wide", &g->wide));
    UNET_TRY(unet_alloc(st, 4 * NC, nm, "d_geglu", &g->wide2));
    UNET_TRY(unet_alloc(st, NC, nm, "d_ln", &g->dn));
    UNET_TRY(unet_alloc(st, NC, nm, "d_attn", &g->da));
    UNET_TRY(unet_alloc(st, NC, nm, "d_q", &g->dq));
    UNET_TRY(unet_alloc(st, NC, nm, "d_k", &g->dk));
    UNET_TRY(unet_alloc(st, NC, nm, "d_v", &g->dv));
    UNET_TRY(unet_alloc(st, NC, nm, "d_res2", &g->ds2));
    UNET_TRY(unet_alloc(st, NC, nm, "d_res1", &g->ds1));
    UNET_TRY(unet_alloc(st, LC, nm, "d_k_text", &g->dk_x));
    UNET_TRY(unet_alloc(st, LC, nm, "d_v_text", &g->dv_x));
    return SDPO_OK;
}

/* Accumulates ds_in (N, C) (NULL: not needed), the block's gradients and d(text) from
 * ds_out (N, C). */
static void tblock_backward(sdpo_unet *u, unet_tblock *tb, const xf_dims *d, const float *s_in,
                            const float *ds_out, float *ds_in, const tblock_grads *g) {
    unet_state *st = u->state;
    nn_ctx *ctx = st->ctx;
    const int N = d->N, C = d->C;
    const size_t NC = (size_t)N * C, LC = (size_t)d->BL * C;
    const nn_attention_shape self = attn_shape(d, d->HW), cross = attn_shape(d, d->L);
    // s_out = s2 + ff.net.2(geglu(f))
    nn_geglu_forward(ctx, g->wide, tb->f, N, 4 * C);
    nn_zero_grad(ctx, g->wide2, 4 * NC);
    unet_linear_backward(u, &tb->ff_out, g->wide2, ds_out, g->wide, N);
    nn_zero_grad(ctx, g->wide, 8 * NC);
    nn_geglu_backward(ctx, g->wide, g->wide2, tb->f, N, 4 * C);
    nn_zero_grad(ctx, g->dn, NC);
    unet_linear_backward(u, &tb->ff_in, g->dn, g->wide, tb->n3, N);
    nn_zero_grad(ctx, g->ds2, NC);
    nn_layer_norm_backward(ctx, g->ds2, tb->norm3.w.g, tb->norm3.b.g, g->dn, tb->s2,
                           tb->norm3.w.w, tb->mean3, tb->rstd3, N, C);
    nn_add_backward(ctx, g->ds2, NULL, ds_out, NC);
    // s2 = s1 + to_out(attention(q_x, k_x, v_x))
    nn_zero_grad(ctx, g->da, NC);
    unet_linear_backward(u, &tb->o2, g->da, g->ds2, tb->att2, N);
    nn_zero_grad(ctx, g->dq, NC);
    nn_zero_grad(ctx, g->dk_x, LC);
    nn_zero_grad(ctx, g->dv_x, LC);
    nn_attention_backward(ctx, g->dq, g->dk_x, g->dv_x, g->da, tb->q_x, tb->k_x, tb->v_x,
                          tb->att2, tb->lse2, NULL, &cross, st->scratch);
    nn_zero_grad(ctx, g->dn, NC);
    unet_linear_backward(u, &tb->q2, g->dn, g->dq, tb->n2, N);
    unet_linear_backward(u, &tb->k2, st->d_ehs, g->dk_x, st->ehs, d->BL);
    unet_linear_backward(u, &tb->v2, st->d_ehs, g->dv_x, st->ehs, d->BL);
    nn_zero_grad(ctx, g->ds1, NC);
    nn_layer_norm_backward(ctx, g->ds1, tb->norm2.w.g, tb->norm2.b.g, g->dn, tb->s1,
                           tb->norm2.w.w, tb->mean2, tb->rstd2, N, C);
    nn_add_backward(ctx, g->ds1, NULL, g->ds2, NC);
    // s1 = s_in + to_out(attention(q, k, v))
    nn_zero_grad(ctx, g->da, NC);
    unet_linear_backward(u, &tb->o1, g->da, g->ds1, tb->att1, N);
    nn_zero_grad(ctx, g->dq, NC);
    nn_zero_grad(ctx, g->dk, NC);
    nn_zero_grad(ctx, g->dv, NC);
    nn_attention_backward(ctx, g->dq, g->dk, g->dv, g->da, tb->q, tb->k, tb->v, tb->att1,
                          tb->lse1, NULL, &self, st->scratch);
    float *dn = ds_in ? g->dn : NULL;   /* d(LN1 output) only matters for d(s_in) */
    if (dn) nn_zero_grad(ctx, dn, NC);
    unet_linear_backward(u, &tb->q1, dn, g->dq, tb->n1, N);
    unet_linear_backward(u, &tb->k1, dn, g->dk, tb->n1, N);
    unet_linear_backward(u, &tb->v1, dn, g->dv, tb->n1, N);
    if (ds_in) {
        nn_layer_norm_backward(ctx, ds_in, tb->norm1.w.g, tb->norm1.b.g, dn, s_in,
                               tb->norm1.w.w, tb->mean1, tb->rstd1, N, C);
        nn_add_backward(ctx, ds_in, NULL, g->ds1, NC);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Transformer2DModel */

sdpo_status unet_xformer_forward(sdpo_unet *u, unet_unit *un, int save, int need_out) {
    unet_state *st = u->state;
    const xf_dims d = dims_of(u, un);
    const int n = un->n_blocks, G = u->cfg.norm_num_groups;
    const size_t NC = (size_t)d.N * d.C;
    const char *nm = un->name;
    const size_t m0 = unet_mark(st);
    // saved: GN stats (B, G); t0, s[0..n] (N, C); each block's activations
    un->x = u->slots[un->in_slot].data;
    un->mean = un->rstd = NULL;
    if (save) {
        UNET_TRY(unet_alloc(st, (size_t)d.B * G, nm, "gn_mean", &un->mean));
        UNET_TRY(unet_alloc(st, (size_t)d.B * G, nm, "gn_rstd", &un->rstd));
    }
    UNET_TRY(unet_alloc(st, NC, nm, "tokens", &un->t0));
    for (int k = 0; k <= n; k++) UNET_TRY(unet_alloc(st, NC, nm, "res", &un->s[k]));
    for (int k = 0; k < n; k++) UNET_TRY(tblock_alloc(u, un, &un->blocks[k], &d, save));
    const size_t m1 = unet_mark(st);
    // temporaries: tmp (GN output, later proj_out output), tmp2 (NCHW), gg (N, 4C)
    float *tmp, *tmp2 = NULL, *gg;
    UNET_TRY(unet_alloc(st, NC, nm, "tmp", &tmp));
    if (need_out) UNET_TRY(unet_alloc(st, NC, nm, "tmp_nchw", &tmp2));
    UNET_TRY(unet_alloc(st, 4 * NC, nm, "geglu", &gg));
    if (!st->dry) {
        nn_ctx *ctx = st->ctx;
        nn_group_norm_forward(ctx, tmp, un->mean, un->rstd, un->x, un->norm.w.w, un->norm.b.w,
                              d.B, d.C, d.HW, G, XF_GN_EPS);
        nn_nchw_to_tokens_forward(ctx, un->t0, tmp, d.B, d.C, d.HW);
        unet_linear_forward(u, &un->proj_in, un->s[0], un->t0, d.N);
        for (int k = 0; k < n; k++) tblock_forward(u, &un->blocks[k], &d, un->s[k], un->s[k + 1], gg);
        if (need_out) {
            unet_linear_forward(u, &un->proj_out, tmp, un->s[n], d.N);
            nn_tokens_to_nchw_forward(ctx, tmp2, tmp, d.B, d.C, d.HW);
            nn_add_forward(ctx, unet_unit_out(u, un), tmp2, un->x, NC);
        }
    }
    unet_reset(st, save ? m1 : m0);
    return SDPO_OK;
}

sdpo_status unet_xformer_backward(sdpo_unet *u, unet_unit *un, const float *dout, float *dinp) {
    unet_state *st = u->state;
    const xf_dims d = dims_of(u, un);
    const int n = un->n_blocks, G = u->cfg.norm_num_groups;
    const size_t NC = (size_t)d.N * d.C;
    const int need_t0 = dinp || u->opt.train_base;   /* d(proj_in input) feeds GN's gradients */
    const char *nm = un->name;
    const size_t m = unet_mark(st);
    // temporaries: dpo (N, C) tokens of dout; ds[2] (N, C) residual-stream gradients;
    // dt0 (N, C) and dg (B, C, HW) for proj_in/GN; the blocks' shared temporaries
    float *dpo, *ds[2], *dt0 = NULL, *dg = NULL;
    tblock_grads g;
    UNET_TRY(unet_alloc(st, NC, nm, "d_proj_out", &dpo));
    UNET_TRY(unet_alloc(st, NC, nm, "d_res_a", &ds[0]));
    UNET_TRY(unet_alloc(st, NC, nm, "d_res_b", &ds[1]));
    if (need_t0) {
        UNET_TRY(unet_alloc(st, NC, nm, "d_tokens", &dt0));
        UNET_TRY(unet_alloc(st, NC, nm, "d_gn", &dg));
    }
    UNET_TRY(tblock_grads_alloc(st, nm, &d, &g));
    if (!st->dry) {
        nn_ctx *ctx = st->ctx;
        // out = tokens_to_nchw(proj_out(s[n])) + x
        if (dinp) nn_add_backward(ctx, dinp, NULL, dout, NC);
        nn_zero_grad(ctx, dpo, NC);
        nn_tokens_to_nchw_backward(ctx, dpo, dout, d.B, d.C, d.HW);
        nn_zero_grad(ctx, ds[n % 2], NC);
        unet_linear_backward(u, &un->proj_out, ds[n % 2], dpo, un->s[n], d.N);
        for (int k = n - 1; k >= 0; k--) {
            float *ds_in = k > 0 || need_t0 ? ds[k % 2] : NULL;
            if (ds_in) nn_zero_grad(ctx, ds_in, NC);
            tblock_backward(u, &un->blocks[k], &d, un->s[k], ds[(k + 1) % 2], ds_in, &g);
        }
        if (need_t0) {   // s[0] = proj_in(t0), t0 = tokens(GN(x))
            nn_zero_grad(ctx, dt0, NC);
            unet_linear_backward(u, &un->proj_in, dt0, ds[0], un->t0, d.N);
            nn_zero_grad(ctx, dg, NC);
            nn_nchw_to_tokens_backward(ctx, dg, dt0, d.B, d.C, d.HW);
            nn_group_norm_backward(ctx, dinp, un->norm.w.g, un->norm.b.g, dg, un->x, un->norm.w.w,
                                   un->mean, un->rstd, d.B, d.C, d.HW, G);
        }
    }
    unet_reset(st, m);
    return SDPO_OK;
}

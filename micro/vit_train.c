/* micro/vit_train.c — training forward and backward of the pre-LN transformer block and of the
 * HF-CLIP image tower (vit_train.h). Forward op order is models/vit.c's (and clip_text.c's for
 * the block), so the image_embeds match the inference forward; the backward is the chain rule
 * through the nn ops' own backward functions, in reverse. */
#include "micro/vit_train.h"

#include <stdlib.h>
#include <string.h>

#include "nn/attention.h"
#include "nn/ops.h"
#include "nn/optim.h"

/* ---------------------------------------------------------------------------------------------
 * parameter helpers */

float *sdpo_params_grad_of(const nn_params *p, const float *value) {
    if (!value || !p->grads || value < p->params || value >= p->params + p->n_trainable)
        return NULL;
    return p->grads + (value - p->params);
}

sdpo_status sdpo_params_add_trainable(nn_params *dst, const nn_params *src) {
    for (int i = 0; i < src->count; i++) {
        const nn_param_info *in = &src->info[i];
        sdpo_status rc = nn_params_add(dst, in->name, in->ndim, in->shape, 1);
        if (rc != SDPO_OK) return rc;
    }
    return SDPO_OK;
}

/* ---------------------------------------------------------------------------------------------
 * the block */

static nn_attention_shape block_attn(const sdpo_tblock_config *c, int B, int L) {
    return (nn_attention_shape){.B = B, .H = c->heads, .Lq = L, .Lk = L, .dh = c->D / c->heads,
                                .scale = 0.0f, .causal = c->causal,
                                .mask_kind = NN_ATTN_MASK_NONE};
}

size_t sdpo_tblock_saved_bytes(const sdpo_tblock_config *c, int B, int L) {
    const size_t N = (size_t)B * L, nd = N * c->D, nm = N * c->M;
    return 8 * nn_arena_bytes_f32(nd) + 4 * nn_arena_bytes_f32(N) + 2 * nn_arena_bytes_f32(nm) +
           nn_arena_bytes_f32((size_t)B * c->heads * L);
}

size_t sdpo_tblock_work_bytes(const nn_ctx *ctx, const sdpo_tblock_config *c, int B, int L) {
    const size_t N = (size_t)B * L;
    nn_attention_shape as = block_attn(c, B, L);
    return 5 * nn_arena_bytes_f32(N * c->D) + 2 * nn_arena_bytes_f32(N * c->M) +
           nn_arena_bytes_f32(nn_attention_scratch_floats(ctx, &as));
}

sdpo_status sdpo_tblock_work_alloc(const nn_ctx *ctx, const sdpo_tblock_config *c, int B, int L,
                                   nn_arena *arena, sdpo_tblock_work *w) {
    const size_t N = (size_t)B * L, nd = N * c->D, nm = N * c->M;
    nn_attention_shape as = block_attn(c, B, L);
    sdpo_status rc;
    if ((rc = nn_arena_alloc_f32(arena, nd, "block.dh", &w->dh)) ||
        (rc = nn_arena_alloc_f32(arena, nd, "block.dq", &w->dq)) ||
        (rc = nn_arena_alloc_f32(arena, nd, "block.dk", &w->dk)) ||
        (rc = nn_arena_alloc_f32(arena, nd, "block.dv", &w->dv)) ||
        (rc = nn_arena_alloc_f32(arena, nd, "block.da", &w->da)) ||
        (rc = nn_arena_alloc_f32(arena, nm, "block.df_act", &w->df_act)) ||
        (rc = nn_arena_alloc_f32(arena, nm, "block.df_pre", &w->df_pre)) ||
        (rc = nn_arena_alloc_f32(arena, nn_attention_scratch_floats(ctx, &as),
                                 "block.attn_scratch", &w->attn_scratch)))
        return rc;
    return SDPO_OK;
}

sdpo_status sdpo_tblock_forward(nn_ctx *ctx, const sdpo_tblock_config *c,
                                const sdpo_tblock_weights *w, int B, int L, const float *x_in,
                                nn_arena *arena, const sdpo_tblock_work *work,
                                sdpo_tblock_saved *s) {
    const int N = B * L, D = c->D, M = c->M;
    const size_t nd = (size_t)N * D, nm = (size_t)N * M;
    sdpo_status rc;
    if ((rc = nn_arena_alloc_f32(arena, nd, "block.h1", &s->h1)) ||
        (rc = nn_arena_alloc_f32(arena, (size_t)N, "block.mean1", &s->mean1)) ||
        (rc = nn_arena_alloc_f32(arena, (size_t)N, "block.rstd1", &s->rstd1)) ||
        (rc = nn_arena_alloc_f32(arena, nd, "block.q", &s->q)) ||
        (rc = nn_arena_alloc_f32(arena, nd, "block.k", &s->k)) ||
        (rc = nn_arena_alloc_f32(arena, nd, "block.v", &s->v)) ||
        (rc = nn_arena_alloc_f32(arena, nd, "block.a", &s->a)) ||
        (rc = nn_arena_alloc_f32(arena, (size_t)B * c->heads * L, "block.lse", &s->lse)) ||
        (rc = nn_arena_alloc_f32(arena, nd, "block.x_mid", &s->x_mid)) ||
        (rc = nn_arena_alloc_f32(arena, nd, "block.h2", &s->h2)) ||
        (rc = nn_arena_alloc_f32(arena, (size_t)N, "block.mean2", &s->mean2)) ||
        (rc = nn_arena_alloc_f32(arena, (size_t)N, "block.rstd2", &s->rstd2)) ||
        (rc = nn_arena_alloc_f32(arena, nm, "block.f_pre", &s->f_pre)) ||
        (rc = nn_arena_alloc_f32(arena, nm, "block.f_act", &s->f_act)) ||
        (rc = nn_arena_alloc_f32(arena, nd, "block.x_out", &s->x_out)))
        return rc;
    s->x_in = x_in;
    const nn_attention_shape as = block_attn(c, B, L);
    // x_mid = x_in + out_proj(MHA(LN1 x_in))
    nn_layer_norm_forward(ctx, s->h1, s->mean1, s->rstd1, x_in, w->ln1_w, w->ln1_b, N, D, c->eps);
    nn_linear_forward(ctx, s->q, s->h1, w->q_w, w->q_b, N, D, D);
    nn_linear_forward(ctx, s->k, s->h1, w->k_w, w->k_b, N, D, D);
    nn_linear_forward(ctx, s->v, s->h1, w->v_w, w->v_b, N, D, D);
    nn_attention_forward(ctx, s->a, s->lse, s->q, s->k, s->v, NULL, &as, work->attn_scratch);
    nn_linear_forward(ctx, s->x_mid, s->a, w->o_w, w->o_b, N, D, D);
    nn_add_forward(ctx, s->x_mid, x_in, s->x_mid, nd);
    // x_out = x_mid + fc2(act(fc1(LN2 x_mid)))
    nn_layer_norm_forward(ctx, s->h2, s->mean2, s->rstd2, s->x_mid, w->ln2_w, w->ln2_b, N, D,
                          c->eps);
    nn_linear_forward(ctx, s->f_pre, s->h2, w->fc1_w, w->fc1_b, N, D, M);
    if (c->quick_gelu) nn_quick_gelu_forward(ctx, s->f_act, s->f_pre, nm);
    else nn_gelu_forward(ctx, s->f_act, s->f_pre, nm);
    nn_linear_forward(ctx, s->x_out, s->f_act, w->fc2_w, w->fc2_b, N, M, D);
    nn_add_forward(ctx, s->x_out, s->x_mid, s->x_out, nd);
    return SDPO_OK;
}

void sdpo_tblock_backward(nn_ctx *ctx, const sdpo_tblock_config *c, const sdpo_tblock_weights *w,
                          const sdpo_tblock_grads *g, int B, int L, const sdpo_tblock_saved *s,
                          const sdpo_tblock_work *work, float *dx) {
    const int N = B * L, D = c->D, M = c->M;
    const size_t nd = (size_t)N * D, nm = (size_t)N * M;
    const nn_attention_shape as = block_attn(c, B, L);
    // MLP branch: dx is d x_out; the residual passes it to x_mid unchanged
    nn_zero_grad(ctx, work->df_act, nm);
    nn_linear_backward(ctx, work->df_act, g->fc2_w, g->fc2_b, dx, s->f_act, w->fc2_w, N, M, D);
    nn_zero_grad(ctx, work->df_pre, nm);
    if (c->quick_gelu) nn_quick_gelu_backward(ctx, work->df_pre, work->df_act, s->f_pre, nm);
    else nn_gelu_backward(ctx, work->df_pre, work->df_act, s->f_pre, nm);
    nn_zero_grad(ctx, work->dh, nd);
    nn_linear_backward(ctx, work->dh, g->fc1_w, g->fc1_b, work->df_pre, s->h2, w->fc1_w, N, D, M);
    nn_layer_norm_backward(ctx, dx, g->ln2_w, g->ln2_b, work->dh, s->x_mid, w->ln2_w, s->mean2,
                           s->rstd2, N, D);
    // attention branch: dx is now d x_mid
    nn_zero_grad(ctx, work->da, nd);
    nn_linear_backward(ctx, work->da, g->o_w, g->o_b, dx, s->a, w->o_w, N, D, D);
    nn_zero_grad(ctx, work->dq, nd);
    nn_zero_grad(ctx, work->dk, nd);
    nn_zero_grad(ctx, work->dv, nd);
    nn_attention_backward(ctx, work->dq, work->dk, work->dv, work->da, s->q, s->k, s->v, s->a,
                          s->lse, NULL, &as, work->attn_scratch);
    nn_zero_grad(ctx, work->dh, nd);
    nn_linear_backward(ctx, work->dh, g->q_w, g->q_b, work->dq, s->h1, w->q_w, N, D, D);
    nn_linear_backward(ctx, work->dh, g->k_w, g->k_b, work->dk, s->h1, w->k_w, N, D, D);
    nn_linear_backward(ctx, work->dh, g->v_w, g->v_b, work->dv, s->h1, w->v_w, N, D, D);
    nn_layer_norm_backward(ctx, dx, g->ln1_w, g->ln1_b, work->dh, s->x_in, w->ln1_w, s->mean1,
                           s->rstd1, N, D);
}

/* ---------------------------------------------------------------------------------------------
 * the image tower */

sdpo_status sdpo_vit_train_register(const sdpo_vit_config *c, nn_params *p) {
    nn_params frozen;
    nn_params_init(&frozen);
    sdpo_status rc = sdpo_vit_register(c, &frozen);
    if (rc == SDPO_OK) rc = sdpo_params_add_trainable(p, &frozen);
    nn_params_free(&frozen);
    return rc;
}

void sdpo_vit_train_free(sdpo_vit_train *t) {
    sdpo_vit_free(&t->vit);
    free(t->w);
    free(t->g);
    free(t->saved);
    memset(t, 0, sizeof *t);
}

sdpo_status sdpo_vit_train_bind(sdpo_vit_train *t, const sdpo_vit_config *c, const nn_params *p) {
    memset(t, 0, sizeof *t);
    if (c->layout != SDPO_VIT_HF_CLIP || c->embed_dim < 1)
        return sdpo_fail(SDPO_ERR_ARG, "vit training: only the HF CLIP layout with a projection "
                         "is supported (layout %d, embed_dim %d)", (int)c->layout, c->embed_dim);
    sdpo_status rc = sdpo_vit_bind(&t->vit, c, p);
    if (rc != SDPO_OK) return rc;
    nn_param_view pv;
    const int64_t shape[2] = {c->embed_dim, c->width};
    rc = nn_params_expect(p, "visual_projection.weight", 2, shape, &pv);
    const int Ly = c->layers;
    t->w = calloc((size_t)Ly, sizeof *t->w);
    t->g = calloc((size_t)Ly, sizeof *t->g);
    t->saved = calloc((size_t)Ly, sizeof *t->saved);
    if (rc == SDPO_OK && (!t->w || !t->g || !t->saved))
        rc = sdpo_fail(SDPO_ERR_NOMEM, "vit training: out of memory");
    if (rc != SDPO_OK) {
        sdpo_vit_train_free(t);
        return rc;
    }
    t->proj = pv.value.data;
    t->block = (sdpo_tblock_config){.D = c->width, .M = c->mlp_dim, .heads = c->heads,
                                    .causal = 0, .quick_gelu = c->quick_gelu, .eps = c->ln_eps};
    for (int i = 0; i < Ly; i++) {
        const sdpo_vit_layer *l = &t->vit.layer[i];
        t->w[i] = (sdpo_tblock_weights){l->ln1_w, l->ln1_b, l->q_w, l->q_b, l->k_w, l->k_b,
                                        l->v_w, l->v_b, l->out_w, l->out_b, l->ln2_w, l->ln2_b,
                                        l->fc1_w, l->fc1_b, l->fc2_w, l->fc2_b};
        const sdpo_tblock_weights *w = &t->w[i];
#define G(f) sdpo_params_grad_of(p, w->f)
        t->g[i] = (sdpo_tblock_grads){G(ln1_w), G(ln1_b), G(q_w), G(q_b), G(k_w), G(k_b),
                                      G(v_w), G(v_b), G(o_w), G(o_b), G(ln2_w), G(ln2_b),
                                      G(fc1_w), G(fc1_b), G(fc2_w), G(fc2_b)};
#undef G
    }
    const sdpo_vit *v = &t->vit;
    t->g_patch_w = sdpo_params_grad_of(p, v->patch_w);
    t->g_cls = sdpo_params_grad_of(p, v->cls);
    t->g_pos = sdpo_params_grad_of(p, v->pos);
    t->g_ln_pre_w = sdpo_params_grad_of(p, v->ln_pre_w);
    t->g_ln_pre_b = sdpo_params_grad_of(p, v->ln_pre_b);
    t->g_ln_post_w = sdpo_params_grad_of(p, v->ln_post_w);
    t->g_ln_post_b = sdpo_params_grad_of(p, v->ln_post_b);
    t->g_proj = sdpo_params_grad_of(p, t->proj);
    return SDPO_OK;
}

static nn_conv2d_shape patch_conv(const sdpo_vit_config *c, int B) {
    return (nn_conv2d_shape){.B = B, .C_in = 3, .H = c->image_size, .W = c->image_size,
                             .C_out = c->width, .kh = c->patch_size, .kw = c->patch_size,
                             .stride = c->patch_size};
}

size_t sdpo_vit_train_arena_bytes(const nn_ctx *ctx, const sdpo_vit_config *c, int B) {
    const int g = c->image_size / c->patch_size, G2 = g * g, L = 1 + G2;
    const size_t D = (size_t)c->width, BL = (size_t)B * L;
    const sdpo_tblock_config bc = {.D = c->width, .M = c->mlp_dim, .heads = c->heads};
    nn_conv2d_shape cs = patch_conv(c, B);
    // forward: conv out, tokens, x0, x_pre, stats, conv scratch, blocks, rest, cls, c_ln, stats
    size_t n = 4 * nn_arena_bytes_f32(BL * D) + 2 * nn_arena_bytes_f32(BL) +
               nn_arena_bytes_f32(nn_conv2d_scratch_floats(&cs)) +
               (size_t)c->layers * sdpo_tblock_saved_bytes(&bc, B, L) +
               nn_arena_bytes_f32((size_t)B * G2 * D) + 2 * nn_arena_bytes_f32((size_t)B * D) +
               2 * nn_arena_bytes_f32((size_t)B) + sdpo_tblock_work_bytes(ctx, &bc, B, L);
    // backward: dc_ln, dcls, dx, dx0, dtokens, dconv
    n += 2 * nn_arena_bytes_f32((size_t)B * D) + 4 * nn_arena_bytes_f32(BL * D);
    return n;
}

sdpo_status sdpo_vit_train_forward(nn_ctx *ctx, sdpo_vit_train *t, nn_arena *arena, int B,
                                   const float *pixels, float *out) {
    const sdpo_vit *v = &t->vit;
    const sdpo_vit_config *c = &v->cfg;
    const int D = c->width, L = v->tokens, G2 = v->grid * v->grid, E = c->embed_dim;
    const size_t BL = (size_t)B * L;
    if (B < 1) return sdpo_fail(SDPO_ERR_ARG, "vit training: batch %d", B);
    nn_conv2d_shape cs = patch_conv(c, B);
    float *conv, *tokens, *rest;
    sdpo_status rc;
    if ((rc = nn_arena_alloc_f32(arena, BL * D, "vit.conv", &conv)) ||
        (rc = nn_arena_alloc_f32(arena, BL * D, "vit.tokens", &tokens)) ||
        (rc = nn_arena_alloc_f32(arena, BL * D, "vit.x0", &t->x0)) ||
        (rc = nn_arena_alloc_f32(arena, BL * D, "vit.x_pre", &t->x_pre)) ||
        (rc = nn_arena_alloc_f32(arena, BL, "vit.mean_pre", &t->mean_pre)) ||
        (rc = nn_arena_alloc_f32(arena, BL, "vit.rstd_pre", &t->rstd_pre)) ||
        (rc = nn_arena_alloc_f32(arena, nn_conv2d_scratch_floats(&cs), "vit.conv_scratch",
                                 &t->conv_scratch)) ||
        (rc = sdpo_tblock_work_alloc(ctx, &t->block, B, L, arena, &t->work)))
        return rc;
    t->B = B;
    t->pixels = pixels;
    // patches (B, D, g²) → tokens (B, g², D); x0 = [cls | tokens] + pos; x_pre = ln_pre(x0)
    nn_conv2d_forward(ctx, conv, pixels, v->patch_w, v->patch_b, &cs, t->conv_scratch);
    nn_nchw_to_tokens_forward(ctx, tokens, conv, B, D, G2);
    for (int b = 0; b < B; b++)
        nn_concat_channels_forward(ctx, t->x0 + (size_t)b * L * D, v->cls,
                                   tokens + (size_t)b * G2 * D, 1, 1, G2, D);
    nn_add_broadcast_forward(ctx, t->x0, t->x0, v->pos, B, L * D, 1, 1);
    nn_layer_norm_forward(ctx, t->x_pre, t->mean_pre, t->rstd_pre, t->x0, v->ln_pre_w,
                          v->ln_pre_b, B * L, D, c->ln_eps);
    const float *x = t->x_pre;
    for (int i = 0; i < c->layers; i++) {
        rc = sdpo_tblock_forward(ctx, &t->block, &t->w[i], B, L, x, arena, &t->work, &t->saved[i]);
        if (rc != SDPO_OK) return rc;
        x = t->saved[i].x_out;
    }
    // cls rows (B, D) → ln_post → (B, E) = · visual_projectionᵀ
    if ((rc = nn_arena_alloc_f32(arena, (size_t)B * G2 * D, "vit.rest", &rest)) ||
        (rc = nn_arena_alloc_f32(arena, (size_t)B * D, "vit.cls", &t->cls)) ||
        (rc = nn_arena_alloc_f32(arena, (size_t)B * D, "vit.c_ln", &t->c_ln)) ||
        (rc = nn_arena_alloc_f32(arena, (size_t)B, "vit.mean_post", &t->mean_post)) ||
        (rc = nn_arena_alloc_f32(arena, (size_t)B, "vit.rstd_post", &t->rstd_post)))
        return rc;
    nn_split_channels_forward(ctx, t->cls, rest, x, B, 1, L - 1, D);
    nn_layer_norm_forward(ctx, t->c_ln, t->mean_post, t->rstd_post, t->cls, v->ln_post_w,
                          v->ln_post_b, B, D, c->ln_eps);
    nn_linear_forward(ctx, out, t->c_ln, t->proj, NULL, B, D, E);
    return SDPO_OK;
}

sdpo_status sdpo_vit_train_backward(nn_ctx *ctx, sdpo_vit_train *t, nn_arena *arena,
                                    const float *dout) {
    const sdpo_vit *v = &t->vit;
    const sdpo_vit_config *c = &v->cfg;
    const int B = t->B, D = c->width, L = v->tokens, G2 = v->grid * v->grid, E = c->embed_dim;
    const size_t BL = (size_t)B * L;
    const size_t mark = nn_arena_mark(arena);
    float *dc_ln, *dcls, *dx, *dx0, *dtokens, *dconv;
    sdpo_status rc;
    if ((rc = nn_arena_alloc_f32(arena, (size_t)B * D, "vit.dc_ln", &dc_ln)) ||
        (rc = nn_arena_alloc_f32(arena, (size_t)B * D, "vit.dcls", &dcls)) ||
        (rc = nn_arena_alloc_f32(arena, BL * D, "vit.dx", &dx)) ||
        (rc = nn_arena_alloc_f32(arena, BL * D, "vit.dx0", &dx0)) ||
        (rc = nn_arena_alloc_f32(arena, BL * D, "vit.dtokens", &dtokens)) ||
        (rc = nn_arena_alloc_f32(arena, BL * D, "vit.dconv", &dconv))) {
        nn_arena_reset(arena, mark);
        return rc;
    }
    // projection and ln_post on the cls rows
    nn_zero_grad(ctx, dc_ln, (size_t)B * D);
    nn_linear_backward(ctx, dc_ln, t->g_proj, NULL, dout, t->c_ln, t->proj, B, D, E);
    nn_zero_grad(ctx, dcls, (size_t)B * D);
    nn_layer_norm_backward(ctx, dcls, t->g_ln_post_w, t->g_ln_post_b, dc_ln, t->cls, v->ln_post_w,
                           t->mean_post, t->rstd_post, B, D);
    nn_zero_grad(ctx, dx, BL * D);
    nn_split_channels_backward(ctx, dx, dcls, NULL, B, 1, L - 1, D);
    for (int i = c->layers - 1; i >= 0; i--)
        sdpo_tblock_backward(ctx, &t->block, &t->w[i], &t->g[i], B, L, &t->saved[i], &t->work, dx);
    // ln_pre, then the position embedding, class embedding and patch conv
    nn_zero_grad(ctx, dx0, BL * D);
    nn_layer_norm_backward(ctx, dx0, t->g_ln_pre_w, t->g_ln_pre_b, dx, t->x0, v->ln_pre_w,
                           t->mean_pre, t->rstd_pre, B * L, D);
    if (t->g_pos) nn_add_broadcast_backward(ctx, NULL, t->g_pos, dx0, B, L * D, 1, 1);
    nn_zero_grad(ctx, dtokens, (size_t)B * G2 * D);
    for (int b = 0; b < B; b++)
        nn_concat_channels_backward(ctx, t->g_cls, dtokens + (size_t)b * G2 * D,
                                    dx0 + (size_t)b * L * D, 1, 1, G2, D);
    if (t->g_patch_w) {
        nn_conv2d_shape cs = patch_conv(c, B);
        nn_zero_grad(ctx, dconv, (size_t)B * D * G2);
        nn_nchw_to_tokens_backward(ctx, dconv, dtokens, B, D, G2);
        nn_conv2d_backward(ctx, NULL, t->g_patch_w, NULL, dconv, t->pixels, v->patch_w, &cs,
                           t->conv_scratch);
    }
    nn_arena_reset(arena, mark);
    return rc;
}

/* micro/clip_text_train.c — training forward/backward of the CLIP text tower
 * (clip_text_train.h), on the block of vit_train.c. */
#include "micro/clip_text_train.h"

#include <stdlib.h>
#include <string.h>

#include "nn/ops.h"
#include "nn/optim.h"

sdpo_status sdpo_clip_text_train_register(nn_params *p, const sdpo_clip_text_config *cfg,
                                          const sdpo_clip_text_layout *layout) {
    nn_params frozen;
    nn_params_init(&frozen);
    sdpo_status rc = sdpo_clip_text_register(&frozen, cfg, layout);
    if (rc == SDPO_OK) rc = sdpo_params_add_trainable(p, &frozen);
    nn_params_free(&frozen);
    return rc;
}

void sdpo_clip_text_train_free(sdpo_clip_text_train *t) {
    sdpo_clip_text_unbind(&t->text);
    free(t->w);
    free(t->g);
    free(t->saved);
    memset(t, 0, sizeof *t);
}

sdpo_status sdpo_clip_text_train_bind(sdpo_clip_text_train *t, const nn_params *p,
                                      const sdpo_clip_text_config *cfg,
                                      const sdpo_clip_text_layout *layout) {
    memset(t, 0, sizeof *t);
    if (layout->naming != SDPO_CLIP_TEXT_HF || !layout->projection_name)
        return sdpo_fail(SDPO_ERR_ARG, "clip text training: only the HF layout with a "
                         "text_projection is supported");
    sdpo_status rc = sdpo_clip_text_bind(&t->text, p, cfg, layout);
    if (rc != SDPO_OK) return rc;
    const int Ly = cfg->num_layers;
    t->w = calloc((size_t)Ly, sizeof *t->w);
    t->g = calloc((size_t)Ly, sizeof *t->g);
    t->saved = calloc((size_t)Ly, sizeof *t->saved);
    if (!t->w || !t->g || !t->saved) {
        sdpo_clip_text_train_free(t);
        return sdpo_fail(SDPO_ERR_NOMEM, "clip text training: out of memory");
    }
    t->block = (sdpo_tblock_config){.D = cfg->hidden_size, .M = cfg->intermediate_size,
                                    .heads = cfg->num_heads, .causal = 1,
                                    .quick_gelu = cfg->act == SDPO_CLIP_ACT_QUICK_GELU,
                                    .eps = cfg->layer_norm_eps};
    for (int i = 0; i < Ly; i++) {
        const sdpo_clip_text_layer *l = &t->text.layers[i];
        t->w[i] = (sdpo_tblock_weights){l->ln1_w, l->ln1_b, l->q_w, l->q_b, l->k_w, l->k_b,
                                        l->v_w, l->v_b, l->o_w, l->o_b, l->ln2_w, l->ln2_b,
                                        l->fc1_w, l->fc1_b, l->fc2_w, l->fc2_b};
        const sdpo_tblock_weights *w = &t->w[i];
#define G(f) sdpo_params_grad_of(p, w->f)
        t->g[i] = (sdpo_tblock_grads){G(ln1_w), G(ln1_b), G(q_w), G(q_b), G(k_w), G(k_b),
                                      G(v_w), G(v_b), G(o_w), G(o_b), G(ln2_w), G(ln2_b),
                                      G(fc1_w), G(fc1_b), G(fc2_w), G(fc2_b)};
#undef G
    }
    t->g_tok = sdpo_params_grad_of(p, t->text.token_embedding);
    t->g_pos = sdpo_params_grad_of(p, t->text.position_embedding);
    t->g_ln_w = sdpo_params_grad_of(p, t->text.final_ln_w);
    t->g_ln_b = sdpo_params_grad_of(p, t->text.final_ln_b);
    t->g_proj = sdpo_params_grad_of(p, t->text.projection);
    return SDPO_OK;
}

size_t sdpo_clip_text_train_arena_bytes(const nn_ctx *ctx, const sdpo_clip_text_config *cfg,
                                        int B, int L) {
    const sdpo_tblock_config bc = {.D = cfg->hidden_size, .M = cfg->intermediate_size,
                                   .heads = cfg->num_heads, .causal = 1};
    const size_t D = (size_t)cfg->hidden_size, BL = (size_t)B * L;
    // forward: eos, x0, blocks, work, pooled, p_ln, mean, rstd; backward: dp_ln, dpool, dx
    return nn_arena_bytes_f32((size_t)B) + nn_arena_bytes_f32(BL * D) +
           (size_t)cfg->num_layers * sdpo_tblock_saved_bytes(&bc, B, L) +
           sdpo_tblock_work_bytes(ctx, &bc, B, L) + 2 * nn_arena_bytes_f32((size_t)B * D) +
           2 * nn_arena_bytes_f32((size_t)B) + 2 * nn_arena_bytes_f32((size_t)B * D) +
           nn_arena_bytes_f32(BL * D);
}

/* models/clip_text.c's pooling rule: argmax(ids) (first maximum), or the first eos_token_id
 * (position 0 when there is none, as torch's argmax over an all-false row). */
static int eos_position(const sdpo_clip_text_config *cfg, const int64_t *ids, int L) {
    int best = 0;
    for (int i = 0; i < L; i++) {
        if (!cfg->pool_argmax && ids[i] == cfg->eos_token_id) return i;
        if (ids[i] > ids[best]) best = i;
    }
    return cfg->pool_argmax ? best : 0;
}

sdpo_status sdpo_clip_text_train_forward(nn_ctx *ctx, sdpo_clip_text_train *t, nn_arena *arena,
                                         const int64_t *ids, int B, int L, float *out) {
    const sdpo_clip_text *m = &t->text;
    const sdpo_clip_text_config *cfg = &m->cfg;
    const int D = cfg->hidden_size, N = B * L;
    if (B < 1 || L < 1 || L > cfg->max_positions)
        return sdpo_fail(SDPO_ERR_ARG, "clip text training: %d sequences of length %d (1..%d "
                         "allowed)", B, L, cfg->max_positions);
    for (int n = 0; n < N; n++)
        if (ids[n] < 0 || ids[n] >= cfg->vocab_size)
            return sdpo_fail(SDPO_ERR_ARG, "clip text training: token id %lld at [%d, %d] is "
                             "outside the vocabulary (vocab_size %d)", (long long)ids[n], n / L,
                             n % L, cfg->vocab_size);
    void *eos;
    sdpo_status rc;
    /* B ints: the bytes of B floats, as sdpo_clip_text_train_arena_bytes counts them */
    _Static_assert(sizeof(int) == sizeof(float), "eos positions are counted as floats");
    if ((rc = nn_arena_alloc(arena, (size_t)B * sizeof(int), "text.eos", &eos)) ||
        (rc = nn_arena_alloc_f32(arena, (size_t)N * D, "text.x0", &t->x0)) ||
        (rc = sdpo_tblock_work_alloc(ctx, &t->block, B, L, arena, &t->work)))
        return rc;
    t->eos = eos;
    t->B = B;
    t->L = L;
    t->ids = ids;
    /* x0 = token_embedding[ids] + position_embedding[0:L]; the row gather runs on the host, as
     * in models/clip_text.c (ids are host data). */
    for (int n = 0; n < N; n++)
        memcpy(t->x0 + (size_t)n * D, m->token_embedding + (size_t)ids[n] * D,
               (size_t)D * sizeof(float));
    nn_add_broadcast_forward(ctx, t->x0, t->x0, m->position_embedding, B, L * D, 1, 1);
    const float *x = t->x0;
    for (int i = 0; i < cfg->num_layers; i++) {
        rc = sdpo_tblock_forward(ctx, &t->block, &t->w[i], B, L, x, arena, &t->work, &t->saved[i]);
        if (rc != SDPO_OK) return rc;
        x = t->saved[i].x_out;
    }
    if ((rc = nn_arena_alloc_f32(arena, (size_t)B * D, "text.pooled", &t->pooled)) ||
        (rc = nn_arena_alloc_f32(arena, (size_t)B * D, "text.p_ln", &t->p_ln)) ||
        (rc = nn_arena_alloc_f32(arena, (size_t)B, "text.mean", &t->mean)) ||
        (rc = nn_arena_alloc_f32(arena, (size_t)B, "text.rstd", &t->rstd)))
        return rc;
    for (int b = 0; b < B; b++) {
        t->eos[b] = eos_position(cfg, ids + (size_t)b * L, L);
        memcpy(t->pooled + (size_t)b * D, x + ((size_t)b * L + t->eos[b]) * D,
               (size_t)D * sizeof(float));
    }
    nn_layer_norm_forward(ctx, t->p_ln, t->mean, t->rstd, t->pooled, m->final_ln_w, m->final_ln_b,
                          B, D, cfg->layer_norm_eps);
    nn_linear_forward(ctx, out, t->p_ln, m->projection, NULL, B, D, cfg->projection_dim);
    return SDPO_OK;
}

sdpo_status sdpo_clip_text_train_backward(nn_ctx *ctx, sdpo_clip_text_train *t, nn_arena *arena,
                                          const float *dout) {
    const sdpo_clip_text *m = &t->text;
    const sdpo_clip_text_config *cfg = &m->cfg;
    const int B = t->B, L = t->L, D = cfg->hidden_size, N = B * L;
    const size_t mark = nn_arena_mark(arena);
    float *dp_ln, *dpool, *dx;
    sdpo_status rc;
    if ((rc = nn_arena_alloc_f32(arena, (size_t)B * D, "text.dp_ln", &dp_ln)) ||
        (rc = nn_arena_alloc_f32(arena, (size_t)B * D, "text.dpool", &dpool)) ||
        (rc = nn_arena_alloc_f32(arena, (size_t)N * D, "text.dx", &dx))) {
        nn_arena_reset(arena, mark);
        return rc;
    }
    nn_zero_grad(ctx, dp_ln, (size_t)B * D);
    nn_linear_backward(ctx, dp_ln, t->g_proj, NULL, dout, t->p_ln, m->projection, B, D,
                       cfg->projection_dim);
    nn_zero_grad(ctx, dpool, (size_t)B * D);
    nn_layer_norm_backward(ctx, dpool, t->g_ln_w, t->g_ln_b, dp_ln, t->pooled, m->final_ln_w,
                           t->mean, t->rstd, B, D);
    /* the pooled rows' gradient back to their eos positions (host scatter, the gather's
     * transpose) */
    nn_zero_grad(ctx, dx, (size_t)N * D);
    for (int b = 0; b < B; b++) {
        float *dst = dx + ((size_t)b * L + t->eos[b]) * D;
        const float *src = dpool + (size_t)b * D;
        for (int d = 0; d < D; d++) dst[d] += src[d];
    }
    for (int i = cfg->num_layers - 1; i >= 0; i--)
        sdpo_tblock_backward(ctx, &t->block, &t->w[i], &t->g[i], B, L, &t->saved[i], &t->work, dx);
    if (t->g_pos) nn_add_broadcast_backward(ctx, NULL, t->g_pos, dx, B, L * D, 1, 1);
    if (t->g_tok)   /* scatter-add in token order: deterministic */
        for (int n = 0; n < N; n++) {
            float *dst = t->g_tok + (size_t)t->ids[n] * D;
            const float *src = dx + (size_t)n * D;
            for (int d = 0; d < D; d++) dst[d] += src[d];
        }
    nn_arena_reset(arena, mark);
    return SDPO_OK;
}

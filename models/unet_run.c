/* models/unet_run.c — UNet forward/backward orchestration, activation memory and its size
 * function, the time embedding, and the Linear(+LoRA) helper (see unet.h, unet_internal.h).
 *
 * diffusers UNet2DConditionModel.forward: t_emb = time_proj(timestep) (Timesteps,
 * get_timestep_embedding), emb = time_embedding(t_emb) (linear_1, SiLU, linear_2); every
 * ResnetBlock2D then adds time_emb_proj(SiLU(emb)), so SiLU(emb) is computed once here and
 * shared (the value is the same tensor diffusers recomputes per block).
 *
 * Arena layout of one training forward + backward, bottom to top:
 *   scratch | time embedding | per unit: its output slot, then its saved activations
 *   (SDPO_UNET_TRAIN; with recomputation only the outputs) | backward: d SiLU(emb), the skip
 *   gradients, two ping-pong gradients for the other slots | per unit: recomputed activations
 *   and backward temporaries, released after the unit (LIFO marks).
 * Skip gradients are LIFO-friendly: the up path reads skips s0 … s_last in backward order, and
 * the down path releases them in the reverse order; all are allocated up front. */
#include <stdio.h>
#include <string.h>

#include "models/unet_internal.h"
#include "nn/attention.h"
#include "nn/lora.h"
#include "nn/optim.h"   /* defines: nn_zero_grad */

/* In a dry run every allocation returns this address: decisions that test whether a buffer
 * exists then go the same way as in a real run, and no op ever dereferences it (dry runs
 * compute nothing). */
static float dry_buffer;

/* ---------------------------------------------------------------------------------------------
 * arena */

sdpo_status unet_alloc(unet_state *st, size_t n, const char *unit, const char *what, float **out) {
    if (st->dry) {
        *out = &dry_buffer;
        st->mem.used += nn_arena_bytes_f32(n);
        if (st->mem.used > st->mem.peak) st->mem.peak = st->mem.used;
        return SDPO_OK;
    }
    char name[128];
    snprintf(name, sizeof name, "unet.%s.%s", unit, what);
    return nn_arena_alloc_f32(st->mem.arena, n, name, out);
}

sdpo_status unet_alloc_zero(unet_state *st, size_t n, const char *unit, const char *what,
                            float **out) {
    sdpo_status rc = unet_alloc(st, n, unit, what, out);
    if (rc == SDPO_OK && !st->dry) nn_zero_grad(st->ctx, *out, n);
    return rc;
}

size_t unet_mark(const unet_state *st) {
    return st->dry ? st->mem.used : nn_arena_mark(st->mem.arena);
}

void unet_reset(unet_state *st, size_t mark) {
    if (st->dry) st->mem.used = mark;
    else nn_arena_reset(st->mem.arena, mark);
}

int unet_level_h(const unet_state *st, int level) { return st->H >> level; }
int unet_level_w(const unet_state *st, int level) { return st->W >> level; }

/* ---------------------------------------------------------------------------------------------
 * layer helpers */

sdpo_status unet_linear_alloc(sdpo_unet *u, unet_linear *l, int N, const char *unit) {
    if (l->down.index < 0) return SDPO_OK;
    return unet_alloc(u->state, (size_t)N * u->opt.lora_rank, unit, "lora_h", &l->h);
}

void unet_linear_forward(sdpo_unet *u, unet_linear *l, float *out, const float *inp, int N) {
    // inp is (N, C_in), out is (N, C_out), l->h is (N, r)
    nn_ctx *ctx = u->state->ctx;
    if (l->down.index >= 0)
        nn_lora_linear_forward(ctx, out, l->h, inp, l->w.w, l->b.w, l->down.w, l->up.w,
                               u->lora_scale, N, l->C_in, l->C_out, u->opt.lora_rank);
    else
        nn_linear_forward(ctx, out, inp, l->w.w, l->b.w, N, l->C_in, l->C_out);
}

void unet_linear_backward(sdpo_unet *u, unet_linear *l, float *dinp, const float *dout,
                          const float *inp, int N) {
    // dout is (N, C_out); dinp is (N, C_in) or NULL
    nn_ctx *ctx = u->state->ctx;
    if (l->down.index >= 0) {
        nn_lora_linear_backward(ctx, dinp, l->down.g, l->up.g, dout, inp, l->h, l->w.w,
                                l->down.w, l->up.w, u->lora_scale, N, l->C_in, l->C_out,
                                u->opt.lora_rank, u->state->scratch);
        /* nn_lora_linear_backward treats W and b as frozen; full-parameter training adds them */
        if (l->w.g || l->b.g)
            nn_linear_backward(ctx, NULL, l->w.g, l->b.g, dout, inp, l->w.w, N, l->C_in, l->C_out);
    } else if (dinp || l->w.g || l->b.g) {
        nn_linear_backward(ctx, dinp, l->w.g, l->b.g, dout, inp, l->w.w, N, l->C_in, l->C_out);
    }
}

nn_conv2d_shape unet_conv_shape(const unet_conv *c, int B, int H, int W) {
    return (nn_conv2d_shape){.B = B, .C_in = c->C_in, .H = H, .W = W, .C_out = c->C_out,
                             .kh = c->k, .kw = c->k, .stride = c->stride, .pad_top = c->pad_lo,
                             .pad_bottom = c->pad_hi, .pad_left = c->pad_lo,
                             .pad_right = c->pad_hi};
}

float *unet_unit_out(sdpo_unet *u, const unet_unit *un) {
    return un->out_slot >= 0 ? u->slots[un->out_slot].data : u->state->eps;
}

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

size_t unet_unit_scratch_floats(const sdpo_unet *u, const unet_unit *un) {
    const unet_state *st = u->state;
    const int B = st->B, H = unet_level_h(st, un->level), W = unet_level_w(st, un->level);
    nn_conv2d_shape s;
    size_t n = 0;
    switch (un->kind) {
    case UNET_CONV_IN:
    case UNET_DOWN:
    case UNET_OUT:
        s = unet_conv_shape(&un->conv, B, H, W);
        return nn_conv2d_scratch_floats(&s);
    case UNET_UP:
        s = unet_conv_shape(&un->conv, B, 2 * H, 2 * W);
        return nn_conv2d_scratch_floats(&s);
    case UNET_RESNET:
        s = unet_conv_shape(&un->conv, B, H, W);
        n = nn_conv2d_scratch_floats(&s);
        s = unet_conv_shape(&un->conv2, B, H, W);
        return max_sz(n, nn_conv2d_scratch_floats(&s));
    case UNET_XFORMER: {
        const int HW = H * W;
        nn_attention_shape a = {.B = B, .H = un->heads, .Lq = HW, .Lk = HW,
                                .dh = un->C_out / un->heads};
        n = nn_attention_scratch_floats(st->ctx, &a);
        a.Lk = st->L;
        n = max_sz(n, nn_attention_scratch_floats(st->ctx, &a));
        const int N = B * (HW > st->L ? HW : st->L);   /* LoRA rows: tokens or text */
        return u->opt.lora_rank > 0 ? max_sz(n, nn_lora_scratch_floats(N, u->opt.lora_rank)) : n;
    }
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * time embedding */

static sdpo_status time_forward(sdpo_unet *u) {
    unet_state *st = u->state;
    unet_time *t = u->time;
    const int B = st->B, C0 = u->cfg.block_out_channels[0], T = u->cfg.time_embed_dim;
    sdpo_status rc;
    if ((rc = unet_alloc(st, (size_t)B * C0, "time_embedding", "sinusoid", &t->e)) ||
        (rc = unet_alloc(st, (size_t)B * T, "time_embedding", "linear_1", &t->z1)) ||
        (rc = unet_alloc(st, (size_t)B * T, "time_embedding", "silu", &t->a1)) ||
        (rc = unet_alloc(st, (size_t)B * T, "time_embedding", "emb", &t->temb)) ||
        (rc = unet_alloc(st, (size_t)B * T, "time_embedding", "silu_emb", &t->act)))
        return rc;
    if (st->dry) return SDPO_OK;
    nn_ctx *ctx = st->ctx;
    // timestep (B) → e (B, C0) → z1, a1, temb, act (B, T)
    nn_timestep_embedding_forward(ctx, t->e, st->timestep, B, C0, u->cfg.flip_sin_to_cos,
                                  u->cfg.freq_shift, 1.0f, 10000.0f);
    unet_linear_forward(u, &t->l1, t->z1, t->e, B);
    nn_silu_forward(ctx, t->a1, t->z1, (size_t)B * T);
    unet_linear_forward(u, &t->l2, t->temb, t->a1, B);
    nn_silu_forward(ctx, t->act, t->temb, (size_t)B * T);
    return SDPO_OK;
}

/* Gradients of linear_1/linear_2 from st->d_act, the sum over every resnet of
 * d SiLU(emb); timesteps themselves get none. */
static sdpo_status time_backward(sdpo_unet *u) {
    unet_state *st = u->state;
    unet_time *t = u->time;
    const int B = st->B, T = u->cfg.time_embed_dim;
    const size_t n = (size_t)B * T, m = unet_mark(st);
    float *d1, *d2;
    sdpo_status rc;
    if ((rc = unet_alloc(st, n, "time_embedding", "d_a", &d1)) ||
        (rc = unet_alloc(st, n, "time_embedding", "d_z", &d2)))
        return rc;
    if (!st->dry) {
        nn_ctx *ctx = st->ctx;
        nn_zero_grad(ctx, d2, n);
        nn_silu_backward(ctx, d2, st->d_act, t->temb, n);          /* d temb */
        nn_zero_grad(ctx, d1, n);
        unet_linear_backward(u, &t->l2, d1, d2, t->a1, B);         /* d a1 */
        nn_zero_grad(ctx, d2, n);
        nn_silu_backward(ctx, d2, d1, t->z1, n);                   /* d z1 */
        unet_linear_backward(u, &t->l1, NULL, d2, t->e, B);
    }
    unet_reset(st, m);
    return SDPO_OK;
}

/* ---------------------------------------------------------------------------------------------
 * units */

static sdpo_status unit_forward(sdpo_unet *u, unet_unit *un, int save, int need_out) {
    switch (un->kind) {
    case UNET_RESNET: return unet_resnet_forward(u, un, save, need_out);
    case UNET_XFORMER: return unet_xformer_forward(u, un, save, need_out);
    default: return unet_conv_unit_forward(u, un, save, need_out);
    }
}

static sdpo_status unit_backward(sdpo_unet *u, unet_unit *un, const float *dout, float *dinp,
                                 float *dskip) {
    switch (un->kind) {
    case UNET_RESNET: return unet_resnet_backward(u, un, dout, dinp, dskip);
    case UNET_XFORMER: return unet_xformer_backward(u, un, dout, dinp);
    default: return unet_conv_unit_backward(u, un, dout, dinp);
    }
}

/* Units whose backward reads activations besides their input (re-run under recomputation). */
static int saves_activations(const unet_unit *un) {
    return un->kind == UNET_RESNET || un->kind == UNET_XFORMER || un->kind == UNET_UP ||
           un->kind == UNET_OUT;
}

static size_t slot_floats(const sdpo_unet *u, const unet_slot *s) {
    const unet_state *st = u->state;
    return (size_t)st->B * s->C * unet_level_h(st, s->level) * unet_level_w(st, s->level);
}

static sdpo_status run_forward(sdpo_unet *u, const float *sample) {
    unet_state *st = u->state;
    size_t scratch = 0;
    for (int i = 0; i < u->n_units; i++)
        scratch = max_sz(scratch, unet_unit_scratch_floats(u, &u->units[i]));
    sdpo_status rc = unet_alloc(st, scratch, "model", "scratch", &st->scratch);
    if (rc || (rc = time_forward(u))) return rc;
    /* slot 0 is the caller's sample: read-only, never written (the cast only fits the slot type) */
    u->slots[0].data = (float *)sample;
    const int save = st->mode == SDPO_UNET_TRAIN;
    for (int i = 0; i < u->n_units; i++) {
        unet_unit *un = &u->units[i];
        if (un->out_slot >= 0 &&
            (rc = unet_alloc(st, slot_floats(u, &u->slots[un->out_slot]), un->name, "out",
                             &u->slots[un->out_slot].data)))
            return rc;
        if ((rc = unit_forward(u, un, save, 1))) return rc;
    }
    return SDPO_OK;
}

/* The earliest unit whose backward must run: the first with a trainable tensor, conv_in when
 * d_sample is wanted, the first transformer when d_encoder_hidden_states is. n_units if none. */
static int first_backward_unit(const sdpo_unet *u, int want_sample, int want_ehs) {
    int first = want_sample ? 0 : u->n_units;
    for (int i = 0; i < first; i++)
        if (u->units[i].trainable || (want_ehs && u->units[i].kind == UNET_XFORMER)) return i;
    return first;
}

static sdpo_status run_backward(sdpo_unet *u, const float *d_eps, float *d_sample) {
    unet_state *st = u->state;
    const int first = first_backward_unit(u, d_sample != NULL, st->d_ehs != NULL);
    if (first == u->n_units) return SDPO_OK;   /* nothing trains, no input gradient wanted */
    sdpo_status rc;
    if (u->opt.train_base &&
        (rc = unet_alloc_zero(st, (size_t)st->B * u->cfg.time_embed_dim, "time_embedding",
                              "d_silu_emb", &st->d_act)))
        return rc;
    size_t ping = 0;
    for (int s = 0; s < u->n_slots; s++) {
        unet_slot *sl = &u->slots[s];
        sl->grad = NULL;
        if (sl->producer < first) continue;
        if (sl->is_skip) {
            if ((rc = unet_alloc_zero(st, slot_floats(u, sl), "skip", "grad", &sl->grad)))
                return rc;
        } else {
            ping = max_sz(ping, slot_floats(u, sl));
        }
    }
    u->slots[0].grad = d_sample;
    if ((rc = unet_alloc(st, ping, "backward", "ping", &st->ping[0])) ||
        (rc = unet_alloc(st, ping, "backward", "pong", &st->ping[1])))
        return rc;
    for (int i = u->n_units - 1; i >= first; i--) {
        unet_unit *un = &u->units[i];
        const float *dout = un->out_slot >= 0 ? u->slots[un->out_slot].grad : d_eps;
        float *dinp = NULL;
        if (i > first || un->in_slot == 0) {
            unet_slot *in = &u->slots[un->in_slot];
            if (!in->grad && un->in_slot != 0) {   /* a non-skip slot: the free ping buffer */
                in->grad = dout == st->ping[0] ? st->ping[1] : st->ping[0];
                if (!st->dry) nn_zero_grad(st->ctx, in->grad, slot_floats(u, in));
            }
            dinp = in->grad;
        }
        float *dskip = un->skip_slot >= 0 ? u->slots[un->skip_slot].grad : NULL;
        const size_t m = unet_mark(st);
        if (st->mode == SDPO_UNET_TRAIN_RECOMPUTE && saves_activations(un) &&
            (rc = unit_forward(u, un, 1, 0)))
            return rc;
        if ((rc = unit_backward(u, un, dout, dinp, dskip))) return rc;
        unet_reset(st, m);
    }
    return u->opt.train_base ? time_backward(u) : SDPO_OK;
}

/* ---------------------------------------------------------------------------------------------
 * public entry points */

static sdpo_status check_shape(const sdpo_unet *u, const sdpo_unet_shape *s) {
    const int mult = 1 << (u->cfg.n_levels - 1);
    if (s->B < 1 || s->H < 1 || s->W < 1 || s->L < 1)
        return sdpo_fail(SDPO_ERR_ARG, "unet: shape B=%d H=%d W=%d L=%d must be positive", s->B,
                         s->H, s->W, s->L);
    if (s->H % mult || s->W % mult)
        return sdpo_fail(SDPO_ERR_ARG, "unet: latent %dx%d is not a multiple of %d "
                         "(2^(levels-1), needed by the down/up samplers)", s->H, s->W, mult);
    return SDPO_OK;
}

static void state_begin(unet_state *st, nn_ctx *ctx, sdpo_unet_mode mode,
                        const sdpo_unet_shape *s) {
    st->ctx = ctx;
    st->threads = ctx->n_threads;
    st->mode = mode;
    st->B = s->B;
    st->H = s->H;
    st->W = s->W;
    st->L = s->L;
    st->d_act = st->d_ehs = NULL;
}

sdpo_status sdpo_unet_arena_bytes(sdpo_unet *u, const nn_ctx *ctx, sdpo_unet_mode mode,
                                  const sdpo_unet_shape *s, size_t *bytes) {
    unet_state *st = u->state;
    sdpo_status rc = check_shape(u, s);
    if (rc) return rc;
    if (st->pending)
        return sdpo_fail(SDPO_ERR_ARG, "unet: arena size asked while a forward awaits its backward");
    nn_ctx dry_ctx = *ctx;
    state_begin(st, &dry_ctx, mode, s);
    st->dry = 1;
    st->mem = (unet_mem){0};
    st->timestep = st->ehs = &dry_buffer;
    st->eps = &dry_buffer;
    rc = run_forward(u, &dry_buffer);
    if (!rc && mode != SDPO_UNET_INFER) {
        st->d_ehs = &dry_buffer;
        rc = run_backward(u, &dry_buffer, &dry_buffer);
    }
    st->dry = 0;
    *bytes = st->mem.peak;
    return rc;
}

sdpo_status sdpo_unet_forward(sdpo_unet *u, nn_ctx *ctx, nn_arena *arena, sdpo_unet_mode mode,
                              const sdpo_unet_shape *s, const float *sample,
                              const float *timestep, const float *encoder_hidden_states,
                              float *eps) {
    unet_state *st = u->state;
    if (!u->params.finalized)
        return sdpo_fail(SDPO_ERR_ARG, "unet: forward before sdpo_unet_finalize");
    if (st->pending)
        return sdpo_fail(SDPO_ERR_ARG, "unet: forward while the previous training forward awaits "
                         "its backward (call sdpo_unet_backward or sdpo_unet_forward_cancel)");
    size_t need;
    sdpo_status rc = sdpo_unet_arena_bytes(u, ctx, mode, s, &need);
    if (rc) return rc;
    if (need > arena->cap - arena->used)
        return sdpo_fail(SDPO_ERR_NOMEM, "unet: the arena has %zu bytes free, this forward%s needs "
                         "%zu (B=%d H=%d W=%d L=%d; size it with sdpo_unet_arena_bytes)",
                         arena->cap - arena->used, mode == SDPO_UNET_INFER ? "" : " + backward",
                         need, s->B, s->H, s->W, s->L);
    state_begin(st, ctx, mode, s);
    st->mem = (unet_mem){.arena = arena};
    st->base_mark = nn_arena_mark(arena);
    st->timestep = timestep;
    st->ehs = encoder_hidden_states;
    st->eps = eps;
    rc = run_forward(u, sample);
    if (rc || mode == SDPO_UNET_INFER) nn_arena_reset(arena, st->base_mark);
    else st->pending = 1;
    return rc;
}

sdpo_status sdpo_unet_backward(sdpo_unet *u, nn_ctx *ctx, const float *d_eps, float *d_sample,
                               float *d_encoder_hidden_states) {
    unet_state *st = u->state;
    if (!st->pending)
        return sdpo_fail(SDPO_ERR_ARG, "unet: backward without a pending training-mode forward");
    if (ctx->n_threads != st->threads)
        return sdpo_fail(SDPO_ERR_ARG, "unet: backward with %d threads after a forward with %d "
                         "(the forward's arena was sized for them)", ctx->n_threads, st->threads);
    st->ctx = ctx;
    st->d_ehs = d_encoder_hidden_states;
    sdpo_status rc = run_backward(u, d_eps, d_sample);
    sdpo_unet_forward_cancel(u);
    return rc;
}

void sdpo_unet_forward_cancel(sdpo_unet *u) {
    unet_state *st = u->state;
    if (!st->pending) return;
    nn_arena_reset(st->mem.arena, st->base_mark);
    st->pending = 0;
}

/* models/unet_resnet.c — ResnetBlock2D and the convolution units (conv_in, Downsample2D,
 * Upsample2D, the conv_norm_out/SiLU/conv_out head), forward and backward.
 *
 * diffusers resnet.py ResnetBlock2D (time_embedding_norm "default", output_scale_factor 1,
 * dropout 0), architectures.md §2.2:
 *   h = conv1(SiLU(GN1(x))) + time_emb_proj(SiLU(emb))[:, :, None, None]
 *   out = shortcut(x) + conv2(SiLU(GN2(h)))     shortcut = 1×1 conv_shortcut when C_in ≠ C_out
 * In up blocks x = cat([h_prev, skip], dim=1) (CrossAttnUpBlock2D/UpBlock2D.forward).
 * downsampling.py Downsample2D: conv 3×3 stride 2 (padding 1, or F.pad (0,1,0,1) + padding 0).
 * upsampling.py Upsample2D: F.interpolate(scale_factor=2, mode="nearest"), conv 3×3 pad 1.
 * GroupNorm eps is config norm_eps (1e-5) in resnets and conv_norm_out.
 *
 * Saved for backward (besides the input): GN1 stats and output, conv1+temb output, GN2 stats and
 * output; SiLU outputs are recomputed from the GN outputs (elementwise, cheap). */
#include "models/unet_internal.h"
#include "nn/optim.h"   /* defines: nn_zero_grad */

static int imax(int a, int b) { return a > b ? a : b; }

/* ---------------------------------------------------------------------------------------------
 * ResnetBlock2D */

sdpo_status unet_resnet_forward(sdpo_unet *u, unet_unit *un, int save, int need_out) {
    unet_state *st = u->state;
    const int B = st->B, H = unet_level_h(st, un->level), W = unet_level_w(st, un->level);
    const int HW = H * W, G = u->cfg.norm_num_groups;
    const int C_in = un->C_in, C_out = un->C_out, has_skip = un->skip_slot >= 0;
    const size_t n_in = (size_t)B * C_in * HW, n_out = (size_t)B * C_out * HW;
    const char *nm = un->name;
    const size_t m0 = unet_mark(st);
    // saved: x (B, C_in, HW) when it is a concat; stats (B, G); h (B, C_in, HW);
    // c1, h2 (B, C_out, HW)
    if (has_skip) UNET_TRY(unet_alloc(st, n_in, nm, "cat", &un->x));
    else un->x = u->slots[un->in_slot].data;
    un->mean = un->rstd = un->mean2 = un->rstd2 = NULL;
    if (save) {
        UNET_TRY(unet_alloc(st, (size_t)B * G, nm, "gn1_mean", &un->mean));
        UNET_TRY(unet_alloc(st, (size_t)B * G, nm, "gn1_rstd", &un->rstd));
        UNET_TRY(unet_alloc(st, (size_t)B * G, nm, "gn2_mean", &un->mean2));
        UNET_TRY(unet_alloc(st, (size_t)B * G, nm, "gn2_rstd", &un->rstd2));
    }
    UNET_TRY(unet_alloc(st, n_in, nm, "gn1", &un->h));
    UNET_TRY(unet_alloc(st, n_out, nm, "conv1", &un->c1));
    UNET_TRY(unet_alloc(st, n_out, nm, "gn2", &un->h2));
    const size_t m1 = unet_mark(st);
    // temporaries: a = SiLU(·) (B, max C, HW), tp = time_emb_proj (B, C_out), sc = shortcut
    float *a, *tp, *sc = NULL;
    UNET_TRY(unet_alloc(st, (size_t)B * imax(C_in, C_out) * HW, nm, "silu", &a));
    UNET_TRY(unet_alloc(st, (size_t)B * C_out, nm, "temb", &tp));
    if (need_out && un->shortcut.w.index >= 0) UNET_TRY(unet_alloc(st, n_out, nm, "shortcut", &sc));
    if (!st->dry) {
        nn_ctx *ctx = st->ctx;
        float *out = unet_unit_out(u, un);
        const float *x = un->x;
        if (has_skip)
            nn_concat_channels_forward(ctx, un->x, u->slots[un->in_slot].data,
                                       u->slots[un->skip_slot].data, B, C_in - un->C_skip,
                                       un->C_skip, HW);
        nn_group_norm_forward(ctx, un->h, un->mean, un->rstd, x, un->norm.w.w, un->norm.b.w, B,
                              C_in, HW, G, u->cfg.norm_eps);
        nn_silu_forward(ctx, a, un->h, n_in);
        nn_conv2d_shape s1 = unet_conv_shape(&un->conv, B, H, W);
        nn_conv2d_forward(ctx, un->c1, a, un->conv.w.w, un->conv.b.w, &s1, st->scratch);
        unet_linear_forward(u, &un->temb, tp, u->time->act, B);
        nn_add_broadcast_forward(ctx, un->c1, un->c1, tp, B, C_out, HW, B);
        nn_group_norm_forward(ctx, un->h2, un->mean2, un->rstd2, un->c1, un->norm2.w.w,
                              un->norm2.b.w, B, C_out, HW, G, u->cfg.norm_eps);
        if (need_out) {
            nn_silu_forward(ctx, a, un->h2, n_out);
            nn_conv2d_shape s2 = unet_conv_shape(&un->conv2, B, H, W);
            nn_conv2d_forward(ctx, out, a, un->conv2.w.w, un->conv2.b.w, &s2, st->scratch);
            if (sc) {
                nn_conv2d_shape ss = unet_conv_shape(&un->shortcut, B, H, W);
                nn_conv2d_forward(ctx, sc, x, un->shortcut.w.w, un->shortcut.b.w, &ss, NULL);
                nn_add_forward(ctx, out, sc, out, n_out);
            } else {
                nn_add_forward(ctx, out, x, out, n_out);
            }
        }
    }
    unet_reset(st, save ? m1 : m0);
    return SDPO_OK;
}

sdpo_status unet_resnet_backward(sdpo_unet *u, unet_unit *un, const float *dout, float *dinp,
                                 float *dskip) {
    unet_state *st = u->state;
    const int B = st->B, H = unet_level_h(st, un->level), W = unet_level_w(st, un->level);
    const int HW = H * W, G = u->cfg.norm_num_groups;
    const int C_in = un->C_in, C_out = un->C_out, has_skip = un->skip_slot >= 0;
    const size_t n_in = (size_t)B * C_in * HW, n_out = (size_t)B * C_out * HW;
    const size_t n_wide = (size_t)B * imax(C_in, C_out) * HW;
    const int need_x = dinp || dskip;                  /* d(input) or d(skip) wanted */
    const int need_h = need_x || u->opt.train_base;    /* GN1 needs d(GN1 output) */
    const char *nm = un->name;
    const size_t m = unet_mark(st);
    // temporaries: a, da, dh (B, max C, HW); dc1 (B, C_out, HW); dtp (B, C_out); dx (B, C_in, HW)
    float *a, *da, *dh, *dc1, *dtp = NULL, *dx = NULL;
    UNET_TRY(unet_alloc(st, n_wide, nm, "silu", &a));
    UNET_TRY(unet_alloc(st, n_wide, nm, "d_silu", &da));
    UNET_TRY(unet_alloc(st, n_wide, nm, "d_gn", &dh));
    UNET_TRY(unet_alloc(st, n_out, nm, "d_conv1", &dc1));
    if (u->opt.train_base) UNET_TRY(unet_alloc(st, (size_t)B * C_out, nm, "d_temb", &dtp));
    if (has_skip && need_x) UNET_TRY(unet_alloc(st, n_in, nm, "d_cat", &dx));
    if (!st->dry) {
        nn_ctx *ctx = st->ctx;
        const float *x = un->x;
        // out = shortcut(x) + conv2(SiLU(h2))
        nn_silu_forward(ctx, a, un->h2, n_out);
        nn_zero_grad(ctx, da, n_out);
        nn_conv2d_shape s2 = unet_conv_shape(&un->conv2, B, H, W);
        nn_conv2d_backward(ctx, da, un->conv2.w.g, un->conv2.b.g, dout, a, un->conv2.w.w, &s2,
                           st->scratch);
        nn_zero_grad(ctx, dh, n_out);
        nn_silu_backward(ctx, dh, da, un->h2, n_out);
        nn_zero_grad(ctx, dc1, n_out);
        nn_group_norm_backward(ctx, dc1, un->norm2.w.g, un->norm2.b.g, dh, un->c1, un->norm2.w.w,
                               un->mean2, un->rstd2, B, C_out, HW, G);
        // c1 = conv1(SiLU(h)) + time_emb_proj(SiLU(emb))
        if (dtp) {
            nn_zero_grad(ctx, dtp, (size_t)B * C_out);
            nn_add_broadcast_backward(ctx, NULL, dtp, dc1, B, C_out, HW, B);
            unet_linear_backward(u, &un->temb, st->d_act, dtp, u->time->act, B);
        }
        nn_silu_forward(ctx, a, un->h, n_in);
        if (need_h) nn_zero_grad(ctx, da, n_in);
        nn_conv2d_shape s1 = unet_conv_shape(&un->conv, B, H, W);
        nn_conv2d_backward(ctx, need_h ? da : NULL, un->conv.w.g, un->conv.b.g, dc1, a,
                           un->conv.w.w, &s1, st->scratch);
        // h = GN1(x); d(x) collects GN1 and the shortcut
        float *X = !need_x ? NULL : has_skip ? dx : dinp;
        if (dx) nn_zero_grad(ctx, dx, n_in);
        if (need_h) {
            nn_zero_grad(ctx, dh, n_in);
            nn_silu_backward(ctx, dh, da, un->h, n_in);
            nn_group_norm_backward(ctx, X, un->norm.w.g, un->norm.b.g, dh, x, un->norm.w.w,
                                   un->mean, un->rstd, B, C_in, HW, G);
        }
        if (un->shortcut.w.index >= 0) {
            nn_conv2d_shape ss = unet_conv_shape(&un->shortcut, B, H, W);
            nn_conv2d_backward(ctx, X, un->shortcut.w.g, un->shortcut.b.g, dout, x,
                               un->shortcut.w.w, &ss, NULL);
        } else if (X) {
            nn_add_backward(ctx, X, NULL, dout, n_out);
        }
        if (dx)   /* x = cat([h_prev, skip]) */
            nn_concat_channels_backward(ctx, dinp, dskip, dx, B, C_in - un->C_skip, un->C_skip,
                                        HW);
    }
    unet_reset(st, m);
    return SDPO_OK;
}

/* ---------------------------------------------------------------------------------------------
 * conv_in, Downsample2D, Upsample2D, output head */

sdpo_status unet_conv_unit_forward(sdpo_unet *u, unet_unit *un, int save, int need_out) {
    unet_state *st = u->state;
    const int B = st->B, H = unet_level_h(st, un->level), W = unet_level_w(st, un->level);
    const int C = un->C_in, G = u->cfg.norm_num_groups;
    const size_t n_in = (size_t)B * C * H * W;
    const char *nm = un->name;
    const size_t m0 = unet_mark(st);
    un->x = u->slots[un->in_slot].data;
    un->mean = un->rstd = NULL;
    float *a = NULL;
    size_t m1 = m0;
    if (un->kind == UNET_UP) {   // saved: h = upsample(x) (B, C, 2H, 2W)
        UNET_TRY(unet_alloc(st, 4 * n_in, nm, "upsample", &un->h));
        m1 = unet_mark(st);
    } else if (un->kind == UNET_OUT) {   // saved: GN stats (B, G), h = GN(x); temporary SiLU(h)
        if (save) {
            UNET_TRY(unet_alloc(st, (size_t)B * G, nm, "gn_mean", &un->mean));
            UNET_TRY(unet_alloc(st, (size_t)B * G, nm, "gn_rstd", &un->rstd));
        }
        UNET_TRY(unet_alloc(st, n_in, nm, "gn", &un->h));
        m1 = unet_mark(st);
        if (need_out) UNET_TRY(unet_alloc(st, n_in, nm, "silu", &a));
    }
    if (!st->dry) {
        nn_ctx *ctx = st->ctx;
        const float *conv_in = un->x;
        nn_conv2d_shape s = unet_conv_shape(&un->conv, B, H, W);
        if (un->kind == UNET_UP) {
            nn_upsample_nearest2x_forward(ctx, un->h, un->x, B, C, H, W);
            s = unet_conv_shape(&un->conv, B, 2 * H, 2 * W);
            conv_in = un->h;
        } else if (un->kind == UNET_OUT) {
            nn_group_norm_forward(ctx, un->h, un->mean, un->rstd, un->x, un->norm.w.w,
                                  un->norm.b.w, B, C, H * W, G, u->cfg.norm_eps);
            if (need_out) nn_silu_forward(ctx, a, un->h, n_in);
            conv_in = a;
        }
        if (need_out)
            nn_conv2d_forward(ctx, unet_unit_out(u, un), conv_in, un->conv.w.w, un->conv.b.w, &s,
                              st->scratch);
    }
    unet_reset(st, save ? m1 : m0);
    return SDPO_OK;
}

sdpo_status unet_conv_unit_backward(sdpo_unet *u, unet_unit *un, const float *dout, float *dinp) {
    unet_state *st = u->state;
    const int B = st->B, H = unet_level_h(st, un->level), W = unet_level_w(st, un->level);
    const int C = un->C_in, G = u->cfg.norm_num_groups;
    const size_t n_in = (size_t)B * C * H * W;
    const char *nm = un->name;
    const size_t m = unet_mark(st);
    float *a = NULL, *da = NULL, *dh = NULL;
    if (un->kind == UNET_UP && dinp) {
        UNET_TRY(unet_alloc(st, 4 * n_in, nm, "d_upsample", &da));
    } else if (un->kind == UNET_OUT) {
        UNET_TRY(unet_alloc(st, n_in, nm, "silu", &a));
        UNET_TRY(unet_alloc(st, n_in, nm, "d_silu", &da));
        UNET_TRY(unet_alloc(st, n_in, nm, "d_gn", &dh));
    }
    if (!st->dry) {
        nn_ctx *ctx = st->ctx;
        nn_conv2d_shape s = unet_conv_shape(&un->conv, B, H, W);
        switch (un->kind) {
        case UNET_UP:   // out = conv(upsample(x))
            s = unet_conv_shape(&un->conv, B, 2 * H, 2 * W);
            if (da) nn_zero_grad(ctx, da, 4 * n_in);
            nn_conv2d_backward(ctx, da, un->conv.w.g, un->conv.b.g, dout, un->h, un->conv.w.w, &s,
                               st->scratch);
            if (dinp) nn_upsample_nearest2x_backward(ctx, dinp, da, B, C, H, W);
            break;
        case UNET_OUT:  // eps = conv_out(SiLU(GN(x)))
            nn_silu_forward(ctx, a, un->h, n_in);
            nn_zero_grad(ctx, da, n_in);
            nn_conv2d_backward(ctx, da, un->conv.w.g, un->conv.b.g, dout, a, un->conv.w.w, &s,
                               st->scratch);
            nn_zero_grad(ctx, dh, n_in);
            nn_silu_backward(ctx, dh, da, un->h, n_in);
            nn_group_norm_backward(ctx, dinp, un->norm.w.g, un->norm.b.g, dh, un->x, un->norm.w.w,
                                   un->mean, un->rstd, B, C, H * W, G);
            break;
        default:        // conv_in, Downsample2D: out = conv(x)
            nn_conv2d_backward(ctx, dinp, un->conv.w.g, un->conv.b.g, dout, un->x, un->conv.w.w,
                               &s, st->scratch);
            break;
        }
    }
    unet_reset(st, m);
    return SDPO_OK;
}

/* models/vae.c — AutoencoderKL forward (see vae.h; diffusers models/autoencoders/vae.py Encoder
 * and Decoder, unets/unet_2d_blocks.py UNetMidBlock2D / DownEncoderBlock2D / UpDecoderBlock2D,
 * resnet.py ResnetBlock2D, attention_processor.py Attention with AttnProcessor2_0).
 *
 * One walk over the architecture (walk_*) names every tensor, for registration and binding; one
 * forward (encode_one / decode_one) runs either for real or "dry", where it only records the
 * largest buffer each role needs, so the arena size always matches what the forward takes. */
#include "models/vae.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/weights.h"
#include "nn/attention.h"
#include "nn/ops.h"

/* GroupNorm eps of every VAE norm (diffusers Encoder/Decoder pass resnet_eps=1e-6, and
 * conv_norm_out and the mid-block attention's group_norm use the same). */
#define VAE_EPS 1e-6f

/* ---------------------------------------------------------------------------------------------
 * config */

sdpo_status sdpo_vae_config_load(const sdpo_config *c, sdpo_vae_config *out) {
    memset(out, 0, sizeof *out);
    const char *act = NULL, *down[SDPO_VAE_MAX_BLOCKS], *up[SDPO_VAE_MAX_BLOCKS];
    int n_down = 0, n_up = 0;
    double sf = 0, shift = 0;
    sdpo_status st;
    /* Defaults are AutoencoderKL.__init__'s, except block_out_channels (required: a default
     * 1-block VAE is never what a real config means). */
    if ((st = sdpo_config_int_or(c, "in_channels", 3, &out->in_channels)) ||
        (st = sdpo_config_int_or(c, "out_channels", 3, &out->out_channels)) ||
        (st = sdpo_config_int_or(c, "latent_channels", 4, &out->latent_channels)) ||
        (st = sdpo_config_int_array(c, "block_out_channels", out->block_out_channels,
                                    SDPO_VAE_MAX_BLOCKS, &out->n_blocks, 0)) ||
        (st = sdpo_config_int_or(c, "layers_per_block", 1, &out->layers_per_block)) ||
        (st = sdpo_config_int_or(c, "norm_num_groups", 32, &out->norm_num_groups)) ||
        (st = sdpo_config_string_or(c, "act_fn", "silu", &act)) ||
        (st = sdpo_config_string_array(c, "down_block_types", down, SDPO_VAE_MAX_BLOCKS, &n_down)) ||
        (st = sdpo_config_string_array(c, "up_block_types", up, SDPO_VAE_MAX_BLOCKS, &n_up)) ||
        (st = sdpo_config_bool_or(c, "mid_block_add_attention", 1, &out->mid_block_add_attention)) ||
        (st = sdpo_config_bool_or(c, "use_quant_conv", 1, &out->use_quant_conv)) ||
        (st = sdpo_config_bool_or(c, "use_post_quant_conv", 1, &out->use_post_quant_conv)) ||
        (st = sdpo_config_double_or(c, "scaling_factor", 0.18215, &sf)) ||
        (st = sdpo_config_double_or(c, "shift_factor", 0.0, &shift)))
        return st;
    if (strcmp(act, "silu"))
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: key 'act_fn': '%s' is not supported (silu)", c->path, act);
    if (out->n_blocks < 1 || n_down != out->n_blocks || n_up != out->n_blocks)
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: block_out_channels, down_block_types and "
                         "up_block_types must have the same, non-zero length (%d, %d, %d)",
                         c->path, out->n_blocks, n_down, n_up);
    for (int i = 0; i < out->n_blocks; i++) {
        if (strcmp(down[i], "DownEncoderBlock2D"))
            return sdpo_fail(SDPO_ERR_FORMAT, "%s: key 'down_block_types': '%s' is not supported "
                             "(DownEncoderBlock2D)", c->path, down[i]);
        if (strcmp(up[i], "UpDecoderBlock2D"))
            return sdpo_fail(SDPO_ERR_FORMAT, "%s: key 'up_block_types': '%s' is not supported "
                             "(UpDecoderBlock2D)", c->path, up[i]);
    }
    if (out->in_channels < 1 || out->out_channels < 1 || out->latent_channels < 1 ||
        out->layers_per_block < 1 || out->norm_num_groups < 1)
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: channel counts, layers_per_block and "
                         "norm_num_groups must be ≥ 1", c->path);
    for (int i = 0; i < out->n_blocks; i++)
        if (out->block_out_channels[i] < 1 || out->block_out_channels[i] % out->norm_num_groups)
            return sdpo_fail(SDPO_ERR_FORMAT, "%s: key 'block_out_channels': %d is not a positive "
                             "multiple of norm_num_groups %d", c->path,
                             out->block_out_channels[i], out->norm_num_groups);
    if (!(sf > 0))
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: key 'scaling_factor': must be > 0", c->path);
    out->scaling_factor = (float)sf;
    out->shift_factor = (float)shift;
    return SDPO_OK;
}

/* ---------------------------------------------------------------------------------------------
 * architecture walk: every tensor's name, shape and binding slot, in diffusers' module order */

typedef sdpo_status (*tensor_fn)(const char *name, int ndim, const int64_t *shape,
                                 const float **slot, void *arg);

typedef struct {
    tensor_fn fn;
    void *arg;
} walker;

#define FIELD(s, f) ((s) ? &(s)->f : NULL)

/* "<prefix>.weight" [shape…] and "<prefix>.bias" [shape[0]] into dst (NULL: registration). */
static sdpo_status walk_wb(walker *k, const char *prefix, sdpo_vae_wb *dst, int ndim,
                           const int64_t *shape) {
    char name[256];
    snprintf(name, sizeof name, "%s.weight", prefix);
    sdpo_status st = k->fn(name, ndim, shape, FIELD(dst, w), k->arg);
    if (st != SDPO_OK) return st;
    snprintf(name, sizeof name, "%s.bias", prefix);
    return k->fn(name, 1, shape, FIELD(dst, b), k->arg);
}

static sdpo_status walk_conv(walker *k, const char *prefix, sdpo_vae_wb *dst, int c_out,
                             int c_in, int ks) {
    return walk_wb(k, prefix, dst, 4, (const int64_t[]){c_out, c_in, ks, ks});
}

static sdpo_status walk_vec(walker *k, const char *prefix, sdpo_vae_wb *dst, int c) {
    return walk_wb(k, prefix, dst, 1, (const int64_t[]){c});
}

static sdpo_status walk_resnet(walker *k, const char *prefix, sdpo_vae_resnet *r, int c_in,
                               int c_out) {
    char name[256];
    sdpo_status st;
    if (r) {
        r->c_in = c_in;
        r->c_out = c_out;
    }
#define SUB(s) (snprintf(name, sizeof name, "%s.%s", prefix, s), name)
    if ((st = walk_vec(k, SUB("norm1"), FIELD(r, norm1), c_in)) ||
        (st = walk_conv(k, SUB("conv1"), FIELD(r, conv1), c_out, c_in, 3)) ||
        (st = walk_vec(k, SUB("norm2"), FIELD(r, norm2), c_out)) ||
        (st = walk_conv(k, SUB("conv2"), FIELD(r, conv2), c_out, c_out, 3)))
        return st;
    if (c_in != c_out)
        return walk_conv(k, SUB("conv_shortcut"), FIELD(r, shortcut), c_out, c_in, 1);
#undef SUB
    return SDPO_OK;
}

static sdpo_status walk_mid(walker *k, const sdpo_vae_config *cfg, const char *coder,
                            sdpo_vae_mid *m) {
    const int C = cfg->block_out_channels[cfg->n_blocks - 1];
    char name[256];
    sdpo_status st;
    snprintf(name, sizeof name, "%s.mid_block.resnets.0", coder);
    if ((st = walk_resnet(k, name, FIELD(m, res[0]), C, C))) return st;
    if (cfg->mid_block_add_attention) {
        static const char *const sub[] = {"to_q", "to_k", "to_v", "to_out.0"};
        snprintf(name, sizeof name, "%s.mid_block.attentions.0.group_norm", coder);
        if ((st = walk_vec(k, name, FIELD(m, attn_norm), C))) return st;
        sdpo_vae_wb *const fields[4] = {FIELD(m, to_q), FIELD(m, to_k), FIELD(m, to_v),
                                        FIELD(m, to_out)};
        for (int s = 0; s < 4; s++) {
            snprintf(name, sizeof name, "%s.mid_block.attentions.0.%s", coder, sub[s]);
            if ((st = walk_wb(k, name, fields[s], 2, (const int64_t[]){C, C}))) return st;
        }
    }
    snprintf(name, sizeof name, "%s.mid_block.resnets.1", coder);
    return walk_resnet(k, name, FIELD(m, res[1]), C, C);
}

static sdpo_status walk_encoder(walker *k, const sdpo_vae_config *cfg, sdpo_vae_coder *e) {
    const int *C = cfg->block_out_channels, n = cfg->n_blocks, L = cfg->latent_channels;
    char name[256];
    sdpo_status st;
    if ((st = walk_conv(k, "encoder.conv_in", FIELD(e, conv_in), C[0], cfg->in_channels, 3)))
        return st;
    int c_prev = C[0];
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < cfg->layers_per_block; j++) {
            snprintf(name, sizeof name, "encoder.down_blocks.%d.resnets.%d", i, j);
            sdpo_vae_resnet *r = e ? &e->res[i * e->n_res + j] : NULL;
            if ((st = walk_resnet(k, name, r, j == 0 ? c_prev : C[i], C[i]))) return st;
        }
        if (i < n - 1) {
            snprintf(name, sizeof name, "encoder.down_blocks.%d.downsamplers.0.conv", i);
            if ((st = walk_conv(k, name, FIELD(e, sampler[i]), C[i], C[i], 3))) return st;
        }
        c_prev = C[i];
    }
    if ((st = walk_mid(k, cfg, "encoder", FIELD(e, mid))) ||
        (st = walk_vec(k, "encoder.conv_norm_out", FIELD(e, conv_norm_out), C[n - 1])) ||
        (st = walk_conv(k, "encoder.conv_out", FIELD(e, conv_out), 2 * L, C[n - 1], 3)))
        return st;
    if (cfg->use_quant_conv)
        return walk_conv(k, "quant_conv", FIELD(e, quant), 2 * L, 2 * L, 1);
    return SDPO_OK;
}

static sdpo_status walk_decoder(walker *k, const sdpo_vae_config *cfg, sdpo_vae_coder *d) {
    const int *C = cfg->block_out_channels, n = cfg->n_blocks, L = cfg->latent_channels;
    char name[256];
    sdpo_status st;
    if (cfg->use_post_quant_conv &&
        (st = walk_conv(k, "post_quant_conv", FIELD(d, quant), L, L, 1)))
        return st;
    if ((st = walk_conv(k, "decoder.conv_in", FIELD(d, conv_in), C[n - 1], L, 3)) ||
        (st = walk_mid(k, cfg, "decoder", FIELD(d, mid))))
        return st;
    int c_prev = C[n - 1];
    for (int i = 0; i < n; i++) {
        const int c = C[n - 1 - i];   /* reversed(block_out_channels) */
        for (int j = 0; j < cfg->layers_per_block + 1; j++) {
            snprintf(name, sizeof name, "decoder.up_blocks.%d.resnets.%d", i, j);
            sdpo_vae_resnet *r = d ? &d->res[i * d->n_res + j] : NULL;
            if ((st = walk_resnet(k, name, r, j == 0 ? c_prev : c, c))) return st;
        }
        if (i < n - 1) {
            snprintf(name, sizeof name, "decoder.up_blocks.%d.upsamplers.0.conv", i);
            if ((st = walk_conv(k, name, FIELD(d, sampler[i]), c, c, 3))) return st;
        }
        c_prev = c;
    }
    if ((st = walk_vec(k, "decoder.conv_norm_out", FIELD(d, conv_norm_out), C[0])))
        return st;
    return walk_conv(k, "decoder.conv_out", FIELD(d, conv_out), cfg->out_channels, C[0], 3);
}

static sdpo_status walk(walker *k, const sdpo_vae_config *cfg, int parts, sdpo_vae *v) {
    sdpo_status st = SDPO_OK;
    if (parts & SDPO_VAE_ENCODER) st = walk_encoder(k, cfg, FIELD(v, enc));
    if (st == SDPO_OK && (parts & SDPO_VAE_DECODER)) st = walk_decoder(k, cfg, FIELD(v, dec));
    return st;
}

static sdpo_status add_frozen(const char *name, int ndim, const int64_t *shape,
                              const float **slot, void *arg) {
    (void)slot;
    return nn_params_add(arg, name, ndim, shape, 0);
}

sdpo_status sdpo_vae_register(nn_params *p, const sdpo_vae_config *cfg, int parts) {
    walker k = {add_frozen, p};
    return walk(&k, cfg, parts, NULL);
}

static sdpo_status bind_one(const char *name, int ndim, const int64_t *shape, const float **slot,
                            void *arg) {
    nn_param_view v;
    sdpo_status st = nn_params_expect(arg, name, ndim, shape, &v);
    if (st == SDPO_OK) *slot = v.value.data;
    return st;
}

static void coder_free(sdpo_vae_coder *c) {
    free(c->res);
    free(c->sampler);
}

void sdpo_vae_unbind(sdpo_vae *v) {
    coder_free(&v->enc);
    coder_free(&v->dec);
    memset(v, 0, sizeof *v);
}

static sdpo_status coder_alloc(sdpo_vae_coder *c, int n_blocks, int n_res) {
    c->n_res = n_res;
    c->res = calloc((size_t)n_blocks * n_res, sizeof *c->res);
    c->sampler = calloc((size_t)n_blocks, sizeof *c->sampler);
    if (!c->res || !c->sampler) return sdpo_fail(SDPO_ERR_NOMEM, "vae: out of memory");
    return SDPO_OK;
}

sdpo_status sdpo_vae_bind(sdpo_vae *v, const nn_params *p, const sdpo_vae_config *cfg, int parts) {
    memset(v, 0, sizeof *v);
    v->cfg = *cfg;
    v->parts = parts;
    sdpo_status st = SDPO_OK;
    if (parts & SDPO_VAE_ENCODER) st = coder_alloc(&v->enc, cfg->n_blocks, cfg->layers_per_block);
    if (st == SDPO_OK && (parts & SDPO_VAE_DECODER))
        st = coder_alloc(&v->dec, cfg->n_blocks, cfg->layers_per_block + 1);
    walker k = {bind_one, (void *)p};
    if (st == SDPO_OK) st = walk(&k, cfg, parts, v);
    if (st != SDPO_OK) sdpo_vae_unbind(v);
    return st;
}

/* Tensors of the part that was not asked for (sdpo_weights_filter has no user pointer, hence
 * one function per case). */
static int is_encoder_tensor(const char *name) {
    return !strncmp(name, "encoder.", 8) || !strncmp(name, "quant_conv.", 11);
}
static int is_decoder_tensor(const char *name) {
    return !strncmp(name, "decoder.", 8) || !strncmp(name, "post_quant_conv.", 16);
}

sdpo_status sdpo_vae_load(const sdpo_model_component *c, int parts, nn_params *p, sdpo_vae *v) {
    nn_params_init(p);
    memset(v, 0, sizeof *v);
    if (parts < SDPO_VAE_ENCODER || parts > SDPO_VAE_BOTH)
        return sdpo_fail(SDPO_ERR_ARG, "vae: parts must select the encoder, the decoder or both");
    sdpo_config cfg_file;
    sdpo_vae_config cfg;
    sdpo_status st = sdpo_model_dir_config(c, &cfg_file);
    if (st != SDPO_OK) return st;
    st = sdpo_vae_config_load(&cfg_file, &cfg);
    sdpo_config_free(&cfg_file);
    char path[4096];
    const sdpo_weights_filter filter = {
        NULL, parts == SDPO_VAE_BOTH    ? NULL
              : parts == SDPO_VAE_DECODER ? is_encoder_tensor
                                          : is_decoder_tensor};
    if (st == SDPO_OK) st = sdpo_weights_find(c->dir, path, sizeof path);
    if (st == SDPO_OK) st = sdpo_vae_register(p, &cfg, parts);
    if (st == SDPO_OK) st = nn_params_finalize(p);
    if (st == SDPO_OK) st = sdpo_weights_load(p, path, &filter);
    if (st == SDPO_OK) st = sdpo_vae_bind(v, p, &cfg, parts);
    if (st != SDPO_OK) nn_params_free(p);
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * forward machinery
 *
 * A run owns three activation buffers of the largest activation (index 0–2) and rotates them:
 * an op reads buffer i and writes buffer (i + 1) % 3 with (i + 2) % 3 as temporary. In a dry run
 * every pointer is NULL and the helpers only record sizes (in floats). */

typedef struct {
    nn_ctx *ctx;
    int dry;
    int groups;
    size_t act, conv, qkv, hw, attn;   /* dry: maxima of buffer, conv scratch, q/k/v, lse,
                                          attention scratch */
    float *buf[3], *conv_scratch, *q, *k, *v, *lse, *attn_scratch;
} vae_run;

typedef struct {
    int C, H, W;
    int i;   /* buffer index */
} act;

static void note(size_t *max, size_t n) {
    if (n > *max) *max = n;
}

static size_t numel(act x) { return (size_t)x.C * x.H * x.W; }

/* out [Cout, Ho, Wo] = conv(in [Cin, H, W]); pads: lo on top/left, hi on bottom/right. */
static void conv(vae_run *r, float *out, const float *in, const sdpo_vae_wb *c, int c_in, int H,
                 int W, int c_out, int ks, int stride, int pad_lo, int pad_hi) {
    nn_conv2d_shape s = {.B = 1, .C_in = c_in, .H = H, .W = W, .C_out = c_out, .kh = ks, .kw = ks,
                         .stride = stride, .pad_top = pad_lo, .pad_bottom = pad_hi,
                         .pad_left = pad_lo, .pad_right = pad_hi};
    if (r->dry) {
        note(&r->conv, nn_conv2d_scratch_floats(&s));
        note(&r->act, (size_t)c_out * nn_conv2d_out_h(&s) * nn_conv2d_out_w(&s));
        return;
    }
    nn_conv2d_forward(r->ctx, out, in, c->w, c->b, &s, r->conv_scratch);
}

static void group_norm(vae_run *r, float *out, const float *in, const sdpo_vae_wb *n, int C,
                       int HW, int silu) {
    if (r->dry) return;
    nn_group_norm_forward(r->ctx, out, NULL, NULL, in, n->w, n->b, 1, C, HW, r->groups, VAE_EPS);
    if (silu) nn_silu_forward(r->ctx, out, out, (size_t)C * HW);
}

/* ResnetBlock2D (no temb, output_scale_factor 1). */
static act resnet(vae_run *r, const sdpo_vae_resnet *p, act x) {
    act y = {p->c_out, x.H, x.W, (x.i + 1) % 3};
    float *X = r->buf[x.i], *Y = r->buf[y.i], *T = r->buf[(x.i + 2) % 3];
    const int HW = x.H * x.W;
    group_norm(r, T, X, &p->norm1, p->c_in, HW, 1);
    conv(r, Y, T, &p->conv1, p->c_in, x.H, x.W, p->c_out, 3, 1, 1, 1);
    group_norm(r, T, Y, &p->norm2, p->c_out, HW, 1);
    conv(r, Y, T, &p->conv2, p->c_out, x.H, x.W, p->c_out, 3, 1, 1, 1);
    if (p->shortcut.w) {
        conv(r, T, X, &p->shortcut, p->c_in, x.H, x.W, p->c_out, 1, 1, 0, 0);
        X = T;
    }
    if (!r->dry) nn_add_forward(r->ctx, Y, Y, X, numel(y));
    return y;
}

/* The mid block's Attention: one head of C over the H·W tokens, residual added. */
static act attention(vae_run *r, const sdpo_vae_mid *m, act x) {
    const int C = x.C, HW = x.H * x.W;
    const nn_attention_shape as = {.B = 1, .H = 1, .Lq = HW, .Lk = HW, .dh = C, .scale = 0,
                                   .causal = 0, .mask_kind = NN_ATTN_MASK_NONE};
    act y = {C, x.H, x.W, (x.i + 1) % 3};
    if (r->dry) {
        note(&r->qkv, numel(x));
        note(&r->hw, (size_t)HW);
        note(&r->attn, nn_attention_scratch_floats(r->ctx, &as));
        return y;
    }
    float *X = r->buf[x.i], *Y = r->buf[y.i], *T = r->buf[(x.i + 2) % 3];
    nn_group_norm_forward(r->ctx, T, NULL, NULL, X, m->attn_norm.w, m->attn_norm.b, 1, C, HW,
                          r->groups, VAE_EPS);
    nn_nchw_to_tokens_forward(r->ctx, Y, T, 1, C, HW);   // Y [HW, C]
    nn_linear_forward(r->ctx, r->q, Y, m->to_q.w, m->to_q.b, HW, C, C);
    nn_linear_forward(r->ctx, r->k, Y, m->to_k.w, m->to_k.b, HW, C, C);
    nn_linear_forward(r->ctx, r->v, Y, m->to_v.w, m->to_v.b, HW, C, C);
    nn_attention_forward(r->ctx, T, r->lse, r->q, r->k, r->v, NULL, &as, r->attn_scratch);
    nn_linear_forward(r->ctx, Y, T, m->to_out.w, m->to_out.b, HW, C, C);
    nn_tokens_to_nchw_forward(r->ctx, T, Y, 1, C, HW);
    nn_add_forward(r->ctx, Y, T, X, numel(x));
    return y;
}

static act mid_block(vae_run *r, const sdpo_vae_mid *m, act x) {
    x = resnet(r, &m->res[0], x);
    if (m->attn_norm.w) x = attention(r, m, x);
    return resnet(r, &m->res[1], x);
}

/* Upsample2D: nearest ×2, then conv 3×3 pad 1. */
static act upsample(vae_run *r, const sdpo_vae_wb *c, act x) {
    act y = {x.C, 2 * x.H, 2 * x.W, (x.i + 1) % 3};
    float *T = r->buf[(x.i + 2) % 3];
    if (r->dry) note(&r->act, numel(y));
    else nn_upsample_nearest2x_forward(r->ctx, T, r->buf[x.i], 1, x.C, x.H, x.W);
    conv(r, r->buf[y.i], T, c, x.C, y.H, y.W, x.C, 3, 1, 1, 1);
    return y;
}

/* Downsample2D(padding=0): F.pad(x, (0, 1, 0, 1)), then conv 3×3 stride 2. */
static act downsample(vae_run *r, const sdpo_vae_wb *c, act x) {
    act y = {x.C, x.H / 2, x.W / 2, (x.i + 1) % 3};
    conv(r, r->buf[y.i], r->buf[x.i], c, x.C, x.H, x.W, x.C, 3, 2, 0, 1);
    return y;
}

/* Host clamp: nn/ has no clamp op yet (it becomes one with the CUDA backend). */
static void clamp_host(float *x, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++) x[i] = x[i] < lo ? lo : x[i] > hi ? hi : x[i];
}

void sdpo_vae_postprocess(nn_ctx *ctx, float *images, size_t n) {
    const float half = 0.5f;
    for (size_t i = 0; i < n; i += (size_t)1 << 30) {   /* add_broadcast takes an int extent */
        const size_t m = n - i < ((size_t)1 << 30) ? n - i : (size_t)1 << 30;
        nn_scale_forward(ctx, images + i, images + i, 0.5f, m);
        nn_add_broadcast_forward(ctx, images + i, images + i, &half, 1, 1, (int)m, 1);
    }
    clamp_host(images, n, 0.0f, 1.0f);
}

/* One latent z [L, h, w] → image [out, h·f, w·f]. */
static void decode_one(vae_run *r, const sdpo_vae *v, float *image, const float *z, int h, int w,
                       const sdpo_vae_decode_opts *o) {
    const sdpo_vae_config *cfg = &v->cfg;
    const sdpo_vae_coder *d = &v->dec;
    const int L = cfg->latent_channels, n = cfg->n_blocks;
    act x = {L, h, w, 0};
    const float *src = z;   /* the current input while it is not in buffer x.i */
    if (o->unscale) {       /* z = x0 / scaling_factor + shift_factor (SD pipelines) */
        note(&r->act, numel(x));
        if (!r->dry) {
            nn_scale_forward(r->ctx, r->buf[0], z, 1.0f / cfg->scaling_factor, numel(x));
            if (cfg->shift_factor != 0.0f)
                nn_add_broadcast_forward(r->ctx, r->buf[0], r->buf[0], &cfg->shift_factor, 1, 1,
                                         (int)numel(x), 1);
        }
        src = r->buf[0];
        x.i = 0;
    }
    if (d->quant.w) {
        int out = (x.i + 1) % 3;
        conv(r, r->buf[out], src, &d->quant, L, h, w, L, 1, 1, 0, 0);
        src = r->buf[out];
        x.i = out;
    }
    act y = {cfg->block_out_channels[n - 1], h, w, (x.i + 1) % 3};
    conv(r, r->buf[y.i], src, &d->conv_in, L, h, w, y.C, 3, 1, 1, 1);
    x = mid_block(r, &d->mid, y);
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < d->n_res; j++) x = resnet(r, &d->res[i * d->n_res + j], x);
        if (i < n - 1) x = upsample(r, &d->sampler[i], x);
    }
    float *T = r->buf[(x.i + 1) % 3];
    group_norm(r, T, r->buf[x.i], &d->conv_norm_out, x.C, x.H * x.W, 1);
    conv(r, image, T, &d->conv_out, x.C, x.H, x.W, cfg->out_channels, 3, 1, 1, 1);
    if (o->to_unit_range && !r->dry)
        sdpo_vae_postprocess(r->ctx, image, (size_t)cfg->out_channels * x.H * x.W);
}

/* One image [in, H, W] → mean, logvar [L, H/f, W/f] (logvar NULL: not wanted). */
static void encode_one(vae_run *r, const sdpo_vae *v, float *mean, float *logvar,
                       const float *image, int H, int W) {
    const sdpo_vae_config *cfg = &v->cfg;
    const sdpo_vae_coder *e = &v->enc;
    const int n = cfg->n_blocks, L = cfg->latent_channels;
    act x = {cfg->block_out_channels[0], H, W, 0};
    conv(r, r->buf[0], image, &e->conv_in, cfg->in_channels, H, W, x.C, 3, 1, 1, 1);
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < e->n_res; j++) x = resnet(r, &e->res[i * e->n_res + j], x);
        if (i < n - 1) x = downsample(r, &e->sampler[i], x);
    }
    x = mid_block(r, &e->mid, x);
    act y = {2 * L, x.H, x.W, (x.i + 1) % 3};
    float *T = r->buf[(x.i + 2) % 3];
    group_norm(r, T, r->buf[x.i], &e->conv_norm_out, x.C, x.H * x.W, 1);
    conv(r, r->buf[y.i], T, &e->conv_out, x.C, x.H, x.W, y.C, 3, 1, 1, 1);
    if (e->quant.w) {
        act q = {y.C, y.H, y.W, (y.i + 1) % 3};
        conv(r, r->buf[q.i], r->buf[y.i], &e->quant, y.C, y.H, y.W, y.C, 1, 1, 0, 0);
        y = q;
    }
    if (r->dry) return;
    /* moments [2L, h, w] = [mean | logvar]; an unwanted logvar goes to a free buffer */
    const int hw = y.H * y.W;
    float *lv = logvar ? logvar : r->buf[(y.i + 1) % 3];
    nn_split_channels_forward(r->ctx, mean, lv, r->buf[y.i], 1, L, L, hw);
    if (logvar) clamp_host(logvar, (size_t)L * hw, -30.0f, 20.0f);
}

typedef enum { RUN_DECODE, RUN_ENCODE } run_kind;

/* Measures a run over (h, w) latents (decode) or (h, w) pixels (encode). */
static vae_run plan(const nn_ctx *ctx, const sdpo_vae *v, run_kind kind, int h, int w) {
    vae_run r = {.ctx = (nn_ctx *)ctx, .dry = 1, .groups = v->cfg.norm_num_groups};
    const sdpo_vae_decode_opts unscale = {1, 1};
    if (kind == RUN_DECODE) decode_one(&r, v, NULL, NULL, h, w, &unscale);
    else encode_one(&r, v, NULL, NULL, NULL, h, w);
    return r;
}

static size_t plan_bytes(const vae_run *r) {
    return 3 * nn_arena_bytes_f32(r->act) + nn_arena_bytes_f32(r->conv) +
           3 * nn_arena_bytes_f32(r->qkv) + nn_arena_bytes_f32(r->hw) +
           nn_arena_bytes_f32(r->attn);
}

static sdpo_status plan_alloc(vae_run *r, nn_arena *a) {
    sdpo_status st;
    r->dry = 0;
    if ((st = nn_arena_alloc_f32(a, r->act, "vae.buf0", &r->buf[0])) ||
        (st = nn_arena_alloc_f32(a, r->act, "vae.buf1", &r->buf[1])) ||
        (st = nn_arena_alloc_f32(a, r->act, "vae.buf2", &r->buf[2])) ||
        (st = nn_arena_alloc_f32(a, r->conv, "vae.conv_scratch", &r->conv_scratch)) ||
        (st = nn_arena_alloc_f32(a, r->qkv, "vae.mid_attn.q", &r->q)) ||
        (st = nn_arena_alloc_f32(a, r->qkv, "vae.mid_attn.k", &r->k)) ||
        (st = nn_arena_alloc_f32(a, r->qkv, "vae.mid_attn.v", &r->v)) ||
        (st = nn_arena_alloc_f32(a, r->hw, "vae.mid_attn.lse", &r->lse)) ||
        (st = nn_arena_alloc_f32(a, r->attn, "vae.mid_attn.scratch", &r->attn_scratch)))
        return st;
    return SDPO_OK;
}

/* f = 2^(n_blocks − 1), the spatial factor between latents and images. */
static int factor(const sdpo_vae_config *cfg) { return 1 << (cfg->n_blocks - 1); }

size_t sdpo_vae_decode_arena_bytes(const nn_ctx *ctx, const sdpo_vae *v, int h, int w) {
    vae_run r = plan(ctx, v, RUN_DECODE, h, w);
    return plan_bytes(&r);
}

size_t sdpo_vae_encode_arena_bytes(const nn_ctx *ctx, const sdpo_vae *v, int H, int W) {
    vae_run r = plan(ctx, v, RUN_ENCODE, H, W);
    return plan_bytes(&r);
}

sdpo_status sdpo_vae_decode(nn_ctx *ctx, const sdpo_vae *v, nn_arena *arena, float *images,
                            const float *latents, int B, int h, int w,
                            const sdpo_vae_decode_opts *opts) {
    if (!(v->parts & SDPO_VAE_DECODER))
        return sdpo_fail(SDPO_ERR_ARG, "vae: decode needs the decoder (loaded without it)");
    const int f = factor(&v->cfg);
    if (B < 1 || h < 1 || w < 1 || (size_t)v->cfg.block_out_channels[0] * h * f * w * f > (1u << 31))
        return sdpo_fail(SDPO_ERR_ARG, "vae: cannot decode %d latents of %d×%d", B, h, w);
    const size_t mark = nn_arena_mark(arena);
    vae_run r = plan(ctx, v, RUN_DECODE, h, w);
    sdpo_status st = plan_alloc(&r, arena);
    const size_t in = (size_t)v->cfg.latent_channels * h * w;
    const size_t out = (size_t)v->cfg.out_channels * h * f * w * f;
    for (int b = 0; b < B && st == SDPO_OK; b++)
        decode_one(&r, v, images + b * out, latents + b * in, h, w, opts);
    nn_arena_reset(arena, mark);
    return st;
}

sdpo_status sdpo_vae_encode(nn_ctx *ctx, const sdpo_vae *v, nn_arena *arena, float *mean,
                            float *logvar, const float *images, int B, int H, int W) {
    if (!(v->parts & SDPO_VAE_ENCODER))
        return sdpo_fail(SDPO_ERR_ARG, "vae: encode needs the encoder (loaded without it)");
    const int f = factor(&v->cfg);
    if (B < 1 || H < f || W < f || H % f || W % f ||
        (size_t)v->cfg.block_out_channels[0] * H * W > (1u << 31))
        return sdpo_fail(SDPO_ERR_ARG, "vae: cannot encode %d images of %d×%d (sides must be "
                         "positive multiples of %d)", B, H, W, f);
    const size_t mark = nn_arena_mark(arena);
    vae_run r = plan(ctx, v, RUN_ENCODE, H, W);
    sdpo_status st = plan_alloc(&r, arena);
    const size_t in = (size_t)v->cfg.in_channels * H * W;
    const size_t out = (size_t)v->cfg.latent_channels * (H / f) * (W / f);
    for (int b = 0; b < B && st == SDPO_OK; b++)
        encode_one(&r, v, mean + b * out, logvar ? logvar + b * out : NULL, images + b * in, H, W);
    nn_arena_reset(arena, mark);
    return st;
}

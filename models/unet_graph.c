/* models/unet_graph.c — builds the UNet's unit list from its config and registers every tensor
 * under its diffusers checkpoint name (see unet.h, unet_internal.h).
 *
 * Channel bookkeeping follows diffusers UNet2DConditionModel.__init__ (unet_2d_condition.py):
 * down block i has layers_per_block[i] resnets (in = previous output, out = block_out[i]), each
 * followed by a Transformer2DModel in CrossAttnDownBlock2D, then a Downsample2D except in the
 * last block; every resnet/transformer output, every downsample output and conv_in's output is
 * pushed on the skip stack (down_block_res_samples). The mid block is resnet, transformer,
 * resnet. Up block i (level n−1−i) has layers_per_block[n−1−i] + 1 resnets on
 * cat([h, skips.pop()], dim=1), each followed by a transformer in CrossAttnUpBlock2D, then an
 * Upsample2D except in the last block. Heads and transformer depths of the up path are the down
 * lists reversed. Tensor names and module order are those of the state dict
 * (shared/spec/sd_turbo_tensors.json for SD-Turbo). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/unet_internal.h"
#include "models/weights.h"
#include "nn/lora.h"   /* defines: nn_lora_scale */

typedef struct {
    sdpo_unet *u;
    int tensors_cap;
    int units_cap;
    int *skips;          /* skip stack (slot indices) */
    int n_skips;
    int cur;             /* slot holding the current activation */
} builder;

sdpo_unet_options sdpo_unet_options_default(void) {
    return (sdpo_unet_options){.lora_rank = 4, .lora_alpha = 4.0, .train_base = 0};
}

/* ---------------------------------------------------------------------------------------------
 * registration */

static sdpo_status reg(builder *b, unet_tensor *t, const char *prefix, const char *suffix,
                       int ndim, const int64_t *shape, int trainable) {
    sdpo_unet *u = b->u;
    char name[160];
    snprintf(name, sizeof name, "%s.%s", prefix, suffix);
    if (u->n_tensors == b->tensors_cap) {
        int cap = b->tensors_cap ? 2 * b->tensors_cap : 1024;
        unet_tensor **grown = realloc(u->tensors, (size_t)cap * sizeof *grown);
        if (!grown) return sdpo_fail(SDPO_ERR_NOMEM, "unet: cannot grow the tensor list");
        u->tensors = grown;
        b->tensors_cap = cap;
    }
    sdpo_status st = nn_params_add(&u->params, name, ndim, shape, trainable);
    if (st) return st;
    *t = (unet_tensor){.index = u->params.count - 1};
    u->tensors[u->n_tensors++] = t;
    return SDPO_OK;
}

static sdpo_status reg_norm(builder *b, unet_norm *n, const char *prefix, int C) {
    const int tr = b->u->opt.train_base;
    sdpo_status st = reg(b, &n->w, prefix, "weight", 1, (int64_t[]){C}, tr);
    return st ? st : reg(b, &n->b, prefix, "bias", 1, (int64_t[]){C}, tr);
}

static sdpo_status reg_conv(builder *b, unet_conv *c, const char *prefix, int C_in, int C_out,
                            int k, int stride, int pad_lo, int pad_hi) {
    const int tr = b->u->opt.train_base;
    *c = (unet_conv){.C_in = C_in, .C_out = C_out, .k = k, .stride = stride, .pad_lo = pad_lo,
                     .pad_hi = pad_hi};
    sdpo_status st = reg(b, &c->w, prefix, "weight", 4, (int64_t[]){C_out, C_in, k, k}, tr);
    return st ? st : reg(b, &c->b, prefix, "bias", 1, (int64_t[]){C_out}, tr);
}

static void absent(unet_tensor *t) { *t = (unet_tensor){.index = -1}; }

/* A Linear [C_out, C_in] (+ bias), with a LoRA adapter when `lora` and the model has one. */
static sdpo_status reg_linear(builder *b, unet_linear *l, const char *prefix, int C_in, int C_out,
                              int bias, int lora) {
    const sdpo_unet *u = b->u;
    const int tr = u->opt.train_base, r = u->opt.lora_rank;
    *l = (unet_linear){.C_in = C_in, .C_out = C_out};
    absent(&l->b);
    absent(&l->down);
    absent(&l->up);
    sdpo_status st = reg(b, &l->w, prefix, "weight", 2, (int64_t[]){C_out, C_in}, tr);
    if (!st && bias) st = reg(b, &l->b, prefix, "bias", 1, (int64_t[]){C_out}, tr);
    if (!st && lora && r > 0) {
        st = reg(b, &l->down, prefix, "lora_A.weight", 2, (int64_t[]){r, C_in}, 1);
        if (!st) st = reg(b, &l->up, prefix, "lora_B.weight", 2, (int64_t[]){C_out, r}, 1);
    }
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * units and slots */

static int new_slot(builder *b, int C, int level, int producer) {
    sdpo_unet *u = b->u;
    u->slots[u->n_slots] = (unet_slot){.C = C, .level = level, .producer = producer};
    return u->n_slots++;
}

/* A unit reading the current slot and producing a new one of C_out channels at out_level. */
static unet_unit *add_unit(builder *b, unet_unit_kind kind, const char *name, int C_out,
                           int out_level) {
    sdpo_unet *u = b->u;
    NN_ASSERT(u->n_units < b->units_cap);
    unet_unit *un = &u->units[u->n_units];
    *un = (unet_unit){.kind = kind, .in_slot = b->cur, .skip_slot = -1, .out_slot = -1,
                      .C_in = u->slots[b->cur].C, .C_out = C_out,
                      .level = u->slots[b->cur].level, .trainable = u->opt.train_base};
    snprintf(un->name, sizeof un->name, "%s", name);
    absent(&un->shortcut.w);
    absent(&un->shortcut.b);
    if (kind != UNET_OUT) {
        un->out_slot = new_slot(b, C_out, out_level, u->n_units);
        b->cur = un->out_slot;
    }
    u->n_units++;
    return un;
}

static void push_skip(builder *b) {
    b->u->slots[b->cur].is_skip = 1;
    b->skips[b->n_skips++] = b->cur;
}

static sdpo_status check_groups(const builder *b, int C, const char *module) {
    const sdpo_unet_config *cfg = &b->u->cfg;
    if (C % cfg->norm_num_groups == 0) return SDPO_OK;
    return sdpo_fail(SDPO_ERR_FORMAT, "%s: key 'norm_num_groups': %d groups do not divide the %d "
                     "channels of %s", cfg->path, cfg->norm_num_groups, C, module);
}

/* ResnetBlock2D (resnet.py) on the current slot, or on cat([current, skip]) when skip ≥ 0. */
static sdpo_status add_resnet(builder *b, const char *name, int C_out, int skip) {
    sdpo_unet *u = b->u;
    const int T = u->cfg.time_embed_dim;
    const int C_skip = skip >= 0 ? u->slots[skip].C : 0;
    unet_unit *un = add_unit(b, UNET_RESNET, name, C_out, u->slots[b->cur].level);
    un->skip_slot = skip;
    un->C_skip = C_skip;
    un->C_in += C_skip;
    char p[96];
    sdpo_status st;
    snprintf(p, sizeof p, "%s.norm1", name);
    if ((st = check_groups(b, un->C_in, p)) || (st = reg_norm(b, &un->norm, p, un->C_in))) return st;
    snprintf(p, sizeof p, "%s.conv1", name);
    if ((st = reg_conv(b, &un->conv, p, un->C_in, C_out, 3, 1, 1, 1))) return st;
    snprintf(p, sizeof p, "%s.time_emb_proj", name);
    if ((st = reg_linear(b, &un->temb, p, T, C_out, 1, 0))) return st;
    snprintf(p, sizeof p, "%s.norm2", name);
    if ((st = check_groups(b, C_out, p)) || (st = reg_norm(b, &un->norm2, p, C_out))) return st;
    snprintf(p, sizeof p, "%s.conv2", name);
    if ((st = reg_conv(b, &un->conv2, p, C_out, C_out, 3, 1, 1, 1))) return st;
    if (un->C_in != C_out) {   /* use_in_shortcut: 1×1 conv_shortcut */
        snprintf(p, sizeof p, "%s.conv_shortcut", name);
        if ((st = reg_conv(b, &un->shortcut, p, un->C_in, C_out, 1, 1, 0, 0))) return st;
    }
    return SDPO_OK;
}

/* Transformer2DModel (continuous input, linear projections) with n BasicTransformerBlocks. */
static sdpo_status add_xformer(builder *b, const char *name, int heads, int n) {
    sdpo_unet *u = b->u;
    const int C = u->slots[b->cur].C, D = u->cfg.cross_attention_dim;
    unet_unit *un = add_unit(b, UNET_XFORMER, name, C, u->slots[b->cur].level);
    if (C % heads != 0)
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: key 'attention_head_dim': %d heads do not divide "
                         "the %d channels of %s", u->cfg.path, heads, C, name);
    un->heads = heads;
    un->n_blocks = n;
    un->trainable = u->opt.train_base || u->opt.lora_rank > 0;
    un->blocks = calloc((size_t)n, sizeof *un->blocks);
    un->s = calloc((size_t)n + 1, sizeof *un->s);
    if (!un->blocks || !un->s) return sdpo_fail(SDPO_ERR_NOMEM, "unet: %s: out of memory", name);
    char p[160];
    sdpo_status st;
    snprintf(p, sizeof p, "%s.norm", name);
    if ((st = check_groups(b, C, p)) || (st = reg_norm(b, &un->norm, p, C))) return st;
    snprintf(p, sizeof p, "%s.proj_in", name);
    if ((st = reg_linear(b, &un->proj_in, p, C, C, 1, 0))) return st;
    for (int k = 0; k < n; k++) {
        unet_tblock *tb = &un->blocks[k];
        char tp[128];
        snprintf(tp, sizeof tp, "%s.transformer_blocks.%d", name, k);
        struct { unet_norm *norm; const char *nname; unet_linear *q, *k, *v, *o; const char *attn;
                 int kv_in; } att[2] = {
            {&tb->norm1, "norm1", &tb->q1, &tb->k1, &tb->v1, &tb->o1, "attn1", C},
            {&tb->norm2, "norm2", &tb->q2, &tb->k2, &tb->v2, &tb->o2, "attn2", D}};
        for (int a = 0; a < 2; a++) {
            snprintf(p, sizeof p, "%s.%s", tp, att[a].nname);
            if ((st = reg_norm(b, att[a].norm, p, C))) return st;
            snprintf(p, sizeof p, "%s.%s.to_q", tp, att[a].attn);
            if ((st = reg_linear(b, att[a].q, p, C, C, 0, 1))) return st;
            snprintf(p, sizeof p, "%s.%s.to_k", tp, att[a].attn);
            if ((st = reg_linear(b, att[a].k, p, att[a].kv_in, C, 0, 1))) return st;
            snprintf(p, sizeof p, "%s.%s.to_v", tp, att[a].attn);
            if ((st = reg_linear(b, att[a].v, p, att[a].kv_in, C, 0, 1))) return st;
            snprintf(p, sizeof p, "%s.%s.to_out.0", tp, att[a].attn);
            if ((st = reg_linear(b, att[a].o, p, C, C, 1, 1))) return st;
        }
        snprintf(p, sizeof p, "%s.norm3", tp);
        if ((st = reg_norm(b, &tb->norm3, p, C))) return st;
        snprintf(p, sizeof p, "%s.ff.net.0.proj", tp);   /* GEGLU: Linear(C, 2·4C) */
        if ((st = reg_linear(b, &tb->ff_in, p, C, 8 * C, 1, 0))) return st;
        snprintf(p, sizeof p, "%s.ff.net.2", tp);
        if ((st = reg_linear(b, &tb->ff_out, p, 4 * C, C, 1, 0))) return st;
    }
    snprintf(p, sizeof p, "%s.proj_out", name);
    return reg_linear(b, &un->proj_out, p, C, C, 1, 0);
}

static sdpo_status add_conv_unit(builder *b, unet_unit_kind kind, const char *name,
                                 const char *conv_name, int C_out, int out_level, int k,
                                 int stride, int pad_lo, int pad_hi) {
    unet_unit *un = add_unit(b, kind, name, C_out, out_level);
    return reg_conv(b, &un->conv, conv_name, un->C_in, C_out, k, stride, pad_lo, pad_hi);
}

/* Units an upper bound can be computed for before building (the array never moves). */
static int count_units(const sdpo_unet_config *c) {
    int n = 2 + 3;   /* conv_in, out; mid resnet, transformer, resnet */
    for (int i = 0; i < c->n_levels; i++)
        n += c->layers_per_block[i] * 2 + (c->layers_per_block[i] + 1) * 2 + 2;
    return n;
}

static sdpo_status build(builder *b) {
    sdpo_unet *u = b->u;
    const sdpo_unet_config *c = &u->cfg;
    const int n = c->n_levels, *boc = c->block_out_channels, T = c->time_embed_dim;
    char name[96];
    sdpo_status st;

    b->cur = new_slot(b, c->in_channels, 0, -1);
    if ((st = add_conv_unit(b, UNET_CONV_IN, "conv_in", "conv_in", boc[0], 0, 3, 1, 1, 1)))
        return st;
    push_skip(b);
    if ((st = reg_linear(b, &u->time->l1, "time_embedding.linear_1", boc[0], T, 1, 0)) ||
        (st = reg_linear(b, &u->time->l2, "time_embedding.linear_2", T, T, 1, 0)))
        return st;

    for (int i = 0; i < n; i++) {
        for (int j = 0; j < c->layers_per_block[i]; j++) {
            snprintf(name, sizeof name, "down_blocks.%d.resnets.%d", i, j);
            if ((st = add_resnet(b, name, boc[i], -1))) return st;
            if (c->down_attn[i]) {
                snprintf(name, sizeof name, "down_blocks.%d.attentions.%d", i, j);
                if ((st = add_xformer(b, name, c->heads[i], c->transformer_layers[i]))) return st;
            }
            push_skip(b);
        }
        if (i < n - 1) {
            /* Downsample2D: padding 1 → conv pad 1; padding 0 → F.pad(0,1,0,1), conv pad 0 */
            const int pad = c->downsample_padding;
            snprintf(name, sizeof name, "down_blocks.%d.downsamplers.0", i);
            char conv[128];
            snprintf(conv, sizeof conv, "%s.conv", name);
            if ((st = add_conv_unit(b, UNET_DOWN, name, conv, boc[i], i + 1, 3, 2, pad,
                                    pad ? pad : 1)))
                return st;
            push_skip(b);
        }
    }

    if ((st = add_resnet(b, "mid_block.resnets.0", boc[n - 1], -1)) ||
        (st = add_xformer(b, "mid_block.attentions.0", c->heads[n - 1],
                          c->transformer_layers[n - 1])) ||
        (st = add_resnet(b, "mid_block.resnets.1", boc[n - 1], -1)))
        return st;

    for (int i = 0; i < n; i++) {
        const int lvl = n - 1 - i, C = boc[lvl];
        const int n_res = c->layers_per_block[lvl] + 1;
        /* diffusers: the last resnet's skip has input_channel = boc[max(lvl − 1, 0)], the others
         * out_channel; the stack must agree or the config is inconsistent */
        const int in_c = boc[lvl > 0 ? lvl - 1 : 0];
        for (int j = 0; j < n_res; j++) {
            const int skip = b->skips[--b->n_skips];
            const int want = j == n_res - 1 ? in_c : C;
            snprintf(name, sizeof name, "up_blocks.%d.resnets.%d", i, j);
            if (u->slots[skip].C != want || u->slots[skip].level != lvl)
                return sdpo_fail(SDPO_ERR_FORMAT, "%s: key 'layers_per_block': the skip read by "
                                 "%s has %d channels at level %d, diffusers expects %d at %d",
                                 c->path, name, u->slots[skip].C, u->slots[skip].level, want, lvl);
            if ((st = add_resnet(b, name, C, skip))) return st;
            if (c->up_attn[i]) {
                snprintf(name, sizeof name, "up_blocks.%d.attentions.%d", i, j);
                if ((st = add_xformer(b, name, c->heads[lvl], c->transformer_layers[lvl])))
                    return st;
            }
        }
        if (i < n - 1) {   /* Upsample2D: nearest ×2, conv 3×3 pad 1 */
            snprintf(name, sizeof name, "up_blocks.%d.upsamplers.0", i);
            char conv[128];
            snprintf(conv, sizeof conv, "%s.conv", name);
            if ((st = add_conv_unit(b, UNET_UP, name, conv, C, lvl - 1, 3, 1, 1, 1))) return st;
        }
    }

    if ((st = check_groups(b, boc[0], "conv_norm_out"))) return st;
    unet_unit *out = add_unit(b, UNET_OUT, "conv_out", c->out_channels, 0);
    if ((st = reg_norm(b, &out->norm, "conv_norm_out", boc[0]))) return st;
    return reg_conv(b, &out->conv, "conv_out", boc[0], c->out_channels, 3, 1, 1, 1);
}

sdpo_status sdpo_unet_init(sdpo_unet *u, const sdpo_unet_config *cfg,
                           const sdpo_unet_options *opt) {
    memset(u, 0, sizeof *u);
    if (opt->lora_rank < 0 || opt->lora_alpha < 0)
        return sdpo_fail(SDPO_ERR_ARG, "unet: LoRA rank %d / alpha %g must be >= 0",
                         opt->lora_rank, opt->lora_alpha);
    u->cfg = *cfg;
    u->opt = *opt;
    if (u->opt.lora_rank > 0 && u->opt.lora_alpha == 0) u->opt.lora_alpha = u->opt.lora_rank;
    u->lora_scale = u->opt.lora_rank > 0 ? nn_lora_scale(u->opt.lora_alpha, u->opt.lora_rank)
                                         : 0.0f;
    nn_params_init(&u->params);
    const int cap = count_units(cfg);
    builder b = {.u = u, .units_cap = cap};
    u->units = calloc((size_t)cap, sizeof *u->units);
    u->slots = calloc((size_t)cap + 1, sizeof *u->slots);
    b.skips = calloc((size_t)cap, sizeof *b.skips);
    u->time = calloc(1, sizeof *u->time);
    u->state = calloc(1, sizeof *u->state);
    sdpo_status st = SDPO_OK;
    if (!u->units || !u->slots || !b.skips || !u->time || !u->state)
        st = sdpo_fail(SDPO_ERR_NOMEM, "unet: out of memory building the graph");
    if (!st) st = build(&b);
    free(b.skips);
    if (st) sdpo_unet_free(u);
    return st;
}

void sdpo_unet_free(sdpo_unet *u) {
    for (int i = 0; u->units && i < u->n_units; i++) {
        free(u->units[i].blocks);
        free(u->units[i].s);
    }
    free(u->units);
    free(u->slots);
    free(u->tensors);
    free(u->time);
    free(u->state);
    nn_params_free(&u->params);
    memset(u, 0, sizeof *u);
}

sdpo_status sdpo_unet_finalize(sdpo_unet *u) {
    sdpo_status st = nn_params_finalize(&u->params);
    if (st) return st;
    for (int i = 0; i < u->n_tensors; i++) {
        unet_tensor *t = u->tensors[i];
        nn_param_view v = nn_params_at(&u->params, t->index);
        t->w = v.value.data;
        t->g = v.grad;
    }
    return SDPO_OK;
}

static int is_lora_name(const char *name) {
    return strstr(name, ".lora_A.weight") || strstr(name, ".lora_B.weight");
}

sdpo_status sdpo_unet_load_weights(sdpo_unet *u, const char *path) {
    const sdpo_weights_filter f = {.not_in_file = is_lora_name};
    return sdpo_weights_load(&u->params, path, &f);
}

size_t sdpo_unet_param_count(const sdpo_unet *u) {
    size_t n = 0;
    for (int i = 0; i < u->params.count; i++) n += u->params.info[i].numel;
    return n;
}

size_t sdpo_unet_trainable_count(const sdpo_unet *u) {
    size_t n = 0;
    for (int i = 0; i < u->params.count; i++)
        if (u->params.info[i].trainable) n += u->params.info[i].numel;
    return n;
}

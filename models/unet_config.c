/* models/unet_config.c — unet/config.json → sdpo_unet_config (see unet.h).
 *
 * Mirrors how diffusers UNet2DConditionModel.__init__ (unet_2d_condition.py) reads its config,
 * for the subset this port implements (the SD-2.x family: SD-Turbo, SD 2.1), and refuses the
 * rest by key instead of computing something else:
 *   - attention_head_dim holds the number of heads (diffusers: num_attention_heads =
 *     num_attention_heads or attention_head_dim; a non-null num_attention_heads is an error in
 *     diffusers too). An int applies to every level; a list gives one per down level, the up
 *     path uses it reversed.
 *   - layers_per_block / transformer_layers_per_block: int or per-level list.
 *   - upcast_attention only changes the dtype of fp16 attention; everything here is F32, so both
 *     values are accepted.
 * An absent key (or null) takes diffusers' default, except for the keys that define tensor
 * shapes, which must be present. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "models/config.h"
#include "models/unet.h"

static sdpo_status bad(const sdpo_config *c, const char *key, const char *why) {
    return sdpo_fail(SDPO_ERR_FORMAT, "%s: key '%s': %s", c->path, key, why);
}

/* Keys whose only supported value is null/absent. */
static sdpo_status require_null(const sdpo_config *c, const char *key, const char *feature) {
    if (!sdpo_config_has(c, key)) return SDPO_OK;
    return sdpo_fail(SDPO_ERR_FORMAT, "%s: key '%s': %s is not supported (only null)", c->path,
                     key, feature);
}

static sdpo_status require_string(const sdpo_config *c, const char *key, const char *def,
                                  const char *want) {
    const char *v;
    sdpo_status st = sdpo_config_string_or(c, key, def, &v);
    if (st) return st;
    if (strcmp(v, want) != 0)
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: key '%s': \"%s\" is not supported (only \"%s\")",
                         c->path, key, v, want);
    return SDPO_OK;
}

static sdpo_status require_bool(const sdpo_config *c, const char *key, int def, int want) {
    int v;
    sdpo_status st = sdpo_config_bool_or(c, key, def, &v);
    if (st) return st;
    if (v != want)
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: key '%s': %s is not supported (only %s)", c->path,
                         key, v ? "true" : "false", want ? "true" : "false");
    return SDPO_OK;
}

static sdpo_status require_number(const sdpo_config *c, const char *key, double want) {
    double v;
    sdpo_status st = sdpo_config_double_or(c, key, want, &v);
    if (st) return st;
    if (v != want)
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: key '%s': %g is not supported (only %g)", c->path,
                         key, v, want);
    return SDPO_OK;
}

/* An int or a list of n_levels ints, each ≥ 1, into out[n_levels]. */
static sdpo_status per_level(const sdpo_config *c, const char *key, int n_levels, int *out) {
    int n;
    sdpo_status st = sdpo_config_int_array(c, key, out, SDPO_UNET_MAX_LEVELS, &n, 1);
    if (st) return st;
    if (n == 1)
        for (int i = 1; i < n_levels; i++) out[i] = out[0];
    else if (n != n_levels) {
        char why[96];
        snprintf(why, sizeof why, "%d entries, but block_out_channels has %d", n, n_levels);
        return bad(c, key, why);
    }
    for (int i = 0; i < n_levels; i++)
        if (out[i] < 1) return bad(c, key, "every entry must be >= 1");
    return SDPO_OK;
}

static sdpo_status block_types(const sdpo_config *c, const char *key, int n_levels,
                               const char *attn_name, const char *plain_name, int *attn) {
    const char *names[SDPO_UNET_MAX_LEVELS];
    int n;
    sdpo_status st = sdpo_config_string_array(c, key, names, SDPO_UNET_MAX_LEVELS, &n);
    if (st) return st;
    if (n != n_levels) {
        char why[96];
        snprintf(why, sizeof why, "%d entries, but block_out_channels has %d", n, n_levels);
        return bad(c, key, why);
    }
    for (int i = 0; i < n; i++) {
        if (!strcmp(names[i], attn_name)) attn[i] = 1;
        else if (!strcmp(names[i], plain_name)) attn[i] = 0;
        else
            return sdpo_fail(SDPO_ERR_FORMAT, "%s: key '%s': block type \"%s\" is not supported "
                             "(only %s and %s)", c->path, key, names[i], attn_name, plain_name);
    }
    return SDPO_OK;
}

/* Keys that select features outside the SD-2.x UNet; absent or the listed value is fine. */
static sdpo_status check_unsupported(const sdpo_config *c) {
    static const struct { const char *key, *feature; } nulls[] = {
        {"num_attention_heads", "num_attention_heads (diffusers itself refuses it; heads come "
                                "from attention_head_dim)"},
        {"class_embed_type", "a class embedding"},
        {"num_class_embeds", "a class embedding"},
        {"addition_embed_type", "an addition embedding"},
        {"addition_time_embed_dim", "an addition embedding"},
        {"projection_class_embeddings_input_dim", "a class embedding projection"},
        {"encoder_hid_dim", "an encoder_hid_proj"},
        {"encoder_hid_dim_type", "an encoder_hid_proj"},
        {"time_cond_proj_dim", "timestep conditioning (LCM)"},
        {"time_embedding_dim", "a custom time embedding width"},
        {"time_embedding_act_fn", "a time embedding activation"},
        {"timestep_post_act", "a post-activation of the time embedding"},
        {"cross_attention_norm", "a cross-attention norm"},
        {"reverse_transformer_layers_per_block", "an explicit up-path transformer depth"},
    };
    sdpo_status st;
    for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++)
        if ((st = require_null(c, nulls[i].key, nulls[i].feature))) return st;
    if ((st = require_string(c, "_class_name", "UNet2DConditionModel", "UNet2DConditionModel")) ||
        (st = require_string(c, "act_fn", "silu", "silu")) ||
        (st = require_string(c, "time_embedding_type", "positional", "positional")) ||
        (st = require_string(c, "resnet_time_scale_shift", "default", "default")) ||
        (st = require_string(c, "attention_type", "default", "default")) ||
        (st = require_string(c, "mid_block_type", "UNetMidBlock2DCrossAttn",
                             "UNetMidBlock2DCrossAttn")) ||
        (st = require_bool(c, "use_linear_projection", 0, 1)) ||
        (st = require_bool(c, "only_cross_attention", 0, 0)) ||
        (st = require_bool(c, "mid_block_only_cross_attention", 0, 0)) ||
        (st = require_bool(c, "dual_cross_attention", 0, 0)) ||
        (st = require_bool(c, "center_input_sample", 0, 0)) ||
        (st = require_bool(c, "resnet_skip_time_act", 0, 0)) ||
        (st = require_bool(c, "class_embeddings_concat", 0, 0)) ||
        (st = require_number(c, "resnet_out_scale_factor", 1.0)) ||
        (st = require_number(c, "mid_block_scale_factor", 1.0)) ||
        (st = require_number(c, "dropout", 0.0)) ||
        (st = require_number(c, "conv_in_kernel", 3.0)) ||
        (st = require_number(c, "conv_out_kernel", 3.0)))
        return st;
    int upcast;   /* any value: F32 attention is already "upcast" */
    return sdpo_config_bool_or(c, "upcast_attention", 0, &upcast);
}

static sdpo_status parse(const sdpo_config *c, sdpo_unet_config *cfg) {
    sdpo_status st;
    if ((st = check_unsupported(c))) return st;
    if ((st = sdpo_config_int(c, "in_channels", &cfg->in_channels)) ||
        (st = sdpo_config_int(c, "out_channels", &cfg->out_channels)) ||
        (st = sdpo_config_int_or(c, "sample_size", 64, &cfg->sample_size)) ||
        (st = sdpo_config_int_array(c, "block_out_channels", cfg->block_out_channels,
                                    SDPO_UNET_MAX_LEVELS, &cfg->n_levels, 0)))
        return st;
    if (cfg->in_channels < 1) return bad(c, "in_channels", "must be >= 1");
    if (cfg->out_channels < 1) return bad(c, "out_channels", "must be >= 1");
    const int n = cfg->n_levels;
    if (n < 1) return bad(c, "block_out_channels", "must not be empty");
    for (int i = 0; i < n; i++)
        if (cfg->block_out_channels[i] < 1) return bad(c, "block_out_channels", "every entry must be >= 1");
    if ((st = per_level(c, "layers_per_block", n, cfg->layers_per_block)) ||
        (st = per_level(c, "attention_head_dim", n, cfg->heads)))
        return st;
    if (!sdpo_config_has(c, "transformer_layers_per_block"))
        for (int i = 0; i < n; i++) cfg->transformer_layers[i] = 1;
    else if ((st = per_level(c, "transformer_layers_per_block", n, cfg->transformer_layers)))
        return st;
    if ((st = block_types(c, "down_block_types", n, "CrossAttnDownBlock2D", "DownBlock2D",
                          cfg->down_attn)) ||
        (st = block_types(c, "up_block_types", n, "CrossAttnUpBlock2D", "UpBlock2D",
                          cfg->up_attn)))
        return st;
    if ((st = sdpo_config_int(c, "cross_attention_dim", &cfg->cross_attention_dim))) return st;
    if (cfg->cross_attention_dim < 1) return bad(c, "cross_attention_dim", "must be >= 1");
    if ((st = sdpo_config_int(c, "norm_num_groups", &cfg->norm_num_groups))) return st;
    if (cfg->norm_num_groups < 1) return bad(c, "norm_num_groups", "must be >= 1");
    double eps, shift;
    int flip;
    if ((st = sdpo_config_double_or(c, "norm_eps", 1e-5, &eps)) ||
        (st = sdpo_config_bool_or(c, "flip_sin_to_cos", 1, &flip)) ||
        (st = sdpo_config_double_or(c, "freq_shift", 0.0, &shift)) ||
        (st = sdpo_config_int_or(c, "downsample_padding", 1, &cfg->downsample_padding)))
        return st;
    if (!(eps > 0) || !isfinite(eps)) return bad(c, "norm_eps", "must be a positive number");
    if (cfg->downsample_padding != 0 && cfg->downsample_padding != 1)
        return bad(c, "downsample_padding", "only 0 and 1 are supported");
    if ((double)(cfg->block_out_channels[0] / 2) == shift)
        return bad(c, "freq_shift", "equals half the embedding width (division by zero)");
    cfg->norm_eps = (float)eps;
    cfg->flip_sin_to_cos = flip;
    cfg->freq_shift = (float)shift;
    cfg->time_embed_dim = 4 * cfg->block_out_channels[0];
    return SDPO_OK;
}

sdpo_status sdpo_unet_config_load(const char *path, sdpo_unet_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    if (strlen(path) >= sizeof cfg->path)
        return sdpo_fail(SDPO_ERR_ARG, "%s: path too long", path);
    snprintf(cfg->path, sizeof cfg->path, "%s", path);
    sdpo_config c;
    sdpo_status st = sdpo_config_load(path, &c);
    if (st) return st;
    st = parse(&c, cfg);
    sdpo_config_free(&c);
    return st;
}

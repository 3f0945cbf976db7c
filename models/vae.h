/* models/vae.h — SD-Turbo's VAE (diffusers AutoencoderKL with DownEncoderBlock2D /
 * UpDecoderBlock2D), forward only: decoder (latents → images) and encoder (images → posterior
 * mean and log-variance).
 *
 * The architecture comes from vae/config.json (block_out_channels, layers_per_block,
 * norm_num_groups, latent_channels, …); SD-Turbo's is [128, 256, 512, 512], 2, 32, 4. From
 * diffusers' autoencoder_kl.py and vae.py (GroupNorm eps 1e-6 everywhere, SiLU):
 *
 *   decode(z):  z = post_quant_conv(z)                                  1×1, L → L
 *               h = conv_in(z)                                          3×3, L → C[-1]
 *               h = mid: Res → Attn (GN, one head of C[-1], q/k/v/out Linear + bias,
 *                   + residual) → Res
 *               for i, C in reversed(block_out_channels):               UpDecoderBlock2D
 *                   (layers_per_block + 1) × Res(→ C); nearest ×2 + conv 3×3 unless last
 *               image = conv_out(SiLU(GN(h)))                           3×3, C[0] → out
 *   encode(x):  h = conv_in(x); per DownEncoderBlock2D: layers_per_block × Res(→ C), then
 *               (unless last) F.pad(0,1,0,1) + conv 3×3 stride 2; mid; GN, SiLU,
 *               conv_out (→ 2L); moments = quant_conv(h); mean, logvar = split(moments);
 *               logvar = clamp(logvar, −30, 20)                  (DiagonalGaussianDistribution)
 *   Res(x):     h = conv1(SiLU(GN1 x)); h = conv2(SiLU(GN2 h)); out = shortcut(x) + h,
 *               shortcut = 1×1 conv when channels change.
 *
 * The SD pipeline decodes its latents x0 as vae.decode(x0 / scaling_factor) and returns
 * (image / 2 + 0.5).clamp(0, 1); sdpo_vae_decode_opts selects both steps. force_upcast is moot:
 * everything runs in F32.
 *
 * Batch elements are processed one at a time (GroupNorm and attention never mix them), so the
 * activation arena is sized for one image: three buffers of the largest activation (SD-Turbo at
 * 512×512: 256 channels at 512², 268 MB each), the mid-block attention's q/k/v, and conv/attention
 * scratch; sdpo_vae_*_arena_bytes() give the exact size and the forwards allocate nothing else. */
#ifndef SDPO_MODELS_VAE_H
#define SDPO_MODELS_VAE_H

#include <stddef.h>

#include "core/error.h"
#include "models/config.h"
#include "models/model_dir.h"
#include "nn/arena.h"
#include "nn/context.h"
#include "nn/params.h"

#define SDPO_VAE_MAX_BLOCKS 8

typedef struct {
    int in_channels, out_channels, latent_channels;
    int n_blocks;                                /* len(block_out_channels) */
    int block_out_channels[SDPO_VAE_MAX_BLOCKS];
    int layers_per_block;
    int norm_num_groups;
    int mid_block_add_attention;                 /* default true */
    int use_quant_conv, use_post_quant_conv;     /* default true */
    float scaling_factor;                        /* 0.18215 for SD 1/2 */
    float shift_factor;                          /* 0 when null (SD 1/2) */
} sdpo_vae_config;

/* From an AutoencoderKL config.json. Errors name the file and key: act_fn other than "silu",
 * block types other than DownEncoderBlock2D / UpDecoderBlock2D, channel counts that
 * norm_num_groups does not divide. */
sdpo_status sdpo_vae_config_load(const sdpo_config *cfg, sdpo_vae_config *out);

/* Which halves to register / load. */
enum { SDPO_VAE_ENCODER = 1, SDPO_VAE_DECODER = 2, SDPO_VAE_BOTH = 3 };

/* Registers the tensors of the selected parts (frozen), named and shaped as diffusers'
 * state_dict (sd_turbo_tensors.json): encoder.* and quant_conv.* / post_quant_conv.* and
 * decoder.*. */
sdpo_status sdpo_vae_register(nn_params *p, const sdpo_vae_config *cfg, int parts);

typedef struct {
    const float *w, *b;   /* conv [Cout, Cin, k, k], [Cout]; norm [C], [C] */
} sdpo_vae_wb;

typedef struct {
    int c_in, c_out;
    sdpo_vae_wb norm1, conv1, norm2, conv2, shortcut;   /* shortcut.w NULL when c_in == c_out */
} sdpo_vae_resnet;

typedef struct {
    sdpo_vae_resnet res[2];
    sdpo_vae_wb attn_norm, to_q, to_k, to_v, to_out;   /* Linear [C, C], [C]; attn_norm.w NULL
                                                          without mid-block attention */
} sdpo_vae_mid;

typedef struct {
    sdpo_vae_wb conv_in, conv_norm_out, conv_out;
    sdpo_vae_mid mid;
    int n_res;                 /* resnets per block: layers_per_block (+1 in the decoder) */
    sdpo_vae_resnet *res;      /* [n_blocks × n_res], block-major, in execution order */
    sdpo_vae_wb *sampler;      /* [n_blocks]: down/upsampler conv, w NULL for the last block */
    sdpo_vae_wb quant;         /* encoder: quant_conv; decoder: post_quant_conv (w NULL if unused) */
} sdpo_vae_coder;

typedef struct {
    sdpo_vae_config cfg;
    int parts;
    sdpo_vae_coder enc, dec;   /* views into the registry */
} sdpo_vae;

sdpo_status sdpo_vae_bind(sdpo_vae *v, const nn_params *p, const sdpo_vae_config *cfg, int parts);
void sdpo_vae_unbind(sdpo_vae *v);

/* A diffusers vae/ folder: config, registry of the selected parts (owned by *p), strict load of
 * diffusion_pytorch_model[.fp16].safetensors (tensors of unselected parts are skipped), bind. */
sdpo_status sdpo_vae_load(const sdpo_model_component *c, int parts, nn_params *p, sdpo_vae *v);

typedef struct {
    int unscale;         /* 1: inputs are pipeline latents x0: decode(x0 / scaling_factor
                            + shift_factor); 0: inputs are vae.decode's own input z */
    int to_unit_range;   /* 1: return clamp(image / 2 + 0.5, 0, 1); 0: vae.decode(z).sample */
} sdpo_vae_decode_opts;

/* Arena bytes to decode h×w latents (one image at a time, any batch size). */
size_t sdpo_vae_decode_arena_bytes(const nn_ctx *ctx, const sdpo_vae *v, int h, int w);
/* latents [B, L, h, w] → images [B, out_channels, h·f, w·f], f = 2^(n_blocks − 1). */
sdpo_status sdpo_vae_decode(nn_ctx *ctx, const sdpo_vae *v, nn_arena *arena, float *images,
                            const float *latents, int B, int h, int w,
                            const sdpo_vae_decode_opts *opts);

/* images = clamp(images / 2 + 0.5, 0, 1) in place, n elements: the pipeline's postprocessing
 * (what to_unit_range applies). */
void sdpo_vae_postprocess(nn_ctx *ctx, float *images, size_t n);

/* Arena bytes to encode H×W images (H, W multiples of f). */
size_t sdpo_vae_encode_arena_bytes(const nn_ctx *ctx, const sdpo_vae *v, int H, int W);
/* images [B, in_channels, H, W] in [−1, 1] → mean, logvar [B, L, H/f, W/f] (logvar may be
 * NULL); the SD latent is mean · scaling_factor. */
sdpo_status sdpo_vae_encode(nn_ctx *ctx, const sdpo_vae *v, nn_arena *arena, float *mean,
                            float *logvar, const float *images, int B, int H, int W);

#endif

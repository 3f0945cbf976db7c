/* models/vit.h — the reward models' ViT image towers (forward only, fp32, CPU reference).
 *
 * One pre-LN vision transformer covers the three towers of architectures.md §3.0:
 *
 *   x = conv_patch(pixels)                    [B, D, g, g] → tokens [B, g², D] (row-major grid)
 *   x = cat(cls, tokens) + pos                [B, L = 1 + g², D]
 *   x = ln_pre(x)                             CLIP only
 *   per layer: x += out(MHA(LN1 x)); x += fc2(act(fc1(LN2 x)))
 *   CLIP:  out [B, E]       = ln_post(x[:, 0]) @ proj            (image_embeds, not normalised)
 *   BLIP:  out [B, L, D]    = norm(x)                            (all tokens, for cross-attention)
 *
 * Variants and the checkpoints they load (key names exactly as in the files):
 *   SDPO_VIT_HF_CLIP   transformers CLIPVisionTransformer + CLIPModel.visual_projection
 *                      ("vision_model.embeddings.patch_embedding.weight", separate q/k/v_proj,
 *                      "vision_model.pre_layrnorm" (sic), "visual_projection.weight" [E, D]):
 *                      OpenAI CLIP ViT-L/14 (QuickGELU, aesthetic) and PickScore's ViT-H/14 (GELU).
 *   SDPO_VIT_OPEN_CLIP open_clip VisionTransformer ("visual.conv1.weight", fused
 *                      "attn.in_proj_weight" [3D, D] with rows q | k | v, "attn.out_proj",
 *                      "mlp.c_fc"/"mlp.c_proj", "ln_1"/"ln_2", "visual.proj" [D, E] used as x @ proj):
 *                      HPSv2's ViT-H/14 (GELU).
 *   SDPO_VIT_BLIP      BLIP's timm-style VisionTransformer (blip/models/vit.py, as vendored by
 *                      ImageReward): "patch_embed.proj" conv WITH bias, "cls_token" [1, 1, D],
 *                      "pos_embed" [1, L, D], fused "attn.qkv" [3D, D] + bias, "attn.proj",
 *                      LN eps 1e-6, no ln_pre, final "norm" on every token, no projection.
 * The prefix (e.g. "vision_model.", "visual.", "blip.visual_encoder.") is part of the config,
 * so the same code loads a tower from a full-model file. Attention is nn/attention.h with
 * heads of width D/heads and scale 1/√dh in every variant. */
#ifndef SDPO_MODELS_VIT_H
#define SDPO_MODELS_VIT_H

#include "core/error.h"
#include "models/config.h"
#include "nn/context.h"
#include "nn/params.h"

typedef enum { SDPO_VIT_HF_CLIP = 0, SDPO_VIT_OPEN_CLIP, SDPO_VIT_BLIP } sdpo_vit_layout;

#define SDPO_VIT_PREFIX_MAX 48

typedef struct {
    sdpo_vit_layout layout;
    char prefix[SDPO_VIT_PREFIX_MAX]; /* of every tower tensor; the projection's is separate */
    int image_size, patch_size;
    int width, layers, heads, mlp_dim;
    int quick_gelu;                   /* 1: x·σ(1.702x) (OpenAI CLIP); 0: erf GELU */
    float ln_eps;
    int embed_dim;                    /* CLIP projection width E; 0 for BLIP (no projection) */
} sdpo_vit_config;

/* From a transformers CLIPVisionConfig (the "vision_config" section of a CLIPModel config.json;
 * absent keys take transformers' defaults) plus the CLIPModel's projection_dim.
 * Layout SDPO_VIT_HF_CLIP, prefix "vision_model.". */
sdpo_status sdpo_vit_config_hf_clip(const sdpo_config *vision, int projection_dim,
                                    sdpo_vit_config *out);
/* From an open_clip model config's "vision_cfg" section (image_size, layers, width, head_width,
 * patch_size, mlp_ratio) and embed_dim; GELU unless quick_gelu. Layout SDPO_VIT_OPEN_CLIP,
 * prefix "visual.". */
sdpo_status sdpo_vit_config_open_clip(const sdpo_config *vision, int embed_dim, int quick_gelu,
                                      sdpo_vit_config *out);

/* From the ImageReward folder's config.json (written by reference/convert_imagereward.py; BLIP
 * hard-codes vit='large' in code, so the converter records it): image_size, vision_patch_size,
 * vision_width, vision_layers, vision_heads, vision_mlp_ratio, vision_layer_norm_eps.
 * Layout SDPO_VIT_BLIP, prefix "blip.visual_encoder.". */
sdpo_status sdpo_vit_config_blip(const sdpo_config *c, sdpo_vit_config *out);

/* Bound weights of one layer. */
typedef struct {
    const float *ln1_w, *ln1_b, *ln2_w, *ln2_b;
    const float *q_w, *k_w, *v_w, *q_b, *k_b, *v_b;   /* [D, D] / [D] (views into fused rows) */
    const float *out_w, *out_b, *fc1_w, *fc1_b, *fc2_w, *fc2_b;
} sdpo_vit_layer;

typedef struct {
    sdpo_vit_config cfg;
    int grid, tokens;                 /* g = image/patch, L = 1 + g² */
    const float *patch_w, *patch_b;   /* [D, 3, p, p], [D] or NULL */
    const float *cls, *pos;           /* [D], [L, D] */
    const float *ln_pre_w, *ln_pre_b, *ln_post_w, *ln_post_b; /* NULL where absent */
    float *proj_t;                    /* [E, D] owned: the projection as a Linear weight */
    sdpo_vit_layer *layer;            /* [layers] */
} sdpo_vit;

/* Checks the config (positive sizes, width % heads == 0, image % patch == 0). */
sdpo_status sdpo_vit_config_check(const sdpo_vit_config *c);

/* Registers every tensor of the tower (frozen) under its checkpoint name. */
sdpo_status sdpo_vit_register(const sdpo_vit_config *c, nn_params *p);

/* Binds the weights of a finalized (and loaded) registry; copies the projection into proj_t.
 * SDPO_ERR_SHAPE naming a missing tensor, SDPO_ERR_NOMEM. */
sdpo_status sdpo_vit_bind(sdpo_vit *v, const sdpo_vit_config *c, const nn_params *p);
void sdpo_vit_free(sdpo_vit *v);

/* Output floats per image: E for CLIP layouts, L·D for BLIP. */
size_t sdpo_vit_out_floats(const sdpo_vit *v);

/* pixels [B, 3, S, S] normalised (rewards/preprocess.h), S = image_size; out [B, E] (CLIP
 * image_embeds) or [B, L, D] (BLIP image_embeds). Activations are allocated per call
 * (SDPO_ERR_NOMEM naming the size). */
sdpo_status sdpo_vit_forward(nn_ctx *ctx, const sdpo_vit *v, int B, const float *pixels,
                             float *out);

#endif

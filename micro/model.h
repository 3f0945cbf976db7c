/* micro/model.h — the micro text-to-image model of issue #8: the pieces that define it besides
 * its config files (data/micro/model/, a diffusers StableDiffusionPipeline folder without a vae:
 * pixel space, see trainers/policy_unet.h).
 *
 *   - Text encoder: a small transformers CLIPTextModel, FROZEN at a seeded random init. SD keeps
 *     its pretrained CLIP frozen too; here nothing pretrained exists, so the UNet learns to read
 *     fixed random features of the caption through its cross-attention (the engine has no text
 *     encoder backward, and the RL stage never trains the text side either). The init is
 *     transformers' CLIPPreTrainedModel._init_weights with initializer_factor 1 and
 *     initializer_range 0.02 (modeling_clip.py): token and position embeddings N(0, 0.02²);
 *     q/k/v_proj N(0, (D^-0.5·(2·layers)^-0.5)²), out_proj N(0, (D^-0.5)²), fc1 N(0, (2D)^-1),
 *     fc2 N(0, (D^-0.5·(2·layers)^-0.5)²); every bias 0, LayerNorm γ = 1, β = 0.
 *   - UNet: a diffusers UNet2DConditionModel at its PyTorch default init (what
 *     UNet2DConditionModel(**config) gives before training): every Conv2d/Linear weight and bias
 *     U(−1/√fan_in, 1/√fan_in) (kaiming_uniform with a = √5, and the bias rule of
 *     torch.nn.Conv2d/Linear.reset_parameters), GroupNorm/LayerNorm γ = 1, β = 0.
 *   - Tokenizer: SD's CLIP BPE pruned to the words of the world's captions and data/prompts
 *     (micro/tokenizer_prune.h).
 * Both inits draw from the Philox stream SDPO_STREAM_PARAM_INIT of the run's seed, text encoder
 * first, then the UNet, each tensor in registration order. */
#ifndef SDPO_MICRO_MODEL_H
#define SDPO_MICRO_MODEL_H

#include <stddef.h>

#include "core/error.h"
#include "core/rng.h"
#include "models/clip_text.h"
#include "models/unet.h"
#include "nn/params.h"
#include "world/world.h"

/* The texts the micro tokenizer must tokenize exactly as the full CLIP tokenizer: every line of
 * prompts_dir/{simple_animals_45,dpok_unseen_prompts_4,imagenet_animals_398}.txt, every animal
 * name and plural, colour name and place phrase of the world, and the captions of scenes
 * 0..n_scenes−1 of world seed 0 (the caption grammar's fixed words; scenes are drawn with the
 * default mix, captions only). *texts is a malloc'd array of malloc'd strings
 * (sdpo_micro_texts_free). */
sdpo_status sdpo_micro_vocabulary_texts(const sdpo_world *w, const char *prompts_dir,
                                        int n_scenes, char ***texts, int *n);
void sdpo_micro_texts_free(char **texts, int n);

/* Fills every tensor of a finalized CLIP text registry (sdpo_clip_text_register, HF names) with
 * the transformers init above, from r. SDPO_ERR_FORMAT for a tensor name it does not know. */
sdpo_status sdpo_micro_text_encoder_init(nn_params *p, const sdpo_clip_text_config *cfg,
                                         sdpo_rng *r);

/* Fills every base tensor of a finalized UNet (LoRA tensors untouched) with the PyTorch default
 * init above, from r. */
sdpo_status sdpo_micro_unet_init(sdpo_unet *u, sdpo_rng *r);

/* FLOPs of one UNet forward for one sample of H×W with L text tokens: 2 per multiply-add of
 * every convolution, Linear, and attention product (q·kᵀ and p·v); norms, activations,
 * softmax, additions, the nearest upsampling and the sinusoidal embedding are not counted
 * (they are O(activations), not O(activations × width)). Follows the block structure of
 * diffusers UNet2DConditionModel (models/unet.h): conv_in; per down level layers_per_block
 * ResnetBlock2D (+ Transformer2DModel each for CrossAttnDownBlock2D) and a stride-2 conv except
 * at the last level; the mid block (resnet, transformer, resnet); per up level
 * layers_per_block + 1 resnets on cat([h, skip]) (+ transformers) and a nearest-2× upsampling
 * conv except at the top; conv_out; the time embedding MLP and every resnet's time_emb_proj. */
double sdpo_micro_unet_flops(const sdpo_unet_config *c, int H, int W, int L);

/* Writes every tensor of a finalized registry as F32 safetensors under its registered name
 * (a diffusers/transformers weights file; atomic). */
sdpo_status sdpo_micro_params_save(const nn_params *p, const char *path);

#endif

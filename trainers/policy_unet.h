/* trainers/policy_unet.h — the diffusion policy of a diffusers Stable-Diffusion folder (SD-Turbo,
 * the tiny fixture, or the pixel-space micro model data/micro/model): UNet with LoRA
 * (models/unet.h), text conditioning from its CLIP text encoder and tokenizer
 * (models/clip_text.h, models/tokenizer_clip.h), images from its VAE decoder (models/vae.h) or,
 * without a VAE, the samples themselves; noise schedule from scheduler/scheduler_config.json.
 *
 * As the official code (sdpo_official_code.md §2.1–2.2, §2.10):
 *   - the UNet base weights, text encoder and VAE are frozen; LoRA of rank r on to_q, to_k,
 *     to_v and to_out.0 of every attention processor is trained (down ~ N(0, 1/r), up = 0,
 *     stream PARAM_INIT), so the initial policy is the pretrained model;
 *   - the condition of a prompt is the text encoder's last_hidden_state of its 77 padded
 *     tokens (encoded once per prompt of the list at creation); the unconditional one, for
 *     CFG, that of "" (diffusers encode_prompt's negative prompt);
 *   - the scheduler is DDIMScheduler.from_config(the folder's scheduler config): betas,
 *     timestep spacing, steps_offset and prediction type come from it (SD-Turbo: scaled_linear
 *     0.00085 → 0.012, trailing, ε); clip_sample, thresholding, trained betas and zero-SNR
 *     rescaling are refused, not ignored;
 *   - a sample is the latent [C, h, w] with h, w = the UNet's sample_size (64 for SD-Turbo);
 *     images are vae.decode(z / scaling_factor), then clamp(x/2 + 0.5, 0, 1);
 *   - pixel space: when model_index.json lists no "vae" (the micro model, issue #8), the UNet
 *     must take and predict 3 channels, a sample IS the RGB image [3, h, w] in [-1, 1]
 *     (h = w = sample_size, 32 for the micro model), and images are clamp(x/2 + 0.5, 0, 1),
 *     diffusers' VaeImageProcessor.postprocess without the decode. img_h, img_w = h, w.
 * The reference model (D3PO's π_ref) is the same UNet with the LoRA scale set to 0 for that
 * forward, i.e. exactly the frozen base model.
 *
 * Everything is float32 on the CPU reference engine (the official runs use fp16 weights), and
 * the UNet's output for a sample may differ in the last bits between batch sizes (GEMM blocking),
 * so the first update's log-ratio is ~1e-7 rather than exactly 0 (upstream's fp16 rounding makes
 * it much larger). */
#ifndef SDPO_TRAINERS_POLICY_UNET_H
#define SDPO_TRAINERS_POLICY_UNET_H

#include <stdint.h>

#include "trainers/policy.h"

typedef struct {
    const char *model_dir;        /* diffusers folder: model_index.json, unet/, vae/, … */
    int lora_rank;
    double lora_alpha;            /* 0: alpha = rank */
    uint64_t param_seed;          /* stream PARAM_INIT of this seed initialises the LoRA */
    int n_prompts;
    const char *const *prompts;   /* encoded once, in order: cond[s] = index */
    int max_batch;                /* largest forward (EVAL/REFERENCE) and decode batch */
    int max_train_batch;          /* largest TRAIN forward */
    int threads;
    int recompute;                /* 1: training forwards keep only unit outputs and recompute */
} sdpo_unet_policy_config;

sdpo_status sdpo_policy_unet_create(const sdpo_unet_policy_config *c, sdpo_policy **out);

/* DDIMScheduler.from_config of the scheduler config at `path` (diffusers' defaults for absent
 * keys) into s, initialised (core/schedule.h). Values the DDIM policy does not implement —
 * clip_sample, thresholding, rescale_betas_zero_snr, trained_betas, other beta schedules,
 * spacings or prediction types — fail naming the file and key (the official code needs none).
 * Also what `sdpo pretrain-micro` trains against, so a model it trains can be sampled. */
sdpo_status sdpo_ddim_schedule_load(const char *path, sdpo_schedule *s);

/* Loads a LoRA file (diffusers/peft or SDPO's save_attn_procs names; models/unet.h
 * sdpo_unet_lora_load) into the LoRA of a policy made by sdpo_policy_unet_create, whose
 * lora_rank must match the file's (sdpo_unet_lora_probe gives it); alpha comes from the file.
 * For evaluating adapters trained outside this harness. SDPO_ERR_ARG for any other policy. */
sdpo_status sdpo_policy_unet_load_lora(sdpo_policy *p, const char *path);

#endif

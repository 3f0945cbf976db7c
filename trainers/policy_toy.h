/* trainers/policy_toy.h — a small, exact diffusion policy for unit tests and CI.
 *
 * The frozen base model is the exact predictor of a Gaussian-mixture data distribution
 * (core/gaussian_mixture.h) on SD-Turbo's noise schedule; the prompt selects the mixture
 * weights (prompt c weights mode k by exp(prompt_scale·g_ck), g ~ N(0, 1)). It predicts v
 * (v = (ε − √(1−ᾱ)·x)/√ᾱ, so x̂ = √ᾱ·x − √(1−ᾱ)·v; the default) or ε. The trainable part is a
 * LoRA-style low-rank correction of that output, acting on the base model's own prediction
 * x̂_gmm (its "features") and a constant:
 *     out_θ(x, t, c) = out_gmm(x, ᾱ_t; w_c) + scale · up · (down · [x̂_gmm(x, t, c); 1])
 * with down [rank, D+1] ~ N(0, 1/rank) (nn_lora_init, stream PARAM_INIT) and up [D, rank] = 0,
 * so the initial policy equals the mixture model exactly (the reference model of D3PO). The
 * constant input lets the correction shift samples toward a mode; the x̂_gmm input lets it act
 * differently per predicted mode. (Features of x_t itself would be mostly noise early in a
 * trajectory, and Adam, which scales every coordinate alike, turns such noisy coordinates into
 * a random walk that mostly adds noise to x̂.) With v-prediction a correction δ moves x̂ by −√(1−ᾱ)·δ at every
 * step, as a few-step model's x̂ behaves; with ε-prediction it moves x̂ by −√((1−ᾱ)/ᾱ)·δ, 15×
 * δ at t = 999, so the first step's x̂ is hypersensitive (the micro-world notes the same of
 * ε-models). Every sample is computed on its own in a fixed order, so a sample's
 * output does not depend on the batch it is in (the first update's log-ratio is exactly 0).
 *
 * A sample is a 3 × H × W image in [−1, 1] scale (D = 3·H·W, CHW order); decode maps it to
 * [0, 1] pixels with clamp(z/2 + 0.5, 0, 1), the VAE post-processing. */
#ifndef SDPO_TRAINERS_POLICY_TOY_H
#define SDPO_TRAINERS_POLICY_TOY_H

#include <stdint.h>

#include "trainers/policy.h"

typedef struct {
    int height, width;      /* image size; D = 3·height·width */
    sdpo_prediction prediction;  /* SDPO_PRED_V or SDPO_PRED_EPSILON */
    int modes;              /* K */
    double mode_scale;      /* means ~ N(0, mode_scale²) */
    double mode_var;        /* per-mode data variance s² */
    double prompt_scale;    /* mixture-weight logit scale per prompt */
    uint64_t world_seed;    /* stream DATA: means, then prompt logits */
    uint64_t param_seed;    /* stream PARAM_INIT: the LoRA down-projection */
    int rank;
    double lora_alpha;      /* 0: alpha = rank */
    int n_prompts;
    int max_batch;
} sdpo_toy_config;

sdpo_status sdpo_policy_toy_create(const sdpo_toy_config *tc, sdpo_policy **out);

/* Mean of mode k, [D] (owned by the policy). */
const float *sdpo_policy_toy_mode_mean(const sdpo_policy *p, int k);

#endif

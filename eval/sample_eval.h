/* eval/sample_eval.h — the evaluation sampler: DDIM trajectories of any policy (trainers/policy.h)
 * whose random numbers are indexed by (seed, prompt, image, step), so that the same image of the
 * same prompt starts from the same x_T for every method, checkpoint and step count (paper Fig. 1,
 * 13–18: "all images are generated using the same random seed"; Fig. 4, 8–11 compare checkpoints
 * at 1/2/4/8/16 steps on the same samples).
 *
 * Sampling (diffusers 0.17.1 DDIMScheduler as DDPO/SDPO patch it, core/schedule.h), steps
 * i = 0 … T−1 in sampling order (core/trajectory.h), x starting at the initial noise:
 *   timesteps  the model's scheduler (SD-Turbo: trailing, 999 … ), T of them;
 *   step i     out = model(x, t_i, prompt) (guidance 1: SD-Turbo has no CFG, paper Sec. 4.1),
 *              x̂_i = x0 from out, x ← √ᾱ_prev·x̂_i + √(1−ᾱ_prev−σ²)·ε̂ + σ·z_i with
 *              σ = η·√((1−ᾱ_prev)/(1−ᾱ_t)·(1−ᾱ_t/ᾱ_prev)); η = 0 is deterministic DDIM;
 *   image      decode(x̂_{T−1}) (SDPO_FINAL_XHAT: the official pipeline's images[-1], what its
 *              logged `_50s`/`_1s` rewards score) or decode(x) of the last sample
 *              (SDPO_FINAL_SAMPLE: the DDPO/D3PO pipelines' image).
 * With σ > 0 the step is sdpo_ddim_step itself (bitwise the training sampler's arithmetic).
 *
 * Random numbers (core/rng.h Philox, no stream of its own): sample (p, k) = prompt p, image k has
 * the id s = p·2^16 + k (p < 2^20, k < 2^16) and B = ⌈D/4⌉ blocks per D normals (D ≤ 2^16);
 *   x_T   = the initial noise: normals of stream SDPO_STREAM_INIT_NOISE from block s·B;
 *   z_i   = normals of stream SDPO_STREAM_SAMPLER_NOISE from block (s·4096 + i)·B.
 * So x_T does not depend on T, on the batch a sample is in, on the other samples evaluated or on
 * the images-per-prompt count, and step i of two step counts draws the same z_i.
 *
 * Batching: samples are processed in chunks of `batch` through the policy's forward and decode;
 * everything else is per sample. A policy that computes every sample on its own (the toy policy)
 * therefore gives bitwise the same images for any batch size; the UNet policy's GEMMs may differ
 * in the last bits between batch sizes (trainers/policy_unet.h). */
#ifndef SDPO_EVAL_SAMPLE_EVAL_H
#define SDPO_EVAL_SAMPLE_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "trainers/policy.h"
#include "trainers/train_config.h"

#define SDPO_EVAL_MAX_PROMPTS (1 << 20)
#define SDPO_EVAL_MAX_IMAGES (1 << 16)
/* step counts up to this are accepted (z_i's block index has room for 4096 steps) */
#define SDPO_EVAL_MAX_STEPS 1000
/* elements of one sample (SD-Turbo's latent: 16 384) */
#define SDPO_EVAL_MAX_D (1 << 16)

typedef struct {
    uint64_t seed;
    double eta;                 /* ≥ 0 */
    sdpo_final_image final_image;
    int batch;                  /* samples per model pass, ≥ 1 */
} sdpo_eval_sampler_config;

typedef struct {
    sdpo_policy *policy;
    sdpo_eval_sampler_config cfg;
    int T;
    int timesteps[SDPO_EVAL_MAX_STEPS];
    sdpo_ddim_coeffs coeffs[SDPO_EVAL_MAX_STEPS];
    float *x, *out, *xhat, *noise, *eps;   /* [batch, D] */
    int *t, *cond;                          /* [batch] */
} sdpo_eval_sampler;

/* The first block of sample (prompt, image)'s x_T / of its step-i noise (see above). */
uint64_t sdpo_eval_init_block(int prompt, int image, size_t D);
uint64_t sdpo_eval_step_block(int prompt, int image, int step, size_t D);

/* x_T [D] of sample (prompt, image). */
void sdpo_eval_initial_noise(uint64_t seed, int prompt, int image, size_t D, float *out);

sdpo_status sdpo_eval_sampler_init(sdpo_eval_sampler *s, sdpo_policy *p,
                                   const sdpo_eval_sampler_config *c);
void sdpo_eval_sampler_free(sdpo_eval_sampler *s);

/* Sets the step count T (1 … SDPO_EVAL_MAX_STEPS) and its timesteps and coefficients. */
sdpo_status sdpo_eval_sampler_set_steps(sdpo_eval_sampler *s, int T);

/* Samples n trajectories of T steps, sample j being (prompt[j], image[j]):
 *   images      [n, 3, img_h, img_w] in [0, 1], the final images (may be NULL);
 *   xhat_steps  [n, T, D], x̂ of every step (may be NULL; what record-trajectories keeps);
 *   logp        [n, T], the per-element-mean log π of every step (may be NULL; NaN at steps
 *               with σ = 0, where it is undefined);
 *   final       [n, D], the last sample x (may be NULL).
 * Fails with SDPO_ERR_NONFINITE naming the sample and step if a sample is not finite. */
sdpo_status sdpo_eval_sample(sdpo_eval_sampler *s, int n, const int *prompt, const int *image,
                             float *images, float *xhat_steps, float *logp, float *final);

#endif

/* core/schedule.h — the noise schedule, timestep spacing and the DDIM step with log-prob.
 *
 * Follows diffusers 0.17.1 DDIMScheduler as patched by DDPO/SDPO (`ddim_with_logprob`,
 * baselines.md §1, sdpo_official_code.md §2.3):
 *   betas  = linspace(√β_start, √β_end, 1000, float32)²   ("scaled_linear")
 *   ᾱ      = cumprod(1 − β)
 *   prev_t = clamp(t − 1000 // N, 0, 999)     (clamp BEFORE the ≥ 0 test: ᾱ_prev at the last
 *                                              step is ᾱ[0] = 0.99915, never 1)
 *   σ      = η·√((1−ᾱ_prev)/(1−ᾱ_t)·(1 − ᾱ_t/ᾱ_prev))
 *   μ      = √ᾱ_prev·x̂0 + √(1 − ᾱ_prev − σ²)·ε̂
 *   log π  = mean over the D elements of [−(x_prev − μ)²/(2σ²) − log σ − log √(2π)]
 * Step index i follows core/trajectory.h (i = 0 is the noisiest step). */
#ifndef SDPO_CORE_SCHEDULE_H
#define SDPO_CORE_SCHEDULE_H

#include <stddef.h>

#include "core/error.h"

#define SDPO_MAX_TRAIN_TIMESTEPS 4096

typedef enum { SDPO_BETA_SCALED_LINEAR = 0, SDPO_BETA_LINEAR } sdpo_beta_schedule;
typedef enum { SDPO_SPACING_TRAILING = 0, SDPO_SPACING_LEADING } sdpo_spacing;
/* What the network predicts: ε (SD-Turbo) or v = √ᾱ·ε − √(1−ᾱ)·x0 (the micro model). */
typedef enum { SDPO_PRED_EPSILON = 0, SDPO_PRED_V } sdpo_prediction;

typedef struct {
    int num_train_timesteps;       /* 1000 */
    double beta_start, beta_end;   /* 0.00085, 0.012 */
    sdpo_beta_schedule beta_schedule;
    sdpo_spacing spacing;
    int steps_offset;              /* 1 (used by leading spacing only) */
    sdpo_prediction prediction;
    /* Derived by sdpo_schedule_init, float32 as torch stores them: */
    float alphas_cumprod[SDPO_MAX_TRAIN_TIMESTEPS];
} sdpo_schedule;

/* SD-Turbo's scheduler config: scaled_linear 0.00085→0.012, 1000 steps, trailing, offset 1, ε. */
void sdpo_schedule_sd_turbo(sdpo_schedule *s);

/* Computes alphas_cumprod from the config fields (call after changing them). */
sdpo_status sdpo_schedule_init(sdpo_schedule *s);

/* The N inference timesteps in sampling order (t[0] is the noisiest), diffusers 0.17.1:
 * trailing: round(arange(1000, 0, −1000/N)) − 1;  leading: arange(N)·(1000//N) reversed + offset.
 * Fails for N < 1 or N > num_train_timesteps. */
sdpo_status sdpo_schedule_timesteps(const sdpo_schedule *s, int N, int *t);

/* Per-step scalars of one DDIM transition from timestep t with N inference steps. */
typedef struct {
    int t, prev_t;
    double alpha_t, alpha_prev;  /* ᾱ_t, ᾱ_prev (from the float32 table) */
    double sigma;                /* η·√variance */
    double dir_coef;             /* √(1 − ᾱ_prev − σ²) */
} sdpo_ddim_coeffs;

sdpo_status sdpo_ddim_coeffs_at(const sdpo_schedule *s, int t, int N, double eta,
                                sdpo_ddim_coeffs *c);

/* One DDIM step over D elements from the model output `out` (ε or v per s->prediction):
 *   x0_hat (optional)  the predicted clean sample,
 *   x_prev             if `noise` is non-NULL: x_prev = μ + σ·noise (sampling) is written;
 *                      if `noise` is NULL: x_prev is read as given (re-evaluating a stored
 *                      transition, as training does with prev_sample),
 *   logp               the per-element-mean Gaussian log-density of x_prev (accumulated in
 *                      double), and
 *   dlogp_dout (opt.)  ∂logp/∂out, what the model backward needs: x_prev is a constant and
 *                      only μ depends on the output, so ∂logp/∂out_d = (x_prev,d − μ_d)/(D·σ²)·∂μ/∂out.
 * Fails (SDPO_ERR_ARG) when σ = 0 (η = 0): the log-prob is undefined there. */
sdpo_status sdpo_ddim_step(const sdpo_schedule *s, const sdpo_ddim_coeffs *c, size_t D,
                           const float *x_t, const float *out, const float *noise,
                           float *x_prev, float *x0_hat, double *logp, float *dlogp_dout);

/* x̂0 and ε from the model output at ᾱ_t (the two parametrisations of s->prediction). */
void sdpo_predict_x0_eps(const sdpo_schedule *s, double alpha_t, size_t D, const float *x_t,
                         const float *out, float *x0_hat, float *eps);

#endif

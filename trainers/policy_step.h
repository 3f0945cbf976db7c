/* trainers/policy_step.h — one DDIM policy step on a batch: sample it, or re-evaluate its
 * log-probability and the gradient path back into the model.
 *
 * Samples of a batch may sit at different steps i (index into the epoch's timesteps, as a
 * shuffled minibatch does; official train L696–709 passes a (B,) timestep tensor). The model
 * output goes through classifier-free guidance when guidance > 1 (ε̂ = ε_u + g·(ε_c − ε_u),
 * batch order [uncond, cond] as diffusers), then through sdpo_ddim_step (core/schedule.h):
 *   sample      x_next = μ + σ·z, with x̂ and the per-element-mean log π (the stored logp_old);
 *   logprob     log π(x_next | x) of a stored transition (the official `prev_sample=` call),
 *               optionally with ∂logp/∂out [n, D] for backward;
 *   backward    d out_s = dL/dlogp_s · ∂logp_s/∂out_s, through the guidance combination into
 *               the policy's backward (which accumulates into the parameter gradients).
 * The backward uses the activations of the last logprob call in SDPO_FWD_TRAIN mode. */
#ifndef SDPO_TRAINERS_POLICY_STEP_H
#define SDPO_TRAINERS_POLICY_STEP_H

#include "core/schedule.h"
#include "trainers/policy.h"

typedef struct {
    sdpo_policy *policy;
    double guidance;               /* 1: one model pass */
    int T;                         /* steps of the current trajectories */
    int timesteps[SDPO_MAX_TRAIN_TIMESTEPS];
    sdpo_ddim_coeffs coeffs[SDPO_MAX_TRAIN_TIMESTEPS];
    int cap;                       /* largest n of one call */
    float *x2, *out2, *dout2;      /* [cap·passes, D] model inputs/outputs */
    int *t2, *c2;                  /* [cap·passes] */
} sdpo_policy_step;

/* cap: the largest batch passed to one call (TRAIN calls must also fit the policy's
 * max_batch with guidance doubling; EVAL/REFERENCE calls are split into chunks). */
sdpo_status sdpo_policy_step_init(sdpo_policy_step *s, sdpo_policy *p, double guidance, int cap);
void sdpo_policy_step_free(sdpo_policy_step *s);

/* Sets T and the timesteps (spacing from the schedule or forced) and per-step coefficients. */
sdpo_status sdpo_policy_step_set_steps(sdpo_policy_step *s, int T, sdpo_spacing spacing,
                                       double eta);

/* x [n, D] at steps step[n] with prompts cond[n]: x_next, xhat [n, D], logp [n]. noise [n, D]
 * are standard normals. Fails with SDPO_ERR_NONFINITE if a sample or log-prob is not finite. */
sdpo_status sdpo_policy_step_sample(sdpo_policy_step *s, int n, const float *x, const int *step,
                                    const int *cond, const float *noise, float *x_next,
                                    float *xhat, float *logp);

/* logp [n] of the transitions x → x_next; dlogp_dout [n, D] if non-NULL. */
sdpo_status sdpo_policy_step_logprob(sdpo_policy_step *s, int n, const float *x,
                                     const float *x_next, const int *step, const int *cond,
                                     sdpo_fwd_mode mode, float *logp, float *dlogp_dout);

/* Backpropagates dL/dlogp [n] (scale included) of the last TRAIN logprob call of n samples. */
sdpo_status sdpo_policy_step_backward(sdpo_policy_step *s, int n, const float *dl_dlogp,
                                      const float *dlogp_dout);

#endif

/* trainers/policy.h — the model whose per-step output defines the DDIM policy.
 *
 * A diffusion policy π_θ(x_{i+1} | x_i, c) is a Gaussian whose mean is a function of the model
 * output at (x_i, t_i, c) (core/schedule.h: ε or v per the schedule's prediction type). The
 * trainers only need:
 *   forward   out [n, D] for a batch whose samples sit at different timesteps t [n] and
 *             prompts cond [n] (a minibatch mixes steps: official train L696–709);
 *   backward  from d(out) [n, D], ACCUMULATING into the trainable gradients (params->grads),
 *             using the activations of the most recent TRAIN forward (same n);
 *   reference the frozen initial model (adapters off) for D3PO's π_ref;
 *   decode    x̂ (or a final latent) → RGB images in [0, 1] for the reward.
 * Trainable tensors live in an nn_params registry (trainable first, so AdamW, clipping,
 * zeroing and checkpoints are flat loops over params->grads/m/v; nn/params.h).
 *
 * Conditioning is cached per prompt of the run's prompt list at creation: cond[s] is a prompt
 * index, or SDPO_POLICY_UNCOND for the unconditional model of classifier-free guidance.
 * Forward must be a deterministic function of (parameters, inputs) per sample: re-evaluating a
 * stored transition reproduces the sampling-time output, so the first update's log-ratio is 0.
 * Only TRAIN forwards touch the saved activations (EVAL and REFERENCE never do). */
#ifndef SDPO_TRAINERS_POLICY_H
#define SDPO_TRAINERS_POLICY_H

#include <stddef.h>

#include "core/error.h"
#include "core/schedule.h"
#include "nn/params.h"

#define SDPO_POLICY_UNCOND (-1)

typedef enum {
    SDPO_FWD_EVAL = 0,   /* current parameters, nothing saved */
    SDPO_FWD_TRAIN,      /* current parameters, activations saved for backward */
    SDPO_FWD_REFERENCE   /* frozen initial model (adapters disabled), nothing saved */
} sdpo_fwd_mode;

typedef struct sdpo_policy sdpo_policy;

struct sdpo_policy {
    const char *name;      /* "toy", "unet" */
    size_t D;              /* elements of one sample (latent or pixels), flattened */
    int img_h, img_w;      /* size of the decoded RGB images */
    int max_batch;         /* largest n forward/decode accept */
    sdpo_schedule schedule;/* the model's noise schedule and prediction type */
    nn_params *params;     /* trainable tensors first (nn_params_finalize'd) */
    /* out [n, D] = model(x [n, D], t [n], cond [n]). */
    sdpo_status (*forward)(sdpo_policy *p, int n, const float *x, const int *t, const int *cond,
                           sdpo_fwd_mode mode, float *out);
    /* params->grads += ∂(Σ dout·out)/∂θ for the last TRAIN forward of n samples. */
    sdpo_status (*backward)(sdpo_policy *p, int n, const float *dout);
    /* images [n, 3, img_h, img_w] in [0, 1] from samples z [n, D] (x̂ or final latents). */
    sdpo_status (*decode)(sdpo_policy *p, int n, const float *z, float *images);
    /* Optional (NULL: none): writes the trainable adapter to `path` in its library's own
     * format, for tools outside the trainer (the UNet: a diffusers/peft LoRA file). */
    sdpo_status (*save_adapter)(sdpo_policy *p, const char *path);
    void (*destroy)(sdpo_policy *p);
    void *state;
};

void sdpo_policy_free(sdpo_policy *p);

#endif

/* nn/lora.h — LoRA on a frozen linear layer: forward, backward and initialisation.
 *
 *   y = x Wᵀ + b + scale · (x downᵀ) upᵀ,   scale = alpha / rank
 *
 *   inp [N, C_in], weight W [C_out, C_in] and bias b [C_out] (frozen), down [rank, C_in],
 *   up [C_out, rank] (trainable), out [N, C_out], h = x downᵀ [N, rank] (saved for backward).
 *
 * This is diffusers 0.17.1 LoRALinearLayer as installed by LoRAAttnProcessor on to_q, to_k,
 * to_v and to_out.0 (the DDPO/SDPO setting): `attn.to_q(x) + scale * self.to_q_lora(x)` with
 * to_q_lora(x) = up(down(x)), rank 4 and network_alpha=None, i.e. scale 1.0 = alpha/rank with
 * alpha = rank. peft's LoraLayer (RLCM's REBEL/PPO baselines) is the same computation with
 * `lora_B(lora_A(x)) * scaling`, scaling = lora_alpha / r (A = down, B = up).
 *
 * Initialisation, both libraries: down ~ N(0, std = 1/rank) — diffusers 0.17.1
 * LoRALinearLayer.__init__ `nn.init.normal_(self.down.weight, std=1 / rank)`, and peft's
 * init_lora_weights="gaussian" `nn.init.normal_(self.lora_A[adapter].weight,
 * std=1 / self.r[adapter])`: standard deviation 1/rank (0.25 at rank 4), not 1/√rank — and
 * up = 0, so the initial model equals the base model exactly. The normals come from the
 * Philox stream SDPO_STREAM_PARAM_INIT (core/rng.h), so they are reproducible on CPU and GPU
 * but are not the numbers torch.manual_seed would give (only the distribution is the same).
 *
 * Only down and up have gradients: the frozen W and b never get a buffer (nothing to pass),
 * as with requires_grad=False in PyTorch. Backward accumulates (+=) like every nn op; a NULL
 * gradient pointer means "not needed". The GEMMs go through nn_linear_* (nn/ops.h) and
 * OpenBLAS sgemm with ctx->n_threads threads. */
#ifndef SDPO_NN_LORA_H
#define SDPO_NN_LORA_H

#include <stddef.h>

#include "core/rng.h"
#include "nn/context.h"

/* alpha / rank as PyTorch uses it: computed in double (Python), rounded to float32 where it
 * multiplies the float32 LoRA output. */
float nn_lora_scale(double alpha, int rank);

/* down [rank, C_in] = N(0, 1)·(1/rank) from rng's next rank·C_in normals (row-major order);
 * up [C_out, rank] = 0. rng should be on stream SDPO_STREAM_PARAM_INIT; initialising layers in
 * registration order makes every run draw the same values. */
void nn_lora_init(sdpo_rng *rng, float *down, float *up, int C_in, int C_out, int rank);

/* Floats of backward scratch: dh [N, rank]. */
size_t nn_lora_scratch_floats(int N, int rank);

/* out [N, C_out] = inp Wᵀ + bias + scale · h upᵀ, and h [N, rank] = inp downᵀ is written for
 * backward. bias may be NULL. */
void nn_lora_linear_forward(nn_ctx *ctx, float *out, float *h, const float *inp,
                            const float *weight, const float *bias, const float *down,
                            const float *up, float scale, int N, int C_in, int C_out, int rank);

/* Accumulates dinp [N, C_in] += dout W + scale·(dout up) down, ddown [rank, C_in] +=
 * scale·(dout up)ᵀ inp, dup [C_out, rank] += scale · doutᵀ h; any may be NULL. h is the
 * forward's; scratch holds nn_lora_scratch_floats(N, rank) floats. */
void nn_lora_linear_backward(nn_ctx *ctx, float *dinp, float *ddown, float *dup,
                             const float *dout, const float *inp, const float *h,
                             const float *weight, const float *down, const float *up,
                             float scale, int N, int C_in, int C_out, int rank, float *scratch);

#endif

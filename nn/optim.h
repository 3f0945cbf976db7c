/* nn/optim.h — AdamW, gradient-norm clipping and zero_grad over flat parameter slabs.
 *
 * Semantics are PyTorch's, so a LoRA trained here follows the official SDPO/DDPO runs
 * (torch.optim.AdamW, betas (0.9, 0.999), eps 1e-8, weight_decay 1e-4, clip_grad_norm_ 1.0):
 *
 *   torch.optim.AdamW, foreach=False path (torch/optim/adamw.py → _single_tensor_adam with
 *   decoupled weight decay), for step t = 1, 2, …:
 *     p ← p·(1 − lr·wd)                          decoupled decay, before the moments
 *     m ← lerp(m, g, 1 − β1) = m + (1−β1)(g − m)  = β1 m + (1−β1) g
 *     v ← β2 v + (1−β2) g²
 *     bc1 = 1 − β1^t, bc2 = 1 − β2^t             (Python doubles)
 *     denom = √v / √bc2 + eps
 *     p ← p − (lr / bc1) · m / denom
 *   Every scalar that PyTorch computes in Python double is computed in double here and
 *   rounded to float where PyTorch's CPU kernels round it (a Python scalar meets a float32
 *   tensor as a float32 "opmath" value); the tensor arithmetic is float32 in PyTorch's
 *   operation order. The one known difference: PyTorch's AVX2 lerp uses a fused multiply-add,
 *   this reference does not (portable IEEE, -ffp-contract off under -std=c11), so m can differ
 *   from torch by 1 ulp.
 *
 *   torch.nn.utils.clip_grad_norm_(params, max_norm) (norm_type 2):
 *     total = ‖all gradients‖₂, coef = max_norm / (total + 1e-6), clamped to ≤ 1,
 *     every gradient *= coef; returns total.
 *   The sum of squares is accumulated in double over a fixed partition, so the norm is
 *   bit-identical for any thread count. PyTorch (error_if_nonfinite=False) would scale the
 *   gradients by NaN; here a non-finite norm returns SDPO_ERR_NONFINITE and leaves the
 *   gradients untouched, so the trainer can skip the step and log it.
 *
 * Gradient accumulation needs no code: backward ops accumulate (+=) into the grads slab, so
 * k backward passes between nn_zero_grad calls sum k micro-batch gradients. As in PyTorch with
 * accelerate, dividing the loss by k (if wanted) is the trainer's job.
 *
 * The ops take the nn_ctx first like every nn op (a CUDA backend runs them as kernels on the
 * device slabs); elementwise loops are split across ctx->n_threads OpenMP threads with
 * disjoint outputs, so results do not depend on the thread count. */
#ifndef SDPO_NN_OPTIM_H
#define SDPO_NN_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "nn/context.h"
#include "nn/params.h"

/* Hyperparameters as Python floats (double), as torch.optim.AdamW holds them. lr may be
 * changed between steps by a scheduler. */
typedef struct {
    double lr;
    double beta1, beta2;
    double eps;
    double weight_decay;
} nn_adamw_config;

/* State besides the m/v slabs: the step counter t (torch's state['step']), checkpointed with
 * m and v so a resumed run continues the bias corrections. */
typedef struct {
    nn_adamw_config cfg;
    int64_t t;
} nn_adamw;

/* torch.optim.AdamW defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 1e-2. */
nn_adamw_config nn_adamw_defaults(void);

/* t = 0; the caller zeroes m and v (nn_params_finalize does). */
void nn_adamw_init(nn_adamw *opt, const nn_adamw_config *cfg);

/* t += 1, then one AdamW update of params[0..n) from grads[0..n), updating m and v. */
void nn_adamw_step(nn_ctx *ctx, nn_adamw *opt, float *params, const float *grads, float *m,
                   float *v, size_t n);

/* nn_adamw_step over the trainable prefix of a finalized registry. */
void nn_adamw_step_params(nn_ctx *ctx, nn_adamw *opt, nn_params *p);

/* clip_grad_norm_ over grads[0..n) (max_norm > 0, asserted). *total_norm receives ‖g‖₂ as
 * float32 (what torch returns), also when it is not finite. SDPO_ERR_NONFINITE if it is NaN
 * or Inf (gradients then unchanged). */
sdpo_status nn_clip_grad_norm(nn_ctx *ctx, float *grads, size_t n, float max_norm,
                              float *total_norm);

/* grads[0..n) = 0 (optimizer.zero_grad(set_to_none=False): backward accumulates into it). */
void nn_zero_grad(nn_ctx *ctx, float *grads, size_t n);

#endif

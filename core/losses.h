/* core/losses.h — the SDPO, DDPO, REBEL and D3PO objectives on per-step log-probs, with the
 * exact gradient ∂loss/∂log π_θ that PyTorch autograd would produce.
 *
 * Every function takes the current log-probs (the only inputs a gradient flows to: the
 * upstream code detaches old/reference log-probs, advantages and rewards), returns the
 * batch-MEAN loss in info->loss and writes d(loss)/d(logp) for each sample, so the 1/B of the
 * mean is included. Arithmetic is in double; gradients are rounded to float once.
 *
 * Autograd rules reproduced exactly (torch derivatives.yaml):
 *   torch.maximum(a, b): the whole gradient to the larger input, 1/2 to each on an exact tie;
 *   torch.clamp(x, lo, hi): gradient passed where lo <= x <= hi (inclusive), 0 outside.
 *
 * Log-probs are the per-element MEAN Gaussian log-densities of the DDIM step (core/schedule.h),
 * which sets the scale of clip ranges such as 1e-4.
 *
 * Inputs must be finite: a NaN/Inf fails with SDPO_ERR_NONFINITE naming the argument and index
 * (weights included); bad hyper-parameters fail with SDPO_ERR_ARG. On failure no output is
 * written. */
#ifndef SDPO_CORE_LOSSES_H
#define SDPO_CORE_LOSSES_H

#include "core/error.h"

/* ---- SDPO (Eq. 14–16; sdpo scripts/train_sdpo.py L771–808, official spec §2.8) ----------
 * Pair b at (shuffled) step i, members a and b, weight w_b = sdpo_step_weight(…, i, T):
 *   ρ^j   = logp^j − old^j                      (L780–781)
 *   ΔA    = clip(A^a, ±M) − clip(A^b, ±M)       M = adv_clip_max (L771–777)
 *   L_u   = (w·(ρ^a − ρ^b) − ΔA)²               Eq. 14 (L787)
 *   L_c   = (w·(clip(ρ^a, ±ε) − clip(ρ^b, ±ε)) − ΔA)²   Eq. 15 (L789–805)
 *   loss  = mean_b max(L_u, L_c)                Eq. 16 (L806);  mean_b L_u if ε <= 0 (L808)
 * Upstream clamps log π to [old − ε, old + ε] and subtracts old; that is clip(ρ, ±ε) up to the
 * rounding of the bounds, with the same inclusive gradient mask.
 * Diagnostics: clipfrac = mean(L_c > L_u) (L812; 0 when ε <= 0); adv_clipfrac is upstream's
 * (mean(clip(A^a) > A^a) + mean(clip(A^b) > A^b))/2 (L813–816), which counts ONLY advantages
 * below −M: that one-sided count is what the official logs show, so it is kept as is. */
typedef struct {
    double adv_clip_max;  /* M > 0 (INFINITY: no clipping); official 5 */
    double clip_range;    /* ε; official 1e-4; <= 0 disables the clipped term */
} sdpo_sdpo_loss_params;

typedef struct {
    double loss, clipfrac, adv_clipfrac;
} sdpo_sdpo_loss_info;

sdpo_status sdpo_loss_sdpo(const sdpo_sdpo_loss_params *p, int B, const float *logp_a,
                           const float *old_logp_a, const float *adv_a, const float *logp_b,
                           const float *old_logp_b, const float *adv_b, const double *weight,
                           float *dlogp_a, float *dlogp_b, sdpo_sdpo_loss_info *info);

/* ---- DDPO (ddpo-pytorch scripts/train.py L538–566, baselines §3a) -----------------------
 *   r = exp(logp − old);  A = clip(adv, ±M)
 *   loss = mean max(−A·r, −A·clamp(r, 1 − ε, 1 + ε))
 * Diagnostics: approx_kl = 0.5·mean((logp − old)²), clipfrac = mean(|r − 1| > ε). */
typedef struct {
    double adv_clip_max;  /* M > 0; official 5 */
    double clip_range;    /* ε >= 0; official 1e-4 */
} sdpo_ddpo_loss_params;

typedef struct {
    double loss, approx_kl, clipfrac;
} sdpo_ddpo_loss_info;

sdpo_status sdpo_loss_ddpo(const sdpo_ddpo_loss_params *p, int B, const float *logp,
                           const float *old_logp, const float *adv, float *dlogp,
                           sdpo_ddpo_loss_info *info);

/* ---- REBEL (rlcm lcm_rl_pytorch/core/rebel_training_loop.py L268–331, baselines §3c) ------
 * Trajectory level, B pairs × T steps ([B, T] row-major log-probs, [B] advantages):
 *   log_diff_b = (Σ_t logp1[b,t] − Σ_t old1[b,t]) − (Σ_t logp2[b,t] − Σ_t old2[b,t])
 *   loss = mean_b (rebel_lr·log_diff_b − (A1_b − A2_b))²
 * so ∂loss/∂logp1[b,t] = 2·rebel_lr·(rebel_lr·log_diff_b − ΔA_b)/B for every t, and the
 * negative of that for logp2. This is the INTENDED per-sample sum: upstream builds Σ_t logp with
 * torch.cat(…, dim=−1).sum(−1), which for a minibatch of B > 1 pairs sums over the whole
 * minibatch too (a scalar shared by every pair) while the old-policy sums are per pair; we do
 * not reproduce that bug (identical to upstream when B = 1). Advantages are not clipped
 * (upstream does not). Diagnostic: mean_abs_log_diff = mean_b |log_diff_b|. */
typedef struct {
    double loss, mean_abs_log_diff;
} sdpo_rebel_loss_info;

sdpo_status sdpo_loss_rebel(double rebel_lr, int B, int T, const float *logp1,
                            const float *old_logp1, const float *adv1, const float *logp2,
                            const float *old_logp2, const float *adv2, float *dlogp1,
                            float *dlogp2, sdpo_rebel_loss_info *info);

/* ---- D3PO (d3po scripts/rm/train_d3po.py L595–599 and compare() L183–198, baselines §3b) --
 * Per step, B pairs (k = 0, 1), π_ref the frozen pretrained model:
 *   Δ_k = logp_k − ref_logp_k;  ρ_k = clamp(exp Δ_k, 1 − eps, 1 + eps)
 *   (h0, h1) = (−1, +1) if r0 < r1, (+1, −1) if r0 > r1, (0, 0) on a tie (the higher reward
 *   is preferred; upstream's name `a_dominates` means "a is dominated")
 *   loss = −mean_b log σ(β·log ρ_0·h0 + β·log ρ_1·h1)
 * A tie gives log 2 and zero gradient; a clamped ρ_k passes no gradient. log σ is evaluated in
 * a stable form (−softplus(−z)); upstream's log(sigmoid(·)) equals it for its bounded z.
 * Diagnostics: clipfrac = fraction of the 2B ratios outside [1 − eps, 1 + eps];
 * tie_frac = fraction of pairs with r0 == r1. */
typedef struct {
    double beta;  /* official 0.1 */
    double eps;   /* 0 <= eps < 1; official 0.1 */
} sdpo_d3po_loss_params;

typedef struct {
    double loss, clipfrac, tie_frac;
} sdpo_d3po_loss_info;

sdpo_status sdpo_loss_d3po(const sdpo_d3po_loss_params *p, int B, const float *logp0,
                           const float *ref_logp0, const float *reward0, const float *logp1,
                           const float *ref_logp1, const float *reward1, float *dlogp0,
                           float *dlogp1, sdpo_d3po_loss_info *info);

#endif

/* core/returns.h — discounted returns from per-step dense rewards (SDPO Eq. 13).
 *
 * Contract (step index i as in core/trajectory.h: i = 0 is the first, noisiest step):
 *   G_{T−1} = R_{T−1},   G_i = R_i + γ·G_{i+1}   ⟹   G_i = Σ_{k=i}^{T−1} γ^{k−i}·R_k
 * so the first step accumulates every later reward and the last step holds only its own.
 * This is the paper's Ĝ_t = Σ_{k=0}^{t} γ^k·R̂_{t−k} (Eq. 13) with paper t = T−1−i, and the
 * direction of the official loop (sdpo scripts/train_sdpo.py L631–635, `for t in
 * reversed(range(T)): rewards[:, t] += gamma * rewards[:, t + 1]`).
 *
 * The official block is skipped when gamma <= 0, which leaves G = R (the paper's "w/o returns"
 * ablation, Fig. 5 right). Configs name that explicitly with SDPO_RETURNS_NONE; a discounted
 * call with gamma <= 0 behaves the same way so that a numeric gamma from an official config
 * keeps its meaning.
 *
 * Accumulation is in double and each G_i is rounded to float once (the official code adds in
 * float32 in place, which differs by float rounding only). */
#ifndef SDPO_CORE_RETURNS_H
#define SDPO_CORE_RETURNS_H

#include "core/error.h"

typedef enum {
    SDPO_RETURNS_DISCOUNTED = 0,  /* G_i = R_i + γ·G_{i+1} (γ <= 0 means NONE, as upstream) */
    SDPO_RETURNS_NONE             /* G = R: rewards used directly (Sec. 4.3, "w/o returns") */
} sdpo_returns_mode;

/* Parses "discounted" | "none". SDPO_ERR_ARG with a message listing the valid values. */
sdpo_status sdpo_returns_mode_parse(const char *s, sdpo_returns_mode *out);

/* The config spelling of a mode; "unknown" for a value outside the enum. */
const char *sdpo_returns_mode_name(sdpo_returns_mode mode);

/* returns[n*T + i] = G_i of trajectory n from rewards [N, T] (row-major, step fastest).
 * N >= 0, T >= 1; gamma must not be NaN and must be <= 1 (paper: γ ∈ (0, 1]); gamma <= 0 copies
 * R. `returns` may equal `rewards` (in place, as upstream). Non-finite rewards fail with
 * SDPO_ERR_NONFINITE naming rewards[n][i]; on any error `returns` is untouched. */
sdpo_status sdpo_discounted_returns(int N, int T, const float *rewards, double gamma,
                                    float *returns);

/* Dispatch on a config mode: NONE copies rewards; DISCOUNTED is sdpo_discounted_returns. */
sdpo_status sdpo_compute_returns(sdpo_returns_mode mode, int N, int T, const float *rewards,
                                 double gamma, float *returns);

#endif

/* core/weights.h — SDPO stepwise importance weights on the log-ratio difference (Eq. 14).
 *
 * Contract (step index i as in core/trajectory.h, i = 0 the first/noisiest step, paper
 * t = T−1−i):
 *   DECAY    w_i = λ^i / η          the paper's λ^(T−t−1)/η (Eq. 14) and the official
 *                                   `lam.pow(arange(T))` / `log_scale` (sdpo
 *                                   scripts/train_sdpo.py L249–250, L785): the first step
 *                                   gets 1/η, the last λ^(T−1)/η.
 *   UNIFORM  w_i = 1 / η            the λ = 1 ablation (Sec. 4.3, Fig. 6 middle).
 *   REVERSE  w_i = λ^(T−1−i) / η    the "reverse order" ablation; upstream only as the
 *                                   commented-out line L251.
 * The weight multiplies Δρ inside the square of Eq. 14; it is not a weight on the loss.
 *
 * Computed in double (upstream rounds λ^i to float32; the difference is float rounding). */
#ifndef SDPO_CORE_WEIGHTS_H
#define SDPO_CORE_WEIGHTS_H

#include "core/error.h"

typedef enum {
    SDPO_WEIGHT_DECAY = 0,
    SDPO_WEIGHT_UNIFORM,
    SDPO_WEIGHT_REVERSE
} sdpo_weighting;

/* Parses "decay" | "uniform" | "reverse"; SDPO_ERR_ARG listing the valid values otherwise. */
sdpo_status sdpo_weighting_parse(const char *s, sdpo_weighting *out);

/* The config spelling of a mode; "unknown" for a value outside the enum. */
const char *sdpo_weighting_name(sdpo_weighting mode);

/* w_i for step i of T. Preconditions: 0 <= i < T, λ and η finite, η != 0, a valid mode.
 * A violated precondition returns NaN (no status: the value feeds the loss, whose non-finite
 * check then reports it); sdpo_step_weights validates and reports instead. */
double sdpo_step_weight(sdpo_weighting mode, double lambda, double eta, int i, int T);

/* w[i] = sdpo_step_weight(mode, lambda, eta, i, T) for i = 0..T−1, with the preconditions
 * checked (SDPO_ERR_ARG naming the bad argument; w untouched on error). */
sdpo_status sdpo_step_weights(sdpo_weighting mode, double lambda, double eta, int T, double *w);

#endif

/* core/dense_reward.h — dense (per-step) reward prediction from a few reward queries.
 *
 * SDPO queries the reward model at a few steps of a trajectory and predicts the reward of every
 * other step from the latent similarity of the x̂ (predicted clean sample) of that step to the
 * queried steps (paper Sec. 3.2, Eq. 9–11; official code pipeline L223–241 and train L554–572,
 * sdpo_official_code.md §2.4–2.5). The ablations of paper Sec. 4.3 / Table 3 replace that rule
 * by simpler ones; all of them are strategies here.
 *
 * Index convention (core/trajectory.h): step i = 0 … T−1, i = 0 the first (noisiest) step,
 * i = T−1 the last. The paper's Sim^t_first / Sim^t_last (Eq. 9, paper step t = T−1−i) are
 * s^F_i = cos(x̂_i, x̂_0) and s^L_i = cos(x̂_i, x̂_{T−1}) here, and the paper's R_{T−1}, R_0 are
 * R_0, R_{T−1} here. x̂ of a trajectory is [T, D] row-major (D = flattened latent size).
 *
 * Strategies (queried steps in query order → prediction R̂_i):
 *   copy          [T−1]            → R̂_i = R_{T−1} for every i (Sec. 4.3 "1 query & copy").
 *   interp2       [0, T−1]         → R̂_i = R_0 + (R_{T−1} − R_0)·i/(T−1) ("2 queries &
 *                                    interpolation"; linear in the step index).
 *   sim2          [0, T−1]         → R̂_i = (s^F_i R_0 + s^L_i R_{T−1}) / (s^F_i + s^L_i)
 *                                    ("2 queries & similarity": Eq. 11 without the anchor term).
 *   sim3-fixed    [0, k, T−1], k = ⌊T/2⌋ ("fixed anchor at the 25th step" of T = 50).
 *   sim3-random   [0, k, T−1], k uniform in [1, T−2]: k = 1 + sdpo_rng_below(rng, T−2).
 *   sim3-adaptive [0, k, T−1], k = argmin_{i ∈ [1, T−2]} (s^F_i + s^L_i) (Eq. 10; the default
 *                 and the paper's method). Ties go to the smallest i. With anchor_all_steps = 1
 *                 the argmin runs over all i ∈ [0, T−1], as the official code does (pipeline
 *                 L234, §7 item 1; torch.argmin also returns the first minimum).
 *      all sim3-* → R̂_i = (s^F_i R_0 + s^A_i R_k + s^L_i R_{T−1}) / (s^F_i + s^A_i + s^L_i),
 *                   s^A_i = cos(x̂_i, x̂_k)  (Eq. 11 as the official code computes it: a weighted
 *                   *average*, train L555–559).
 *   full          [0, 1, …, T−1]   → R̂_i = R_i ("50 queries").
 * Queried steps then take their exact reward: R̂_0 = R_0, R̂_{T−1} = R_{T−1}, and for sim3-*
 * R̂_k = R_k last (train L561–562, L571–572), which matters only when anchor_all_steps puts the
 * anchor on an endpoint: that step is then queried twice (query list [0, 0, T−1] or
 * [0, T−1, T−1]), is counted twice in the average, and its value is the anchor query's.
 * Weights are never clipped: negative cosines are used as they are (as in the official code).
 *
 * Edge cases:
 *   T = 1   every strategy queries [0] and R̂_0 = R_0.
 *   T = 2   the anchor range [1, T−2] is empty, so sim3-* behave exactly as sim2 (query [0, 1];
 *           with anchor_all_steps too: both steps are already queried, an anchor adds nothing).
 *   A weighted-average denominator that is exactly 0 at a step that is not queried fails with
 *   SDPO_ERR_NONFINITE naming the step (the official code would produce ±Inf/NaN there). At
 *   queried steps the average is never formed, since its value would be overwritten anyway.
 *
 * x̂ is read only by the similarity strategies (sim2, sim3-*): for them xhat must be non-NULL,
 * D ≥ 1 and every element finite (else SDPO_ERR_ARG / SDPO_ERR_NONFINITE naming [step][element]).
 * copy, interp2 and full never read x̂ and accept xhat = NULL and any D. */
#ifndef SDPO_CORE_DENSE_REWARD_H
#define SDPO_CORE_DENSE_REWARD_H

#include <stddef.h>

#include "core/error.h"
#include "core/rng.h"

typedef enum {
    SDPO_DENSE_COPY,
    SDPO_DENSE_INTERP2,
    SDPO_DENSE_SIM2,
    SDPO_DENSE_SIM3_FIXED,
    SDPO_DENSE_SIM3_RANDOM,
    SDPO_DENSE_SIM3_ADAPTIVE,
    SDPO_DENSE_FULL,
    SDPO_DENSE_COUNT
} sdpo_dense_strategy;

/* "copy", "interp2", "sim2", "sim3-fixed", "sim3-random", "sim3-adaptive", "full";
 * "unknown" for a value outside the enum. */
const char *sdpo_dense_strategy_name(sdpo_dense_strategy s);

/* The strategy whose name is `name` (exact, case-sensitive). An unknown name fails with
 * SDPO_ERR_ARG and a message listing the valid names. */
sdpo_status sdpo_dense_strategy_parse(const char *name, sdpo_dense_strategy *out);

typedef struct {
    sdpo_dense_strategy strategy;
    /* Only read by sim3-adaptive. 0 (default): the paper's argmin over i ∈ [1, T−2] (Eq. 10).
     * 1: the official code's argmin over all i ∈ [0, T−1], endpoints included. */
    int anchor_all_steps;
} sdpo_dense_config;

/* Cosine similarity of a and b (D ≥ 1 elements), accumulated in double, with the semantics of
 * torch.nn.functional.cosine_similarity since torch 1.12 (so the official code's pinned 2.0.1;
 * older torch clamped the product of the norms instead): each norm is clamped below by
 * eps = 1e-8, so a zero vector has similarity 0 with anything. Computed as
 * a·b / sqrt(max(|a|², eps²)·max(|b|², eps²)): the same value in exact arithmetic, and in floating
 * point it is symmetric in (a, b) and gives exactly 1 for cos(a, a) (sqrt(x²) = |x| in IEEE
 * binary arithmetic). That makes the two endpoint candidates of the all-steps argmin tie exactly
 * (both are 1 + cos(x̂_0, x̂_{T−1})), so the tie rule, not rounding, decides between them. */
double sdpo_cosine(const float *a, const float *b, size_t D);

/* The same cosine from precomputed sums in double: dot = a·b, aa = |a|², bb = |b|². */
double sdpo_cosine_from_sums(double dot, double aa, double bb);

/* Number of reward queries strategy s makes on a trajectory of T ≥ 1 steps (the n_steps that
 * sdpo_dense_query_steps returns): 1 for T = 1; otherwise copy 1, interp2/sim2 2, sim3-* 3
 * (2 when T = 2), full T. 0 for an invalid s or T < 1. */
int sdpo_dense_query_count(sdpo_dense_strategy s, int T);

/* The steps that get a real reward query, in query order: copy [T−1]; interp2, sim2 [0, T−1];
 * sim3-* [0, k, T−1] with the anchor k at position 1; full [0, …, T−1] (see the file comment).
 * xhat is [T, D]; anchor_rng is read only by sim3-random with T ≥ 3, which draws exactly one
 * value from it (k = 1 + sdpo_rng_below(anchor_rng, T−2)); it may be NULL otherwise.
 * steps must hold T entries. Errors: SDPO_ERR_ARG (NULL pointer, T < 1, D = 0 for a similarity
 * strategy, invalid config), SDPO_ERR_NONFINITE (non-finite x̂ element, named). */
sdpo_status sdpo_dense_query_steps(const sdpo_dense_config *cfg, int T, size_t D,
                                   const float *xhat, sdpo_rng *anchor_rng, int *steps,
                                   int *n_steps);

/* Predicted reward of every step (Eq. 11 and the strategies above) into pred[T], from the
 * rewards queried_rewards[j] of the steps steps[j], j < n_steps, exactly as returned by
 * sdpo_dense_query_steps for the same cfg, T and x̂ (the list is checked against the strategy's
 * layout; for sim3-* the anchor steps[1] is only range-checked: [1, T−2], or [0, T−1] for
 * sim3-adaptive with anchor_all_steps). Weighted averages are formed in double and rounded to
 * float once. Errors: SDPO_ERR_ARG (NULL pointer, bad T/D/config, a step list that does not
 * fit the strategy), SDPO_ERR_NONFINITE (non-finite x̂ or queried reward, named by index; a
 * zero similarity-weight sum or a non-finite result at an unqueried step, named by step). */
sdpo_status sdpo_dense_predict(const sdpo_dense_config *cfg, int T, size_t D, const float *xhat,
                               const int *steps, int n_steps, const float *queried_rewards,
                               float *pred);

#endif

/* core/table3.h — similarity between predicted and target dense rewards (paper App. C, Table 3).
 *
 * The paper reports, per reward function and dense-reward strategy (core/dense_reward.h), the
 * cosine similarity, L1 and L2 distance between the predicted rewards and the "target" rewards
 * (the reward model queried at every step), after normalising "all reward scores ... before
 * similarity computation". It does not say how; this harness standardises per trajectory with
 * the target's own statistics (the same affine map for prediction and target, so the metrics
 * measure the shape of the prediction, not the reward scale):
 *   μ_n, σ_n = mean and population std (ddof 0) of R_n over its T steps,
 *   z_{n,i} = (R_{n,i} − μ_n)/σ_n,   p_{n,i} = (P_{n,i} − μ_n)/σ_n,
 * concatenated over trajectories: cosine(p, z) (sdpo_cosine_from_sums semantics), L1 = Σ|p − z|,
 * L2 = sqrt(Σ (p − z)²). L1 and L2 are sums, not means, so they grow with N·T (the paper's
 * L1 ≈ 1e4 is consistent with sums over thousands of steps).
 * Consequence: "copy" gives cosine 0 up to rounding (z has zero mean within each trajectory and
 * the copy prediction is constant within it), matching Table 3's 2e-8 … 3e-8 (float32 there).
 * All sums are accumulated in double. Index convention: core/trajectory.h, arrays [N, T]. */
#ifndef SDPO_CORE_TABLE3_H
#define SDPO_CORE_TABLE3_H

#include <stddef.h>
#include <stdint.h>

#include "core/dense_reward.h"
#include "core/error.h"

typedef struct {
    double cosine_similarity, l1_distance, l2_distance;
    int n_used;      /* trajectories that entered the metrics */
    int n_skipped;   /* trajectories with σ_n = 0 (constant target), left out */
} sdpo_table3_row;

/* The metrics above for target rewards R [N, T] (every step queried) and predictions P [N, T].
 * A trajectory whose target is constant (σ_n == 0 exactly) cannot be standardised: it is skipped
 * and counted in n_skipped. Errors: SDPO_ERR_ARG (NULL pointer, N < 1, T < 1, or every
 * trajectory skipped), SDPO_ERR_NONFINITE (a non-finite target or prediction, named [n][i]). */
sdpo_status sdpo_table3_metrics(int N, int T, const float *target, const float *pred,
                                sdpo_table3_row *row);

/* One Table-3 row end to end: for each trajectory n in order, sdpo_dense_query_steps then
 * sdpo_dense_predict, with the target rewards at the queried steps as the reward oracle; then
 * sdpo_table3_metrics(reward, predictions). xhat is [N, T, D] (may be NULL for strategies that
 * do not read it), reward [N, T]. The sim3-random anchors come from one stream
 * sdpo_rng(seed, SDPO_STREAM_RANDOM_ANCHOR) consumed in trajectory order (one draw per
 * trajectory when T ≥ 3); seed is ignored by the other strategies. pred_out [N, T] is optional
 * (NULL: predictions are kept in a buffer allocated once per call). Errors are those of the
 * three functions, prefixed with the trajectory, and SDPO_ERR_NOMEM. */
sdpo_status sdpo_table3_strategy(const sdpo_dense_config *cfg, int N, int T, size_t D,
                                 const float *xhat, const float *reward, uint64_t seed,
                                 float *pred_out, sdpo_table3_row *row);

#endif

/* core/table3.c — Table 3 reward-similarity metrics (see table3.h). */
#include "core/table3.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

sdpo_status sdpo_table3_metrics(int N, int T, const float *target, const float *pred,
                                sdpo_table3_row *row) {
    static const char fn[] = "table3 metrics";
    if (!target || !pred || !row)
        return sdpo_fail(SDPO_ERR_ARG, "%s: NULL %s", fn,
                         !target ? "target" : !pred ? "pred" : "row");
    if (N < 1 || T < 1)
        return sdpo_fail(SDPO_ERR_ARG, "%s: N = %d, T = %d, need both >= 1", fn, N, T);
    for (size_t k = 0; k < (size_t)N * (size_t)T; k++) {
        if (!isfinite(target[k]) || !isfinite(pred[k]))
            return sdpo_fail(SDPO_ERR_NONFINITE, "%s: %s[%zu][%zu] = %g is not finite", fn,
                             !isfinite(target[k]) ? "target" : "pred", k / (size_t)T,
                             k % (size_t)T,
                             !isfinite(target[k]) ? (double)target[k] : (double)pred[k]);
    }
    double dot = 0, pp = 0, zz = 0, l1 = 0, l2sq = 0;
    int used = 0, skipped = 0;
    for (int n = 0; n < N; n++) {
        const float *R = target + (size_t)n * T, *P = pred + (size_t)n * T;
        /* Two passes: the mean, then the population variance about it (no cancellation). */
        double mu = 0, var = 0;
        for (int i = 0; i < T; i++) mu += R[i];
        mu /= T;
        for (int i = 0; i < T; i++) var += (R[i] - mu) * (R[i] - mu);
        double sigma = sqrt(var / T);
        /* A constant float row sums exactly in double (T·x needs ≤ 24 + log2 T bits), so its
         * mean is exact and σ is exactly 0: the test below needs no tolerance. */
        if (sigma == 0.0) {
            skipped++;
            continue;
        }
        used++;
        for (int i = 0; i < T; i++) {
            double z = (R[i] - mu) / sigma, p = (P[i] - mu) / sigma;
            dot += p * z;
            pp += p * p;
            zz += z * z;
            l1 += fabs(p - z);
            l2sq += (p - z) * (p - z);
        }
    }
    if (used == 0)
        return sdpo_fail(SDPO_ERR_ARG,
                         "%s: all %d trajectories have a constant target reward (sigma = 0), so "
                         "none can be standardised", fn, N);
    row->cosine_similarity = sdpo_cosine_from_sums(dot, pp, zz);
    row->l1_distance = l1;
    row->l2_distance = sqrt(l2sq);
    row->n_used = used;
    row->n_skipped = skipped;
    return SDPO_OK;
}

/* Re-records the current error with the trajectory index in front (copied first: sdpo_fail
 * formats into the buffer that holds the message). */
static sdpo_status in_trajectory(sdpo_status st, int n) {
    char msg[900];
    snprintf(msg, sizeof msg, "%s", sdpo_last_error());
    return sdpo_fail(st, "table3 strategy: trajectory %d: %s", n, msg);
}

sdpo_status sdpo_table3_strategy(const sdpo_dense_config *cfg, int N, int T, size_t D,
                                 const float *xhat, const float *reward, uint64_t seed,
                                 float *pred_out, sdpo_table3_row *row) {
    static const char fn[] = "table3 strategy";
    if (!cfg || !reward || !row)
        return sdpo_fail(SDPO_ERR_ARG, "%s: NULL %s", fn,
                         !cfg ? "config" : !reward ? "reward" : "row");
    if (N < 1 || T < 1)
        return sdpo_fail(SDPO_ERR_ARG, "%s: N = %d, T = %d, need both >= 1", fn, N, T);
    int *steps = malloc((size_t)T * sizeof *steps);
    float *queried = malloc((size_t)T * sizeof *queried);
    float *own_pred = pred_out ? NULL : malloc((size_t)N * (size_t)T * sizeof *own_pred);
    float *pred = pred_out ? pred_out : own_pred;
    sdpo_status st = SDPO_OK;
    if (!steps || !queried || !pred) {
        st = sdpo_fail(SDPO_ERR_NOMEM, "%s: cannot allocate buffers for N = %d, T = %d", fn, N, T);
        goto done;
    }
    sdpo_rng anchor_rng;
    sdpo_rng_init(&anchor_rng, seed, SDPO_STREAM_RANDOM_ANCHOR);
    for (int n = 0; n < N; n++) {
        const float *x = xhat ? xhat + (size_t)n * (size_t)T * D : NULL;
        const float *R = reward + (size_t)n * T;
        int n_steps = 0;
        st = sdpo_dense_query_steps(cfg, T, D, x, &anchor_rng, steps, &n_steps);
        if (st == SDPO_OK) {
            for (int j = 0; j < n_steps; j++) queried[j] = R[steps[j]];
            st = sdpo_dense_predict(cfg, T, D, x, steps, n_steps, queried, pred + (size_t)n * T);
        }
        if (st != SDPO_OK) {
            st = in_trajectory(st, n);
            goto done;
        }
    }
    st = sdpo_table3_metrics(N, T, reward, pred, row);
done:
    free(steps);
    free(queried);
    free(own_pred);
    return st;
}

/* tests/test_table3.c — Table 3 reward-similarity metrics (core/table3.h): a hand-computed case,
 * constant-trajectory skipping, the copy/full identities, and sdpo_table3_strategy's wiring
 * (per-trajectory predictions, one anchor stream in trajectory order, error prefixes). The
 * comparison of whole rows with the NumPy fixture is in tests/test_dense_reward.c.
 *
 * Tolerances: the metrics are a few double operations on exactly representable inputs, so
 * against closed forms they agree to ~1e-15; 1e-12 is safe and still detects any wrong
 * normalisation (population vs sample σ changes values by ≥ 10 % at T = 3). */
#include "core/table3.h"
#include "tests/check_util.h"

#include <stdlib.h>
#include <string.h>

#define TOL 1e-12

/* Target R = [[1,2,3],[0,0,3]], prediction P = [[2,2,2],[1,0,2]].
 *   n=0: μ = 2, σ = √(2/3): z = (−a, 0, a), p = (0, 0, 0) with a = √(3/2);
 *   n=1: μ = 1, σ = √2:     z = (−b, −b, 2b), p = (0, −b, b) with b = 1/√2.
 *   p·z = 3b² = 3/2, |z|² = 2a² + 6b² = 6, |p|² = 2b² = 1  → cosine = (3/2)/√6 = √6/4;
 *   p − z = (a, 0, −a, b, 0, −b) → L1 = 2a + 2b = √6 + √2, L2 = √(2a² + 2b²) = 2. */
static const float hand_target[2 * 3] = {1, 2, 3, 0, 0, 3};
static const float hand_pred[2 * 3] = {2, 2, 2, 1, 0, 2};

START_TEST(hand_computed_two_by_three) {
    sdpo_table3_row row;
    ck_assert_int_eq(sdpo_table3_metrics(2, 3, hand_target, hand_pred, &row), SDPO_OK);
    CK_CLOSE(row.cosine_similarity, sqrt(6.0) / 4, TOL, 0);
    CK_CLOSE(row.l1_distance, sqrt(6.0) + sqrt(2.0), TOL, 0);
    CK_CLOSE(row.l2_distance, 2.0, TOL, 0);
    ck_assert_int_eq(row.n_used, 2);
    ck_assert_int_eq(row.n_skipped, 0);
}
END_TEST

START_TEST(constant_trajectories_are_skipped) {
    /* The hand case with constant rows inserted (0.1f is inexact: σ must still be exactly 0). */
    const float target[4 * 3] = {0.1f, 0.1f, 0.1f, 1, 2, 3, 5, 5, 5, 0, 0, 3};
    const float pred[4 * 3] = {9, 9, 9, 2, 2, 2, 1, 2, 3, 1, 0, 2};
    sdpo_table3_row row;
    ck_assert_int_eq(sdpo_table3_metrics(4, 3, target, pred, &row), SDPO_OK);
    CK_CLOSE(row.cosine_similarity, sqrt(6.0) / 4, TOL, 0);
    CK_CLOSE(row.l1_distance, sqrt(6.0) + sqrt(2.0), TOL, 0);
    CK_CLOSE(row.l2_distance, 2.0, TOL, 0);
    ck_assert_int_eq(row.n_used, 2);
    ck_assert_int_eq(row.n_skipped, 2);
    /* A longer constant row of an inexact value is skipped too. */
    float flat[2 * 7];
    for (int i = 0; i < 7; i++) {
        flat[i] = 0.3f;
        flat[7 + i] = (float)i;
    }
    ck_assert_int_eq(sdpo_table3_metrics(2, 7, flat, flat, &row), SDPO_OK);
    ck_assert_int_eq(row.n_skipped, 1);
    ck_assert_int_eq(row.n_used, 1);
    /* All constant (or T = 1): nothing can be standardised. */
    ck_assert_int_eq(sdpo_table3_metrics(2, 3, (const float[]){5, 5, 5, 1, 1, 1}, pred, &row),
                     SDPO_ERR_ARG);
    ck_assert_msg(strstr(sdpo_last_error(), "constant") != NULL, "%s", sdpo_last_error());
    ck_assert_int_eq(sdpo_table3_metrics(3, 1, (const float[]){1, 2, 3}, pred, &row), SDPO_ERR_ARG);
}
END_TEST

enum { RN = 64, RT = 50, RD = 32 };

/* A random smooth-ish case from Philox: x̂ [RN, RT, RD], rewards [RN, RT]. */
static void random_case(float *x, float *r) {
    sdpo_rng rng;
    sdpo_rng_init(&rng, 99, SDPO_STREAM_DATA);
    sdpo_rng_normal_fill(&rng, x, (size_t)RN * RT * RD);
    for (size_t k = RD; k < (size_t)RN * RT * RD; k++) x[k] += 0.9f * x[k - RD];
    sdpo_rng_normal_fill(&rng, r, (size_t)RN * RT);
}

/* copy predicts R_{T−1} at every step: p is constant within a trajectory and z sums to 0 there,
 * so p·z = 0 exactly in exact arithmetic; in double the residual is ~|p||z|·1e-16 ≪ 1e-12.
 * Also L2² = Σ_n (T p_n² + T) (cross term Σ_i z = 0, Σ_i z² = T), an independent closed form. */
START_TEST(copy_has_zero_cosine) {
    float *x = malloc(sizeof(float) * RN * RT * RD), *r = malloc(sizeof(float) * RN * RT);
    random_case(x, r);
    sdpo_dense_config copy = {SDPO_DENSE_COPY, 0};
    sdpo_table3_row row;
    ck_assert_int_eq(sdpo_table3_strategy(&copy, RN, RT, RD, NULL, r, 0, NULL, &row), SDPO_OK);
    CK_CLOSE(row.cosine_similarity, 0.0, 1e-12, 0);
    double l2sq = 0;
    for (int n = 0; n < RN; n++) {
        const float *R = r + n * RT;
        double mu = 0, var = 0;
        for (int i = 0; i < RT; i++) mu += R[i];
        mu /= RT;
        for (int i = 0; i < RT; i++) var += (R[i] - mu) * (R[i] - mu);
        double p = (R[RT - 1] - mu) / sqrt(var / RT);
        l2sq += RT * (p * p + 1);
    }
    CK_CLOSE(row.l2_distance, sqrt(l2sq), 0, 1e-12);
    ck_assert_int_eq(row.n_used, RN);
    free(x);
    free(r);
}
END_TEST

/* full predicts the target itself: p and z are the same double expressions of the same floats,
 * so the distances are exactly 0 and the cosine is 1 up to the final division. */
START_TEST(full_is_perfect) {
    float *x = malloc(sizeof(float) * RN * RT * RD), *r = malloc(sizeof(float) * RN * RT);
    random_case(x, r);
    sdpo_dense_config full = {SDPO_DENSE_FULL, 0};
    sdpo_table3_row row;
    float *pred = malloc(sizeof(float) * RN * RT);
    ck_assert_int_eq(sdpo_table3_strategy(&full, RN, RT, RD, x, r, 0, pred, &row), SDPO_OK);
    ck_assert(memcmp(pred, r, sizeof(float) * RN * RT) == 0);
    CK_CLOSE(row.cosine_similarity, 1.0, 1e-12, 0);
    ck_assert(row.l1_distance == 0.0 && row.l2_distance == 0.0);
    free(x);
    free(r);
    free(pred);
}
END_TEST

/* sdpo_table3_strategy = per-trajectory query_steps + predict, then the metrics; sim3-random
 * draws its anchors from one (seed, SDPO_STREAM_RANDOM_ANCHOR) stream in trajectory order. */
START_TEST(strategy_matches_per_trajectory_calls) {
    float *x = malloc(sizeof(float) * RN * RT * RD), *r = malloc(sizeof(float) * RN * RT);
    float *got = malloc(sizeof(float) * RN * RT), *want = malloc(sizeof(float) * RN * RT);
    random_case(x, r);
    const sdpo_dense_config cfgs[] = {{SDPO_DENSE_SIM3_RANDOM, 0}, {SDPO_DENSE_SIM3_ADAPTIVE, 0},
                                      {SDPO_DENSE_SIM2, 0}, {SDPO_DENSE_INTERP2, 0}};
    for (size_t c = 0; c < sizeof cfgs / sizeof cfgs[0]; c++) {
        const uint64_t seed = 1234;
        sdpo_table3_row row, row_nopred, want_row;
        ck_assert_int_eq(sdpo_table3_strategy(&cfgs[c], RN, RT, RD, x, r, seed, got, &row), SDPO_OK);
        sdpo_rng rng;
        sdpo_rng_init(&rng, seed, SDPO_STREAM_RANDOM_ANCHOR);
        for (int n = 0; n < RN; n++) {
            const float *xn = x + (size_t)n * RT * RD, *rn = r + n * RT;
            int steps[RT], ns;
            float q[RT];
            ck_assert_int_eq(sdpo_dense_query_steps(&cfgs[c], RT, RD, xn, &rng, steps, &ns), SDPO_OK);
            for (int j = 0; j < ns; j++) q[j] = rn[steps[j]];
            ck_assert_int_eq(sdpo_dense_predict(&cfgs[c], RT, RD, xn, steps, ns, q, want + n * RT),
                             SDPO_OK);
        }
        ck_assert_msg(memcmp(got, want, sizeof(float) * RN * RT) == 0, "%s: predictions differ",
                      sdpo_dense_strategy_name(cfgs[c].strategy));
        ck_assert_int_eq(sdpo_table3_metrics(RN, RT, r, want, &want_row), SDPO_OK);
        ck_assert(memcmp(&row, &want_row, sizeof row) == 0);
        ck_assert_int_eq(sdpo_table3_strategy(&cfgs[c], RN, RT, RD, x, r, seed, NULL, &row_nopred),
                         SDPO_OK);
        ck_assert(memcmp(&row, &row_nopred, sizeof row) == 0);
        /* A sanity bound: these predictions are informative but imperfect. */
        ck_assert(row.cosine_similarity > -1 && row.cosine_similarity < 1);
    }
    free(x);
    free(r);
    free(got);
    free(want);
}
END_TEST

START_TEST(errors_name_the_index) {
    float target[2 * 3], pred[2 * 3];
    memcpy(target, hand_target, sizeof target);
    memcpy(pred, hand_pred, sizeof pred);
    sdpo_table3_row row;
    pred[1 * 3 + 2] = NAN;
    ck_assert_int_eq(sdpo_table3_metrics(2, 3, target, pred, &row), SDPO_ERR_NONFINITE);
    ck_assert_msg(strstr(sdpo_last_error(), "pred[1][2]") != NULL, "%s", sdpo_last_error());
    target[0 * 3 + 1] = -INFINITY;
    ck_assert_int_eq(sdpo_table3_metrics(2, 3, target, hand_pred, &row), SDPO_ERR_NONFINITE);
    ck_assert_msg(strstr(sdpo_last_error(), "target[0][1]") != NULL, "%s", sdpo_last_error());
    ck_assert_int_eq(sdpo_table3_metrics(0, 3, hand_target, hand_pred, &row), SDPO_ERR_ARG);
    ck_assert_int_eq(sdpo_table3_metrics(2, 0, hand_target, hand_pred, &row), SDPO_ERR_ARG);
    ck_assert_int_eq(sdpo_table3_metrics(2, 3, NULL, hand_pred, &row), SDPO_ERR_ARG);
    ck_assert_int_eq(sdpo_table3_metrics(2, 3, hand_target, hand_pred, NULL), SDPO_ERR_ARG);

    /* Strategy errors carry the trajectory. */
    enum { N = 3, T = 4, D = 2 };
    float x[N * T * D], r[N * T];
    for (int k = 0; k < N * T * D; k++) x[k] = (float)(1 + k % 3);
    for (int k = 0; k < N * T; k++) r[k] = (float)k;
    x[(2 * T + 1) * D + 0] = NAN;
    sdpo_dense_config sim2 = {SDPO_DENSE_SIM2, 0};
    ck_assert_int_eq(sdpo_table3_strategy(&sim2, N, T, D, x, r, 0, NULL, &row), SDPO_ERR_NONFINITE);
    ck_assert_msg(strstr(sdpo_last_error(), "trajectory 2") && strstr(sdpo_last_error(), "xhat[1][0]"),
                  "%s", sdpo_last_error());
    ck_assert_int_eq(sdpo_table3_strategy(&sim2, N, T, D, NULL, r, 0, NULL, &row), SDPO_ERR_ARG);
    ck_assert_int_eq(sdpo_table3_strategy(NULL, N, T, D, x, r, 0, NULL, &row), SDPO_ERR_ARG);
    ck_assert_int_eq(sdpo_table3_strategy(&sim2, 0, T, D, x, r, 0, NULL, &row), SDPO_ERR_ARG);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("table3");
    TCase *tc = tcase_create("metrics");
    tcase_add_test(tc, hand_computed_two_by_three);
    tcase_add_test(tc, constant_trajectories_are_skipped);
    tcase_add_test(tc, copy_has_zero_cosine);
    tcase_add_test(tc, full_is_perfect);
    tcase_add_test(tc, strategy_matches_per_trajectory_calls);
    tcase_add_test(tc, errors_name_the_index);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

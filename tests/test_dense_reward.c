/* tests/test_dense_reward.c — dense reward prediction (core/dense_reward.h): hand-derived small
 * cases for every strategy and edge case, and the NumPy fixture of
 * reference/derive_dense_reward.py (predictions, anchors, Table-3 rows end to end).
 *
 * Tolerances. Predictions are weighted averages formed in double and rounded to float once, so
 * against exact hand values they are within half a float ulp plus double rounding amplified by
 * the weight sum (≥ 0.2 in the hand cases, i.e. ≤ ~1e-15): rtol = FLT_EPSILON (1.19e-7, two half
 * ulps) is tight yet safe. Against the fixture (float32 inputs, float64 NumPy with another
 * summation order, weight sums ≥ 0.1 by construction) the same bound holds; rtol 1e-6 / atol 1e-7
 * leaves room for a 1-ulp difference in the final float rounding, and still fails on a wrong
 * weight, anchor or order (those change values at the 1e-2 level). */
#include "core/dense_reward.h"
#include "core/table3.h"
#include "tests/check_util.h"

#include <ctype.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HAND_RTOL FLT_EPSILON
#define FIX_RTOL 1e-6
#define FIX_ATOL 1e-7

/* ---------------------------------------------------------------- fixture */

#define FIXTURE "tests/data/dense_reward/case_n6_t10_d16.txt"
enum { FN = 6, FT = 10, FD = 16 };

/* Section `name` of the fixture (format in reference/derive_dense_reward.py), which must hold
 * exactly `count` values; returns them as doubles (caller frees). */
static double *fixture(const char *name, size_t count) {
    FILE *f = fopen(FIXTURE, "r");
    ck_assert_msg(f != NULL, "cannot open %s (tests run from the repository root)", FIXTURE);
    char line[256];
    double *v = NULL;
    while (!v && fgets(line, sizeof line, f)) {
        char sec[64];
        int ndim, used;
        if (!isalpha((unsigned char)line[0]) ||
            sscanf(line, "%63s %d%n", sec, &ndim, &used) != 2 || strcmp(sec, name) != 0)
            continue;
        size_t total = 1;
        char *p = line + used;
        for (int k = 0; k < ndim; k++) total *= (size_t)strtol(p, &p, 10);
        ck_assert_msg(total == count, "%s: fixture holds %zu values, test expects %zu", name,
                      total, count);
        v = malloc(count * sizeof *v);
        for (size_t k = 0; k < count; k++) {
            ck_assert_msg(fgets(line, sizeof line, f) != NULL, "%s: truncated at %zu", name, k);
            char *end;
            v[k] = strtod(line, &end);
            ck_assert_msg(end != line, "%s[%zu]: not a number: %s", name, k, line);
        }
    }
    fclose(f);
    ck_assert_msg(v != NULL, "%s: section missing from %s", name, FIXTURE);
    return v;
}

/* The float32 inputs of the fixture (written exactly, so the conversion is exact). */
static float *fixture_f32(const char *name, size_t count) {
    double *d = fixture(name, count);
    float *f = malloc(count * sizeof *f);
    for (size_t k = 0; k < count; k++) f[k] = (float)d[k];
    free(d);
    return f;
}

/* ---------------------------------------------------------------- names */

START_TEST(names_round_trip_and_unknown_names) {
    static const char *const want[SDPO_DENSE_COUNT] = {
        "copy", "interp2", "sim2", "sim3-fixed", "sim3-random", "sim3-adaptive", "full"};
    for (int s = 0; s < SDPO_DENSE_COUNT; s++) {
        ck_assert_str_eq(sdpo_dense_strategy_name((sdpo_dense_strategy)s), want[s]);
        sdpo_dense_strategy got = SDPO_DENSE_COUNT;
        ck_assert_int_eq(sdpo_dense_strategy_parse(want[s], &got), SDPO_OK);
        ck_assert_int_eq(got, s);
    }
    ck_assert_str_eq(sdpo_dense_strategy_name(SDPO_DENSE_COUNT), "unknown");
    static const char *const bad[] = {"", "sim3", "Copy", "sim3_adaptive", "sim3-adaptive ",
                                      "50"};
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
        sdpo_dense_strategy got = SDPO_DENSE_SIM2;
        ck_assert_int_eq(sdpo_dense_strategy_parse(bad[b], &got), SDPO_ERR_ARG);
        ck_assert_int_eq(got, SDPO_DENSE_SIM2); /* untouched on failure */
        const char *msg = sdpo_last_error();
        ck_assert_msg(strstr(msg, bad[b]) != NULL, "message does not quote '%s': %s", bad[b], msg);
        for (int s = 0; s < SDPO_DENSE_COUNT; s++)
            ck_assert_msg(strstr(msg, want[s]) != NULL, "message misses '%s': %s", want[s], msg);
    }
    sdpo_dense_strategy got;
    ck_assert_int_eq(sdpo_dense_strategy_parse(NULL, &got), SDPO_ERR_ARG);
    ck_assert_int_eq(sdpo_dense_strategy_parse("copy", NULL), SDPO_ERR_ARG);
}
END_TEST

/* ---------------------------------------------------------------- cosine */

START_TEST(cosine_semantics) {
    const float e1[2] = {1, 0}, e2[2] = {0, 1}, a[2] = {3, 4}, b[2] = {4, 3}, na[2] = {-3, -4};
    const float zero[2] = {0, 0};
    ck_assert(sdpo_cosine(e1, e2, 2) == 0.0);
    CK_CLOSE(sdpo_cosine(a, b, 2), 24.0 / 25.0, 0, 1e-15);
    CK_CLOSE(sdpo_cosine(a, na, 2), -1.0, 0, 1e-15);
    /* torch clamps each norm at eps = 1e-8: a zero vector has similarity 0, and a vector of norm
     * 1e-9 behaves as if its norm were 1e-8. */
    ck_assert(sdpo_cosine(zero, a, 2) == 0.0);
    ck_assert(sdpo_cosine(zero, zero, 2) == 0.0);
    const float tiny[2] = {1e-9f, 0}, big[2] = {1000, 0};
    CK_CLOSE(sdpo_cosine(tiny, e1, 2), (double)tiny[0] / 1e-8, 0, 1e-12);
    /* Each norm is clamped on its own (torch ≥ 1.12), not their product (older torch, which
     * would give 1 here since |tiny|·|big| = 1e-6 > eps). */
    CK_CLOSE(sdpo_cosine(tiny, big, 2), (double)tiny[0] / 1e-8, 0, 1e-12);
    CK_CLOSE(sdpo_cosine_from_sums(6.0, 4.0, 9.0), 1.0, 0, 1e-15);
    /* Exact self-similarity and symmetry (the header's contract; the all-steps endpoint tie
     * relies on it), on vectors whose norms are not exact. */
    enum { D = 1000 };
    static float x[D], y[D];
    sdpo_rng r;
    sdpo_rng_init(&r, 5, SDPO_STREAM_DATA);
    for (int trial = 0; trial < 20; trial++) {
        sdpo_rng_normal_fill(&r, x, D);
        sdpo_rng_normal_fill(&r, y, D);
        ck_assert_msg(sdpo_cosine(x, x, D) == 1.0, "cos(x, x) = %.17g", sdpo_cosine(x, x, D));
        ck_assert(sdpo_cosine(x, y, D) == sdpo_cosine(y, x, D));
        /* Independent value: sum in the other order, divide by the product of norms. */
        double dot = 0, xx = 0, yy = 0;
        for (int d = D - 1; d >= 0; d--) {
            dot += (double)x[d] * y[d];
            xx += (double)x[d] * x[d];
            yy += (double)y[d] * y[d];
        }
        CK_CLOSE(sdpo_cosine(x, y, D), dot / (sqrt(xx) * sqrt(yy)), 1e-14, 0);
    }
}
END_TEST

/* ---------------------------------------------------------------- hand-derived T = 5, D = 2 */

/* Chosen so every cosine is rational (3-4-5 triangles) and norms differ (the cosine must
 * normalise): x̂_0 = (2,0), x̂_1 = (−3,4), x̂_2 = (8,6), x̂_3 = (0,2), x̂_4 = (0,½).
 *   s^F = cos(·, x̂_0) = [1, −3/5, 4/5, 0, 0],  s^L = cos(·, x̂_4) = [0, 4/5, 3/5, 1, 1].
 *   s^F + s^L on [1, 3] = [1/5, 7/5, 1] → adaptive anchor 1 (also over all steps: 1, 1 at the
 *   endpoints); fixed anchor ⌊5/2⌋ = 2.
 * Rewards R = [2, 7, −1, 4, 6]; each strategy sees only its queried steps. */
enum { HT = 5, HD = 2 };
static const float hand_x[HT * HD] = {2, 0, -3, 4, 8, 6, 0, 2, 0, 0.5f};
static const float hand_r[HT] = {2, 7, -1, 4, 6};

/* sim3 predictions for anchor k = 1, 2, 3, with x̂_k' = x̂_k/|x̂_k|:
 *  k = 1 (R=7):  i=2: s^A = (4,3)·(−3,4)/25 = 0 → (4/5·2 + 3/5·6)/(7/5) = 26/7;
 *                i=3: s^A = 4/5 → (0 + 4/5·7 + 6)/(9/5) = 58/9.
 *  k = 2 (R=−1): i=1: s^A = 0 → (−3/5·2 + 4/5·6)/(1/5) = 18;
 *                i=3: s^A = 3/5 → (0 − 3/5 + 6)/(8/5) = 27/8.
 *  k = 3 (R=4):  i=1: s^A = 4/5 → (−6/5 + 16/5 + 24/5)/1 = 6.8;
 *                i=2: s^A = 3/5 → (8/5 + 12/5 + 18/5)/2 = 3.8. */
static const double hand_sim3[4][HT] = {
    {0},
    {2, 7, 26.0 / 7, 58.0 / 9, 6},
    {2, 18, -1, 27.0 / 8, 6},
    {2, 6.8, 3.8, 4, 6},
};

/* Runs query_steps + predict on the hand case with the true rewards as the oracle. */
static void run_hand(const sdpo_dense_config *cfg, sdpo_rng *rng, int *steps, int *n,
                     float *pred) {
    ck_assert_int_eq(sdpo_dense_query_steps(cfg, HT, HD, hand_x, rng, steps, n), SDPO_OK);
    float q[HT];
    for (int j = 0; j < *n; j++) q[j] = hand_r[steps[j]];
    ck_assert_msg(sdpo_dense_predict(cfg, HT, HD, hand_x, steps, *n, q, pred) == SDPO_OK, "%s",
                  sdpo_last_error());
}

static void assert_steps(const int *got, int n, const int *want, int want_n) {
    ck_assert_int_eq(n, want_n);
    for (int j = 0; j < n; j++) ck_assert_msg(got[j] == want[j], "steps[%d] = %d, want %d", j, got[j], want[j]);
}

START_TEST(hand_case_every_strategy) {
    static const struct {
        sdpo_dense_strategy s;
        int n_steps, steps[HT];
        double pred[HT];
    } cases[] = {
        {SDPO_DENSE_COPY, 1, {4}, {6, 6, 6, 6, 6}},
        {SDPO_DENSE_INTERP2, 2, {0, 4}, {2, 3, 4, 5, 6}}, /* 2 + (6 − 2)·i/4 */
        /* sim2: i=1 (−3/5·2 + 4/5·6)/(1/5) = 18; i=2 (4/5·2 + 3/5·6)/(7/5) = 26/7; i=3 → R_4. */
        {SDPO_DENSE_SIM2, 2, {0, 4}, {2, 18, 26.0 / 7, 6, 6}},
        {SDPO_DENSE_SIM3_FIXED, 3, {0, 2, 4}, {0}},
        {SDPO_DENSE_SIM3_ADAPTIVE, 3, {0, 1, 4}, {0}},
        {SDPO_DENSE_FULL, 5, {0, 1, 2, 3, 4}, {2, 7, -1, 4, 6}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (int all = 0; all <= 1; all++) { /* the endpoints never win here: same answer */
            sdpo_dense_config cfg = {cases[c].s, all};
            int steps[HT], n;
            float pred[HT];
            run_hand(&cfg, NULL, steps, &n, pred);
            assert_steps(steps, n, cases[c].steps, cases[c].n_steps);
            ck_assert_int_eq(n, sdpo_dense_query_count(cfg.strategy, HT));
            const double *want = n == 3 ? hand_sim3[steps[1]] : cases[c].pred;
            ck_assert_array_close(sdpo_dense_strategy_name(cfg.strategy), pred, want, HT, 1e-12,
                                  HAND_RTOL);
        }
    }
}
END_TEST

START_TEST(hand_case_random_anchor) {
    sdpo_dense_config cfg = {SDPO_DENSE_SIM3_RANDOM, 0};
    sdpo_rng rng, replay;
    sdpo_rng_init(&rng, 11, SDPO_STREAM_RANDOM_ANCHOR);
    replay = rng;
    int seen[HT] = {0};
    for (int draw = 0; draw < 60; draw++) {
        int steps[HT], n;
        float pred[HT];
        run_hand(&cfg, &rng, steps, &n, pred);
        ck_assert_int_eq(n, 3);
        ck_assert_int_eq(steps[0], 0);
        ck_assert_int_eq(steps[2], HT - 1);
        ck_assert_int_eq(steps[1], 1 + (int)sdpo_rng_below(&replay, HT - 2)); /* one draw each */
        seen[steps[1]]++;
        ck_assert_array_close("sim3-random", pred, hand_sim3[steps[1]], HT, 1e-12, HAND_RTOL);
    }
    /* P(an anchor never drawn in 60 uniform draws over 3) = 3·(2/3)^60 ≈ 1e-10. */
    ck_assert(seen[0] == 0 && seen[4] == 0 && seen[1] > 0 && seen[2] > 0 && seen[3] > 0);
}
END_TEST

/* Tie rule: s^F + s^L of (4,3) and (3,4) against e1 and e2 are 4/5 + 3/5 and 3/5 + 4/5, equal in
 * floating point too (IEEE addition commutes); (1,1) gives √2 > 7/5. The smallest step wins. */
START_TEST(adaptive_anchor_ties_to_smallest_step) {
    static const float tie_early[HT * HD] = {1, 0, 4, 3, 3, 4, 1, 1, 0, 1};
    static const float tie_late[HT * HD] = {1, 0, 1, 1, 4, 3, 3, 4, 0, 1};
    sdpo_dense_config cfg = {SDPO_DENSE_SIM3_ADAPTIVE, 0};
    int steps[HT], n;
    ck_assert_int_eq(sdpo_dense_query_steps(&cfg, HT, HD, tie_early, NULL, steps, &n), SDPO_OK);
    ck_assert_int_eq(steps[1], 1);
    ck_assert_int_eq(sdpo_dense_query_steps(&cfg, HT, HD, tie_late, NULL, steps, &n), SDPO_OK);
    ck_assert_int_eq(steps[1], 2);
}
END_TEST

/* anchor_all_steps (official code, §7 item 1): x̂ = (1,0), (1,1), (0,1), (1,2), (−3,4).
 *   s^F + s^L = [1 − 3/5, 1/√2 + 1/(5√2), 4/5, 1/√5 + 1/√5, −3/5 + 1] = [0.4, 0.849, 0.8, 0.894, 0.4]
 * Paper range [1, 3] → anchor 2; all steps → the endpoints tie exactly at 0.4 → anchor 0. */
static const float arc_x[HT * HD] = {1, 0, 1, 1, 0, 1, 1, 2, -3, 4};

START_TEST(anchor_all_steps_can_pick_an_endpoint) {
    int steps[HT], n;
    float pred[HT];
    sdpo_dense_config paper = {SDPO_DENSE_SIM3_ADAPTIVE, 0}, code = {SDPO_DENSE_SIM3_ADAPTIVE, 1};
    ck_assert_int_eq(sdpo_dense_query_steps(&paper, HT, HD, arc_x, NULL, steps, &n), SDPO_OK);
    assert_steps(steps, n, (const int[]){0, 2, 4}, 3);
    /* Paper mode, R = (1, ·, 5, ·, 12): i=1 weights (1, 1, 1/5)/√2 → (1 + 5 + 12/5)/(11/5) = 42/11;
     * i=3 weights (1, 2, 1)/√5 → (1 + 10 + 12)/4 = 23/4. */
    ck_assert_int_eq(sdpo_dense_predict(&paper, HT, HD, arc_x, steps, n, (const float[]){1, 5, 12},
                                        pred), SDPO_OK);
    ck_assert_array_close("paper", pred, (const double[]){1, 42.0 / 11, 5, 23.0 / 4, 12}, HT,
                          1e-12, HAND_RTOL);

    ck_assert_int_eq(sdpo_dense_query_steps(&code, HT, HD, arc_x, NULL, steps, &n), SDPO_OK);
    assert_steps(steps, n, (const int[]){0, 0, 4}, 3);
    /* Step 0 is queried twice; give the anchor query a different value (1.5 vs 1) to show it is
     * counted as its own term and assigned last. s^A = s^F:
     *   i=1: ((1 + 1.5)/√2 + 12/(5√2)) / ((2 + 1/5)/√2) = 4.9/2.2 = 49/22;
     *   i=2: s^F = s^A = 0 → 12;   i=3: (1 + 1.5 + 12)/3 = 29/6;   i=0: anchor → 1.5. */
    ck_assert_int_eq(sdpo_dense_predict(&code, HT, HD, arc_x, steps, n,
                                        (const float[]){1, 1.5f, 12}, pred), SDPO_OK);
    ck_assert_array_close("all steps", pred, (const double[]){1.5, 49.0 / 22, 12, 29.0 / 6, 12},
                          HT, 1e-12, HAND_RTOL);

    /* An anchor on the last step, R = (1, ·, ·, ·, 12) and anchor query 10: s^A = s^L, so
     *   i=1: (1 + 1/5·10 + 1/5·12)/(7/5) = 27/7;  i=2: (4/5·10 + 4/5·12)/(8/5) = 11;
     *   i=3: (1 + 10 + 12)/3 = 23/3;  i=4: the anchor query, assigned after the last one. */
    ck_assert_int_eq(sdpo_dense_predict(&code, HT, HD, arc_x, (const int[]){0, 4, 4}, 3,
                                        (const float[]){1, 10, 12}, pred), SDPO_OK);
    ck_assert_array_close("anchor T-1", pred, (const double[]){1, 27.0 / 7, 11, 23.0 / 3, 10},
                          HT, 1e-12, HAND_RTOL);
    /* The argmin itself reaches T−1 only if x̂_{T−1} = 0 (the endpoints otherwise tie and 0
     * wins): sums [1 + 0, 1/√2, 1/√5, 0 + 0] → anchor 3; s^L = s^A = 0 leaves R_0 inside. */
    const float zero_last[4 * 2] = {1, 0, 1, 1, 1, 2, 0, 0};
    ck_assert_int_eq(sdpo_dense_query_steps(&code, 4, 2, zero_last, NULL, steps, &n), SDPO_OK);
    assert_steps(steps, n, (const int[]){0, 3, 3}, 3);
    ck_assert_int_eq(sdpo_dense_predict(&code, 4, 2, zero_last, steps, n,
                                        (const float[]){1, 2.5f, 3}, pred), SDPO_OK);
    ck_assert_array_close("zero last", pred, (const double[]){1, 1, 1, 2.5}, 4, 0, 0);

    /* anchor_all_steps concerns the adaptive argmin only: fixed and random anchors keep to
     * [1, T−2], and an endpoint anchor is refused for them. */
    sdpo_dense_config fixed_all = {SDPO_DENSE_SIM3_FIXED, 1};
    ck_assert_int_eq(sdpo_dense_query_steps(&fixed_all, HT, HD, arc_x, NULL, steps, &n), SDPO_OK);
    assert_steps(steps, n, (const int[]){0, 2, 4}, 3);
    ck_assert_int_eq(sdpo_dense_predict(&fixed_all, HT, HD, arc_x, (const int[]){0, 0, 4}, 3,
                                        (const float[]){1, 1, 12}, pred), SDPO_ERR_ARG);
    ck_assert_int_eq(sdpo_dense_predict(&paper, HT, HD, arc_x, (const int[]){0, 4, 4}, 3,
                                        (const float[]){1, 1, 12}, pred), SDPO_ERR_ARG);
}
END_TEST

/* ---------------------------------------------------------------- T = 1, T = 2 */

START_TEST(one_and_two_steps) {
    const float x[2 * 2] = {1, 2, -2, 1};
    const float r[2] = {3.5f, -1.25f};
    for (int s = 0; s < SDPO_DENSE_COUNT; s++) {
        for (int all = 0; all <= 1; all++) {
            sdpo_dense_config cfg = {(sdpo_dense_strategy)s, all};
            sdpo_rng rng;
            sdpo_rng_init(&rng, 3, SDPO_STREAM_RANDOM_ANCHOR);
            int steps[2] = {-1, -1}, n = -1;
            float pred[2];
            /* T = 1: one query of step 0 whatever the strategy. */
            ck_assert_int_eq(sdpo_dense_query_steps(&cfg, 1, 2, x, &rng, steps, &n), SDPO_OK);
            assert_steps(steps, n, (const int[]){0}, 1);
            ck_assert_int_eq(sdpo_dense_predict(&cfg, 1, 2, x, steps, n, r, pred), SDPO_OK);
            ck_assert(pred[0] == r[0]);
            /* T = 2: copy queries the last step; every other strategy both (sim3-* as sim2),
             * and all predictions are exact rewards. */
            ck_assert_int_eq(sdpo_dense_query_steps(&cfg, 2, 2, x, &rng, steps, &n), SDPO_OK);
            if (s == SDPO_DENSE_COPY) {
                assert_steps(steps, n, (const int[]){1}, 1);
            } else {
                assert_steps(steps, n, (const int[]){0, 1}, 2);
            }
            float q[2] = {r[steps[0]], n > 1 ? r[steps[1]] : 0};
            ck_assert_int_eq(sdpo_dense_predict(&cfg, 2, 2, x, steps, n, q, pred), SDPO_OK);
            ck_assert(pred[0] == (s == SDPO_DENSE_COPY ? r[1] : r[0]) && pred[1] == r[1]);
            /* No anchor is drawn for T ≤ 2. */
            ck_assert(rng.block == 0 && rng.avail == 0);
        }
    }
}
END_TEST

/* ---------------------------------------------------------------- errors */

START_TEST(zero_weight_sum_fails_naming_the_step) {
    /* sim2, T = 3: x̂_1 = (1,−1) has cosine 1/√2 with (1,0) and −1/√2 with (0,1): exactly 0. */
    const float x3[3 * 2] = {1, 0, 1, -1, 0, 1};
    sdpo_dense_config sim2 = {SDPO_DENSE_SIM2, 0};
    float pred[HT];
    ck_assert_int_eq(sdpo_dense_predict(&sim2, 3, 2, x3, (const int[]){0, 2}, 2,
                                        (const float[]){1, 2}, pred), SDPO_ERR_NONFINITE);
    ck_assert_msg(strstr(sdpo_last_error(), "step 1") != NULL, "%s", sdpo_last_error());
    /* sim3-fixed, T = 5: a zero x̂_1 has similarity 0 with everything (eps clamp). */
    float x5[HT * HD];
    memcpy(x5, hand_x, sizeof x5);
    x5[2] = x5[3] = 0;
    sdpo_dense_config fixed = {SDPO_DENSE_SIM3_FIXED, 0};
    ck_assert_int_eq(sdpo_dense_predict(&fixed, HT, HD, x5, (const int[]){0, 2, 4}, 3,
                                        (const float[]){1, 2, 3}, pred), SDPO_ERR_NONFINITE);
    ck_assert_msg(strstr(sdpo_last_error(), "step 1") != NULL, "%s", sdpo_last_error());
    /* At a queried step the average is never formed: a zero x̂ at the anchor is fine, and the
     * adaptive argmin picks it (its s^F + s^L = 0 is the minimum). */
    sdpo_dense_config adaptive = {SDPO_DENSE_SIM3_ADAPTIVE, 0};
    int steps[HT], n;
    ck_assert_int_eq(sdpo_dense_query_steps(&adaptive, HT, HD, x5, NULL, steps, &n), SDPO_OK);
    ck_assert_int_eq(steps[1], 1);
    ck_assert_int_eq(sdpo_dense_predict(&adaptive, HT, HD, x5, steps, n,
                                        (const float[]){2, 7, 6}, pred), SDPO_OK);
    ck_assert(pred[1] == 7.0f);
}
END_TEST

START_TEST(nonfinite_inputs_fail_naming_the_index) {
    float x[HT * HD];
    memcpy(x, hand_x, sizeof x);
    x[2 * HD + 1] = NAN;
    int steps[HT], n;
    float pred[HT];
    for (int s = SDPO_DENSE_SIM2; s <= SDPO_DENSE_SIM3_ADAPTIVE; s++) {
        sdpo_dense_config cfg = {(sdpo_dense_strategy)s, 0};
        sdpo_rng rng;
        sdpo_rng_init(&rng, 1, SDPO_STREAM_RANDOM_ANCHOR);
        ck_assert_int_eq(sdpo_dense_query_steps(&cfg, HT, HD, x, &rng, steps, &n),
                         SDPO_ERR_NONFINITE);
        ck_assert_msg(strstr(sdpo_last_error(), "xhat[2][1]") != NULL, "%s", sdpo_last_error());
        static const int sim2_steps[2] = {0, 4}, sim3_steps[3] = {0, 2, 4};
        int is2 = s == SDPO_DENSE_SIM2;
        ck_assert_int_eq(sdpo_dense_predict(&cfg, HT, HD, x, is2 ? sim2_steps : sim3_steps,
                                            is2 ? 2 : 3, (const float[]){1, 2, 3}, pred),
                         SDPO_ERR_NONFINITE);
        ck_assert_msg(strstr(sdpo_last_error(), "xhat[2][1]") != NULL, "%s", sdpo_last_error());
    }
    /* Strategies that never read x̂ ignore it (NULL is accepted too). */
    sdpo_dense_config copy = {SDPO_DENSE_COPY, 0};
    ck_assert_int_eq(sdpo_dense_query_steps(&copy, HT, HD, x, NULL, steps, &n), SDPO_OK);
    ck_assert_int_eq(sdpo_dense_query_steps(&copy, HT, 0, NULL, NULL, steps, &n), SDPO_OK);
    /* A non-finite queried reward. */
    sdpo_dense_config fixed = {SDPO_DENSE_SIM3_FIXED, 0};
    ck_assert_int_eq(sdpo_dense_predict(&fixed, HT, HD, hand_x, (const int[]){0, 2, 4}, 3,
                                        (const float[]){1, INFINITY, 3}, pred),
                     SDPO_ERR_NONFINITE);
    ck_assert_msg(strstr(sdpo_last_error(), "queried_rewards[1] (step 2)") != NULL, "%s",
                  sdpo_last_error());
    sdpo_dense_config interp = {SDPO_DENSE_INTERP2, 0};
    ck_assert_int_eq(sdpo_dense_predict(&interp, HT, 0, NULL, (const int[]){0, 4}, 2,
                                        (const float[]){NAN, 3}, pred), SDPO_ERR_NONFINITE);
    ck_assert_msg(strstr(sdpo_last_error(), "queried_rewards[0]") != NULL, "%s", sdpo_last_error());
}
END_TEST

START_TEST(bad_arguments) {
    int steps[HT], n;
    float pred[HT];
    const float q[3] = {1, 2, 3};
    sdpo_dense_config sim2 = {SDPO_DENSE_SIM2, 0}, full = {SDPO_DENSE_FULL, 0};
    sdpo_dense_config bad_s = {SDPO_DENSE_COUNT, 0}, bad_all = {SDPO_DENSE_SIM3_ADAPTIVE, 2};
    sdpo_dense_config rnd = {SDPO_DENSE_SIM3_RANDOM, 0};
    ck_assert_int_eq(sdpo_dense_query_steps(NULL, HT, HD, hand_x, NULL, steps, &n), SDPO_ERR_ARG);
    ck_assert_int_eq(sdpo_dense_query_steps(&bad_s, HT, HD, hand_x, NULL, steps, &n), SDPO_ERR_ARG);
    ck_assert_int_eq(sdpo_dense_query_steps(&bad_all, HT, HD, hand_x, NULL, steps, &n), SDPO_ERR_ARG);
    ck_assert_msg(strstr(sdpo_last_error(), "anchor_all_steps") != NULL, "%s", sdpo_last_error());
    ck_assert_int_eq(sdpo_dense_query_steps(&sim2, 0, HD, hand_x, NULL, steps, &n), SDPO_ERR_ARG);
    ck_assert_int_eq(sdpo_dense_query_steps(&sim2, HT, 0, hand_x, NULL, steps, &n), SDPO_ERR_ARG);
    ck_assert_int_eq(sdpo_dense_query_steps(&sim2, HT, HD, NULL, NULL, steps, &n), SDPO_ERR_ARG);
    ck_assert_int_eq(sdpo_dense_query_steps(&sim2, HT, HD, hand_x, NULL, NULL, &n), SDPO_ERR_ARG);
    ck_assert_int_eq(sdpo_dense_query_steps(&sim2, HT, HD, hand_x, NULL, steps, NULL), SDPO_ERR_ARG);
    ck_assert_int_eq(sdpo_dense_query_steps(&rnd, HT, HD, hand_x, NULL, steps, &n), SDPO_ERR_ARG);
    ck_assert_msg(strstr(sdpo_last_error(), "anchor_rng") != NULL, "%s", sdpo_last_error());
    /* Step lists that do not fit the strategy. */
    ck_assert_int_eq(sdpo_dense_predict(&sim2, HT, HD, hand_x, (const int[]){0, 3}, 2, q, pred),
                     SDPO_ERR_ARG);
    ck_assert_msg(strstr(sdpo_last_error(), "steps[1] = 3") != NULL, "%s", sdpo_last_error());
    ck_assert_int_eq(sdpo_dense_predict(&sim2, HT, HD, hand_x, (const int[]){0, 2, 4}, 3, q, pred),
                     SDPO_ERR_ARG);
    ck_assert_int_eq(sdpo_dense_predict(&full, 3, 0, NULL, (const int[]){0, 2, 1}, 3, q, pred),
                     SDPO_ERR_ARG);
    ck_assert_int_eq(sdpo_dense_predict(&full, 3, 0, NULL, (const int[]){0, 1, 2}, 3, q, NULL),
                     SDPO_ERR_ARG);
    ck_assert_int_eq(sdpo_dense_predict(&full, 3, 0, NULL, (const int[]){0, 1, 2}, 3, NULL, pred),
                     SDPO_ERR_ARG);
    ck_assert_int_eq(sdpo_dense_query_count(SDPO_DENSE_FULL, 0), 0);
    ck_assert_int_eq(sdpo_dense_query_count(SDPO_DENSE_COUNT, 5), 0);
}
END_TEST

/* ---------------------------------------------------------------- NumPy fixture */

static const struct {
    const char *section; /* fixture suffix */
    sdpo_dense_config cfg;
} fixture_cases[] = {
    {"copy", {SDPO_DENSE_COPY, 0}},
    {"interp2", {SDPO_DENSE_INTERP2, 0}},
    {"sim2", {SDPO_DENSE_SIM2, 0}},
    {"sim3-fixed", {SDPO_DENSE_SIM3_FIXED, 0}},
    {"sim3-adaptive", {SDPO_DENSE_SIM3_ADAPTIVE, 0}},
    {"sim3-adaptive-all", {SDPO_DENSE_SIM3_ADAPTIVE, 1}},
    {"full", {SDPO_DENSE_FULL, 0}},
};
enum { N_FIXTURE_CASES = sizeof fixture_cases / sizeof fixture_cases[0] };

/* Per trajectory: query steps (anchors against the fixture), then predict. */
START_TEST(fixture_predictions) {
    const char *name = fixture_cases[_i].section;
    const sdpo_dense_config *cfg = &fixture_cases[_i].cfg;
    float *x = fixture_f32("xhat", FN * FT * FD), *r = fixture_f32("reward", FN * FT);
    char sec[64];
    snprintf(sec, sizeof sec, "pred_%s", name);
    double *want = fixture(sec, FN * FT), *anchor = NULL;
    if (cfg->strategy == SDPO_DENSE_SIM3_ADAPTIVE) {
        snprintf(sec, sizeof sec, "anchor_%s", name);
        anchor = fixture(sec, FN);
    }
    for (int t = 0; t < FN; t++) {
        const float *xt = x + (size_t)t * FT * FD, *rt = r + t * FT;
        int steps[FT], n;
        float q[FT], pred[FT];
        ck_assert_int_eq(sdpo_dense_query_steps(cfg, FT, FD, xt, NULL, steps, &n), SDPO_OK);
        if (anchor) ck_assert_msg(steps[1] == (int)anchor[t], "%s trajectory %d: anchor %d, want %g",
                                  name, t, steps[1], anchor[t]);
        for (int j = 0; j < n; j++) q[j] = rt[steps[j]];
        ck_assert_int_eq(sdpo_dense_predict(cfg, FT, FD, xt, steps, n, q, pred), SDPO_OK);
        ck_assert_array_close(name, pred, want + t * FT, FT, FIX_ATOL, FIX_RTOL);
    }
    free(x);
    free(r);
    free(want);
    free(anchor);
}
END_TEST

/* Table 3 end to end (sdpo_table3_strategy) against the fixture's predictions and metrics. The
 * metrics are double sums over float predictions that may differ from NumPy's by one float ulp
 * (see the file comment), hence rtol 1e-6; metrics that are 0 in exact arithmetic (copy's
 * cosine, full's distances) come out at the 1e-16 level, hence atol 1e-12. */
START_TEST(fixture_table3_rows) {
    const char *name = fixture_cases[_i].section;
    float *x = fixture_f32("xhat", FN * FT * FD), *r = fixture_f32("reward", FN * FT);
    char sec[64];
    snprintf(sec, sizeof sec, "pred_%s", name);
    double *want_pred = fixture(sec, FN * FT);
    snprintf(sec, sizeof sec, "table3_%s", name);
    double *want = fixture(sec, 3);
    float pred[FN * FT];
    sdpo_table3_row row;
    ck_assert_int_eq(sdpo_table3_strategy(&fixture_cases[_i].cfg, FN, FT, FD, x, r, 0, pred, &row),
                     SDPO_OK);
    ck_assert_array_close(name, pred, want_pred, FN * FT, FIX_ATOL, FIX_RTOL);
    CK_CLOSE(row.cosine_similarity, want[0], 1e-12, 1e-6);
    CK_CLOSE(row.l1_distance, want[1], 1e-12, 1e-6);
    CK_CLOSE(row.l2_distance, want[2], 1e-12, 1e-6);
    ck_assert_int_eq(row.n_used, FN);
    ck_assert_int_eq(row.n_skipped, 0);
    free(x);
    free(r);
    free(want_pred);
    free(want);
}
END_TEST

/* sim3-random cannot be reproduced in NumPy (Philox), so: the anchor is in [1, T−2], it is the
 * stream's next draw, and the prediction equals the fixture's sim3 prediction for that anchor. */
START_TEST(fixture_random_anchor_properties) {
    float *x = fixture_f32("xhat", FN * FT * FD), *r = fixture_f32("reward", FN * FT);
    double *by_anchor = fixture("pred_sim3_by_anchor", FN * (FT - 2) * FT);
    sdpo_dense_config cfg = {SDPO_DENSE_SIM3_RANDOM, 0};
    int counts[FT] = {0};
    enum { ROUNDS = 250 };
    sdpo_rng rng, replay;
    sdpo_rng_init(&rng, 2024, SDPO_STREAM_RANDOM_ANCHOR);
    sdpo_rng_init(&replay, 2024, SDPO_STREAM_RANDOM_ANCHOR);
    for (int round = 0; round < ROUNDS; round++) {
        for (int t = 0; t < FN; t++) {
            const float *xt = x + (size_t)t * FT * FD, *rt = r + t * FT;
            int steps[FT], n;
            float q[FT], pred[FT];
            ck_assert_int_eq(sdpo_dense_query_steps(&cfg, FT, FD, xt, &rng, steps, &n), SDPO_OK);
            ck_assert_int_eq(n, 3);
            int k = steps[1];
            ck_assert_msg(k >= 1 && k <= FT - 2, "anchor %d outside [1, %d]", k, FT - 2);
            ck_assert_int_eq(k, 1 + (int)sdpo_rng_below(&replay, FT - 2));
            counts[k]++;
            if (round < 2) { /* every trajectory, several anchors: enough for the value check */
                for (int j = 0; j < n; j++) q[j] = rt[steps[j]];
                ck_assert_int_eq(sdpo_dense_predict(&cfg, FT, FD, xt, steps, n, q, pred), SDPO_OK);
                ck_assert_array_close("sim3-random", pred,
                                      by_anchor + ((size_t)t * (FT - 2) + (size_t)(k - 1)) * FT,
                                      FT, FIX_ATOL, FIX_RTOL);
            }
        }
    }
    /* 1500 draws uniform over 8 anchors: each count ~ Binomial(1500, 1/8), mean 187.5,
     * sd 12.8; a 5-sd band. */
    for (int k = 1; k <= FT - 2; k++)
        ck_assert_msg(counts[k] > 123 && counts[k] < 252, "anchor %d drawn %d times", k, counts[k]);
    /* Same seed → same predictions; another seed → different anchors somewhere. */
    float p1[FN * FT], p2[FN * FT], p3[FN * FT];
    sdpo_table3_row row;
    ck_assert_int_eq(sdpo_table3_strategy(&cfg, FN, FT, FD, x, r, 7, p1, &row), SDPO_OK);
    ck_assert_int_eq(sdpo_table3_strategy(&cfg, FN, FT, FD, x, r, 7, p2, &row), SDPO_OK);
    ck_assert_int_eq(sdpo_table3_strategy(&cfg, FN, FT, FD, x, r, 8, p3, &row), SDPO_OK);
    ck_assert(memcmp(p1, p2, sizeof p1) == 0);
    ck_assert(memcmp(p1, p3, sizeof p1) != 0);
    free(x);
    free(r);
    free(by_anchor);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("dense_reward");
    TCase *tc = tcase_create("hand");
    tcase_add_test(tc, names_round_trip_and_unknown_names);
    tcase_add_test(tc, cosine_semantics);
    tcase_add_test(tc, hand_case_every_strategy);
    tcase_add_test(tc, hand_case_random_anchor);
    tcase_add_test(tc, adaptive_anchor_ties_to_smallest_step);
    tcase_add_test(tc, anchor_all_steps_can_pick_an_endpoint);
    tcase_add_test(tc, one_and_two_steps);
    tcase_add_test(tc, zero_weight_sum_fails_naming_the_step);
    tcase_add_test(tc, nonfinite_inputs_fail_naming_the_index);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    TCase *fx = tcase_create("fixture");
    tcase_add_loop_test(fx, fixture_predictions, 0, N_FIXTURE_CASES);
    tcase_add_loop_test(fx, fixture_table3_rows, 0, N_FIXTURE_CASES);
    tcase_add_test(fx, fixture_random_anchor_properties);
    suite_add_tcase(s, fx);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

/* tests/test_returns.c — discounted returns (Eq. 13) and stepwise importance weights (Eq. 14):
 * hand-derived cases, argument errors, enum spellings, and the NumPy fixture
 * tests/data/core_rl/returns.txt written by reference/derive_core_rl.py. */
#include "core/returns.h"
#include "core/trajectory.h"
#include "core/weights.h"
#include "tests/check_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIXTURE "tests/data/core_rl/returns.txt"

/* Exact in binary: every partial sum below is a dyadic rational. */
START_TEST(returns_hand_derived) {
    const float r[2 * 3] = {1, 2, 3, -1, 0, 4};
    float g[6];
    ck_assert_int_eq(sdpo_discounted_returns(2, 3, r, 0.5, g), SDPO_OK);
    /* Row 0: G2 = 3, G1 = 2 + 0.5·3 = 3.5, G0 = 1 + 0.5·3.5 = 2.75 — the first step accumulates
     * everything after it, the last holds only its own reward. Row 1: 4, 2, 0. */
    const float want[6] = {2.75f, 3.5f, 3.0f, 0.0f, 2.0f, 4.0f};
    for (int k = 0; k < 6; k++) ck_assert_float_eq(g[k], want[k]);
    /* γ = 1: plain suffix sums. */
    ck_assert_int_eq(sdpo_discounted_returns(2, 3, r, 1.0, g), SDPO_OK);
    const float sums[6] = {6, 5, 3, 3, 4, 4};
    for (int k = 0; k < 6; k++) ck_assert_float_eq(g[k], sums[k]);
}
END_TEST

/* Official: the block is skipped for gamma <= 0 (L631), and NONE is G = R for any gamma. */
START_TEST(returns_none_and_nonpositive_gamma_copy) {
    const float r[4] = {1.5f, -2.0f, 0.25f, 8.0f};
    const double gammas[3] = {0.0, -1.0, -0.0};
    for (int k = 0; k < 3; k++) {
        float g[4] = {0};
        ck_assert_int_eq(sdpo_discounted_returns(1, 4, r, gammas[k], g), SDPO_OK);
        ck_assert_int_eq(memcmp(g, r, sizeof r), 0);
    }
    float g[4] = {0};
    ck_assert_int_eq(sdpo_compute_returns(SDPO_RETURNS_NONE, 2, 2, r, 0.99, g), SDPO_OK);
    ck_assert_int_eq(memcmp(g, r, sizeof r), 0);
    ck_assert_int_eq(sdpo_compute_returns(SDPO_RETURNS_DISCOUNTED, 2, 2, r, 0.5, g), SDPO_OK);
    ck_assert_float_eq(g[0], 0.5f);  /* 1.5 + 0.5·(−2) */
    ck_assert_float_eq(g[2], 4.25f); /* 0.25 + 0.5·8 */
}
END_TEST

START_TEST(returns_in_place_matches_out_of_place) {
    float r[6] = {0.3f, -1.7f, 2.9f, 4.1f, 0.0f, -0.6f}, g[6];
    ck_assert_int_eq(sdpo_discounted_returns(2, 3, r, 0.9, g), SDPO_OK);
    ck_assert_int_eq(sdpo_discounted_returns(2, 3, r, 0.9, r), SDPO_OK);
    ck_assert_int_eq(memcmp(g, r, sizeof r), 0);
}
END_TEST

START_TEST(returns_errors) {
    float r[6] = {1, 2, 3, 4, 5, 6}, g[6] = {0};
    r[5] = NAN;
    ck_assert_int_eq(sdpo_discounted_returns(2, 3, r, 0.9, g), SDPO_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(sdpo_last_error(), "rewards[1][2]"));
    for (int k = 0; k < 6; k++) ck_assert_float_eq(g[k], 0.0f); /* untouched on error */
    r[5] = 6;
    ck_assert_int_eq(sdpo_discounted_returns(2, 3, r, NAN, g), SDPO_ERR_ARG);
    ck_assert_int_eq(sdpo_discounted_returns(2, 3, r, 1.5, g), SDPO_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(sdpo_last_error(), "gamma"));
    ck_assert_int_eq(sdpo_discounted_returns(2, 0, r, 0.9, g), SDPO_ERR_ARG);
    ck_assert_int_eq(sdpo_discounted_returns(-1, 3, r, 0.9, g), SDPO_ERR_ARG);
    ck_assert_int_eq(sdpo_discounted_returns(2, 3, NULL, 0.9, g), SDPO_ERR_ARG);
    ck_assert_int_eq(sdpo_discounted_returns(0, 3, NULL, 0.9, NULL), SDPO_OK);
    ck_assert_int_eq(sdpo_compute_returns((sdpo_returns_mode)7, 2, 3, r, 0.9, g), SDPO_ERR_ARG);
}
END_TEST

START_TEST(returns_mode_names) {
    sdpo_returns_mode m = SDPO_RETURNS_NONE;
    ck_assert_int_eq(sdpo_returns_mode_parse("discounted", &m), SDPO_OK);
    ck_assert_int_eq(m, SDPO_RETURNS_DISCOUNTED);
    ck_assert_int_eq(sdpo_returns_mode_parse("none", &m), SDPO_OK);
    ck_assert_int_eq(m, SDPO_RETURNS_NONE);
    ck_assert_str_eq(sdpo_returns_mode_name(SDPO_RETURNS_DISCOUNTED), "discounted");
    ck_assert_str_eq(sdpo_returns_mode_name(SDPO_RETURNS_NONE), "none");
    ck_assert_str_eq(sdpo_returns_mode_name((sdpo_returns_mode)9), "unknown");
    ck_assert_int_eq(sdpo_returns_mode_parse("Discounted", &m), SDPO_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(sdpo_last_error(), "discounted, none"));
    ck_assert_int_eq(sdpo_returns_mode_parse(NULL, &m), SDPO_ERR_ARG);
}
END_TEST

/* The C side rounds one double recursion to float; the reference runs the same recursion in
 * float64, so the only difference is that final rounding: <= 2^−24 relative (6e−8); 2e−7. */
START_TEST(returns_match_numpy_reference) {
    double rd[15], want[15];
    float r[15], g[15];
    ck_load_block(FIXTURE, "rewards", 15, rd);
    for (int k = 0; k < 15; k++) r[k] = (float)rd[k];
    static const char *const names[3] = {"g099", "g09", "g1"};
    for (int c = 0; c < 3; c++) {
        char key[32];
        double gamma;
        snprintf(key, sizeof key, "gamma_%s", names[c]);
        ck_load_block(FIXTURE, key, 1, &gamma);
        snprintf(key, sizeof key, "returns_%s", names[c]);
        ck_load_block(FIXTURE, key, 15, want);
        ck_assert_int_eq(sdpo_discounted_returns(3, 5, r, gamma, g), SDPO_OK);
        ck_assert_array_close(key, g, want, 15, 0.0, 2e-7);
    }
}
END_TEST

/* λ = 1/2, η = 2 makes every weight a power of two: exact. */
START_TEST(weights_hand_derived) {
    double w[4];
    ck_assert_int_eq(sdpo_step_weights(SDPO_WEIGHT_DECAY, 0.5, 2.0, 4, w), SDPO_OK);
    const double decay[4] = {0.5, 0.25, 0.125, 0.0625};
    for (int i = 0; i < 4; i++) ck_assert_double_eq(w[i], decay[i]);
    ck_assert_int_eq(sdpo_step_weights(SDPO_WEIGHT_UNIFORM, 0.5, 2.0, 4, w), SDPO_OK);
    for (int i = 0; i < 4; i++) ck_assert_double_eq(w[i], 0.5);
    ck_assert_int_eq(sdpo_step_weights(SDPO_WEIGHT_REVERSE, 0.5, 2.0, 4, w), SDPO_OK);
    for (int i = 0; i < 4; i++) ck_assert_double_eq(w[i], decay[3 - i]);
    /* DECAY is the paper's λ^(T−t−1)/η with t = T−1−i, and λ = 1 equals UNIFORM. */
    for (int i = 0; i < 50; i++) {
        int t = sdpo_paper_step(i, 50);
        ck_assert_double_eq(sdpo_step_weight(SDPO_WEIGHT_DECAY, 0.99, 1.0, i, 50),
                            pow(0.99, 50 - t - 1));
        ck_assert_double_eq(sdpo_step_weight(SDPO_WEIGHT_DECAY, 1.0, 1.0, i, 50),
                            sdpo_step_weight(SDPO_WEIGHT_UNIFORM, 0.99, 1.0, i, 50));
    }
    /* Official defaults: the first step gets 1, the last λ^49 ≈ 0.611 (spec §2.8). */
    ck_assert_double_eq(sdpo_step_weight(SDPO_WEIGHT_DECAY, 0.99, 1.0, 0, 50), 1.0);
    CK_CLOSE(sdpo_step_weight(SDPO_WEIGHT_DECAY, 0.99, 1.0, 49, 50), 0.611117, 1e-6, 0);
}
END_TEST

START_TEST(weights_errors_and_names) {
    ck_assert(isnan(sdpo_step_weight(SDPO_WEIGHT_DECAY, 0.99, 1.0, 5, 5)));
    ck_assert(isnan(sdpo_step_weight(SDPO_WEIGHT_DECAY, 0.99, 1.0, -1, 5)));
    ck_assert(isnan(sdpo_step_weight(SDPO_WEIGHT_DECAY, 0.99, 0.0, 0, 5)));
    ck_assert(isnan(sdpo_step_weight(SDPO_WEIGHT_DECAY, NAN, 1.0, 0, 5)));
    ck_assert(isnan(sdpo_step_weight((sdpo_weighting)3, 0.99, 1.0, 0, 5)));
    double w[3] = {7, 7, 7};
    ck_assert_int_eq(sdpo_step_weights(SDPO_WEIGHT_DECAY, 0.99, 0.0, 3, w), SDPO_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(sdpo_last_error(), "eta"));
    ck_assert_int_eq(sdpo_step_weights(SDPO_WEIGHT_DECAY, INFINITY, 1.0, 3, w), SDPO_ERR_ARG);
    ck_assert_int_eq(sdpo_step_weights(SDPO_WEIGHT_DECAY, 0.99, 1.0, 0, w), SDPO_ERR_ARG);
    ck_assert_int_eq(sdpo_step_weights((sdpo_weighting)3, 0.99, 1.0, 3, w), SDPO_ERR_ARG);
    ck_assert_double_eq(w[0], 7);
    static const char *const names[3] = {"decay", "uniform", "reverse"};
    for (int k = 0; k < 3; k++) {
        sdpo_weighting m;
        ck_assert_int_eq(sdpo_weighting_parse(names[k], &m), SDPO_OK);
        ck_assert_int_eq(m, k);
        ck_assert_str_eq(sdpo_weighting_name(m), names[k]);
    }
    sdpo_weighting m;
    ck_assert_int_eq(sdpo_weighting_parse("linear", &m), SDPO_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(sdpo_last_error(), "decay, uniform, reverse"));
    ck_assert_str_eq(sdpo_weighting_name((sdpo_weighting)-1), "unknown");
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("returns");
    TCase *tc = tcase_create("returns");
    tcase_add_test(tc, returns_hand_derived);
    tcase_add_test(tc, returns_none_and_nonpositive_gamma_copy);
    tcase_add_test(tc, returns_in_place_matches_out_of_place);
    tcase_add_test(tc, returns_errors);
    tcase_add_test(tc, returns_mode_names);
    tcase_add_test(tc, returns_match_numpy_reference);
    suite_add_tcase(s, tc);
    TCase *tw = tcase_create("weights");
    tcase_add_test(tw, weights_hand_derived);
    tcase_add_test(tw, weights_errors_and_names);
    suite_add_tcase(s, tw);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

/* tests/test_update_schedule.c — per-pair step orders (shuffled / sequential / accumulated) and
 * the number of backward passes per optimizer step, against the official configs' counts. */
#include "core/rng.h"
#include "core/update_schedule.h"
#include "tests/check_util.h"

#include <stdlib.h>
#include <string.h>

START_TEST(sequential_is_identity) {
    int order[3 * 5];
    memset(order, 0xff, sizeof order);
    ck_assert_int_eq(sdpo_update_step_order(SDPO_UPDATE_SEQUENTIAL, 3, 5, NULL, order), SDPO_OK);
    for (int p = 0; p < 3; p++)
        for (int j = 0; j < 5; j++) ck_assert_int_eq(order[p * 5 + j], j);
}
END_TEST

/* SHUFFLED is one sdpo_rng_permutation per pair, pairs in order, from the caller's stream:
 * replaying the same draws on a copy of the stream gives the same rows and the same end state. */
START_TEST(shuffled_is_one_permutation_per_pair_in_order) {
    enum { P = 20, T = 10 };
    sdpo_rng r, replay;
    sdpo_rng_init(&r, 42, SDPO_STREAM_STEP_SHUFFLE);
    replay = r;
    int order[P * T], want[T];
    ck_assert_int_eq(sdpo_update_step_order(SDPO_UPDATE_SHUFFLED, P, T, &r, order), SDPO_OK);
    int distinct_rows = 0;
    for (int p = 0; p < P; p++) {
        sdpo_rng_permutation(&replay, want, T);
        int seen[T] = {0};
        for (int j = 0; j < T; j++) {
            ck_assert_int_eq(order[p * T + j], want[j]);
            seen[order[p * T + j]]++;
        }
        for (int i = 0; i < T; i++) ck_assert_int_eq(seen[i], 1); /* a permutation */
        distinct_rows += p > 0 && memcmp(order + p * T, order, sizeof want) != 0;
    }
    ck_assert_int_eq(distinct_rows, P - 1); /* independent rows: none repeats row 0 here */
    ck_assert_uint_eq(r.block, replay.block);
    ck_assert_int_eq(r.avail, replay.avail);
}
END_TEST

/* ACCUMULATED trains on the SHUFFLED order (same draws); only the optimizer cadence differs. */
START_TEST(accumulated_uses_the_shuffled_order) {
    enum { P = 6, T = 7 };
    sdpo_rng a, b;
    sdpo_rng_init(&a, 5, SDPO_STREAM_STEP_SHUFFLE);
    sdpo_rng_init(&b, 5, SDPO_STREAM_STEP_SHUFFLE);
    int x[P * T], y[P * T];
    ck_assert_int_eq(sdpo_update_step_order(SDPO_UPDATE_SHUFFLED, P, T, &a, x), SDPO_OK);
    ck_assert_int_eq(sdpo_update_step_order(SDPO_UPDATE_ACCUMULATED, P, T, &b, y), SDPO_OK);
    ck_assert_int_eq(memcmp(x, y, sizeof x), 0);
}
END_TEST

/* Uniformity: over 20000 pairs with T = 5, step 0 lands in each column with probability 1/5.
 * Each count ~ Binomial(20000, 0.2): sd ≈ 56.6; bound at 5 sd. */
START_TEST(shuffled_positions_are_uniform) {
    enum { P = 20000, T = 5 };
    int *order = malloc(sizeof(int) * P * T);
    sdpo_rng r;
    sdpo_rng_init(&r, 3, SDPO_STREAM_STEP_SHUFFLE);
    ck_assert_int_eq(sdpo_update_step_order(SDPO_UPDATE_SHUFFLED, P, T, &r, order), SDPO_OK);
    int col[T] = {0};
    for (int p = 0; p < P; p++)
        for (int j = 0; j < T; j++) col[j] += order[p * T + j] == 0;
    for (int j = 0; j < T; j++) ck_assert_int_lt(abs(col[j] - P / T), 283);
    free(order);
}
END_TEST

START_TEST(step_order_errors) {
    int order[4];
    ck_assert_int_eq(sdpo_update_step_order(SDPO_UPDATE_SHUFFLED, 2, 2, NULL, order), SDPO_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(sdpo_last_error(), "rng"));
    ck_assert_int_eq(sdpo_update_step_order(SDPO_UPDATE_ACCUMULATED, 2, 2, NULL, order),
                     SDPO_ERR_ARG);
    ck_assert_int_eq(sdpo_update_step_order(SDPO_UPDATE_SEQUENTIAL, 2, 0, NULL, order), SDPO_ERR_ARG);
    ck_assert_int_eq(sdpo_update_step_order(SDPO_UPDATE_SEQUENTIAL, -1, 2, NULL, order),
                     SDPO_ERR_ARG);
    ck_assert_int_eq(sdpo_update_step_order(SDPO_UPDATE_SEQUENTIAL, 2, 2, NULL, NULL), SDPO_ERR_ARG);
    ck_assert_int_eq(sdpo_update_step_order((sdpo_update_mode)3, 2, 2, NULL, order), SDPO_ERR_ARG);
    ck_assert_int_eq(sdpo_update_step_order(SDPO_UPDATE_SEQUENTIAL, 0, 2, NULL, NULL), SDPO_OK);
}
END_TEST

/* Official configs (spec §2.9, per process: 32 pairs / train_bs minibatches, T = 50):
 * aesthetic grad_acc 8, 16 minibatches → 8 backwards per step, 100 updates per epoch;
 * ImageReward grad_acc 32, 32 minibatches → 50 updates; PickScore 16, 32 → 100. */
START_TEST(backwards_per_step_official_configs) {
    static const struct { int grad_acc, n_mb, updates; } cfg[3] = {
        {8, 16, 100}, {32, 32, 50}, {16, 32, 100}};
    for (int k = 0; k < 3; k++) {
        int n = 0;
        for (int mode = SDPO_UPDATE_SHUFFLED; mode <= SDPO_UPDATE_SEQUENTIAL; mode++) {
            ck_assert_int_eq(sdpo_update_backwards_per_step((sdpo_update_mode)mode, cfg[k].grad_acc,
                                                            cfg[k].n_mb, 50, &n),
                             SDPO_OK);
            ck_assert_int_eq(n, cfg[k].grad_acc); /* not multiplied by T (unlike DDPO) */
            ck_assert_int_eq(50 * cfg[k].n_mb / n, cfg[k].updates);
        }
        /* Accumulated: every column of every minibatch → one update per epoch. */
        ck_assert_int_eq(sdpo_update_backwards_per_step(SDPO_UPDATE_ACCUMULATED, cfg[k].grad_acc,
                                                        cfg[k].n_mb, 50, &n),
                         SDPO_OK);
        ck_assert_int_eq(n, 50 * cfg[k].n_mb);
    }
}
END_TEST

START_TEST(backwards_per_step_errors) {
    int n = -1;
    /* 50 × 16 = 800 backward passes are not a whole number of 3-pass steps (upstream L835). */
    ck_assert_int_eq(sdpo_update_backwards_per_step(SDPO_UPDATE_SHUFFLED, 3, 16, 50, &n),
                     SDPO_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(sdpo_last_error(), "multiple of grad_acc"));
    ck_assert_int_eq(n, -1);
    ck_assert_int_eq(sdpo_update_backwards_per_step(SDPO_UPDATE_SEQUENTIAL, 0, 16, 50, &n),
                     SDPO_ERR_ARG);
    ck_assert_int_eq(sdpo_update_backwards_per_step(SDPO_UPDATE_SHUFFLED, 1, 0, 50, &n),
                     SDPO_ERR_ARG);
    ck_assert_int_eq(sdpo_update_backwards_per_step(SDPO_UPDATE_ACCUMULATED, 1, 2, 0, &n),
                     SDPO_ERR_ARG);
    ck_assert_int_eq(sdpo_update_backwards_per_step(SDPO_UPDATE_ACCUMULATED, 1, 1 << 20, 1 << 12,
                                                    &n),
                     SDPO_ERR_ARG); /* overflow */
    ck_assert_int_eq(sdpo_update_backwards_per_step((sdpo_update_mode)3, 1, 1, 1, &n), SDPO_ERR_ARG);
    /* grad_acc is unused by ACCUMULATED. */
    ck_assert_int_eq(sdpo_update_backwards_per_step(SDPO_UPDATE_ACCUMULATED, 0, 3, 4, &n), SDPO_OK);
    ck_assert_int_eq(n, 12);
}
END_TEST

START_TEST(mode_names) {
    static const char *const names[3] = {"shuffled", "sequential", "accumulated"};
    for (int k = 0; k < 3; k++) {
        sdpo_update_mode m;
        ck_assert_int_eq(sdpo_update_mode_parse(names[k], &m), SDPO_OK);
        ck_assert_int_eq(m, k);
        ck_assert_str_eq(sdpo_update_mode_name(m), names[k]);
    }
    sdpo_update_mode m;
    ck_assert_int_eq(sdpo_update_mode_parse("shuffle", &m), SDPO_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(sdpo_last_error(), "shuffled, sequential, accumulated"));
    ck_assert_int_eq(sdpo_update_mode_parse(NULL, &m), SDPO_ERR_ARG);
    ck_assert_str_eq(sdpo_update_mode_name((sdpo_update_mode)3), "unknown");
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("update_schedule");
    TCase *tc = tcase_create("update_schedule");
    tcase_add_test(tc, sequential_is_identity);
    tcase_add_test(tc, shuffled_is_one_permutation_per_pair_in_order);
    tcase_add_test(tc, accumulated_uses_the_shuffled_order);
    tcase_add_test(tc, shuffled_positions_are_uniform);
    tcase_add_test(tc, step_order_errors);
    tcase_add_test(tc, backwards_per_step_official_configs);
    tcase_add_test(tc, backwards_per_step_errors);
    tcase_add_test(tc, mode_names);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

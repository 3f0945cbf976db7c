/* tests/test_rng.c — Philox4x32-10 known answers and the stream/normal contracts. */
#include "core/rng.h"
#include "tests/check_util.h"

#include <stdint.h>
#include <stdlib.h>

/* Known-answer vectors from Random123's kat_vectors (philox4x32_10 lines). */
START_TEST(philox_known_answers) {
    static const struct {
        uint32_t ctr[4], key[2], want[4];
    } kat[] = {
        {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}},
        {{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
         {0xffffffffu, 0xffffffffu},
         {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}},
        {{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
         {0xa4093822u, 0x299f31d0u},
         {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}},
    };
    for (size_t v = 0; v < sizeof kat / sizeof kat[0]; v++) {
        uint32_t out[4];
        sdpo_philox4x32_10(kat[v].ctr, kat[v].key, out);
        for (int j = 0; j < 4; j++)
            ck_assert_msg(out[j] == kat[v].want[j], "vector %zu word %d: %08x != %08x", v, j,
                          out[j], kat[v].want[j]);
    }
}
END_TEST

START_TEST(streams_are_independent_and_reproducible) {
    sdpo_rng a, b, c;
    sdpo_rng_init(&a, 42, SDPO_STREAM_INIT_NOISE);
    sdpo_rng_init(&b, 42, SDPO_STREAM_INIT_NOISE);
    sdpo_rng_init(&c, 42, SDPO_STREAM_SAMPLER_NOISE);
    int same_ac = 0;
    for (int i = 0; i < 100; i++) {
        uint32_t x = sdpo_rng_u32(&a), y = sdpo_rng_u32(&b), z = sdpo_rng_u32(&c);
        ck_assert_uint_eq(x, y);
        same_ac += (x == z);
    }
    ck_assert_int_lt(same_ac, 3);
    /* The scalar stream is the raw block sequence: word 0 of block 0 is Philox(ctr, key). */
    sdpo_rng d;
    sdpo_rng_init(&d, 0x0000000200000001ull, 7);
    uint32_t ctr[4] = {0, 0, 7, 0}, key[2] = {1, 2}, out[4];
    sdpo_philox4x32_10(ctr, key, out);
    for (int j = 0; j < 4; j++) ck_assert_uint_eq(sdpo_rng_u32(&d), out[j]);
}
END_TEST

START_TEST(normal_fill_matches_element_access_and_moments) {
    enum { N = 200000 };
    float *z = malloc(N * sizeof *z);
    sdpo_rng r;
    sdpo_rng_init(&r, 123, SDPO_STREAM_INIT_NOISE);
    (void)sdpo_rng_u32(&r); /* a partially used block is skipped by the fill */
    sdpo_rng_normal_fill(&r, z, N);
    ck_assert_uint_eq(r.block, 1 + (N + 3) / 4);
    double s1 = 0, s2 = 0, s4 = 0;
    for (size_t k = 0; k < N; k++) {
        if (k % 9973 == 0) ck_assert_float_eq(z[k], sdpo_rng_normal_at(123, SDPO_STREAM_INIT_NOISE, 1, k));
        s1 += z[k];
        s2 += (double)z[k] * z[k];
        s4 += (double)z[k] * z[k] * z[k] * z[k];
    }
    double mean = s1 / N, var = s2 / N - mean * mean, kurt = s4 / N;
    /* Standard errors at N = 2e5: mean 0.0022, var 0.0032, E[z^4] ≈ 0.022; 5σ bounds. */
    CK_CLOSE(mean, 0.0, 0.012, 0);
    CK_CLOSE(var, 1.0, 0.016, 0);
    CK_CLOSE(kurt, 3.0, 0.11, 0);
    free(z);
}
END_TEST

START_TEST(below_and_permutation) {
    sdpo_rng r;
    sdpo_rng_init(&r, 9, SDPO_STREAM_STEP_SHUFFLE);
    int counts[5] = {0};
    for (int i = 0; i < 50000; i++) {
        uint32_t v = sdpo_rng_below(&r, 5);
        ck_assert_uint_lt(v, 5);
        counts[v]++;
    }
    /* Each count ~ Binomial(50000, 0.2): sd ≈ 89, bound at 5 sd. */
    for (int i = 0; i < 5; i++) ck_assert_int_lt(abs(counts[i] - 10000), 450);
    int perm[50], seen[50] = {0};
    sdpo_rng_permutation(&r, perm, 50);
    for (int i = 0; i < 50; i++) seen[perm[i]]++;
    for (int i = 0; i < 50; i++) ck_assert_int_eq(seen[i], 1);
    int fixed = 0;
    for (int i = 0; i < 50; i++) fixed += perm[i] == i;
    ck_assert_int_lt(fixed, 50);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("rng");
    TCase *tc = tcase_create("philox");
    tcase_add_test(tc, philox_known_answers);
    tcase_add_test(tc, streams_are_independent_and_reproducible);
    tcase_add_test(tc, normal_fill_matches_element_access_and_moments);
    tcase_add_test(tc, below_and_permutation);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

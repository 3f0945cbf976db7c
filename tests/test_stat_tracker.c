/* tests/test_stat_tracker.c — the three normalisations (per-step-prompt, per-prompt, global):
 * hand-derived advantages, the fallback/buffer switch at min_count, FIFO eviction, persistence
 * across updates, the NumPy fixture tests/data/core_rl/norm.txt, and the checkpoint format
 * (bit-identical resume, every truncation and every single-bit flip rejected). */
#include "core/rng.h"
#include "core/stat_tracker.h"
#include "tests/check_util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIXTURE "tests/data/core_rl/norm.txt"
#define EPS 1e-6 /* σ + 1e-6 of both trackers */

static sdpo_stat_tracker *make(sdpo_norm_mode mode, int T, int buffer_size, int min_count) {
    sdpo_stat_tracker *tr = NULL;
    ck_assert_int_eq(sdpo_stat_tracker_new(mode, T, buffer_size, min_count, &tr), SDPO_OK);
    return tr;
}

/* Asserts that buffer (prompt, step) holds exactly want[0..n) oldest first. */
static void expect_buffer(const sdpo_stat_tracker *tr, const char *prompt, int step,
                          const float *want, int n) {
    float got[64];
    int count = -1;
    ck_assert_int_eq(sdpo_stat_tracker_buffer(tr, prompt, step, got, &count), SDPO_OK);
    ck_assert_msg(count == n, "buffer (%s, %d) holds %d values, want %d", prompt, step, count, n);
    for (int k = 0; k < n; k++)
        ck_assert_msg(got[k] == want[k], "buffer (%s, %d)[%d] = %g, want %g", prompt, step, k,
                      (double)got[k], (double)want[k]);
}

/* ---- hand-derived ------------------------------------------------------------------------ */

START_TEST(global_hand_derived) {
    sdpo_stat_tracker *tr = make(SDPO_NORM_GLOBAL, 2, 1, 0);
    const float v[4] = {1, 2, 3, 4};
    float a[4];
    /* mean 2.5, population std √1.25; global ε = 1e−8 (train L644). */
    ck_assert_int_eq(sdpo_stat_tracker_update(tr, 2, NULL, v, a), SDPO_OK);
    for (int k = 0; k < 4; k++) CK_CLOSE(a[k], (v[k] - 2.5) / (sqrt(1.25) + 1e-8), 0, 1e-7);
    ck_assert_int_eq(sdpo_stat_tracker_num_prompts(tr), 0);
    /* No state: a second update is normalised by its own batch only. */
    const float w[2] = {10, 30};
    ck_assert_int_eq(sdpo_stat_tracker_update(tr, 1, NULL, w, a), SDPO_OK);
    CK_CLOSE(a[0], -10.0 / (10.0 + 1e-8), 0, 1e-7);
    CK_CLOSE(a[1], 10.0 / (10.0 + 1e-8), 0, 1e-7);
    sdpo_stat_tracker_free(tr);
}
END_TEST

/* DDPO's tracker (T = 1), buffer_size 3, min_count 2. */
START_TEST(per_prompt_hand_derived) {
    sdpo_stat_tracker *tr = make(SDPO_NORM_PER_PROMPT, 1, 3, 2);
    const char *p1[3] = {"a", "b", "a"};
    const float v1[3] = {1, 5, 3};
    float a[3];
    ck_assert_int_eq(sdpo_stat_tracker_update(tr, 3, p1, v1, a), SDPO_OK);
    /* "a": buffer [1, 3] holds 2 >= min_count → its mean 2, std 1. */
    CK_CLOSE(a[0], -1 / (1 + EPS), 0, 1e-7);
    CK_CLOSE(a[2], 1 / (1 + EPS), 0, 1e-7);
    /* "b": buffer [5] holds 1 < 2 → the whole batch: mean 3, std √(8/3). */
    CK_CLOSE(a[1], 2 / (sqrt(8.0 / 3) + EPS), 0, 1e-7);
    expect_buffer(tr, "a", 0, (const float[]){1, 3}, 2);
    expect_buffer(tr, "b", 0, (const float[]){5}, 1);

    const char *p2[3] = {"a", "a", "b"};
    const float v2[3] = {5, 7, 9};
    ck_assert_int_eq(sdpo_stat_tracker_update(tr, 3, p2, v2, a), SDPO_OK);
    /* "a": [1, 3, 5, 7] with maxlen 3 keeps [3, 5, 7] (FIFO): mean 5, std √(8/3). */
    expect_buffer(tr, "a", 0, (const float[]){3, 5, 7}, 3);
    CK_CLOSE(a[0], 0.0, 1e-7, 0);
    CK_CLOSE(a[1], 2 / (sqrt(8.0 / 3) + EPS), 0, 1e-7);
    /* "b": the buffer persisted across updates: [5, 9] → mean 7, std 2. */
    expect_buffer(tr, "b", 0, (const float[]){5, 9}, 2);
    CK_CLOSE(a[2], 2 / (2 + EPS), 0, 1e-7);
    ck_assert_int_eq(sdpo_stat_tracker_num_prompts(tr), 2);
    sdpo_stat_tracker_free(tr);
}
END_TEST

/* A row of T > 1 values enters the per-prompt buffer row-major, and the fallback pools all
 * N×T values of the batch. */
START_TEST(per_prompt_rows_are_row_major) {
    sdpo_stat_tracker *tr = make(SDPO_NORM_PER_PROMPT, 2, 8, 5);
    const char *p[3] = {"x", "y", "x"};
    const float v[6] = {1, 2, 10, 20, 3, 4};
    float a[6];
    ck_assert_int_eq(sdpo_stat_tracker_update(tr, 3, p, v, a), SDPO_OK);
    expect_buffer(tr, "x", 0, (const float[]){1, 2, 3, 4}, 4);
    expect_buffer(tr, "y", 0, (const float[]){10, 20}, 2);
    /* Both below min_count 5 → batch of all six values: mean 40/6, population std. */
    double mean = 40.0 / 6, ss = 0;
    for (int k = 0; k < 6; k++) ss += (v[k] - mean) * (v[k] - mean);
    double sd = sqrt(ss / 6);
    for (int k = 0; k < 6; k++) CK_CLOSE(a[k], (v[k] - mean) / (sd + EPS), 0, 1e-7);
    sdpo_stat_tracker_free(tr);
}
END_TEST

/* SDPO's tracker, T = 2, buffer_size 2, min_count 2: three updates. */
START_TEST(per_step_prompt_hand_derived) {
    sdpo_stat_tracker *tr = make(SDPO_NORM_PER_STEP_PROMPT, 2, 2, 2);
    const char *p1[3] = {"x", "y", "x"};
    const float v1[6] = {1, 10, 4, 40, 3, 30};
    float a[6];
    ck_assert_int_eq(sdpo_stat_tracker_update(tr, 3, p1, v1, a), SDPO_OK);
    /* "x": buffers (x,0) = [1, 3] and (x,1) = [10, 30] hold 2 → their own statistics. */
    CK_CLOSE(a[0], -1 / (1 + EPS), 0, 1e-7);
    CK_CLOSE(a[4], 1 / (1 + EPS), 0, 1e-7);
    CK_CLOSE(a[1], -10 / (10 + EPS), 0, 1e-7);
    CK_CLOSE(a[5], 10 / (10 + EPS), 0, 1e-7);
    /* "y": one value per step → column i of the batch. Column 0 = {1, 4, 3}: mean 8/3,
     * variance 42/27; column 1 = {10, 40, 30}: mean 80/3, variance 4200/27. */
    CK_CLOSE(a[2], (4 - 8.0 / 3) / (sqrt(42.0 / 27) + EPS), 0, 1e-7);
    CK_CLOSE(a[3], (40 - 80.0 / 3) / (sqrt(4200.0 / 27) + EPS), 0, 1e-7);

    /* Update 2: only "y"; its buffers persisted ([4] → [4, 6]) and now reach min_count. */
    const char *p2[1] = {"y"};
    const float v2[2] = {6, 60};
    ck_assert_int_eq(sdpo_stat_tracker_update(tr, 1, p2, v2, a), SDPO_OK);
    CK_CLOSE(a[0], 1 / (1 + EPS), 0, 1e-7);
    CK_CLOSE(a[1], 10 / (10 + EPS), 0, 1e-7);
    expect_buffer(tr, "x", 0, (const float[]){1, 3}, 2); /* untouched by update 2 */

    /* Update 3: "x" again; maxlen 2 evicts the oldest: (x,0) = [3, 5], (x,1) = [30, 50]. */
    const char *p3[1] = {"x"};
    const float v3[2] = {5, 50};
    ck_assert_int_eq(sdpo_stat_tracker_update(tr, 1, p3, v3, a), SDPO_OK);
    expect_buffer(tr, "x", 0, (const float[]){3, 5}, 2);
    expect_buffer(tr, "x", 1, (const float[]){30, 50}, 2);
    CK_CLOSE(a[0], 1 / (1 + EPS), 0, 1e-7);
    CK_CLOSE(a[1], 10 / (10 + EPS), 0, 1e-7);
    sdpo_stat_tracker_free(tr);
}
END_TEST

/* One value per update for prompt "p" beside a fixed "q" row: with min_count 3 the first two
 * updates use the batch column, the third switches to the buffer. */
START_TEST(min_count_switch) {
    sdpo_stat_tracker *tr = make(SDPO_NORM_PER_STEP_PROMPT, 1, 10, 3);
    const char *p[2] = {"p", "q"};
    const float pv[3] = {2, 4, 9};
    float a[2];
    for (int u = 0; u < 3; u++) {
        const float v[2] = {pv[u], 0};
        ck_assert_int_eq(sdpo_stat_tracker_update(tr, 2, p, v, a), SDPO_OK);
        double want;
        if (u < 2) { /* batch column {pv[u], 0}: mean pv/2, std pv/2 */
            want = (pv[u] / 2) / (pv[u] / 2 + EPS);
        } else { /* buffer {2, 4, 9}: mean 5, variance 26/3 */
            want = 4 / (sqrt(26.0 / 3) + EPS);
        }
        CK_CLOSE(a[0], want, 0, 1e-7);
    }
    sdpo_stat_tracker_free(tr);
}
END_TEST

/* FIFO over many updates: buffer_size 4 keeps the last four values in arrival order. */
START_TEST(fifo_eviction_long_run) {
    sdpo_stat_tracker *tr = make(SDPO_NORM_PER_PROMPT, 1, 4, 1);
    const char *p[1] = {"k"};
    float a;
    for (int u = 0; u < 11; u++) {
        const float v = (float)(u * u);
        ck_assert_int_eq(sdpo_stat_tracker_update(tr, 1, p, &v, &a), SDPO_OK);
    }
    expect_buffer(tr, "k", 0, (const float[]){49, 64, 81, 100}, 4);
    /* buffer mean 73.5, std √(… ) */
    double ss = 0;
    const double b[4] = {49, 64, 81, 100};
    for (int k = 0; k < 4; k++) ss += (b[k] - 73.5) * (b[k] - 73.5);
    CK_CLOSE(a, 26.5 / (sqrt(ss / 4) + EPS), 0, 1e-7);
    sdpo_stat_tracker_free(tr);
}
END_TEST

/* Prompt keys are exact byte strings: case, spaces and non-ASCII bytes all distinguish. */
START_TEST(prompt_keys_are_exact_bytes) {
    sdpo_stat_tracker *tr = make(SDPO_NORM_PER_PROMPT, 1, 4, 1);
    const char *p[5] = {"cat", "Cat", "cat ", "caf\xc3\xa9", ""};
    const float v[5] = {1, 2, 3, 4, 5};
    float a[5];
    ck_assert_int_eq(sdpo_stat_tracker_update(tr, 5, p, v, a), SDPO_OK);
    ck_assert_int_eq(sdpo_stat_tracker_num_prompts(tr), 5);
    for (int k = 0; k < 5; k++) expect_buffer(tr, p[k], 0, &v[k], 1);
    int count = -1;
    ck_assert_int_eq(sdpo_stat_tracker_buffer(tr, "dog", 0, NULL, &count), SDPO_OK);
    ck_assert_int_eq(count, 0);
    sdpo_stat_tracker_free(tr);
}
END_TEST

START_TEST(in_place_update) {
    sdpo_stat_tracker *t1 = make(SDPO_NORM_PER_STEP_PROMPT, 3, 4, 2);
    sdpo_stat_tracker *t2 = make(SDPO_NORM_PER_STEP_PROMPT, 3, 4, 2);
    const char *p[4] = {"b", "a", "b", "c"};
    float v[12], a[12];
    for (int k = 0; k < 12; k++) v[k] = (float)((k * 7) % 5) - 1.5f;
    ck_assert_int_eq(sdpo_stat_tracker_update(t1, 4, p, v, a), SDPO_OK);
    ck_assert_int_eq(sdpo_stat_tracker_update(t2, 4, p, v, v), SDPO_OK);
    ck_assert_int_eq(memcmp(a, v, sizeof a), 0);
    sdpo_stat_tracker_free(t1);
    sdpo_stat_tracker_free(t2);
}
END_TEST

/* ---- errors ------------------------------------------------------------------------------ */

START_TEST(errors_leave_tracker_unchanged) {
    sdpo_stat_tracker *tr = make(SDPO_NORM_PER_STEP_PROMPT, 2, 4, 2);
    const char *p[2] = {"a", "b"};
    float v[4] = {1, 2, 3, 4}, a[4] = {0};
    ck_assert_int_eq(sdpo_stat_tracker_update(tr, 2, p, v, a), SDPO_OK);
    unsigned char *before, *after;
    size_t nb, na;
    ck_assert_int_eq(sdpo_stat_tracker_serialize(tr, &before, &nb), SDPO_OK);

    const char *q[2] = {"new", "b"};
    v[2] = NAN;
    memset(a, 0, sizeof a);
    ck_assert_int_eq(sdpo_stat_tracker_update(tr, 2, q, v, a), SDPO_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(sdpo_last_error(), "values[1][0]"));
    for (int k = 0; k < 4; k++) ck_assert_float_eq(a[k], 0.0f);
    v[2] = 3;
    const char *r[2] = {"a", NULL};
    ck_assert_int_eq(sdpo_stat_tracker_update(tr, 2, r, v, a), SDPO_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(sdpo_last_error(), "prompts[1]"));
    ck_assert_int_eq(sdpo_stat_tracker_update(tr, 2, NULL, v, a), SDPO_ERR_ARG);
    ck_assert_int_eq(sdpo_stat_tracker_update(tr, -1, p, v, a), SDPO_ERR_ARG);
    ck_assert_int_eq(sdpo_stat_tracker_update(tr, 0, NULL, NULL, NULL), SDPO_OK);

    ck_assert_int_eq(sdpo_stat_tracker_serialize(tr, &after, &na), SDPO_OK);
    ck_assert_uint_eq(na, nb);
    ck_assert_int_eq(memcmp(before, after, nb), 0);
    free(before);
    free(after);

    int count;
    ck_assert_int_eq(sdpo_stat_tracker_buffer(tr, "a", 2, NULL, &count), SDPO_ERR_ARG);
    sdpo_stat_tracker_free(tr);

    sdpo_stat_tracker *bad = NULL;
    ck_assert_int_eq(sdpo_stat_tracker_new(SDPO_NORM_PER_PROMPT, 0, 4, 2, &bad), SDPO_ERR_ARG);
    ck_assert_int_eq(sdpo_stat_tracker_new(SDPO_NORM_PER_PROMPT, 1, 0, 2, &bad), SDPO_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(sdpo_last_error(), "buffer_size"));
    ck_assert_int_eq(sdpo_stat_tracker_new(SDPO_NORM_PER_PROMPT, 1, 4, -1, &bad), SDPO_ERR_ARG);
    ck_assert_int_eq(sdpo_stat_tracker_new((sdpo_norm_mode)3, 1, 4, 2, &bad), SDPO_ERR_ARG);
    ck_assert_ptr_null(bad);
}
END_TEST

START_TEST(mode_names) {
    static const char *const names[3] = {"per-step-prompt", "per-prompt", "global"};
    for (int k = 0; k < 3; k++) {
        sdpo_norm_mode m;
        ck_assert_int_eq(sdpo_norm_mode_parse(names[k], &m), SDPO_OK);
        ck_assert_int_eq(m, k);
        ck_assert_str_eq(sdpo_norm_mode_name(m), names[k]);
    }
    sdpo_norm_mode m;
    ck_assert_int_eq(sdpo_norm_mode_parse("per_step_prompt", &m), SDPO_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(sdpo_last_error(), "per-step-prompt, per-prompt, global"));
    ck_assert_str_eq(sdpo_norm_mode_name((sdpo_norm_mode)3), "unknown");
}
END_TEST

/* ---- NumPy fixture ----------------------------------------------------------------------- */

/* The reference runs the upstream trackers in float64 (np.mean pairwise, np.std two-pass); the
 * C side uses two-pass double statistics and rounds A to float once. Statistics agree to
 * ~1e−15, so the difference is the final float rounding (<= 6e−8 relative): 2e−7 relative
 * plus 1e−7 absolute for advantages near 0. */
START_TEST(matches_numpy_reference) {
    enum { N = 6, T = 4 };
    static const char *const names[3] = {"prompt-0", "prompt-1", "prompt-2"};
    double cfg[4];
    ck_load_block(FIXTURE, "psp_buffer_size", 1, &cfg[0]);
    ck_load_block(FIXTURE, "psp_min_count", 1, &cfg[1]);
    ck_load_block(FIXTURE, "pp_buffer_size", 1, &cfg[2]);
    ck_load_block(FIXTURE, "pp_min_count", 1, &cfg[3]);
    sdpo_stat_tracker *psp = make(SDPO_NORM_PER_STEP_PROMPT, T, (int)cfg[0], (int)cfg[1]);
    sdpo_stat_tracker *pp = make(SDPO_NORM_PER_PROMPT, T, (int)cfg[2], (int)cfg[3]);
    sdpo_stat_tracker *gl = make(SDPO_NORM_GLOBAL, T, 1, 0);
    for (int u = 1; u <= 2; u++) {
        char key[64];
        double ids[N], vd[N * T], want[N * T];
        float v[N * T], a[N * T];
        const char *prompts[N];
        snprintf(key, sizeof key, "prompt_ids_%d", u);
        ck_load_block(FIXTURE, key, N, ids);
        snprintf(key, sizeof key, "values_%d", u);
        ck_load_block(FIXTURE, key, N * T, vd);
        for (int n = 0; n < N; n++) prompts[n] = names[(int)ids[n]];
        for (int k = 0; k < N * T; k++) v[k] = (float)vd[k];

        ck_assert_int_eq(sdpo_stat_tracker_update(psp, N, prompts, v, a), SDPO_OK);
        snprintf(key, sizeof key, "adv_per_step_prompt_%d", u);
        ck_load_block(FIXTURE, key, N * T, want);
        ck_assert_array_close(key, a, want, N * T, 1e-7, 2e-7);

        ck_assert_int_eq(sdpo_stat_tracker_update(pp, N, prompts, v, a), SDPO_OK);
        snprintf(key, sizeof key, "adv_per_prompt_%d", u);
        ck_load_block(FIXTURE, key, N * T, want);
        ck_assert_array_close(key, a, want, N * T, 1e-7, 2e-7);

        ck_assert_int_eq(sdpo_stat_tracker_update(gl, N, prompts, v, a), SDPO_OK);
        snprintf(key, sizeof key, "adv_global_%d", u);
        ck_load_block(FIXTURE, key, N * T, want);
        ck_assert_array_close(key, a, want, N * T, 1e-7, 2e-7);
    }
    /* The fixture was sized to exercise eviction: prompt-0 pushed 3 + 3 values per step into
     * buffers of 5, and 12 + 12 values into the per-prompt buffer of 10. */
    int count;
    ck_assert_int_eq(sdpo_stat_tracker_buffer(psp, "prompt-0", 0, NULL, &count), SDPO_OK);
    ck_assert_int_eq(count, 5);
    ck_assert_int_eq(sdpo_stat_tracker_buffer(pp, "prompt-0", 0, NULL, &count), SDPO_OK);
    ck_assert_int_eq(count, 10);
    sdpo_stat_tracker_free(psp);
    sdpo_stat_tracker_free(pp);
    sdpo_stat_tracker_free(gl);
}
END_TEST

/* ---- checkpoint format ------------------------------------------------------------------- */

static const char *const RUN_PROMPTS[4] = {"cat", "dog", "a horse", "zebra"};

/* Update u of a deterministic run: N = 6 rows, T = 3, random prompts and values. */
static void run_update(sdpo_stat_tracker *tr, int u, float *adv) {
    enum { N = 6, T = 3 };
    sdpo_rng r;
    sdpo_rng_init(&r, 1000 + (uint64_t)u, SDPO_STREAM_DATA);
    const char *prompts[N];
    float v[N * T];
    for (int n = 0; n < N; n++) prompts[n] = RUN_PROMPTS[sdpo_rng_below(&r, 4)];
    for (int k = 0; k < N * T; k++) v[k] = 10.0f * sdpo_rng_uniform(&r) - 3.0f;
    ck_assert_int_eq(sdpo_stat_tracker_update(tr, N, prompts, v, adv), SDPO_OK);
}

static sdpo_stat_tracker *round_trip(const sdpo_stat_tracker *tr) {
    unsigned char *buf;
    size_t len;
    ck_assert_int_eq(sdpo_stat_tracker_serialize(tr, &buf, &len), SDPO_OK);
    sdpo_stat_tracker *copy = NULL;
    ck_assert_int_eq(sdpo_stat_tracker_deserialize(buf, len, &copy), SDPO_OK);
    free(buf);
    return copy;
}

/* A tracker restored mid-run gives bit-identical advantages to one that never stopped. The
 * buffers (size 5 < the values pushed) have wrapped before the snapshot, so the restored ring
 * layout differs from the original's and only the FIFO order is shared. */
START_TEST(resume_is_bit_identical) {
    for (int mode = 0; mode < 3; mode++) {
        sdpo_stat_tracker *live = make((sdpo_norm_mode)mode, 3, 5, 3);
        float a[18], b[18];
        for (int u = 0; u < 4; u++) run_update(live, u, a);
        sdpo_stat_tracker *restored = round_trip(live);
        ck_assert_int_eq(sdpo_stat_tracker_num_prompts(restored),
                         sdpo_stat_tracker_num_prompts(live));
        for (int u = 4; u < 9; u++) {
            run_update(live, u, a);
            run_update(restored, u, b);
            ck_assert_msg(memcmp(a, b, sizeof a) == 0, "mode %d update %d differs", mode, u);
        }
        unsigned char *x, *y;
        size_t nx, ny;
        ck_assert_int_eq(sdpo_stat_tracker_serialize(live, &x, &nx), SDPO_OK);
        ck_assert_int_eq(sdpo_stat_tracker_serialize(restored, &y, &ny), SDPO_OK);
        ck_assert_uint_eq(nx, ny);
        ck_assert_int_eq(memcmp(x, y, nx), 0);
        free(x);
        free(y);
        sdpo_stat_tracker_free(live);
        sdpo_stat_tracker_free(restored);
    }
}
END_TEST

/* The documented layout, byte by byte, for one key: a test that fails if the format drifts. */
START_TEST(layout_is_as_documented) {
    sdpo_stat_tracker *tr = make(SDPO_NORM_PER_STEP_PROMPT, 2, 3, 7);
    const char *p[1] = {"ab"};
    const float v[2] = {1.0f, -2.0f};
    float a[2];
    ck_assert_int_eq(sdpo_stat_tracker_update(tr, 1, p, v, a), SDPO_OK);
    unsigned char *buf;
    size_t len;
    ck_assert_int_eq(sdpo_stat_tracker_serialize(tr, &buf, &len), SDPO_OK);
    static const unsigned char want[] = {
        'S', 'D', 'P', 'O', 'S', 'T', 'A', 'T', 1, 0, 0, 0, /* magic, version */
        0, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0,                 /* mode, T, buffer_size */
        7, 0, 0, 0, 1, 0, 0, 0,                             /* min_count, n_keys */
        2, 0, 0, 0, 'a', 'b',                               /* key_len, key */
        1, 0, 0, 0, 0x00, 0x00, 0x80, 0x3f,                 /* step 0: count 1, 1.0f */
        1, 0, 0, 0, 0x00, 0x00, 0x00, 0xc0};                /* step 1: count 1, −2.0f */
    ck_assert_uint_eq(len, sizeof want + 4);
    ck_assert_int_eq(memcmp(buf, want, sizeof want), 0);
    sdpo_stat_tracker_free(tr);
    free(buf);
}
END_TEST

static sdpo_stat_tracker *populated(void) {
    sdpo_stat_tracker *tr = make(SDPO_NORM_PER_STEP_PROMPT, 3, 5, 3);
    float a[18];
    for (int u = 0; u < 3; u++) run_update(tr, u, a);
    return tr;
}

START_TEST(every_truncation_is_rejected) {
    sdpo_stat_tracker *tr = populated();
    unsigned char *buf;
    size_t len;
    ck_assert_int_eq(sdpo_stat_tracker_serialize(tr, &buf, &len), SDPO_OK);
    for (size_t cut = 0; cut < len; cut++) {
        /* A fresh exact-size copy, so AddressSanitizer sees any read past the cut. */
        unsigned char *part = malloc(cut ? cut : 1);
        memcpy(part, buf, cut);
        sdpo_stat_tracker *out = NULL;
        ck_assert_msg(sdpo_stat_tracker_deserialize(part, cut, &out) == SDPO_ERR_FORMAT,
                      "truncation to %zu of %zu bytes accepted", cut, len);
        ck_assert_ptr_null(out);
        free(part);
    }
    sdpo_stat_tracker_free(tr);
    free(buf);
}
END_TEST

START_TEST(every_bit_flip_is_rejected) {
    sdpo_stat_tracker *tr = populated();
    unsigned char *buf;
    size_t len;
    ck_assert_int_eq(sdpo_stat_tracker_serialize(tr, &buf, &len), SDPO_OK);
    unsigned char *copy = malloc(len);
    for (size_t byte = 0; byte < len; byte++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(copy, buf, len);
            copy[byte] ^= (unsigned char)(1u << bit);
            sdpo_stat_tracker *out = NULL;
            ck_assert_msg(sdpo_stat_tracker_deserialize(copy, len, &out) == SDPO_ERR_FORMAT,
                          "flip of bit %d in byte %zu accepted", bit, byte);
            ck_assert_ptr_null(out);
        }
    }
    /* Appending anything is rejected too. */
    unsigned char *longer = malloc(len + 1);
    memcpy(longer, buf, len);
    longer[len] = 0;
    sdpo_stat_tracker *out = NULL;
    ck_assert_int_eq(sdpo_stat_tracker_deserialize(longer, len + 1, &out), SDPO_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(sdpo_last_error(), "trailing bytes"));
    free(longer);
    free(copy);
    free(buf);
    sdpo_stat_tracker_free(tr);
}
END_TEST

/* CRC-32 (zlib's) so the field tests below can forge checksum-valid bad files and see that
 * each field is validated by itself, not only by the checksum. */
static uint32_t crc32_ref(const unsigned char *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t k = 0; k < n; k++) {
        c ^= p[k];
        for (int b = 0; b < 8; b++) c = (c & 1u) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
    }
    return ~c;
}

static void put32(unsigned char *p, uint32_t v) {
    for (int b = 0; b < 4; b++) p[b] = (unsigned char)(v >> (8 * b));
}

/* Deserialises buf[0..len) after rewriting its trailing CRC; expects FORMAT naming `field`. */
static void expect_bad_field(unsigned char *buf, size_t len, const char *field) {
    put32(buf + len - 4, crc32_ref(buf, len - 4));
    sdpo_stat_tracker *out = NULL;
    ck_assert_int_eq(sdpo_stat_tracker_deserialize(buf, len, &out), SDPO_ERR_FORMAT);
    ck_assert_ptr_null(out);
    char quoted[64];
    snprintf(quoted, sizeof quoted, "'%s'", field);
    ck_assert_msg(strstr(sdpo_last_error(), quoted) != NULL, "error '%s' does not name %s",
                  sdpo_last_error(), quoted);
}

START_TEST(corrupt_fields_are_named) {
    /* Two keys "ab" < "b", per-prompt mode, T = 1, buffer_size 3: offsets below follow the
     * documented layout (header 32 bytes; key "ab" record at 32; its count at 38). */
    sdpo_stat_tracker *tr = make(SDPO_NORM_PER_PROMPT, 1, 3, 1);
    const char *p[3] = {"ab", "b", "ab"};
    const float v[3] = {1, 2, 3};
    float a[3];
    ck_assert_int_eq(sdpo_stat_tracker_update(tr, 3, p, v, a), SDPO_OK);
    unsigned char *orig;
    size_t len;
    ck_assert_int_eq(sdpo_stat_tracker_serialize(tr, &orig, &len), SDPO_OK);
    sdpo_stat_tracker_free(tr);
    ck_assert_uint_eq(len, 32 + (4 + 2 + 4 + 8) + (4 + 1 + 4 + 4) + 4);
    unsigned char *b = malloc(len + 8);
    /* sanity: the forged-CRC path accepts the untouched file */
    memcpy(b, orig, len);
    put32(b + len - 4, crc32_ref(b, len - 4));
    sdpo_stat_tracker *ok = NULL;
    ck_assert_int_eq(sdpo_stat_tracker_deserialize(b, len, &ok), SDPO_OK);
    sdpo_stat_tracker_free(ok);

    struct { size_t off; uint32_t value; const char *field; } cases[] = {
        {8, 2, "version"},          {12, 3, "mode"},          {16, 0, "T"},
        {20, 0, "buffer_size"},     {24, 0x80000000u, "min_count"},
        {28, 1000000, "n_keys"},    {32, 1000, "key_len"},    {38, 0, "count"},
        {38, 4, "count"},           /* > buffer_size */
        {42, 0x7fc00000u, "values"}, /* NaN bits in the first value of "ab" */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        memcpy(b, orig, len);
        put32(b + cases[c].off, cases[c].value);
        expect_bad_field(b, len, cases[c].field);
    }
    memcpy(b, orig, len);
    b[36] = '\0'; /* a NUL inside key "ab" */
    expect_bad_field(b, len, "key");
    memcpy(b, orig, len);
    b[36] = 'c'; /* first key "cb" > second key "b": not strictly ascending */
    b[37] = 'b';
    expect_bad_field(b, len, "key");
    memcpy(b, orig, len);
    b[0] = 'X';
    expect_bad_field(b, len, "magic");
    /* A CRC that does not match the data. */
    memcpy(b, orig, len);
    b[len - 1] ^= 0x01;
    sdpo_stat_tracker *out = NULL;
    ck_assert_int_eq(sdpo_stat_tracker_deserialize(b, len, &out), SDPO_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(sdpo_last_error(), "'crc32'"));
    /* Global mode with a key. */
    memcpy(b, orig, len);
    put32(b + 12, 2);
    expect_bad_field(b, len, "n_keys");
    free(b);
    free(orig);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("stat_tracker");
    TCase *tc = tcase_create("normalisation");
    tcase_add_test(tc, global_hand_derived);
    tcase_add_test(tc, per_prompt_hand_derived);
    tcase_add_test(tc, per_prompt_rows_are_row_major);
    tcase_add_test(tc, per_step_prompt_hand_derived);
    tcase_add_test(tc, min_count_switch);
    tcase_add_test(tc, fifo_eviction_long_run);
    tcase_add_test(tc, prompt_keys_are_exact_bytes);
    tcase_add_test(tc, in_place_update);
    tcase_add_test(tc, errors_leave_tracker_unchanged);
    tcase_add_test(tc, mode_names);
    tcase_add_test(tc, matches_numpy_reference);
    suite_add_tcase(s, tc);
    TCase *tk = tcase_create("checkpoint");
    tcase_set_timeout(tk, 120); /* the bit-flip sweep under sanitizers */
    tcase_add_test(tk, resume_is_bit_identical);
    tcase_add_test(tk, layout_is_as_documented);
    tcase_add_test(tk, every_truncation_is_rejected);
    tcase_add_test(tk, every_bit_flip_is_rejected);
    tcase_add_test(tk, corrupt_fields_are_named);
    suite_add_tcase(s, tk);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

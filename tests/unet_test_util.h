/* tests/unet_test_util.h — helpers shared by the tests/test_unet*.c suites (header-only: each
 * suite is its own binary and CMake links only check_util.c besides the libraries).
 *
 * Fixtures (reference/README.md, "SD fixtures"): the tiny SD-2-family UNet in
 * tests/data/sd_fixtures/tiny_sd/unet and its goldens in tests/data/sd_fixtures/golden/, made
 * by reference/make_sd_fixtures.py with diffusers 0.42.1 / torch 2.15 on the CPU in float32. */
#ifndef SDPO_TESTS_UNET_TEST_UTIL_H
#define SDPO_TESTS_UNET_TEST_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/unet.h"
#include "nn/safetensors.h"
#include "tests/check_util.h"

#define TINY_DIR "tests/data/sd_fixtures/tiny_sd/unet"
#define TINY_CONFIG TINY_DIR "/config.json"
#define TINY_WEIGHTS TINY_DIR "/diffusion_pytorch_model.safetensors"
#define TINY_WEIGHTS_FP16 TINY_DIR "/diffusion_pytorch_model.fp16.safetensors"
#define GOLDEN_DIR "tests/data/sd_fixtures/golden"
#define GOLDEN_UNET GOLDEN_DIR "/unet.safetensors"
#define GOLDEN_LORA GOLDEN_DIR "/unet_lora/pytorch_lora_weights.safetensors"
#define GOLDEN_LORA_LEGACY GOLDEN_DIR "/unet_lora_legacy/pytorch_lora_weights.safetensors"
#define GOLDEN_LORA_GRADS GOLDEN_DIR "/unet_lora_grads.safetensors"
#define GOLDEN_FULL_GRADS GOLDEN_DIR "/unet_full_grads.safetensors"

/* Golden batch: B = 2, latent 4×8×8, 77 text tokens of width 32. */
static const sdpo_unet_shape tiny_shape = {.B = 2, .H = 8, .W = 8, .L = 77};
#define TINY_SAMPLE_N (2 * 4 * 8 * 8)
#define TINY_EHS_N (2 * 77 * 32)

/* malloc'd F32 copy of tensor `name` of a safetensors file; *n receives its element count. */
static inline float *ut_read(const char *path, const char *name, size_t *n) {
    sdpo_safetensors st;
    ck_assert_msg(sdpo_st_open(path, &st) == SDPO_OK, "%s", sdpo_last_error());
    const sdpo_st_tensor *t = sdpo_st_find(&st, name);
    ck_assert_msg(t != NULL, "%s: no tensor '%s'", path, name);
    float *out = malloc(t->numel * sizeof *out + sizeof *out);
    ck_assert(out != NULL);
    ck_assert_msg(sdpo_st_read_f32(&st, t, out, 1) == SDPO_OK, "%s", sdpo_last_error());
    if (n) *n = t->numel;
    sdpo_st_close(&st);
    return out;
}

/* A tiny UNet from the fixture config with the given options, finalized, base weights loaded. */
static inline void ut_build(sdpo_unet *u, int lora_rank, int train_base, const char *weights) {
    sdpo_unet_config cfg;
    ck_assert_msg(sdpo_unet_config_load(TINY_CONFIG, &cfg) == SDPO_OK, "%s", sdpo_last_error());
    sdpo_unet_options opt = sdpo_unet_options_default();
    opt.lora_rank = lora_rank;
    opt.lora_alpha = 0;
    opt.train_base = train_base;
    ck_assert_msg(sdpo_unet_init(u, &cfg, &opt) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert_msg(sdpo_unet_finalize(u) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert_msg(sdpo_unet_load_weights(u, weights) == SDPO_OK, "%s", sdpo_last_error());
}

static inline double ut_rms(const float *x, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return sqrt(s / (double)(n ? n : 1));
}

/* max |got − want| / max(rms(want), floor); fails on non-finite values. */
static inline double ut_rel_err(const float *got, const float *want, size_t n, double floor) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(isfinite(got[i]), "non-finite value at %zu", i);
        double d = fabs((double)got[i] - want[i]);
        if (d > worst) worst = d;
    }
    double scale = ut_rms(want, n);
    return worst / (scale > floor ? scale : floor);
}

/* Runs forward (and, when d_eps, backward) of u on the tiny shape with a fresh arena of the
 * exact size; returns the arena's high water. */
static inline size_t ut_run(sdpo_unet *u, int threads, sdpo_unet_mode mode, const float *sample,
                            const float *t, const float *ehs, float *eps, const float *d_eps,
                            float *d_sample, float *d_ehs) {
    nn_ctx ctx = {.backend = NN_BACKEND_CPU, .n_threads = threads};
    size_t bytes;
    ck_assert_msg(sdpo_unet_arena_bytes(u, &ctx, mode, &tiny_shape, &bytes) == SDPO_OK, "%s",
                  sdpo_last_error());
    nn_arena arena;
    ck_assert(nn_arena_init(&arena, bytes) == SDPO_OK);
    ck_assert_msg(sdpo_unet_forward(u, &ctx, &arena, mode, &tiny_shape, sample, t, ehs, eps) ==
                      SDPO_OK, "%s", sdpo_last_error());
    if (d_eps)
        ck_assert_msg(sdpo_unet_backward(u, &ctx, d_eps, d_sample, d_ehs) == SDPO_OK, "%s",
                      sdpo_last_error());
    ck_assert_uint_eq(arena.used, 0);
    size_t hw = arena.high_water;
    nn_arena_free(&arena);
    return hw;
}

#endif

/* tests/test_vae.c — the VAE (AutoencoderKL) against diffusers.
 *
 * Golden: tests/data/sd_fixtures/golden/vae.safetensors from the tiny random AutoencoderKL in
 * tiny_sd/vae (block_out_channels [16, 32], 1 layer per block, 8 groups, mid-block attention,
 * float32): decode.latents [2, 4, 8, 8] → decode.image = vae.decode(z).sample [2, 3, 16, 16];
 * encode.image → encode.mean, encode.logvar (latent_dist). pipeline_1step.safetensors adds the
 * StableDiffusionPipeline's own decode: vae_in = x0 / scaling_factor → vae_out, and the returned
 * image = (vae_out / 2 + 0.5).clamp(0, 1).
 *
 * Tolerance: |got − want| ≤ 2e-5 · rms(want) + 1e-6 · |want|. Both sides are float32 and differ
 * only in summation order: the convolutions (im2col + OpenBLAS vs ATen's kernels, reductions of
 * up to 288 terms), GroupNorm statistics (double here) and the blocked softmax, compounded over
 * ~12 layers. Measured worst: 3.7e-6 · rms (decode and encode), 1.0e-6 · rms for the clamped
 * image; 2e-5 leaves ~5× margin for other CPUs' OpenBLAS kernels, while a wrong pad, group,
 * shortcut or attention scale gives errors of O(rms). x0 / 0.18215 (PyTorch divides) vs
 * x0 · (1/0.18215) (nn_scale) differ by ≤ 1 ulp of the input, far inside that. */
#include "models/model_dir.h"
#include "models/vae.h"
#include "nn/safetensors.h"
#include "tests/check_util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TINY_SD "tests/data/sd_fixtures/tiny_sd"
#define GOLDEN "tests/data/sd_fixtures/golden/vae.safetensors"
#define PIPELINE "tests/data/sd_fixtures/golden/pipeline_1step.safetensors"
#define TENSORS_JSON "tests/data/sd_turbo_vae_text_tensors.json"

static nn_ctx ctx = {.backend = NN_BACKEND_CPU, .n_threads = 2};

static float *read_f32(const char *path, const char *name, size_t *n, int64_t shape[4]) {
    sdpo_safetensors st;
    ck_assert_msg(sdpo_st_open(path, &st) == SDPO_OK, "%s", sdpo_last_error());
    const sdpo_st_tensor *t = sdpo_st_find(&st, name);
    ck_assert_msg(t != NULL, "%s: no tensor '%s'", path, name);
    float *x = malloc(t->numel * sizeof *x);
    ck_assert(x != NULL);
    ck_assert_msg(sdpo_st_read_f32(&st, t, x, 1) == SDPO_OK, "%s", sdpo_last_error());
    if (n) *n = t->numel;
    for (int d = 0; shape && d < 4; d++) shape[d] = d < t->ndim ? t->shape[d] : 1;
    sdpo_st_close(&st);
    return x;
}

static void check_close(const char *what, const float *got, const float *want, size_t n) {
    double ss = 0;
    for (size_t i = 0; i < n; i++) ss += (double)want[i] * want[i];
    double *w = malloc(n * sizeof *w);
    ck_assert(w != NULL);
    for (size_t i = 0; i < n; i++) w[i] = want[i];
    ck_assert_array_close(what, got, w, n, 2e-5 * sqrt(ss / (double)n), 1e-6);
    free(w);
}

static sdpo_model_dir md;
static nn_params params;
static sdpo_vae vae;

static void setup(void) {
    const sdpo_model_component *c;
    ck_assert_msg(sdpo_model_dir_open(TINY_SD, &md) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert_msg(sdpo_model_dir_require(&md, "vae", "AutoencoderKL", &c) == SDPO_OK, "%s",
                  sdpo_last_error());
    ck_assert_msg(sdpo_vae_load(c, SDPO_VAE_BOTH, &params, &vae) == SDPO_OK, "%s", sdpo_last_error());
}

static void teardown(void) {
    sdpo_vae_unbind(&vae);
    nn_params_free(&params);
    sdpo_model_dir_close(&md);
}

/* Decodes `in` of file `path` with opts and compares with `out`. */
static void decode_and_compare(const char *path, const char *in, const char *out,
                               const sdpo_vae_decode_opts *o) {
    int64_t zs[4], is[4];
    size_t nz, ni;
    float *z = read_f32(path, in, &nz, zs);
    float *want = read_f32(path, out, &ni, is);
    const int B = (int)zs[0], h = (int)zs[2], w = (int)zs[3];
    ck_assert_int_eq(is[2], 2 * h);   /* tiny VAE: 2 blocks, factor 2 */
    float *got = malloc(ni * sizeof *got);
    nn_arena arena;
    ck_assert(nn_arena_init(&arena, sdpo_vae_decode_arena_bytes(&ctx, &vae, h, w)) == SDPO_OK);
    ck_assert_msg(sdpo_vae_decode(&ctx, &vae, &arena, got, z, B, h, w, o) == SDPO_OK, "%s",
                  sdpo_last_error());
    ck_assert_uint_eq(arena.used, 0);
    ck_assert_uint_eq(arena.high_water, arena.cap);   /* the plan is exact */
    check_close(out, got, want, ni);
    nn_arena_free(&arena);
    free(z);
    free(want);
    free(got);
}

START_TEST(decode_matches_diffusers) {
    const sdpo_vae_decode_opts raw = {0, 0};
    decode_and_compare(GOLDEN, "decode.latents", "decode.image", &raw);
}
END_TEST

START_TEST(pipeline_decode_scales_and_clamps) {
    const sdpo_vae_decode_opts sample = {1, 0}, image = {1, 1};
    decode_and_compare(PIPELINE, "x0", "vae_out", &sample);
    decode_and_compare(PIPELINE, "x0", "image", &image);
}
END_TEST

START_TEST(encode_matches_diffusers) {
    int64_t xs[4];
    size_t nx, nm;
    float *x = read_f32(GOLDEN, "encode.image", &nx, xs);
    float *mean_want = read_f32(GOLDEN, "encode.mean", &nm, NULL);
    float *logvar_want = read_f32(GOLDEN, "encode.logvar", NULL, NULL);
    float *mean = malloc(nm * sizeof *mean), *logvar = malloc(nm * sizeof *logvar);
    const int B = (int)xs[0], H = (int)xs[2], W = (int)xs[3];
    nn_arena arena;
    ck_assert(nn_arena_init(&arena, sdpo_vae_encode_arena_bytes(&ctx, &vae, H, W)) == SDPO_OK);
    ck_assert_msg(sdpo_vae_encode(&ctx, &vae, &arena, mean, logvar, x, B, H, W) == SDPO_OK, "%s",
                  sdpo_last_error());
    check_close("encode.mean", mean, mean_want, nm);
    check_close("encode.logvar", logvar, logvar_want, nm);
    memset(mean, 0, nm * sizeof *mean);
    ck_assert(sdpo_vae_encode(&ctx, &vae, &arena, mean, NULL, x, B, H, W) == SDPO_OK);
    check_close("encode.mean (no logvar)", mean, mean_want, nm);
    /* sides must be multiples of the factor 2 */
    ck_assert(sdpo_vae_encode(&ctx, &vae, &arena, mean, NULL, x, 1, 15, 16) == SDPO_ERR_ARG);
    nn_arena_free(&arena);
    free(x);
    free(mean);
    free(logvar);
    free(mean_want);
    free(logvar_want);
}
END_TEST

START_TEST(small_arena_and_missing_part) {
    float z[4 * 8 * 8] = {0}, img[3 * 16 * 16];
    const sdpo_vae_decode_opts raw = {0, 0};
    nn_arena arena;
    ck_assert(nn_arena_init(&arena, sdpo_vae_decode_arena_bytes(&ctx, &vae, 4, 4)) == SDPO_OK);
    ck_assert(sdpo_vae_decode(&ctx, &vae, &arena, img, z, 1, 8, 8, &raw) == SDPO_ERR_NOMEM);
    ck_assert_msg(strstr(sdpo_last_error(), "vae."), "%s", sdpo_last_error());
    ck_assert_uint_eq(arena.used, 0);
    nn_arena_free(&arena);
    /* decoder only: encoder tensors in the file are skipped, encode is refused */
    nn_params p;
    sdpo_vae d;
    ck_assert_msg(sdpo_vae_load(sdpo_model_dir_find(&md, "vae"), SDPO_VAE_DECODER, &p, &d) == SDPO_OK,
                  "%s", sdpo_last_error());
    ck_assert(d.enc.res == NULL && d.dec.res != NULL);
    ck_assert(nn_arena_init(&arena, sdpo_vae_decode_arena_bytes(&ctx, &d, 8, 8)) == SDPO_OK);
    ck_assert(sdpo_vae_decode(&ctx, &d, &arena, img, z, 1, 8, 8, &raw) == SDPO_OK);
    ck_assert(sdpo_vae_encode(&ctx, &d, &arena, z, NULL, img, 1, 16, 16) == SDPO_ERR_ARG);
    nn_arena_free(&arena);
    sdpo_vae_unbind(&d);
    nn_params_free(&p);
}
END_TEST

/* run-vae-decode end to end: the CLI's images equal the pipeline's (SDPO_BIN is set by CTest). */
START_TEST(cli_run_vae_decode) {
    const char *bin = getenv("SDPO_BIN");
    ck_assert_msg(bin != NULL, "SDPO_BIN is not set: run through ctest or set it to the sdpo binary");
    char out[] = "/tmp/sdpo_vae_cli_XXXXXX", cmd[1024], path[64];
    ck_assert(mkdtemp(out) != NULL);
    snprintf(path, sizeof path, "%s/img.safetensors", out);
    snprintf(cmd, sizeof cmd, "%s run-vae-decode --model " TINY_SD " --input " PIPELINE
             " --input-name x0 --out %s --threads 2 > /dev/null", bin, path);
    ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
    size_t n;
    int64_t s[4];
    float *got = read_f32(path, "images", &n, s);
    float *want = read_f32(PIPELINE, "image", NULL, NULL);
    ck_assert(s[0] == 1 && s[1] == 3 && s[2] == 16 && s[3] == 16);
    check_close("cli images", got, want, n);
    free(got);
    free(want);
    got = read_f32(path, "sample", &n, NULL);
    want = read_f32(PIPELINE, "vae_out", NULL, NULL);
    check_close("cli sample", got, want, n);
    free(got);
    free(want);
    snprintf(cmd, sizeof cmd, "rm -rf %s", out);
    ck_assert(system(cmd) == 0);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * SD-Turbo's real config: the registry must be the 248 tensors of the real checkpoint
 * (tests/data/sd_turbo_vae_text_tensors.json, from shared/spec/sd_turbo_tensors.json: names,
 * order, shapes) with 83,653,863 parameters, 49,490,199 in post_quant_conv + decoder. */

static sdpo_vae_config real_config(void) {
    sdpo_config c;
    ck_assert_msg(sdpo_config_load("configs/sd-turbo/vae/config.json", &c) == SDPO_OK, "%s",
                  sdpo_last_error());
    sdpo_vae_config cfg;
    ck_assert_msg(sdpo_vae_config_load(&c, &cfg) == SDPO_OK, "%s", sdpo_last_error());
    sdpo_config_free(&c);
    return cfg;
}

START_TEST(real_sd_turbo_registry) {
    sdpo_vae_config cfg = real_config();
    ck_assert_int_eq(cfg.n_blocks, 4);
    ck_assert_int_eq(cfg.block_out_channels[3], 512);
    ck_assert(cfg.scaling_factor == 0.18215f && cfg.shift_factor == 0.0f);
    nn_params p;
    nn_params_init(&p);
    ck_assert(sdpo_vae_register(&p, &cfg, SDPO_VAE_BOTH) == SDPO_OK);
    json_error_t err;
    json_t *root = json_load_file(TENSORS_JSON, 0, &err);
    ck_assert_msg(root != NULL, "%s: %s", TENSORS_JSON, err.text);
    json_t *list = json_object_get(root, "vae");
    ck_assert_int_eq((int)json_array_size(list), p.count);
    size_t total = 0;
    for (int i = 0; i < p.count; i++) {
        json_t *e = json_array_get(list, (size_t)i), *shape = json_array_get(e, 1);
        const nn_param_info *t = &p.info[i];
        ck_assert_msg(!strcmp(t->name, json_string_value(json_array_get(e, 0))),
                      "tensor %d: registered '%s', checkpoint has '%s'", i, t->name,
                      json_string_value(json_array_get(e, 0)));
        ck_assert_int_eq(t->ndim, (int)json_array_size(shape));
        for (int d = 0; d < t->ndim; d++)
            ck_assert_msg(t->shape[d] == json_integer_value(json_array_get(shape, (size_t)d)),
                          "%s: dim %d", t->name, d);
        total += t->numel;
    }
    ck_assert_uint_eq(total, 83653863);
    json_decref(root);
    nn_params_free(&p);
    nn_params_init(&p);
    ck_assert(sdpo_vae_register(&p, &cfg, SDPO_VAE_DECODER) == SDPO_OK);
    total = 0;
    for (int i = 0; i < p.count; i++) total += p.info[i].numel;
    ck_assert_uint_eq(total, 49490199);
    nn_params_free(&p);
}
END_TEST

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    ck_assert(f != NULL);
    fputs(text, f);
    fclose(f);
}

START_TEST(config_errors_name_file_and_key) {
    char dir[] = "/tmp/sdpo_vae_XXXXXX", path[64], cmd[96];
    ck_assert(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/config.json", dir);
    static const struct {
        const char *json, *msg;
    } cases[] = {
        {"{\"down_block_types\": [\"DownEncoderBlock2D\"], \"up_block_types\": [\"UpDecoderBlock2D\"]}",
         "required key 'block_out_channels'"},
        {"{\"block_out_channels\": [32], \"down_block_types\": [\"DownEncoderBlock2D\"], "
         "\"up_block_types\": [\"UpDecoderBlock2D\"], \"act_fn\": \"gelu\"}",
         "key 'act_fn': 'gelu'"},
        {"{\"block_out_channels\": [32, 64], \"down_block_types\": [\"DownEncoderBlock2D\"], "
         "\"up_block_types\": [\"UpDecoderBlock2D\"]}",
         "same, non-zero length (2, 1, 1)"},
        {"{\"block_out_channels\": [32], \"down_block_types\": [\"DownBlock2D\"], "
         "\"up_block_types\": [\"UpDecoderBlock2D\"]}",
         "key 'down_block_types': 'DownBlock2D'"},
        {"{\"block_out_channels\": [48], \"down_block_types\": [\"DownEncoderBlock2D\"], "
         "\"up_block_types\": [\"UpDecoderBlock2D\"]}",
         "48 is not a positive multiple of norm_num_groups 32"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        write_text(path, cases[i].json);
        sdpo_config c;
        sdpo_vae_config cfg;
        ck_assert(sdpo_config_load(path, &c) == SDPO_OK);
        ck_assert(sdpo_vae_config_load(&c, &cfg) == SDPO_ERR_FORMAT);
        ck_assert_msg(strstr(sdpo_last_error(), path) && strstr(sdpo_last_error(), cases[i].msg),
                      "case %zu: %s", i, sdpo_last_error());
        sdpo_config_free(&c);
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert(system(cmd) == 0);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("vae");
    TCase *tc = tcase_create("tiny_golden");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, decode_matches_diffusers);
    tcase_add_test(tc, pipeline_decode_scales_and_clamps);
    tcase_add_test(tc, encode_matches_diffusers);
    tcase_add_test(tc, small_arena_and_missing_part);
    tcase_add_test(tc, cli_run_vae_decode);
    suite_add_tcase(s, tc);
    TCase *tr = tcase_create("real_config");
    tcase_set_timeout(tr, 120);
    tcase_add_test(tr, real_sd_turbo_registry);
    tcase_add_test(tr, config_errors_name_file_and_key);
    suite_add_tcase(s, tr);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

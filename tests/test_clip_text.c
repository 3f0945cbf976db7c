/* tests/test_clip_text.c — the CLIP text transformer against transformers' CLIPTextModel.
 *
 * Golden: tests/data/sd_fixtures/golden/text_encoder.safetensors, written by
 * reference/make_sd_fixtures.py from the tiny random CLIPTextModel in tiny_sd/text_encoder
 * (3 layers, D 32, 4 heads, intermediate 37, GELU, eager attention, float32) on three prompts
 * ("cat", "A dog on the moon", a 77-token prompt) tokenized for SD-2 and mapped id % 1024:
 * last_hidden_state (= the pipeline's prompt_embeds), hidden_states.0–3 and clip_skip1_embeds
 * (final_layer_norm(hidden_states[-2]), diffusers' clip_skip=1).
 *
 * Tolerance: |got − want| ≤ 1e-5 · rms(want) + 1e-6 · |want|. Both sides are float32; they differ
 * only in summation order (OpenBLAS vs ATen GEMM blocking, our blocked softmax, LayerNorm
 * statistics in double), a few ulp per reduction of ≤ 77 terms, growing mildly over 3 layers;
 * measured worst is 1.3e-6 · rms, so 1e-5 leaves ~8× margin for other CPUs' kernels. A wrong mask,
 * head split, activation or norm gives errors of O(rms). */
#include "models/clip_text.h"
#include "models/model_dir.h"
#include "models/weights.h"
#include "nn/safetensors.h"
#include "tests/check_util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TINY_SD "tests/data/sd_fixtures/tiny_sd"
#define GOLDEN "tests/data/sd_fixtures/golden/text_encoder.safetensors"
#define TENSORS_JSON "tests/data/sd_turbo_vae_text_tensors.json"

static nn_ctx ctx = {.backend = NN_BACKEND_CPU, .n_threads = 2};

/* ---------------------------------------------------------------------------------------------
 * golden helpers */

static float *read_f32(const sdpo_safetensors *st, const char *name, size_t *n) {
    const sdpo_st_tensor *t = sdpo_st_find(st, name);
    ck_assert_msg(t != NULL, "%s: no tensor '%s'", st->path, name);
    float *x = malloc(t->numel * sizeof *x);
    ck_assert(x != NULL);
    ck_assert_msg(sdpo_st_read_f32(st, t, x, 1) == SDPO_OK, "%s", sdpo_last_error());
    if (n) *n = t->numel;
    return x;
}

static int64_t *read_i64(const sdpo_safetensors *st, const char *name, int64_t shape[2]) {
    const sdpo_st_tensor *t = sdpo_st_find(st, name);
    ck_assert_msg(t && t->dtype == SDPO_ST_I64 && t->ndim == 2, "%s: %s", st->path, name);
    int64_t *x = malloc(t->nbytes);
    ck_assert(x != NULL);
    memcpy(x, st->data + t->offset, t->nbytes);
    shape[0] = t->shape[0];
    shape[1] = t->shape[1];
    return x;
}

/* max|got − want| ≤ 1e-5·rms(want) + 1e-6·|want| elementwise; reports the worst element. */
static void check_close(const char *what, const float *got, const float *want, size_t n,
                        double rel_rms) {
    double ss = 0;
    for (size_t i = 0; i < n; i++) ss += (double)want[i] * want[i];
    double rms = sqrt(ss / (double)n);
    double *w = malloc(n * sizeof *w);
    ck_assert(w != NULL);
    for (size_t i = 0; i < n; i++) w[i] = want[i];
    ck_assert_array_close(what, got, w, n, rel_rms * rms, 1e-6);
    free(w);
}

/* ---------------------------------------------------------------------------------------------
 * the tiny CLIPTextModel, loaded once per test case */

static sdpo_model_dir md;
static nn_params params;
static sdpo_clip_text model;
static sdpo_safetensors golden;
static int64_t *ids, ids_shape[2];

static void setup(void) {
    const sdpo_model_component *c;
    ck_assert_msg(sdpo_model_dir_open(TINY_SD, &md) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert_msg(sdpo_model_dir_require(&md, "text_encoder", "CLIPTextModel", &c) == SDPO_OK, "%s",
                  sdpo_last_error());
    ck_assert_msg(sdpo_clip_text_load(c, &sdpo_clip_text_layout_sd, &params, &model) == SDPO_OK,
                  "%s", sdpo_last_error());
    ck_assert_msg(sdpo_st_open(GOLDEN, &golden) == SDPO_OK, "%s", sdpo_last_error());
    ids = read_i64(&golden, "input_ids", ids_shape);
}

static void teardown(void) {
    free(ids);
    sdpo_st_close(&golden);
    sdpo_clip_text_unbind(&model);
    nn_params_free(&params);
    sdpo_model_dir_close(&md);
}

/* hidden [B, L, D] for the golden ids with `sel`; caller frees. */
static float *run(const sdpo_clip_text_select *sel) {
    const int B = (int)ids_shape[0], L = (int)ids_shape[1], D = model.cfg.hidden_size;
    nn_arena arena;
    ck_assert(nn_arena_init(&arena, sdpo_clip_text_arena_bytes(&ctx, &model.cfg, B, L)) == SDPO_OK);
    float *h = malloc((size_t)B * L * D * sizeof *h);
    ck_assert(h != NULL);
    ck_assert_msg(sdpo_clip_text_forward(&ctx, &model, &arena, ids, B, L, sel, h, NULL, NULL) ==
                      SDPO_OK, "%s", sdpo_last_error());
    ck_assert_uint_eq(arena.used, 0);   /* reset on return */
    nn_arena_free(&arena);
    return h;
}

START_TEST(config_of_the_tiny_encoder) {
    ck_assert_int_eq(model.cfg.num_layers, 3);
    ck_assert_int_eq(model.cfg.hidden_size, 32);
    ck_assert_int_eq(model.cfg.intermediate_size, 37);
    ck_assert_int_eq(model.cfg.num_heads, 4);
    ck_assert_int_eq(model.cfg.act, SDPO_CLIP_ACT_GELU);
    ck_assert_int_eq(ids_shape[0], 3);
    ck_assert_int_eq(ids_shape[1], 77);
}
END_TEST

START_TEST(last_hidden_state_is_the_sd_conditioning) {
    size_t n;
    float *want = read_f32(&golden, "last_hidden_state", &n);
    float *pe = read_f32(&golden, "prompt_embeds", NULL);
    float *got = run(&sdpo_clip_text_last_hidden);
    check_close("last_hidden_state", got, want, n, 1e-5);
    check_close("prompt_embeds", got, pe, n, 1e-5);
    free(got);
    free(want);
    free(pe);
}
END_TEST

START_TEST(every_hidden_state_and_clip_skip) {
    size_t n;
    for (int i = 0; i <= model.cfg.num_layers; i++) {
        char name[32];
        snprintf(name, sizeof name, "hidden_states.%d", i);
        float *want = read_f32(&golden, name, &n);
        const sdpo_clip_text_select sel = {model.cfg.num_layers - i, 0};
        float *got = run(&sel);
        check_close(name, got, want, n, 1e-5);
        free(got);
        free(want);
    }
    float *want = read_f32(&golden, "clip_skip1_embeds", &n);
    const sdpo_clip_text_select skip1 = {1, 1};
    float *got = run(&skip1);
    check_close("clip_skip1_embeds", got, want, n, 1e-5);
    free(got);
    free(want);
}
END_TEST

/* pooler_output takes last_hidden_state at the eos position; text_embeds projects it. The
 * projection is not in the SD checkpoint: registered, skipped by the loader, set here. */
static int is_projection(const char *name) { return !strcmp(name, "text_projection.weight"); }

START_TEST(pooled_output_and_projection) {
    const sdpo_clip_text_layout with_proj = {SDPO_CLIP_TEXT_HF, "text_model.", "text_projection.weight"};
    const sdpo_model_component *c = sdpo_model_dir_find(&md, "text_encoder");
    char path[4096];
    ck_assert(sdpo_weights_find(c->dir, path, sizeof path) == SDPO_OK);
    nn_params p;
    nn_params_init(&p);
    ck_assert(sdpo_clip_text_register(&p, &model.cfg, &with_proj) == SDPO_OK);
    ck_assert(nn_params_finalize(&p) == SDPO_OK);
    const sdpo_weights_filter filter = {is_projection, NULL};
    ck_assert_msg(sdpo_weights_load(&p, path, &filter) == SDPO_OK, "%s", sdpo_last_error());
    const int B = (int)ids_shape[0], L = (int)ids_shape[1], D = model.cfg.hidden_size;
    const int P = model.cfg.projection_dim;
    nn_param_view pv;
    ck_assert(nn_params_get(&p, "text_projection.weight", &pv) == SDPO_OK);
    for (int i = 0; i < P * D; i++) pv.value.data[i] = (float)((i * 7) % 13 - 6) / 8.0f;
    float *lhs = read_f32(&golden, "last_hidden_state", NULL);
    float pooled[3 * 32], emb[3 * 32];
    nn_arena arena;
    ck_assert(nn_arena_init(&arena, sdpo_clip_text_arena_bytes(&ctx, &model.cfg, B, L)) == SDPO_OK);
    for (int legacy = 0; legacy < 2; legacy++) {
        sdpo_clip_text_config cfg = model.cfg;
        cfg.pool_argmax = legacy;   /* argmax(ids) rule (eos_token_id 2 in a config) */
        sdpo_clip_text m;
        ck_assert(sdpo_clip_text_bind(&m, &p, &cfg, &with_proj) == SDPO_OK);
        ck_assert_msg(sdpo_clip_text_forward(&ctx, &m, &arena, ids, B, L, NULL, NULL, pooled, emb) ==
                          SDPO_OK, "%s", sdpo_last_error());
        for (int b = 0; b < B; b++) {
            const int64_t *row = ids + (size_t)b * L;
            int pos = 0;   /* argmax, or the first tiny eos (49407 % 1024 = 255) */
            if (legacy)
                for (int i = 1; i < L; i++) pos = row[i] > row[pos] ? i : pos;
            else
                while (row[pos] != 255) pos++;
            const float *want = lhs + ((size_t)b * L + pos) * D;
            check_close("pooled", pooled + b * D, want, (size_t)D, 1e-5);
            for (int o = 0; o < P; o++) {
                double s = 0;
                for (int d = 0; d < D; d++) s += (double)pv.value.data[o * D + d] * want[d];
                CK_CLOSE(emb[b * P + o], s, 1e-4, 1e-5);
            }
        }
        sdpo_clip_text_unbind(&m);
    }
    nn_arena_free(&arena);
    free(lhs);
    nn_params_free(&p);
}
END_TEST

START_TEST(bad_inputs_are_argument_errors) {
    float h[2 * 77 * 32];
    nn_arena arena;
    ck_assert(nn_arena_init(&arena, sdpo_clip_text_arena_bytes(&ctx, &model.cfg, 1, 77)) == SDPO_OK);
    int64_t bad[77];
    memcpy(bad, ids, sizeof bad);
    bad[5] = 49406;   /* a real CLIP id fed to the 1024-token tiny model */
    ck_assert(sdpo_clip_text_forward(&ctx, &model, &arena, bad, 1, 77, NULL, h, NULL, NULL) == SDPO_ERR_ARG);
    ck_assert_msg(strstr(sdpo_last_error(), "token id 49406 at [0, 5] is outside the vocabulary (vocab_size 1024)"),
                  "%s", sdpo_last_error());
    ck_assert(sdpo_clip_text_forward(&ctx, &model, &arena, ids, 1, 78, NULL, h, NULL, NULL) == SDPO_ERR_ARG);
    const sdpo_clip_text_select skip4 = {4, 1};
    ck_assert(sdpo_clip_text_forward(&ctx, &model, &arena, ids, 1, 77, &skip4, h, NULL, NULL) == SDPO_ERR_ARG);
    float pooled[32];
    const sdpo_clip_text_select raw = {0, 0};
    ck_assert(sdpo_clip_text_forward(&ctx, &model, &arena, ids, 1, 77, &raw, h, pooled, NULL) == SDPO_ERR_ARG);
    ck_assert(sdpo_clip_text_forward(&ctx, &model, &arena, ids, 1, 77, NULL, NULL, NULL, pooled) == SDPO_ERR_ARG);
    ck_assert_msg(strstr(sdpo_last_error(), "no text_projection"), "%s", sdpo_last_error());
    /* An arena for one sequence cannot hold two: NOMEM naming the piece, arena untouched. */
    ck_assert(sdpo_clip_text_forward(&ctx, &model, &arena, ids, 2, 77, NULL, h, NULL, NULL) == SDPO_ERR_NOMEM);
    ck_assert_msg(strstr(sdpo_last_error(), "clip_text."), "%s", sdpo_last_error());
    ck_assert_uint_eq(arena.used, 0);
    nn_arena_free(&arena);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * SD-Turbo's real config: the registry built from configs/sd-turbo/text_encoder/config.json must
 * be exactly the 372 tensors of the real checkpoint (tests/data/sd_turbo_vae_text_tensors.json,
 * from shared/spec/sd_turbo_tensors.json: names, order, shapes), 340,387,840 parameters.
 * Nothing is allocated (no finalize). */

static void expect_registry(const nn_params *p, const char *component, size_t want_params) {
    json_error_t err;
    json_t *root = json_load_file(TENSORS_JSON, 0, &err);
    ck_assert_msg(root != NULL, "%s: %s", TENSORS_JSON, err.text);
    json_t *list = json_object_get(root, component);
    ck_assert_int_eq((int)json_array_size(list), p->count);
    size_t total = 0;
    for (int i = 0; i < p->count; i++) {
        json_t *e = json_array_get(list, (size_t)i), *shape = json_array_get(e, 1);
        const nn_param_info *t = &p->info[i];
        ck_assert_msg(!strcmp(t->name, json_string_value(json_array_get(e, 0))),
                      "%s tensor %d: registered '%s', checkpoint has '%s'", component, i, t->name,
                      json_string_value(json_array_get(e, 0)));
        ck_assert_int_eq(t->ndim, (int)json_array_size(shape));
        for (int d = 0; d < t->ndim; d++)
            ck_assert_msg(t->shape[d] == json_integer_value(json_array_get(shape, (size_t)d)),
                          "%s: dim %d", t->name, d);
        total += t->numel;
    }
    ck_assert_uint_eq(total, want_params);
    json_decref(root);
}

START_TEST(real_sd_turbo_registry) {
    sdpo_config c;
    ck_assert_msg(sdpo_config_load("configs/sd-turbo/text_encoder/config.json", &c) == SDPO_OK,
                  "%s", sdpo_last_error());
    sdpo_clip_text_config cfg;
    ck_assert_msg(sdpo_clip_text_config_load(&c, &cfg) == SDPO_OK, "%s", sdpo_last_error());
    sdpo_config_free(&c);
    ck_assert_int_eq(cfg.num_layers, 23);
    ck_assert_int_eq(cfg.act, SDPO_CLIP_ACT_GELU);
    ck_assert_int_eq(cfg.pool_argmax, 1);   /* legacy eos_token_id 2 */
    nn_params p;
    nn_params_init(&p);
    ck_assert(sdpo_clip_text_register(&p, &cfg, &sdpo_clip_text_layout_sd) == SDPO_OK);
    expect_registry(&p, "text_encoder", 340387840);
    nn_params_free(&p);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * config errors and the fp16 weight variant */

static char tmp[64];

static void tmp_setup(void) {
    snprintf(tmp, sizeof tmp, "/tmp/sdpo_clip_XXXXXX");
    ck_assert(mkdtemp(tmp) != NULL);
}

static void tmp_teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    ck_assert(system(cmd) == 0);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    ck_assert(f != NULL);
    fputs(text, f);
    fclose(f);
}

START_TEST(config_errors_name_file_and_key) {
    char path[128];
    snprintf(path, sizeof path, "%s/config.json", tmp);
    sdpo_config c;
    sdpo_clip_text_config cfg;
    write_text(path, "{\"vocab_size\": 10, \"hidden_size\": 8, \"intermediate_size\": 4, "
                     "\"num_hidden_layers\": 1, \"num_attention_heads\": 2, "
                     "\"max_position_embeddings\": 77, \"hidden_act\": \"relu\"}");
    ck_assert(sdpo_config_load(path, &c) == SDPO_OK);
    ck_assert(sdpo_clip_text_config_load(&c, &cfg) == SDPO_ERR_FORMAT);
    ck_assert_msg(strstr(sdpo_last_error(), "config.json: key 'hidden_act': 'relu'"), "%s", sdpo_last_error());
    sdpo_config_free(&c);
    write_text(path, "{\"vocab_size\": 10, \"hidden_size\": 8}");
    ck_assert(sdpo_config_load(path, &c) == SDPO_OK);
    ck_assert(sdpo_clip_text_config_load(&c, &cfg) == SDPO_ERR_FORMAT);
    ck_assert_msg(strstr(sdpo_last_error(), "required key 'intermediate_size'"), "%s", sdpo_last_error());
    sdpo_config_free(&c);
    write_text(path, "{\"vocab_size\": 10, \"hidden_size\": 9, \"intermediate_size\": 4, "
                     "\"num_hidden_layers\": 1, \"num_attention_heads\": 2, "
                     "\"max_position_embeddings\": 77}");
    ck_assert(sdpo_config_load(path, &c) == SDPO_OK);
    ck_assert(sdpo_clip_text_config_load(&c, &cfg) == SDPO_ERR_FORMAT);
    ck_assert_msg(strstr(sdpo_last_error(), "is not a multiple of the 2 attention heads"), "%s", sdpo_last_error());
    ck_assert_int_eq(cfg.act, SDPO_CLIP_ACT_QUICK_GELU);   /* transformers' default hidden_act */
    sdpo_config_free(&c);
}
END_TEST

/* float → IEEE half, round to nearest even (normal and subnormal range; weights are finite). */
static uint16_t f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000, e = (x >> 23) & 0xff, m = x & 0x7fffff;
    int32_t he = (int32_t)e - 127 + 15;
    if (he >= 31) return (uint16_t)(sign | 0x7c00);
    if (he <= 0) {   /* subnormal half: shift the full mantissa */
        if (he < -10) return (uint16_t)sign;
        m |= 0x800000;
        int shift = 14 - he;
        uint32_t h = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = (uint32_t)he << 10 | m >> 13, rem = m & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;   /* may carry into the exponent */
    return (uint16_t)(sign | h);
}

START_TEST(fp16_variant_loads) {
    /* tmp/ holds config.json and model.fp16.safetensors only, with the names transformers ≥ 5
     * writes (no "text_model." prefix): the fp16 file is found, its prefix detected, and every
     * weight loads equal to the rounded fp32 weight. */
    const size_t pre = strlen("text_model.");
    const sdpo_model_component *src = sdpo_model_dir_find(&md, "text_encoder");
    char cmd[512], path[128];
    snprintf(cmd, sizeof cmd, "cp %s/config.json %s/", src->dir, tmp);
    ck_assert(system(cmd) == 0);
    sdpo_safetensors st;
    snprintf(path, sizeof path, "%s/model.safetensors", src->dir);
    ck_assert(sdpo_st_open(path, &st) == SDPO_OK);
    sdpo_st_entry *e = calloc((size_t)st.n_tensors, sizeof *e);
    uint16_t **data = calloc((size_t)st.n_tensors, sizeof *data);
    for (int i = 0; i < st.n_tensors; i++) {
        const sdpo_st_tensor *t = &st.tensors[i];
        float *x = malloc(t->numel * sizeof *x);
        ck_assert(sdpo_st_read_f32(&st, t, x, 1) == SDPO_OK);
        data[i] = malloc(t->numel * sizeof **data);
        for (size_t k = 0; k < t->numel; k++) data[i][k] = f32_to_f16(x[k]);
        free(x);
        ck_assert(!strncmp(t->name, "text_model.", pre));
        e[i] = (sdpo_st_entry){t->name + pre, SDPO_ST_F16, t->ndim, t->shape, data[i]};
    }
    snprintf(path, sizeof path, "%s/model.fp16.safetensors", tmp);
    ck_assert(sdpo_st_write(path, e, st.n_tensors, NULL, NULL, 0) == SDPO_OK);
    char cfg_path[128];
    snprintf(cfg_path, sizeof cfg_path, "%s/config.json", tmp);
    sdpo_model_component c = {.name = "text_encoder", .dir = tmp, .dir_exists = 1,
                              .config_path = cfg_path};
    nn_params p;
    sdpo_clip_text m;
    ck_assert_msg(sdpo_clip_text_load(&c, &sdpo_clip_text_layout_sd, &p, &m) == SDPO_OK, "%s",
                  sdpo_last_error());
    for (int i = 0; i < st.n_tensors; i++) {
        nn_param_view v;
        ck_assert(nn_params_get(&p, st.tensors[i].name + pre, &v) == SDPO_OK);
        for (size_t k = 0; k < st.tensors[i].numel; k++)
            ck_assert_msg(f32_to_f16(v.value.data[k]) == data[i][k] &&
                              sdpo_f16_to_f32(data[i][k]) == v.value.data[k],
                          "%s[%zu]", st.tensors[i].name, k);
        free(data[i]);
    }
    /* fp16-rounded weights (relative error ≤ 2^-11) move the output by ~1e-3 of its rms. */
    const int B = (int)ids_shape[0], L = (int)ids_shape[1];
    size_t n;
    float *want = read_f32(&golden, "last_hidden_state", &n);
    float *got = malloc(n * sizeof *got);
    nn_arena arena;
    ck_assert(nn_arena_init(&arena, sdpo_clip_text_arena_bytes(&ctx, &m.cfg, B, L)) == SDPO_OK);
    ck_assert(sdpo_clip_text_forward(&ctx, &m, &arena, ids, B, L, NULL, got, NULL, NULL) == SDPO_OK);
    check_close("last_hidden_state (fp16 weights)", got, want, n, 2e-2);
    nn_arena_free(&arena);
    free(got);
    free(want);
    free(data);
    free(e);
    sdpo_clip_text_unbind(&m);
    nn_params_free(&p);
    sdpo_st_close(&st);
}
END_TEST

/* open_clip naming (HPSv2): the tiny weights renamed, q/k/v fused into in_proj rows and the
 * projection stored transposed, must give bit-identical outputs to the HF naming. */
static void put_entry(sdpo_st_entry *e, int *n, const char *name, int ndim, int64_t *shape,
                      const float *data) {
    e[*n] = (sdpo_st_entry){strdup(name), SDPO_ST_F32, ndim, shape, data};
    (*n)++;
}

START_TEST(open_clip_naming_matches_hf) {
    const sdpo_clip_text_config *c = &model.cfg;
    const int D = c->hidden_size, I = c->intermediate_size, P = c->projection_dim, NL = c->num_layers;
    float *proj = malloc((size_t)P * D * sizeof *proj), *proj_t = malloc((size_t)P * D * sizeof *proj_t);
    for (int i = 0; i < P * D; i++) proj[i] = (float)((i * 5) % 11 - 5) / 4.0f;
    for (int e = 0; e < P; e++)
        for (int d = 0; d < D; d++) proj_t[d * P + e] = proj[e * D + d];
    /* fused in_proj per layer: [3D, D] weights and [3D] biases */
    float *qkv_w = malloc((size_t)NL * 3 * D * D * sizeof *qkv_w), *qkv_b = malloc((size_t)NL * 3 * D * sizeof *qkv_b);
    int64_t shapes[64][2];
    sdpo_st_entry e[64];
    int n = 0, ns = 0;
#define SHAPE(a, b) (shapes[ns][0] = (a), shapes[ns][1] = (b), shapes[ns++])
    char name[128];
    put_entry(e, &n, "token_embedding.weight", 2, SHAPE(c->vocab_size, D), model.token_embedding);
    put_entry(e, &n, "positional_embedding", 2, SHAPE(c->max_positions, D), model.position_embedding);
    for (int l = 0; l < NL; l++) {
        const sdpo_clip_text_layer *L = &model.layers[l];
        float *w = qkv_w + (size_t)l * 3 * D * D, *b = qkv_b + (size_t)l * 3 * D;
        memcpy(w, L->q_w, (size_t)D * D * 4), memcpy(w + D * D, L->k_w, (size_t)D * D * 4);
        memcpy(w + 2 * D * D, L->v_w, (size_t)D * D * 4);
        memcpy(b, L->q_b, (size_t)D * 4), memcpy(b + D, L->k_b, (size_t)D * 4), memcpy(b + 2 * D, L->v_b, (size_t)D * 4);
        const struct { const char *s; int nd; int64_t a, b; const float *x; } t[] = {
            {"ln_1.weight", 1, D, 0, L->ln1_w}, {"ln_1.bias", 1, D, 0, L->ln1_b},
            {"attn.in_proj_weight", 2, 3 * D, D, w}, {"attn.in_proj_bias", 1, 3 * D, 0, b},
            {"attn.out_proj.weight", 2, D, D, L->o_w}, {"attn.out_proj.bias", 1, D, 0, L->o_b},
            {"ln_2.weight", 1, D, 0, L->ln2_w}, {"ln_2.bias", 1, D, 0, L->ln2_b},
            {"mlp.c_fc.weight", 2, I, D, L->fc1_w}, {"mlp.c_fc.bias", 1, I, 0, L->fc1_b},
            {"mlp.c_proj.weight", 2, D, I, L->fc2_w}, {"mlp.c_proj.bias", 1, D, 0, L->fc2_b}};
        for (size_t k = 0; k < sizeof t / sizeof *t; k++) {
            snprintf(name, sizeof name, "transformer.resblocks.%d.%s", l, t[k].s);
            put_entry(e, &n, name, t[k].nd, SHAPE(t[k].a, t[k].b), t[k].x);
        }
    }
    put_entry(e, &n, "ln_final.weight", 1, SHAPE(D, 0), model.final_ln_w);
    put_entry(e, &n, "ln_final.bias", 1, SHAPE(D, 0), model.final_ln_b);
    put_entry(e, &n, "text_projection", 2, SHAPE(D, P), proj_t);
#undef SHAPE
    char path[128];
    snprintf(path, sizeof path, "%s/open_clip.safetensors", tmp);
    ck_assert_msg(sdpo_st_write(path, e, n, NULL, NULL, 0) == SDPO_OK, "%s", sdpo_last_error());

    sdpo_clip_text_config cfg = *c;
    cfg.pool_argmax = 1;   /* open_clip pools at argmax(ids) */
    const sdpo_clip_text_layout oc = {SDPO_CLIP_TEXT_OPEN_CLIP, "", "text_projection"};
    const sdpo_clip_text_layout hf = {SDPO_CLIP_TEXT_HF, "text_model.", "text_projection.weight"};
    nn_params po, ph;
    sdpo_clip_text mo, mh;
    nn_params_init(&po);
    ck_assert(sdpo_clip_text_register(&po, &cfg, &oc) == SDPO_OK);
    ck_assert(nn_params_finalize(&po) == SDPO_OK);
    ck_assert_msg(sdpo_weights_load(&po, path, NULL) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert_msg(sdpo_clip_text_bind(&mo, &po, &cfg, &oc) == SDPO_OK, "%s", sdpo_last_error());
    nn_params_init(&ph);
    ck_assert(sdpo_clip_text_register(&ph, &cfg, &hf) == SDPO_OK);
    ck_assert(nn_params_finalize(&ph) == SDPO_OK);
    const sdpo_weights_filter filter = {is_projection, NULL};
    ck_assert(sdpo_weights_load(&ph, path, NULL) == SDPO_ERR_SHAPE);   /* names differ */
    char hf_path[4096];
    ck_assert(sdpo_weights_find(sdpo_model_dir_find(&md, "text_encoder")->dir, hf_path, sizeof hf_path) == SDPO_OK);
    ck_assert(sdpo_weights_load(&ph, hf_path, &filter) == SDPO_OK);
    nn_param_view pv;
    ck_assert(nn_params_get(&ph, "text_projection.weight", &pv) == SDPO_OK);
    memcpy(pv.value.data, proj, (size_t)P * D * sizeof *proj);
    ck_assert(sdpo_clip_text_bind(&mh, &ph, &cfg, &hf) == SDPO_OK);

    const int B = (int)ids_shape[0], Lq = (int)ids_shape[1];
    const size_t nh = (size_t)B * Lq * D;
    float *h[2], *pool[2], *emb[2];
    nn_arena arena;
    ck_assert(nn_arena_init(&arena, sdpo_clip_text_arena_bytes(&ctx, &cfg, B, Lq)) == SDPO_OK);
    for (int k = 0; k < 2; k++) {
        h[k] = malloc(nh * sizeof(float));
        pool[k] = malloc((size_t)B * D * sizeof(float));
        emb[k] = malloc((size_t)B * P * sizeof(float));
        const sdpo_clip_text *m = k ? &mh : &mo;
        ck_assert(sdpo_clip_text_forward(&ctx, m, &arena, ids, B, Lq, NULL, h[k], pool[k], emb[k]) == SDPO_OK);
    }
    ck_assert(memcmp(h[0], h[1], nh * sizeof(float)) == 0);
    ck_assert(memcmp(pool[0], pool[1], (size_t)B * D * sizeof(float)) == 0);
    ck_assert(memcmp(emb[0], emb[1], (size_t)B * P * sizeof(float)) == 0);
    for (int k = 0; k < 2; k++) free(h[k]), free(pool[k]), free(emb[k]);
    nn_arena_free(&arena);
    sdpo_clip_text_unbind(&mo);
    sdpo_clip_text_unbind(&mh);
    nn_params_free(&po);
    nn_params_free(&ph);
    for (int i = 0; i < n; i++) free((char *)e[i].name);
    free(qkv_w), free(qkv_b), free(proj), free(proj_t);
}
END_TEST

/* HPSv2's tower from open_clip's ViT-H-14 text_cfg: 24 layers + projection = 354,032,640
 * parameters (architectures.md §1.2); unsupported options are refused by key. */
START_TEST(open_clip_config) {
    char path[128];
    snprintf(path, sizeof path, "%s/text_cfg.json", tmp);
    write_text(path, "{\"context_length\": 77, \"vocab_size\": 49408, \"width\": 1024, \"heads\": 16, "
                     "\"layers\": 24}");
    sdpo_config c;
    sdpo_clip_text_config cfg;
    ck_assert(sdpo_config_load(path, &c) == SDPO_OK);
    ck_assert_msg(sdpo_clip_text_config_open_clip(&c, 1024, 0, &cfg) == SDPO_OK, "%s", sdpo_last_error());
    sdpo_config_free(&c);
    ck_assert_int_eq(cfg.intermediate_size, 4096);
    ck_assert_int_eq(cfg.act, SDPO_CLIP_ACT_GELU);
    ck_assert_int_eq(cfg.pool_argmax, 1);
    const sdpo_clip_text_layout oc = {SDPO_CLIP_TEXT_OPEN_CLIP, "", "text_projection"};
    nn_params p;
    nn_params_init(&p);
    ck_assert(sdpo_clip_text_register(&p, &cfg, &oc) == SDPO_OK);
    size_t total = 0;
    for (int i = 0; i < p.count; i++) total += p.info[i].numel;
    ck_assert_uint_eq(total, 354032640);
    ck_assert_str_eq(p.info[2].name, "transformer.resblocks.0.ln_1.weight");
    nn_params_free(&p);
    write_text(path, "{\"width\": 64, \"heads\": 4, \"layers\": 2, \"ls_init_value\": 1e-5}");
    ck_assert(sdpo_config_load(path, &c) == SDPO_OK);
    ck_assert(sdpo_clip_text_config_open_clip(&c, 64, 1, &cfg) == SDPO_ERR_FORMAT);
    ck_assert_msg(strstr(sdpo_last_error(), "text_cfg.json: key 'ls_init_value'"), "%s", sdpo_last_error());
    sdpo_config_free(&c);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("clip_text");
    TCase *tc = tcase_create("tiny_golden");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, config_of_the_tiny_encoder);
    tcase_add_test(tc, last_hidden_state_is_the_sd_conditioning);
    tcase_add_test(tc, every_hidden_state_and_clip_skip);
    tcase_add_test(tc, pooled_output_and_projection);
    tcase_add_test(tc, bad_inputs_are_argument_errors);
    tcase_add_test(tc, config_errors_name_file_and_key);
    tcase_add_test(tc, fp16_variant_loads);
    tcase_add_test(tc, open_clip_naming_matches_hf);
    tcase_add_test(tc, open_clip_config);
    suite_add_tcase(s, tc);
    TCase *tr = tcase_create("real_config");
    tcase_set_timeout(tr, 120);
    tcase_add_test(tr, real_sd_turbo_registry);
    suite_add_tcase(s, tr);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

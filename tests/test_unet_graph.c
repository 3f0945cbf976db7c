/* tests/test_unet_graph.c — the UNet graph built from config.json alone: the real SD-Turbo
 * config gives exactly the tensors of the real checkpoint (names, shapes, 865,910,724
 * parameters, shared/spec/sd_turbo_tensors.json copied to tests/data/) plus 256 rank-4 LoRA
 * tensors (829,952 parameters, reference/check_sd_turbo_configs.py), without allocating them;
 * its activation memory; config errors and weight-shape errors name the file and the key or
 * tensor. */
#include <jansson.h>
#include <unistd.h>

#include "tests/unet_test_util.h"

#define REAL_CONFIG "configs/sd-turbo/unet/config.json"
#define REAL_TENSORS "tests/data/sd_turbo_unet_tensors.json"

static int is_lora_name(const char *n) {
    return strstr(n, ".lora_A.weight") != NULL || strstr(n, ".lora_B.weight") != NULL;
}

START_TEST(real_config_values) {
    sdpo_unet_config c;
    ck_assert_msg(sdpo_unet_config_load(REAL_CONFIG, &c) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert_int_eq(c.n_levels, 4);
    const int heads[4] = {5, 10, 20, 20}, boc[4] = {320, 640, 1280, 1280};
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(c.heads[i], heads[i]);   /* attention_head_dim is the head count */
        ck_assert_int_eq(c.block_out_channels[i] / c.heads[i], 64);
        ck_assert_int_eq(c.block_out_channels[i], boc[i]);
        ck_assert_int_eq(c.layers_per_block[i], 2);
        ck_assert_int_eq(c.transformer_layers[i], 1);
        ck_assert_int_eq(c.down_attn[i], i < 3);
        ck_assert_int_eq(c.up_attn[i], i > 0);
    }
    ck_assert_int_eq(c.cross_attention_dim, 1024);
    ck_assert_int_eq(c.time_embed_dim, 1280);
    ck_assert_int_eq(c.norm_num_groups, 32);
    ck_assert_float_eq(c.norm_eps, 1e-5f);
    ck_assert_int_eq(c.flip_sin_to_cos, 1);
    ck_assert_float_eq(c.freq_shift, 0.0f);
    ck_assert_int_eq(c.in_channels, 4);
    ck_assert_int_eq(c.out_channels, 4);
}
END_TEST

/* Every registered base tensor is in the checkpoint list with its shape and vice versa. */
START_TEST(real_graph_matches_checkpoint) {
    sdpo_unet_config c;
    ck_assert(sdpo_unet_config_load(REAL_CONFIG, &c) == SDPO_OK);
    sdpo_unet u;
    sdpo_unet_options opt = sdpo_unet_options_default();
    ck_assert_msg(sdpo_unet_init(&u, &c, &opt) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert(u.params.params == NULL);   /* nothing allocated before finalize */
    json_error_t err;
    json_t *root = json_load_file(REAL_TENSORS, 0, &err);
    ck_assert_msg(root != NULL, "%s: %s", REAL_TENSORS, err.text);
    json_t *list = json_object_get(root, "unet");
    const size_t n_file = json_array_size(list);
    ck_assert_uint_eq(n_file, 686);
    int n_base = 0, n_lora = 0;
    size_t lora_elems = 0;
    char *matched = calloc(n_file, 1);
    for (int i = 0; i < u.params.count; i++) {
        const nn_param_info *e = &u.params.info[i];
        if (is_lora_name(e->name)) {
            ck_assert_int_eq(e->trainable, 1);
            ck_assert_int_eq(e->ndim, 2);
            n_lora++;
            lora_elems += e->numel;
            continue;
        }
        ck_assert_int_eq(e->trainable, 0);   /* base frozen by default */
        n_base++;
        size_t k = 0;
        while (k < n_file && strcmp(json_string_value(json_array_get(json_array_get(list, k), 0)),
                                    e->name))
            k++;
        ck_assert_msg(k < n_file, "registered '%s' is not in the SD-Turbo checkpoint", e->name);
        json_t *shape = json_array_get(json_array_get(list, k), 1);
        ck_assert_int_eq((int)json_array_size(shape), e->ndim);
        for (int d = 0; d < e->ndim; d++)
            ck_assert_msg(json_integer_value(json_array_get(shape, (size_t)d)) == e->shape[d],
                          "%s: dim %d is %lld", e->name, d, (long long)e->shape[d]);
        ck_assert(!matched[k]);
        matched[k] = 1;
    }
    for (size_t k = 0; k < n_file; k++)
        ck_assert_msg(matched[k], "checkpoint tensor '%s' not registered",
                      json_string_value(json_array_get(json_array_get(list, k), 0)));
    ck_assert_int_eq(n_base, 686);
    ck_assert_int_eq(n_lora, 256);
    ck_assert_uint_eq(lora_elems, 829952);
    ck_assert_uint_eq(sdpo_unet_param_count(&u), 865910724u + 829952u);
    ck_assert_uint_eq(sdpo_unet_trainable_count(&u), 829952u);
    free(matched);
    json_decref(root);
    sdpo_unet_free(&u);

    /* full-parameter training: everything trainable; no LoRA: exactly the checkpoint */
    opt.lora_rank = 0;
    opt.train_base = 1;
    ck_assert(sdpo_unet_init(&u, &c, &opt) == SDPO_OK);
    ck_assert_uint_eq(sdpo_unet_param_count(&u), 865910724u);
    ck_assert_uint_eq(sdpo_unet_trainable_count(&u), 865910724u);
    sdpo_unet_free(&u);
}
END_TEST

/* Activation memory of SD-Turbo at 64×64 latents, B = 1, L = 77 (the size function's answer,
 * printed for bench/README.md); recomputation must need far less than storing everything. */
START_TEST(real_graph_memory) {
    sdpo_unet_config c;
    ck_assert(sdpo_unet_config_load(REAL_CONFIG, &c) == SDPO_OK);
    const sdpo_unet_shape s = {.B = 1, .H = 64, .W = 64, .L = 77};
    nn_ctx ctx = {.backend = NN_BACKEND_CPU, .n_threads = 1};
    const char *mode_name[3] = {"infer", "train", "train+recompute"};
    for (int train_base = 0; train_base < 2; train_base++) {
        sdpo_unet u;
        sdpo_unet_options opt = sdpo_unet_options_default();
        opt.train_base = train_base;
        ck_assert(sdpo_unet_init(&u, &c, &opt) == SDPO_OK);
        size_t b[3];
        for (int m = 0; m < 3; m++) {
            ck_assert(sdpo_unet_arena_bytes(&u, &ctx, (sdpo_unet_mode)m, &s, &b[m]) == SDPO_OK);
            printf("sd-turbo 64x64 B=1 L=77 %-9s %-16s arena %8.1f MiB\n",
                   train_base ? "full" : "lora-r4", mode_name[m], b[m] / 1048576.0);
        }
        ck_assert_uint_lt(b[0], b[2]);
        ck_assert_uint_lt(2 * b[2], b[1]);
        sdpo_unet_free(&u);
    }
    /* a latent that the samplers cannot halve three times is refused */
    sdpo_unet u;
    sdpo_unet_options opt = sdpo_unet_options_default();
    ck_assert(sdpo_unet_init(&u, &c, &opt) == SDPO_OK);
    size_t bytes;
    const sdpo_unet_shape odd = {.B = 1, .H = 60, .W = 64, .L = 77};
    ck_assert(sdpo_unet_arena_bytes(&u, &ctx, SDPO_UNET_INFER, &odd, &bytes) == SDPO_ERR_ARG);
    ck_assert_msg(strstr(sdpo_last_error(), "multiple of 8"), "%s", sdpo_last_error());
    sdpo_unet_free(&u);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * errors */

/* Writes the tiny config with `key` set to the JSON `value` (NULL: removed) into a temp dir;
 * returns the config path in buf. */
static void write_config(char *buf, size_t n, const char *key, const char *value) {
    json_error_t err;
    json_t *root = json_load_file(TINY_CONFIG, 0, &err);
    ck_assert(root != NULL);
    if (value) json_object_set_new(root, key, json_loads(value, JSON_DECODE_ANY, &err));
    else json_object_del(root, key);
    char dir[64] = "/tmp/sdpo_unet_cfg_XXXXXX";
    ck_assert(mkdtemp(dir) != NULL);
    snprintf(buf, n, "%s/config.json", dir);
    ck_assert(json_dump_file(root, buf, JSON_INDENT(1)) == 0);
    json_decref(root);
}

static void remove_config(const char *path) {
    char dir[128];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = 0;
    unlink(path);
    rmdir(dir);
}

static const struct {
    const char *key, *value, *want;   /* want: a fragment of the error message */
} bad_configs[] = {
    {"block_out_channels", NULL, "required key 'block_out_channels' is missing"},
    {"attention_head_dim", NULL, "required key 'attention_head_dim' is missing"},
    {"class_embed_type", "\"timestep\"", "key 'class_embed_type'"},
    {"addition_embed_type", "\"text_time\"", "key 'addition_embed_type'"},
    {"num_attention_heads", "8", "key 'num_attention_heads'"},
    {"use_linear_projection", "false", "key 'use_linear_projection': false is not supported"},
    {"only_cross_attention", "true", "key 'only_cross_attention'"},
    {"dual_cross_attention", "true", "key 'dual_cross_attention'"},
    {"time_embedding_type", "\"fourier\"", "key 'time_embedding_type'"},
    {"resnet_time_scale_shift", "\"scale_shift\"", "key 'resnet_time_scale_shift'"},
    {"mid_block_type", "\"UNetMidBlock2DSimpleCrossAttn\"", "key 'mid_block_type'"},
    {"down_block_types", "[\"CrossAttnDownBlock2D\"]", "key 'down_block_types': 1 entries"},
    {"up_block_types", "[\"UpBlock2D\", \"AttnUpBlock2D\"]", "\"AttnUpBlock2D\" is not supported"},
    {"attention_head_dim", "[3, 4]", "key 'attention_head_dim': 3 heads do not divide"},
    {"norm_num_groups", "5", "key 'norm_num_groups': 5 groups do not divide"},
    {"layers_per_block", "[1, 2, 3]", "key 'layers_per_block': 3 entries"},
    {"cross_attention_dim", "[32, 32]", "key 'cross_attention_dim': expected an integer"},
};

START_TEST(bad_config_names_file_and_key) {
    char path[128];
    write_config(path, sizeof path, bad_configs[_i].key, bad_configs[_i].value);
    sdpo_unet_config c;
    sdpo_status st = sdpo_unet_config_load(path, &c);
    if (st == SDPO_OK) {   /* some mismatches only show when the graph is built */
        sdpo_unet u;
        sdpo_unet_options opt = sdpo_unet_options_default();
        st = sdpo_unet_init(&u, &c, &opt);
        if (st == SDPO_OK) sdpo_unet_free(&u);
    }
    ck_assert_int_eq(st, SDPO_ERR_FORMAT);
    ck_assert_msg(strstr(sdpo_last_error(), path) && strstr(sdpo_last_error(), bad_configs[_i].want),
                  "%s", sdpo_last_error());
    remove_config(path);
}
END_TEST

/* A config that disagrees with the weights: the first mismatching tensor is named with the
 * file and both shapes (attn2.to_k reads a 16-wide text instead of 32). */
START_TEST(wrong_shape_weights_named) {
    char path[128];
    write_config(path, sizeof path, "cross_attention_dim", "16");
    sdpo_unet_config c;
    ck_assert(sdpo_unet_config_load(path, &c) == SDPO_OK);
    sdpo_unet u;
    sdpo_unet_options opt = sdpo_unet_options_default();
    ck_assert(sdpo_unet_init(&u, &c, &opt) == SDPO_OK);
    ck_assert(sdpo_unet_finalize(&u) == SDPO_OK);
    ck_assert_int_eq(sdpo_unet_load_weights(&u, TINY_WEIGHTS), SDPO_ERR_SHAPE);
    const char *e = sdpo_last_error();
    ck_assert_msg(strstr(e, TINY_WEIGHTS) &&
                      strstr(e, "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight") &&
                      strstr(e, "16") && strstr(e, "32"),
                  "%s", e);
    sdpo_unet_free(&u);
    remove_config(path);

    /* one resnet more per block than the file has: a missing tensor, named */
    write_config(path, sizeof path, "layers_per_block", "2");
    ck_assert(sdpo_unet_config_load(path, &c) == SDPO_OK);
    ck_assert(sdpo_unet_init(&u, &c, &opt) == SDPO_OK);
    ck_assert(sdpo_unet_finalize(&u) == SDPO_OK);
    ck_assert_int_eq(sdpo_unet_load_weights(&u, TINY_WEIGHTS), SDPO_ERR_SHAPE);
    ck_assert_msg(strstr(sdpo_last_error(), "down_blocks.0.resnets.1"), "%s", sdpo_last_error());
    sdpo_unet_free(&u);
    remove_config(path);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("unet_graph");
    TCase *tc = tcase_create("graph");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, real_config_values);
    tcase_add_test(tc, real_graph_matches_checkpoint);
    tcase_add_test(tc, real_graph_memory);
    tcase_add_loop_test(tc, bad_config_names_file_and_key, 0,
                        (int)(sizeof bad_configs / sizeof bad_configs[0]));
    tcase_add_test(tc, wrong_shape_weights_named);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

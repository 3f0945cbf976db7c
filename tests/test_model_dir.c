/* tests/test_model_dir.c — reading a diffusers model folder: model_index.json, component folders
 * and configs, and the component loaders' errors, which must name the file at fault. */
#include "models/clip_text.h"
#include "models/model_dir.h"
#include "models/vae.h"
#include "tests/check_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TINY_SD "tests/data/sd_fixtures/tiny_sd"

START_TEST(tiny_sd_components) {
    sdpo_model_dir md;
    ck_assert_msg(sdpo_model_dir_open(TINY_SD, &md) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert_str_eq(md.pipeline_class, "StableDiffusionPipeline");
    ck_assert(md.diffusers_version != NULL);
    ck_assert_int_eq(md.n_components, 5);   /* feature_extractor, safety_checker are [null, null] */
    static const char *const want[5][3] = {
        {"scheduler", "diffusers", "EulerDiscreteScheduler"},
        {"text_encoder", "transformers", "CLIPTextModel"},
        {"tokenizer", "transformers", "CLIPTokenizer"},
        {"unet", "diffusers", "UNet2DConditionModel"},
        {"vae", "diffusers", "AutoencoderKL"}};
    static const char *const config[5] = {"scheduler_config.json", "config.json",
                                          "tokenizer_config.json", "config.json", "config.json"};
    for (int i = 0; i < 5; i++) {
        const sdpo_model_component *c = sdpo_model_dir_find(&md, want[i][0]);
        ck_assert_msg(c != NULL, "%s", want[i][0]);
        ck_assert_str_eq(c->library, want[i][1]);
        ck_assert_str_eq(c->class_name, want[i][2]);
        ck_assert(c->dir_exists);   /* tokenizer/ is a symlink to ../tokenizer */
        char path[256];
        snprintf(path, sizeof path, TINY_SD "/%s/%s", want[i][0], config[i]);
        ck_assert_str_eq(c->config_path, path);
    }
    ck_assert(sdpo_model_dir_find(&md, "safety_checker") == NULL);
    ck_assert(sdpo_model_dir_find(&md, "requires_safety_checker") == NULL);
    const sdpo_model_component *c;
    ck_assert(sdpo_model_dir_require(&md, "vae", "AutoencoderKL", &c) == SDPO_OK);
    ck_assert(sdpo_model_dir_require(&md, "vae", "CLIPTextModel", &c) == SDPO_ERR_FORMAT);
    ck_assert_msg(strstr(sdpo_last_error(), "model_index.json: component 'vae' is AutoencoderKL, "
                                            "expected CLIPTextModel"), "%s", sdpo_last_error());
    ck_assert(c == NULL);
    ck_assert(sdpo_model_dir_require(&md, "safety_checker", NULL, &c) == SDPO_ERR_FORMAT);
    ck_assert_msg(strstr(sdpo_last_error(), TINY_SD "/model_index.json: lists no component "
                                            "'safety_checker'"), "%s", sdpo_last_error());
    sdpo_model_dir_close(&md);
}
END_TEST

/* The real SD-Turbo configs: same components, no weights. */
START_TEST(sd_turbo_configs) {
    sdpo_model_dir md;
    ck_assert_msg(sdpo_model_dir_open("configs/sd-turbo", &md) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert_int_eq(md.n_components, 5);
    ck_assert_str_eq(md.diffusers_version, "0.24.0.dev0");
    const sdpo_model_component *c;
    ck_assert(sdpo_model_dir_require(&md, "text_encoder", "CLIPTextModel", &c) == SDPO_OK);
    nn_params p;
    sdpo_clip_text m;
    ck_assert(sdpo_clip_text_load(c, &sdpo_clip_text_layout_sd, &p, &m) == SDPO_ERR_IO);
    ck_assert_msg(strstr(sdpo_last_error(), "configs/sd-turbo/text_encoder: no weights found"), "%s",
                  sdpo_last_error());
    sdpo_model_dir_close(&md);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * broken folders, built in a temporary directory */

static char dir[64];

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/sdpo_md_XXXXXX");
    ck_assert(mkdtemp(dir) != NULL);
}

static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert(system(cmd) == 0);
}

static void write_file(const char *rel, const char *text) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "%s", path);
    fputs(text, f);
    fclose(f);
}

static void mkdir_rel(const char *rel) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    ck_assert(mkdir(path, 0755) == 0);
}

static void expect_open_error(sdpo_status want, const char *fragment) {
    sdpo_model_dir md;
    ck_assert(sdpo_model_dir_open(dir, &md) == want);
    char path[128];
    snprintf(path, sizeof path, "%s/model_index.json", dir);
    ck_assert_msg(strstr(sdpo_last_error(), path) && strstr(sdpo_last_error(), fragment), "%s",
                  sdpo_last_error());
}

START_TEST(model_index_errors) {
    expect_open_error(SDPO_ERR_IO, "not a diffusers model folder");
    write_file("model_index.json", "{\"_class_name\": \"StableDiffusionPipeline\",");
    expect_open_error(SDPO_ERR_FORMAT, "not valid JSON");
    write_file("model_index.json", "[1, 2]");
    expect_open_error(SDPO_ERR_FORMAT, "string '_class_name'");
    write_file("model_index.json", "{\"_class_name\": \"X\", \"vae\": [\"diffusers\"]}");
    expect_open_error(SDPO_ERR_FORMAT, "component 'vae': expected");
}
END_TEST

START_TEST(component_folder_and_config_errors) {
    write_file("model_index.json", "{\"_class_name\": \"StableDiffusionPipeline\", "
                                   "\"vae\": [\"diffusers\", \"AutoencoderKL\"], "
                                   "\"text_encoder\": [\"transformers\", \"CLIPTextModel\"]}");
    sdpo_model_dir md;
    const sdpo_model_component *c;
    ck_assert(sdpo_model_dir_open(dir, &md) == SDPO_OK);
    ck_assert(sdpo_model_dir_require(&md, "vae", NULL, &c) == SDPO_ERR_IO);
    ck_assert_msg(strstr(sdpo_last_error(), "/vae: component folder missing (listed in"), "%s",
                  sdpo_last_error());
    sdpo_model_dir_close(&md);

    mkdir_rel("vae");
    mkdir_rel("text_encoder");
    ck_assert(sdpo_model_dir_open(dir, &md) == SDPO_OK);
    ck_assert(sdpo_model_dir_require(&md, "vae", NULL, &c) == SDPO_ERR_IO);
    ck_assert_msg(strstr(sdpo_last_error(), "/vae: no config.json"), "%s", sdpo_last_error());
    sdpo_model_dir_close(&md);

    /* invalid JSON, then a config describing another architecture: both name the config */
    write_file("vae/config.json", "{\"block_out_channels\": [32,");
    write_file("text_encoder/config.json", "{\"hidden_size\": 64}");
    ck_assert(sdpo_model_dir_open(dir, &md) == SDPO_OK);
    nn_params p;
    sdpo_vae v;
    ck_assert(sdpo_model_dir_require(&md, "vae", "AutoencoderKL", &c) == SDPO_OK);
    ck_assert(sdpo_vae_load(c, SDPO_VAE_DECODER, &p, &v) == SDPO_ERR_FORMAT);
    ck_assert_msg(strstr(sdpo_last_error(), "/vae/config.json: not valid JSON"), "%s",
                  sdpo_last_error());
    sdpo_clip_text m;
    ck_assert(sdpo_model_dir_require(&md, "text_encoder", "CLIPTextModel", &c) == SDPO_OK);
    ck_assert(sdpo_clip_text_load(c, &sdpo_clip_text_layout_sd, &p, &m) == SDPO_ERR_FORMAT);
    ck_assert_msg(strstr(sdpo_last_error(), "/text_encoder/config.json: required key 'vocab_size'"),
                  "%s", sdpo_last_error());
    sdpo_model_dir_close(&md);

    /* a valid config whose weights are those of another VAE: the strict loader names both */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cp " TINY_SD "/vae/diffusion_pytorch_model.safetensors %s/vae/", dir);
    ck_assert(system(cmd) == 0);
    write_file("vae/config.json", "{\"block_out_channels\": [16, 64], \"layers_per_block\": 1, "
                                  "\"norm_num_groups\": 8, "
                                  "\"down_block_types\": [\"DownEncoderBlock2D\", \"DownEncoderBlock2D\"], "
                                  "\"up_block_types\": [\"UpDecoderBlock2D\", \"UpDecoderBlock2D\"]}");
    ck_assert(sdpo_model_dir_open(dir, &md) == SDPO_OK);
    ck_assert(sdpo_model_dir_require(&md, "vae", "AutoencoderKL", &c) == SDPO_OK);
    ck_assert(sdpo_vae_load(c, SDPO_VAE_BOTH, &p, &v) == SDPO_ERR_SHAPE);
    ck_assert_msg(strstr(sdpo_last_error(), "/vae/diffusion_pytorch_model.safetensors") &&
                      strstr(sdpo_last_error(), "encoder.down_blocks.1.resnets.0.conv1.weight"),
                  "%s", sdpo_last_error());
    sdpo_model_dir_close(&md);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("model_dir");
    TCase *tc = tcase_create("folders");
    tcase_add_test(tc, tiny_sd_components);
    tcase_add_test(tc, sd_turbo_configs);
    suite_add_tcase(s, tc);
    TCase *te = tcase_create("errors");
    tcase_add_checked_fixture(te, setup, teardown);
    tcase_add_test(te, model_index_errors);
    tcase_add_test(te, component_folder_and_config_errors);
    suite_add_tcase(s, te);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

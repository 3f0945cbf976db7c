/* tests/test_weights.c — strict loading of component weights into an nn_params registry. */
#include "models/weights.h"
#include "nn/safetensors.h"
#include "tests/check_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/sdpo_w_XXXXXX");
    ck_assert(mkdtemp(dir) != NULL);
}

static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert(system(cmd) == 0);
}

static void write_file(const char *name, int with_extra, int wrong_shape) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    const uint16_t a16[6] = {0x3c00, 0x4000, 0x4200, 0x4400, 0x4500, 0x4600}; /* 1 … 6 in F16 */
    const float b[4] = {0.5f, -1, 2, 3}, pos[2] = {0, 1};
    const int64_t sa[2] = {2, 3}, sa_bad[2] = {3, 2}, sb[1] = {4}, sp[1] = {2};
    sdpo_st_entry e[3] = {{"a", SDPO_ST_F16, 2, wrong_shape ? sa_bad : sa, a16},
                          {"b", SDPO_ST_F32, 1, sb, b},
                          {"position_ids", SDPO_ST_F32, 1, sp, pos}};
    ck_assert(sdpo_st_write(path, e, with_extra ? 3 : 2, NULL, NULL, 0) == SDPO_OK);
}

static void build(nn_params *p) {
    nn_params_init(p);
    ck_assert(nn_params_add(p, "a", 2, (int64_t[]){2, 3}, 0) == SDPO_OK);
    ck_assert(nn_params_add(p, "b", 1, (int64_t[]){4}, 0) == SDPO_OK);
    ck_assert(nn_params_add(p, "a_lora.down.weight", 2, (int64_t[]){1, 3}, 1) == SDPO_OK);
    ck_assert(nn_params_finalize(p) == SDPO_OK);
}

static int is_lora(const char *name) { return strstr(name, "_lora.") != NULL; }
static int is_position_ids(const char *name) { return !strcmp(name, "position_ids"); }

START_TEST(loads_f16_and_f32_by_name) {
    write_file("model.safetensors", 0, 0);
    char path[256];
    ck_assert(sdpo_weights_find(dir, path, sizeof path) == SDPO_OK);
    ck_assert(strstr(path, "/model.safetensors") != NULL);
    nn_params p;
    build(&p);
    sdpo_weights_filter f = {is_lora, NULL};
    ck_assert_msg(sdpo_weights_load(&p, path, &f) == SDPO_OK, "%s", sdpo_last_error());
    nn_param_view v;
    ck_assert(nn_params_get(&p, "a", &v) == SDPO_OK);
    for (int i = 0; i < 6; i++) ck_assert_float_eq(v.value.data[i], (float)(i + 1));
    ck_assert(nn_params_get(&p, "b", &v) == SDPO_OK);
    ck_assert_float_eq(v.value.data[1], -1.0f);
    /* Without the LoRA filter the adapter is reported missing from the file. */
    ck_assert(sdpo_weights_load(&p, path, NULL) == SDPO_ERR_SHAPE);
    ck_assert_msg(strstr(sdpo_last_error(), "missing tensor 'a_lora.down.weight'"), "%s", sdpo_last_error());
    nn_params_free(&p);
}
END_TEST

START_TEST(strict_in_both_directions) {
    nn_params p;
    build(&p);
    sdpo_weights_filter f = {is_lora, NULL};
    char path[256];
    write_file("model.safetensors", 1, 0);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    ck_assert(sdpo_weights_load(&p, path, &f) == SDPO_ERR_SHAPE);
    ck_assert_msg(strstr(sdpo_last_error(), "'position_ids' is not part of the model"), "%s", sdpo_last_error());
    f.ignore_in_file = is_position_ids;
    ck_assert_msg(sdpo_weights_load(&p, path, &f) == SDPO_OK, "%s", sdpo_last_error());
    write_file("model.safetensors", 0, 1);
    ck_assert(sdpo_weights_load(&p, path, &f) == SDPO_ERR_SHAPE);
    ck_assert_msg(strstr(sdpo_last_error(), "'a' has shape [3, 2], expected [2, 3]"), "%s", sdpo_last_error());
    nn_params_free(&p);
}
END_TEST

START_TEST(find_prefers_fp32_and_explains_pickles) {
    char path[256];
    ck_assert(sdpo_weights_find(dir, path, sizeof path) == SDPO_ERR_IO);
    ck_assert_msg(strstr(sdpo_last_error(), "no weights found"), "%s", sdpo_last_error());
    snprintf(path, sizeof path, "%s/pytorch_model.bin", dir);
    FILE *fp = fopen(path, "w");
    fclose(fp);
    ck_assert(sdpo_weights_find(dir, path, sizeof path) == SDPO_ERR_IO);
    ck_assert_msg(strstr(sdpo_last_error(), "PyTorch pickle"), "%s", sdpo_last_error());
    write_file("diffusion_pytorch_model.fp16.safetensors", 0, 0);
    ck_assert(sdpo_weights_find(dir, path, sizeof path) == SDPO_OK);
    ck_assert(strstr(path, "fp16") != NULL);
    write_file("diffusion_pytorch_model.safetensors", 0, 0);
    ck_assert(sdpo_weights_find(dir, path, sizeof path) == SDPO_OK);
    ck_assert(strstr(path, "fp16") == NULL);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("weights");
    TCase *tc = tcase_create("load");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, loads_f16_and_f32_by_name);
    tcase_add_test(tc, strict_in_both_directions);
    tcase_add_test(tc, find_prefers_fp32_and_explains_pickles);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

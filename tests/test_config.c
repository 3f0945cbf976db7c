/* tests/test_config.c — typed config.json access and its error messages. */
#include "models/config.h"
#include "tests/check_util.h"

#include <string.h>
#include <unistd.h>

static const char *json =
    "{\"block_out_channels\": [320, 640, 1280, 1280], \"attention_head_dim\": 8,"
    " \"norm_eps\": 1e-05, \"act_fn\": \"silu\", \"use_linear_projection\": true,"
    " \"class_embed_type\": null, \"down_block_types\": [\"CrossAttnDownBlock2D\", \"DownBlock2D\"],"
    " \"scale\": 1, \"bad\": [1, \"x\"], \"big\": 99999999999}";

START_TEST(typed_getters) {
    char path[64];
    ck_write_temp(path, json, strlen(json));
    sdpo_config c;
    ck_assert(sdpo_config_load(path, &c) == SDPO_OK);
    int v[8], n, x, b;
    double d;
    const char *s, *arr[4];
    ck_assert(sdpo_config_int_array(&c, "block_out_channels", v, 8, &n, 0) == SDPO_OK);
    ck_assert_int_eq(n, 4);
    ck_assert_int_eq(v[3], 1280);
    ck_assert(sdpo_config_int_array(&c, "attention_head_dim", v, 8, &n, 1) == SDPO_OK);
    ck_assert(n == 1 && v[0] == 8);
    ck_assert(sdpo_config_int_array(&c, "attention_head_dim", v, 8, &n, 0) == SDPO_ERR_FORMAT);
    ck_assert(sdpo_config_double(&c, "norm_eps", &d) == SDPO_OK);
    CK_CLOSE(d, 1e-5, 0, 0);
    ck_assert(sdpo_config_double(&c, "scale", &d) == SDPO_OK && d == 1.0);
    ck_assert(sdpo_config_string(&c, "act_fn", &s) == SDPO_OK);
    ck_assert_str_eq(s, "silu");
    ck_assert(sdpo_config_bool_or(&c, "use_linear_projection", 0, &b) == SDPO_OK && b == 1);
    ck_assert(sdpo_config_bool_or(&c, "absent", 1, &b) == SDPO_OK && b == 1);
    /* null means "use the default". */
    ck_assert(!sdpo_config_has(&c, "class_embed_type"));
    ck_assert(sdpo_config_string_or(&c, "class_embed_type", "none", &s) == SDPO_OK);
    ck_assert_str_eq(s, "none");
    ck_assert(sdpo_config_int_or(&c, "layers_per_block", 2, &x) == SDPO_OK && x == 2);
    ck_assert(sdpo_config_string_array(&c, "down_block_types", arr, 4, &n) == SDPO_OK);
    ck_assert(n == 2 && !strcmp(arr[1], "DownBlock2D"));
    /* Errors name the file and key. */
    ck_assert(sdpo_config_int(&c, "layers_per_block", &x) == SDPO_ERR_FORMAT);
    ck_assert_msg(strstr(sdpo_last_error(), path) && strstr(sdpo_last_error(), "'layers_per_block' is missing"),
                  "%s", sdpo_last_error());
    ck_assert(sdpo_config_int(&c, "act_fn", &x) == SDPO_ERR_FORMAT);
    ck_assert_msg(strstr(sdpo_last_error(), "key 'act_fn': expected an integer"), "%s", sdpo_last_error());
    ck_assert(sdpo_config_int_array(&c, "bad", v, 8, &n, 0) == SDPO_ERR_FORMAT);
    ck_assert(sdpo_config_int_array(&c, "block_out_channels", v, 2, &n, 0) == SDPO_ERR_FORMAT);
    ck_assert_msg(strstr(sdpo_last_error(), "at most 2"), "%s", sdpo_last_error());
    ck_assert(sdpo_config_int(&c, "big", &x) == SDPO_ERR_FORMAT);
    sdpo_config_free(&c);
    unlink(path);
}
END_TEST

START_TEST(bad_files) {
    sdpo_config c;
    char path[64];
    ck_write_temp(path, "{\"a\": 1,", 8);
    ck_assert(sdpo_config_load(path, &c) == SDPO_ERR_FORMAT);
    ck_assert_msg(strstr(sdpo_last_error(), path), "%s", sdpo_last_error());
    unlink(path);
    ck_write_temp(path, "[1]", 3);
    ck_assert(sdpo_config_load(path, &c) == SDPO_ERR_FORMAT);
    unlink(path);
    ck_write_temp(path, "{\"a\": 1, \"a\": 2}", 16);
    ck_assert(sdpo_config_load(path, &c) == SDPO_ERR_FORMAT);
    unlink(path);
    ck_assert(sdpo_config_load("/nonexistent/config.json", &c) == SDPO_ERR_IO);
    ck_assert_msg(strstr(sdpo_last_error(), "/nonexistent/config.json"), "%s", sdpo_last_error());
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("json");
    tcase_add_test(tc, typed_getters);
    tcase_add_test(tc, bad_files);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

/* tests/test_preprocess.c — the reward preprocessing against PIL (reference/make_reward_fixtures.py):
 * bicubic resizes of test images, CLIPImageProcessor's shorter-side resize + centre crop +
 * normalisation, and HPSv2's longer-side resize + zero padding. */
#include "nn/safetensors.h"
#include "rewards/image.h"
#include "rewards/preprocess.h"
#include "tests/check_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIX "tests/data/reward_fixtures/"

START_TEST(resize_matches_pil) {
    /* The resize repeats Pillow's integer arithmetic, so the brief's bound (one grey level) is
     * met with room to spare; we require it, and also report how many bytes differ at all. */
    FILE *f = fopen(FIX "resize/cases.txt", "r");
    ck_assert_msg(f != NULL, "run from the repository root");
    char line[256], in_name[64], out_name[96];
    int W2, H2, cases = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || sscanf(line, "%63s %95s %d %d", in_name, out_name, &W2, &H2) != 4)
            continue;
        char path[256];
        int H, W, Hr, Wr;
        uint8_t *in, *want;
        snprintf(path, sizeof path, FIX "resize/%s.png", in_name);
        ck_assert_msg(sdpo_png_read(path, &H, &W, &in) == SDPO_OK, "%s", sdpo_last_error());
        snprintf(path, sizeof path, FIX "resize/%s.png", out_name);
        ck_assert_msg(sdpo_png_read(path, &Hr, &Wr, &want) == SDPO_OK, "%s", sdpo_last_error());
        ck_assert_int_eq(Hr, H2);
        ck_assert_int_eq(Wr, W2);
        uint8_t *got = malloc((size_t)H2 * W2 * 3);
        ck_assert(sdpo_resize_bicubic_rgb8(H, W, in, H2, W2, got) == SDPO_OK);
        int worst = 0;
        size_t differ = 0;
        for (size_t i = 0; i < (size_t)H2 * W2 * 3; i++) {
            int d = abs((int)got[i] - (int)want[i]);
            if (d > worst) worst = d;
            differ += d != 0;
        }
        ck_assert_msg(worst <= 1, "%s: max |ours - PIL| = %d grey levels", out_name, worst);
        ck_assert_msg(differ == 0, "%s: %zu bytes differ from PIL by one grey level", out_name,
                      differ);
        free(got);
        free(in);
        free(want);
        cases++;
    }
    fclose(f);
    ck_assert_int_eq(cases, 6);
}
END_TEST

/* pixel_values of golden/<name>.safetensors vs our preprocessing of images/image<i>.png. */
static void check_pixels(const char *golden, int hps) {
    char path[256];
    snprintf(path, sizeof path, FIX "golden/%s.safetensors", golden);
    sdpo_safetensors st;
    ck_assert_msg(sdpo_st_open(path, &st) == SDPO_OK, "%s", sdpo_last_error());
    const sdpo_st_tensor *t;
    ck_assert(sdpo_st_expect(&st, "pixel_values", 4, (const int64_t[]){3, 3, 42, 42}, &t) ==
              SDPO_OK);
    float *want = malloc(t->numel * sizeof *want), *got = malloc(t->numel * sizeof *got);
    ck_assert(sdpo_st_read_f32(&st, t, want, 1) == SDPO_OK);
    const size_t per = 3 * 42 * 42;
    for (int i = 0; i < 3; i++) {
        int H, W;
        uint8_t *rgb;
        snprintf(path, sizeof path, FIX "images/image%d.png", i);
        ck_assert(sdpo_png_read(path, &H, &W, &rgb) == SDPO_OK);
        sdpo_status rc = hps ? sdpo_preprocess_resize_max_pad(H, W, rgb, 42, got + i * per)
                             : sdpo_preprocess_clip(H, W, rgb, 42, got + i * per);
        ck_assert(rc == SDPO_OK);
        free(rgb);
    }
    /* Same bytes in, same float32 ops ((v/255 − mean)/std) out: exact up to one ulp. */
    double *w = malloc(t->numel * sizeof *w);
    for (size_t k = 0; k < t->numel; k++) w[k] = want[k];
    ck_assert_array_close(golden, got, w, t->numel, 1e-6, 0);
    free(w);
    free(want);
    free(got);
    sdpo_st_close(&st);
}

START_TEST(clip_processor_pixels) { check_pixels("pickscore", 0); }
END_TEST

START_TEST(hpsv2_resize_max_pad_pixels) { check_pixels("hpsv2", 1); }
END_TEST

START_TEST(bad_sizes_are_errors) {
    uint8_t px[3] = {1, 2, 3}, out[3];
    float f[3 * 4 * 4];
    ck_assert_int_eq(sdpo_resize_bicubic_rgb8(1, 1, px, 0, 1, out), SDPO_ERR_ARG);
    ck_assert_int_eq(sdpo_preprocess_clip(0, 1, px, 4, f), SDPO_ERR_ARG);
    ck_assert_int_eq(sdpo_preprocess_resize_max_pad(1, 1, px, 0, f), SDPO_ERR_ARG);
    /* 1×1 → 4×4 upscale works (every output is the one pixel). */
    ck_assert(sdpo_preprocess_clip(1, 1, px, 4, f) == SDPO_OK);
    CK_CLOSE(f[0], (1.0 / 255 - 0.48145466) / 0.26862954, 1e-6, 0);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("preprocess");
    TCase *tc = tcase_create("pil");
    tcase_add_test(tc, resize_matches_pil);
    tcase_add_test(tc, clip_processor_pixels);
    tcase_add_test(tc, hpsv2_resize_max_pad_pixels);
    tcase_add_test(tc, bad_sizes_are_errors);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

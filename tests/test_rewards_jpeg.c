/* tests/test_rewards_jpeg.c — JPEG rewards against Pillow's byte counts, the float→uint8
 * conversion, PNG round trips and the reward registry. */
#include "rewards/image.h"
#include "rewards/jpeg.h"
#include "rewards/reward.h"
#include "tests/check_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

START_TEST(jpeg_sizes_match_pillow) {
    /* Pillow bundles libjpeg-turbo; with the same defaults the encoders write identical bytes,
     * so the byte counts must match exactly (reference/dump_jpeg_reference.py). */
    FILE *f = fopen("tests/data/jpeg/sizes.txt", "r");
    ck_assert_msg(f != NULL, "run from the repository root");
    char line[256], name[64];
    size_t want;
    int checked = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || sscanf(line, "%63s %zu", name, &want) != 2) continue;
        char path[128];
        snprintf(path, sizeof path, "tests/data/jpeg/%s.png", name);
        int H, W;
        uint8_t *rgb;
        ck_assert_msg(sdpo_png_read(path, &H, &W, &rgb) == SDPO_OK, "%s", sdpo_last_error());
        size_t got;
        ck_assert(sdpo_jpeg_size(H, W, rgb, 95, &got) == SDPO_OK);
        ck_assert_msg(got == want, "%s: %zu bytes, Pillow wrote %zu", name, got, want);

        /* Through the reward interface: ∓ kB with kB = bytes / 1000. */
        float *chw = malloc((size_t)3 * H * W * sizeof *chw), score;
        sdpo_image_from_rgb8(H, W, rgb, chw);
        sdpo_reward *r;
        const char *prompt = "cat";
        ck_assert(sdpo_reward_create("jpeg-compressibility", NULL, &r) == SDPO_OK);
        ck_assert(r->score(r, 1, H, W, chw, &prompt, &score) == SDPO_OK);
        CK_CLOSE(score, -(double)want / 1000.0, 1e-6, 0);
        sdpo_reward_free(r);
        ck_assert(sdpo_reward_create("jpeg-incompressibility", NULL, &r) == SDPO_OK);
        ck_assert(r->score(r, 1, H, W, chw, &prompt, &score) == SDPO_OK);
        CK_CLOSE(score, (double)want / 1000.0, 1e-6, 0);
        sdpo_reward_free(r);
        free(chw);
        free(rgb);
        checked++;
    }
    fclose(f);
    ck_assert_int_eq(checked, 4);
}
END_TEST

START_TEST(float_to_uint8_rounds_like_torch) {
    /* (x·255).round().clamp(0, 255): half to even, clamped; 0.5/255·255 = 0.5 → 0, 1.5 → 2. */
    const float chw[3] = {0.5f / 255.0f, 1.5f / 255.0f, 1.2f};
    uint8_t hwc[3];
    sdpo_image_to_rgb8(1, 1, chw, hwc);
    ck_assert_int_eq(hwc[0], 0);
    ck_assert_int_eq(hwc[1], 2);
    ck_assert_int_eq(hwc[2], 255);
    const float neg[3] = {-0.3f, 0.999f, 0.4f};
    sdpo_image_to_rgb8(1, 1, neg, hwc);
    ck_assert_int_eq(hwc[0], 0);
    ck_assert_int_eq(hwc[1], 255); /* 254.745 rounds to 255 */
    ck_assert_int_eq(hwc[2], 102);
}
END_TEST

START_TEST(png_round_trip_and_errors) {
    uint8_t img[2 * 3 * 3];
    for (int i = 0; i < 18; i++) img[i] = (uint8_t)(i * 14);
    char dir[] = "/tmp/sdpo_png_XXXXXX";
    ck_assert(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/x.png", dir);
    ck_assert(sdpo_png_write(path, 2, 3, img) == SDPO_OK);
    int H, W;
    uint8_t *back;
    ck_assert(sdpo_png_read(path, &H, &W, &back) == SDPO_OK);
    ck_assert(H == 2 && W == 3 && memcmp(back, img, sizeof img) == 0);
    free(back);
    unlink(path);
    rmdir(dir);
    char bad[64];
    ck_write_temp(bad, "\x89PNG\r\n\x1a\nxxxx", 12);
    ck_assert(sdpo_png_read(bad, &H, &W, &back) == SDPO_ERR_FORMAT);
    ck_assert_msg(strstr(sdpo_last_error(), bad), "%s", sdpo_last_error());
    unlink(bad);
}
END_TEST

START_TEST(unknown_reward_lists_names) {
    sdpo_reward *r;
    ck_assert(sdpo_reward_create("aesthetics", NULL, &r) == SDPO_ERR_ARG);
    ck_assert_msg(strstr(sdpo_last_error(), "jpeg-compressibility"), "%s", sdpo_last_error());
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("rewards_jpeg");
    TCase *tc = tcase_create("jpeg");
    tcase_add_test(tc, jpeg_sizes_match_pillow);
    tcase_add_test(tc, float_to_uint8_rounds_like_torch);
    tcase_add_test(tc, png_round_trip_and_errors);
    tcase_add_test(tc, unknown_reward_lists_names);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

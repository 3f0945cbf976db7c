/* tests/test_world.c — the micro world (world/world.h): glyphs, determinism, caption grammar,
 * what each scene kind draws, degradations, and error paths. */
#include "tests/check_util.h"
#include "world/world.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { S = SDPO_WORLD_SIZE, NP = S * S };

/* Opened once in the parent (unchecked fixture); forked tests inherit it read-only. */
static sdpo_world *W;

static void open_world(void) {
    if (sdpo_world_open(NULL, &W) != SDPO_OK) {
        fprintf(stderr, "test_world: %s\n", sdpo_last_error());
        exit(1);
    }
}
static void close_world(void) { sdpo_world_close(W); }

static sdpo_scene scene_of(sdpo_scene_kind kind, int a0, int a1, int count, int color, int place) {
    sdpo_scene sc = {kind, {a0, a1}, count, color, place, ""};
    return sc;
}

/* The background colour of a plain-background scene: the most frequent colour among the 124
 * border pixels. The background is one flat colour; a sprite (≤ 30 px, at most 1/8 outside the
 * frame) reaches at most two adjacent sides, and a recoloured face can be flatter than the
 * background is frequent over the whole image, so only the border is counted. */
static void mode_color(const float *chw, float bg[3]) {
    int border[4 * S], nb = 0, best = 0;
    for (int i = 0; i < S; i++) {
        border[nb++] = i;
        border[nb++] = (S - 1) * S + i;
        if (i > 0 && i < S - 1) {
            border[nb++] = i * S;
            border[nb++] = i * S + S - 1;
        }
    }
    for (int a = 0; a < nb; a++) {
        int n = 0, p = border[a];
        for (int b = 0; b < nb; b++) {
            int q = border[b];
            n += chw[p] == chw[q] && chw[NP + p] == chw[NP + q] && chw[2 * NP + p] == chw[2 * NP + q];
        }
        if (n > best) {
            best = n;
            for (int k = 0; k < 3; k++) bg[k] = chw[k * NP + p];
        }
    }
}

/* Foreground mask: pixels whose colour differs from bg by more than thr in some channel of the
 * [-1, 1] scale. 0.3 (0.15 of full range) finds whole animals: a flat background has no noise,
 * and every emoji body contrasts more with a light background. 0.6 keeps only (nearly) opaque
 * pixels, for measuring an animal's own colour without its anti-aliased edge. */
static int foreground(const float *chw, const float bg[3], float thr, unsigned char mask[NP]) {
    int n = 0;
    for (int p = 0; p < NP; p++) {
        mask[p] = 0;
        for (int k = 0; k < 3; k++)
            if (fabsf(chw[k * NP + p] - bg[k]) > thr) mask[p] = 1;
        n += mask[p];
    }
    return n;
}

/* Number of 8-connected components of mask with at least min_px pixels. */
static int components(const unsigned char mask[NP], int min_px) {
    int label[NP], stack[NP], n = 0;
    memset(label, 0, sizeof label);
    for (int p = 0; p < NP; p++) {
        if (!mask[p] || label[p]) continue;
        int top = 0, size = 0;
        stack[top++] = p;
        label[p] = 1;
        while (top) {
            int q = stack[--top], x = q % S, y = q / S;
            size++;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int xx = x + dx, yy = y + dy;
                    if (xx < 0 || yy < 0 || xx >= S || yy >= S) continue;
                    int r = yy * S + xx;
                    if (mask[r] && !label[r]) {
                        label[r] = 1;
                        stack[top++] = r;
                    }
                }
        }
        n += size >= min_px;
    }
    return n;
}

START_TEST(animals_match_the_prompt_file_and_all_45_glyphs_draw) {
    FILE *fp = fopen("data/prompts/simple_animals_45.txt", "r");
    ck_assert_msg(fp != NULL, "run from the source root");
    char line[64];
    int i = 0;
    while (fgets(line, sizeof line, fp)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0]) continue;
        ck_assert_int_lt(i, SDPO_WORLD_N_ANIMALS);
        ck_assert_str_eq(sdpo_world_animal_name(i), line);
        ck_assert_ptr_nonnull(sdpo_world_animal_plural(i));
        i++;
    }
    fclose(fp);
    ck_assert_int_eq(i, SDPO_WORLD_N_ANIMALS);
    ck_assert_ptr_null(sdpo_world_animal_name(SDPO_WORLD_N_ANIMALS));
    ck_assert_str_eq(sdpo_world_animal_plural(17), "wolves");
    /* Every glyph covers a real area: a single scene's sprite is ≥ 21 px on its longest side, and
     * even the thinnest emoji (spider, ant) cover > 60 foreground pixels at that size. */
    for (int a = 0; a < SDPO_WORLD_N_ANIMALS; a++) {
        float chw[SDPO_WORLD_PIXELS], bg[3];
        unsigned char mask[NP];
        sdpo_scene sc = scene_of(SDPO_SCENE_SINGLE, a, -1, 1, -1, -1);
        ck_assert(sdpo_world_render(W, &sc, 5, (uint64_t)a, chw) == SDPO_OK);
        mode_color(chw, bg);
        int n = foreground(chw, bg, 0.3f, mask);
        ck_assert_msg(n > 60, "animal %d (%s): only %d foreground pixels", a, sdpo_world_animal_name(a), n);
    }
}
END_TEST

START_TEST(samples_are_a_pure_function_of_seed_and_index) {
    enum { N = 16 };
    static float a[N][SDPO_WORLD_PIXELS], b[SDPO_WORLD_PIXELS];
    sdpo_scene sa[N], sb;
    for (int i = 0; i < N; i++) ck_assert(sdpo_world_sample(W, 7, (uint64_t)i, NULL, &sa[i], a[i]) == SDPO_OK);
    /* Backwards and alone: index k does not depend on having drawn k-1. */
    for (int i = N - 1; i >= 0; i--) {
        ck_assert(sdpo_world_sample(W, 7, (uint64_t)i, NULL, &sb, b) == SDPO_OK);
        ck_assert_msg(memcmp(a[i], b, sizeof b) == 0, "index %d image differs", i);
        ck_assert_str_eq(sa[i].caption, sb.caption);
    }
    /* Another seed or index gives another scene. */
    ck_assert(sdpo_world_sample(W, 8, 3, NULL, &sb, b) == SDPO_OK);
    ck_assert(memcmp(a[3], b, sizeof b) != 0);
    ck_assert(memcmp(a[3], a[4], sizeof b) != 0);
    /* A NULL image or scene leaves the other unchanged. */
    ck_assert(sdpo_world_sample(W, 7, 5, NULL, &sb, NULL) == SDPO_OK);
    ck_assert_str_eq(sb.caption, sa[5].caption);
    ck_assert(sdpo_world_sample(W, 7, 5, NULL, NULL, b) == SDPO_OK);
    ck_assert(memcmp(a[5], b, sizeof b) == 0);
}
END_TEST

START_TEST(values_in_range_and_single_dominates_the_default_mix) {
    enum { N = 400 };
    int kinds[SDPO_SCENE_N_KINDS] = {0};
    float chw[SDPO_WORLD_PIXELS];
    for (int i = 0; i < N; i++) {
        sdpo_scene sc;
        ck_assert(sdpo_world_sample(W, 11, (uint64_t)i, NULL, &sc, chw) == SDPO_OK);
        kinds[sc.kind]++;
        for (int p = 0; p < SDPO_WORLD_PIXELS; p++)
            ck_assert_msg(chw[p] >= -1.f && chw[p] <= 1.f, "index %d pixel %d = %g", i, p, (double)chw[p]);
    }
    /* Default weights 0.5 / 4 × 0.125: binomial sd for N = 400 is 10 (SINGLE) and 6.6 (others);
     * the bounds are > 4 sd wide, and a broken mix (uniform, or a kind never drawn) fails them. */
    ck_assert_msg(kinds[0] > 160 && kinds[0] < 240, "SINGLE %d of %d", kinds[0], N);
    for (int k = 1; k < SDPO_SCENE_N_KINDS; k++)
        ck_assert_msg(kinds[k] > 22 && kinds[k] < 78, "kind %d drawn %d of %d", k, kinds[k], N);
}
END_TEST

static const char *art(const char *w) { return strchr("aeiou", w[0]) ? "an" : "a"; }

START_TEST(captions_follow_the_grammar_of_each_kind) {
    static const char *const num[5] = {"", "", "two", "three", "four"};
    int bare = 0, singles = 0, counted_with_place = 0;
    for (int k = 0; k < SDPO_SCENE_N_KINDS; k++) {
        sdpo_world_mix mix = {{0}};
        mix.weight[k] = 1.f;
        for (int i = 0; i < 60; i++) {
            sdpo_scene sc;
            char want[3][SDPO_WORLD_CAPTION_MAX];
            ck_assert(sdpo_world_sample(W, 3, (uint64_t)i, &mix, &sc, NULL) == SDPO_OK);
            ck_assert_int_eq(sc.kind, k);
            const char *n0 = sdpo_world_animal_name(sc.animal[0]);
            ck_assert_ptr_nonnull(n0);
            int ok = 0;
            switch (sc.kind) {
            case SDPO_SCENE_SINGLE:
                ck_assert(sc.animal[1] == -1 && sc.count == 1 && sc.color == -1 && sc.place == -1);
                snprintf(want[0], sizeof want[0], "%s", n0);
                snprintf(want[1], sizeof want[1], "%s %s", art(n0), n0);
                snprintf(want[2], sizeof want[2], "a photo of %s %s", art(n0), n0);
                for (int t = 0; t < 3; t++) ok |= !strcmp(sc.caption, want[t]);
                bare += !strcmp(sc.caption, want[0]);
                singles++;
                break;
            case SDPO_SCENE_COLOR:
                ck_assert(sc.animal[1] == -1 && sc.count == 1 && sc.place == -1);
                ck_assert(sc.color >= 0 && sc.color < SDPO_WORLD_N_COLORS);
                snprintf(want[0], sizeof want[0], "%s %s colored %s", art(sdpo_world_color_name(sc.color)),
                         sdpo_world_color_name(sc.color), n0);
                ok = !strcmp(sc.caption, want[0]);
                break;
            case SDPO_SCENE_COUNT:
                ck_assert(sc.animal[1] == -1 && sc.color == -1 && sc.count >= 2 && sc.count <= 4);
                ck_assert(sc.place >= -1 && sc.place < SDPO_WORLD_N_PLACES);
                snprintf(want[0], sizeof want[0], "%s %s%s%s", num[sc.count], sdpo_world_animal_plural(sc.animal[0]),
                         sc.place >= 0 ? " " : "", sc.place >= 0 ? sdpo_world_place_phrase(sc.place) : "");
                ok = !strcmp(sc.caption, want[0]);
                counted_with_place += sc.place >= 0;
                break;
            case SDPO_SCENE_COMPOSITION: {
                ck_assert(sc.count == 1 && sc.color == -1 && sc.place == -1);
                ck_assert(sc.animal[1] >= 0 && sc.animal[1] != sc.animal[0]);
                const char *n1 = sdpo_world_animal_name(sc.animal[1]);
                snprintf(want[0], sizeof want[0], "%s %s and %s %s", art(n0), n0, art(n1), n1);
                ok = !strcmp(sc.caption, want[0]);
                break;
            }
            default:
                ck_assert(sc.animal[1] == -1 && sc.count == 1 && sc.color == -1);
                ck_assert(sc.place >= 0 && sc.place < SDPO_WORLD_N_PLACES);
                snprintf(want[0], sizeof want[0], "%s %s %s", art(n0), n0, sdpo_world_place_phrase(sc.place));
                ok = !strcmp(sc.caption, want[0]);
                break;
            }
            ck_assert_msg(ok, "kind %d index %d: caption '%s'", k, i, sc.caption);
            for (const char *c = sc.caption; *c; c++) ck_assert_msg(*c < 'A' || *c > 'Z', "upper case in '%s'", sc.caption);
        }
    }
    /* The bare RL prompt is the most common single template (drawn with p = 0.5 of 60: > 20
     * fails with probability < 1%, and a template mix without it fails outright). */
    ck_assert_msg(bare > 20, "bare single captions %d of %d", bare, singles);
    ck_assert_msg(counted_with_place > 5 && counted_with_place < 55, "%d of 60 counts have a place", counted_with_place);
    /* The DPOK unseen prompts are sentences of this grammar. */
    sdpo_scene sc = scene_of(SDPO_SCENE_COLOR, 4, -1, 1, 1, -1);
    ck_assert(sdpo_world_render(W, &sc, 0, 0, NULL) == SDPO_OK);
    ck_assert_str_eq(sc.caption, "a green colored rabbit");
    sc = scene_of(SDPO_SCENE_COUNT, 17, -1, 4, -1, 1);
    ck_assert(sdpo_world_render(W, &sc, 0, 0, NULL) == SDPO_OK);
    ck_assert_str_eq(sc.caption, "four wolves in the park");
    sc = scene_of(SDPO_SCENE_COMPOSITION, 0, 1, 1, -1, -1);
    ck_assert(sdpo_world_render(W, &sc, 0, 0, NULL) == SDPO_OK);
    ck_assert_str_eq(sc.caption, "a cat and a dog");
    sc = scene_of(SDPO_SCENE_LOCATION, 1, -1, 1, -1, 0);
    ck_assert(sdpo_world_render(W, &sc, 0, 0, NULL) == SDPO_OK);
    ck_assert_str_eq(sc.caption, "a dog on the moon");
    sc = scene_of(SDPO_SCENE_SINGLE, 20, -1, 1, -1, -1);
    for (uint64_t i = 0; i < 20; i++) {
        ck_assert(sdpo_world_render(W, &sc, 0, i, NULL) == SDPO_OK);
        ck_assert_msg(strstr(sc.caption, "a ant") == NULL, "'%s'", sc.caption);
    }
}
END_TEST

START_TEST(color_scenes_paint_the_named_color) {
    /* The mean foreground colour (sRGB [0,1]) of a recoloured animal is nearer to its named colour
     * than to any other colour of the table, for animals of very different own colours. */
    static const int animals[] = {0, 14, 31, 36, 24, 6};
    for (int c = 0; c < SDPO_WORLD_N_COLORS; c++)
        for (size_t j = 0; j < sizeof animals / sizeof *animals; j++) {
            float chw[SDPO_WORLD_PIXELS], bg[3], mean[3] = {0, 0, 0};
            unsigned char mask[NP];
            sdpo_scene sc = scene_of(SDPO_SCENE_COLOR, animals[j], -1, 1, c, -1);
            ck_assert(sdpo_world_render(W, &sc, 9, (uint64_t)(c * 10 + (int)j), chw) == SDPO_OK);
            mode_color(chw, bg);
            int n = foreground(chw, bg, 0.6f, mask);
            ck_assert_msg(n > 30, "%s: %d opaque pixels", sc.caption, n);
            for (int p = 0; p < NP; p++)
                if (mask[p])
                    for (int k = 0; k < 3; k++) mean[k] += (0.5f * chw[k * NP + p] + 0.5f) / (float)n;
            int best = -1;
            float bestd = 1e9f;
            for (int o = 0; o < SDPO_WORLD_N_COLORS; o++) {
                float rgb[3], d = 0;
                sdpo_world_color_rgb(o, rgb);
                for (int k = 0; k < 3; k++) d += (mean[k] - rgb[k]) * (mean[k] - rgb[k]);
                if (d < bestd) bestd = d, best = o;
            }
            ck_assert_msg(best == c, "%s: mean (%.2f %.2f %.2f) is nearest to %s", sc.caption, (double)mean[0],
                          (double)mean[1], (double)mean[2], sdpo_world_color_name(best));
        }
}
END_TEST

START_TEST(count_scenes_draw_that_many_separate_animals) {
    /* On a plain background the copies are separated by ≥ 2 px (world.c layout), so 8-connected
     * components of the foreground are the copies; compact emoji (pig, frog, bear, fish, cat)
     * are one component each. Components under 4 px (isolated anti-aliased pixels) are ignored. */
    static const int animals[] = {36, 31, 14, 22, 0};
    for (int n = 2; n <= 4; n++)
        for (size_t j = 0; j < sizeof animals / sizeof *animals; j++)
            for (uint64_t i = 0; i < 4; i++) {
                float chw[SDPO_WORLD_PIXELS], bg[3];
                unsigned char mask[NP];
                sdpo_scene sc = scene_of(SDPO_SCENE_COUNT, animals[j], -1, n, -1, -1);
                ck_assert(sdpo_world_render(W, &sc, 13, i, chw) == SDPO_OK);
                mode_color(chw, bg);
                foreground(chw, bg, 0.3f, mask);
                int got = components(mask, 4);
                ck_assert_msg(got == n, "'%s' (index %llu): %d blobs", sc.caption, (unsigned long long)i, got);
            }
}
END_TEST

START_TEST(places_paint_their_backgrounds) {
    /* Hallmarks of each place in the mean colour (sRGB [0, 1]) of the top row (sky) and bottom
     * row (ground or sea). The animal stands on the ground and covers at most 24 of the 32
     * columns with a partly transparent outline; measured over these 36 scenes the hallmark
     * margins are ≥ 0.2 (e.g. moon sky ≤ 0.09, park ground g − r ≥ 0.3), so the thresholds
     * below hold with room while any swapped or missing background fails them. */
    for (int p = 0; p < SDPO_WORLD_N_PLACES; p++)
        for (uint64_t i = 0; i < 6; i++) {
            float chw[SDPO_WORLD_PIXELS], g[3] = {0, 0, 0}, t[3] = {0, 0, 0};
            sdpo_scene sc = scene_of(SDPO_SCENE_LOCATION, (int)(i * 7 % 45), -1, 1, -1, p);
            ck_assert(sdpo_world_render(W, &sc, 21, i, chw) == SDPO_OK);
            ck_assert_msg(strstr(sc.caption, sdpo_world_place_phrase(p)) != NULL, "'%s'", sc.caption);
            for (int k = 0; k < 3; k++)
                for (int x = 0; x < S; x++) {
                    g[k] += (0.5f * chw[(k * S + S - 1) * S + x] + 0.5f) / S;
                    t[k] += (0.5f * chw[(k * S + 0) * S + x] + 0.5f) / S;
                }
            int ok;
            switch (p) {
            case 0: ok = t[0] < 0.2f && t[1] < 0.2f && t[2] < 0.25f && fabsf(g[0] - g[2]) < 0.12f && g[1] > 0.35f; break;
            case 1: ok = g[1] > g[0] + 0.15f && g[1] > g[2] + 0.15f && t[2] > t[0] + 0.2f; break;
            case 2: ok = g[0] > g[2] + 0.2f && g[1] > 0.65f && t[2] > t[0] + 0.2f; break;
            case 3: ok = g[0] > 0.85f && g[1] > 0.85f && g[2] > 0.85f; break;
            case 4: ok = g[2] > g[0] + 0.3f && g[2] > g[1] + 0.15f; break;
            default: ok = g[0] > g[1] + 0.1f && g[1] > g[2] + 0.15f && t[2] > t[0] + 0.2f; break;
            }
            ck_assert_msg(ok, "'%s' (index %llu): ground %.2f %.2f %.2f, sky %.2f %.2f %.2f", sc.caption,
                          (unsigned long long)i, (double)g[0], (double)g[1], (double)g[2], (double)t[0],
                          (double)t[1], (double)t[2]);
        }
}
END_TEST

START_TEST(degrade_changes_the_image_deterministically) {
    double min_change = 1e9;
    for (uint64_t i = 0; i < 60; i++) {
        float clean[SDPO_WORLD_PIXELS], a[SDPO_WORLD_PIXELS], b[SDPO_WORLD_PIXELS];
        ck_assert(sdpo_world_sample(W, 4, i, NULL, NULL, clean) == SDPO_OK);
        memcpy(a, clean, sizeof a);
        memcpy(b, clean, sizeof b);
        sdpo_world_degrade(a, 4, i);
        sdpo_world_degrade(b, 4, i);
        ck_assert(memcmp(a, b, sizeof a) == 0);
        double d = 0;
        for (int p = 0; p < SDPO_WORLD_PIXELS; p++) {
            ck_assert(a[p] >= -1.f && a[p] <= 1.f);
            d += fabs((double)a[p] - clean[p]) / SDPO_WORLD_PIXELS;
        }
        if (d < min_change) min_change = d;
    }
    /* Every degradation moves the image visibly: the mean |change| on the [-1, 1] scale was
     * ≥ 0.0127 (mean 0.13) over indices 0..999 of seed 4, so 0.01 holds for these 60, and an op
     * that does nothing (e.g. erasing background to the background's colour) fails it. */
    ck_assert_msg(min_change > 0.01, "smallest mean |change| %g", min_change);
}
END_TEST

START_TEST(errors_name_the_path_and_field) {
    sdpo_world *w = NULL;
    ck_assert_int_eq(sdpo_world_open("/nonexistent/NotoColorEmoji.ttf", &w), SDPO_ERR_IO);
    ck_assert_ptr_null(w);
    ck_assert_ptr_nonnull(strstr(sdpo_last_error(), "/nonexistent/NotoColorEmoji.ttf"));
    ck_assert_ptr_nonnull(strstr(sdpo_last_error(), "fonts-noto-color-emoji"));
    /* A readable file that is not a colour font is a format error naming it. */
    ck_assert_int_eq(sdpo_world_open("data/prompts/simple_animals_45.txt", &w), SDPO_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(sdpo_last_error(), "simple_animals_45.txt"));

    float chw[SDPO_WORLD_PIXELS];
    sdpo_scene sc = scene_of(SDPO_SCENE_COMPOSITION, 3, 3, 1, -1, -1);
    ck_assert_int_eq(sdpo_world_render(W, &sc, 0, 0, chw), SDPO_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(sdpo_last_error(), "animal[1]"));
    sc = scene_of(SDPO_SCENE_COUNT, 3, -1, 5, -1, -1);
    ck_assert_int_eq(sdpo_world_render(W, &sc, 0, 0, chw), SDPO_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(sdpo_last_error(), "count"));
    sc = scene_of(SDPO_SCENE_LOCATION, 3, -1, 1, -1, -1);
    ck_assert_int_eq(sdpo_world_render(W, &sc, 0, 0, chw), SDPO_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(sdpo_last_error(), "place"));
    sc = scene_of(SDPO_SCENE_SINGLE, 45, -1, 1, -1, -1);
    ck_assert_int_eq(sdpo_world_render(W, &sc, 0, 0, chw), SDPO_ERR_ARG);
    sdpo_world_mix zero = {{0}};
    ck_assert_int_eq(sdpo_world_sample(W, 0, 0, &zero, NULL, chw), SDPO_ERR_ARG);
    sdpo_world_mix neg = {{1, -1, 0, 0, 0}};
    ck_assert_int_eq(sdpo_world_sample(W, 0, 0, &neg, NULL, chw), SDPO_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(sdpo_last_error(), "weight[1]"));
    ck_assert_int_eq(sdpo_world_sample(W, 0, UINT64_MAX, NULL, NULL, chw), SDPO_ERR_ARG);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("world");
    TCase *tc = tcase_create("world");
    tcase_add_unchecked_fixture(tc, open_world, close_world);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, animals_match_the_prompt_file_and_all_45_glyphs_draw);
    tcase_add_test(tc, samples_are_a_pure_function_of_seed_and_index);
    tcase_add_test(tc, values_in_range_and_single_dominates_the_default_mix);
    tcase_add_test(tc, captions_follow_the_grammar_of_each_kind);
    tcase_add_test(tc, color_scenes_paint_the_named_color);
    tcase_add_test(tc, count_scenes_draw_that_many_separate_animals);
    tcase_add_test(tc, places_paint_their_backgrounds);
    tcase_add_test(tc, degrade_changes_the_image_deterministically);
    tcase_add_test(tc, errors_name_the_path_and_field);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

/* cli/cmd_world.c — `sdpo world`: a labelled PNG grid of micro-world scenes (world/world.h) with
 * each caption under its image, or (--animals) the 45 training animals with their names, so a
 * person can check what the micro model and rewards learn from. */
#include "cli/commands.h"
#include "eval/text.h"
#include "rewards/image.h"
#include "world/world.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

enum { GUTTER = 8, LABEL_PX = 13, MAX_N = 1024 };

static void world_help(void) {
    printf("usage: sdpo world --out FILE.png [--seed N] [--n K] [--kind KIND] [--scale S] [--cols C]\n"
           "       sdpo world --out FILE.png --animals [--seed N] [--scale S] [--cols C]\n"
           "\n"
           "Draws K micro-world scenes (indices 0..K-1 of the seeded stream; default K = 24) as a\n"
           "grid, each 32x32 image upscaled S times (nearest; default 4) with its caption below.\n"
           "KIND is single, color, count, composition, location or all (the default training mix).\n"
           "--animals draws animal 0..44 of data/prompts/simple_animals_45.txt as single scenes,\n"
           "labelled by name, in one row unless --cols says otherwise. --degrade adds, after each\n"
           "scene, its sdpo_world_degrade copy (what the quality predictor ranks below it).\n"
           "$SDPO_EMOJI_FONT overrides the emoji font path; $SDPO_FONT the label font.\n"
           "\n"
           "exit status: 0 written; 1 font or write failure; 2 usage error.\n");
}

static int parse_long(const char *s, long lo, long hi, long *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

/* Splits text into at most two lines that fit max_w pixels (breaking at the last space that
 * fits); a word too long for a line is drawn clipped. */
static void wrap2(sdpo_font *f, const char *text, int max_w, char l1[128], char l2[128]) {
    snprintf(l1, 128, "%s", text);
    l2[0] = 0;
    if (sdpo_font_text_width(f, l1) <= max_w) return;
    char *cut = NULL;
    for (char *p = strchr(l1, ' '); p; p = strchr(p + 1, ' ')) {
        *p = 0;
        int fits = sdpo_font_text_width(f, l1) <= max_w;
        *p = ' ';
        if (!fits) break;
        cut = p;
    }
    if (!cut) return;
    snprintf(l2, 128, "%s", cut + 1);
    *cut = 0;
}

/* Scene kind named s, -1 for "all", -2 for anything else. */
static int kind_of(const char *s) {
    const int k = sdpo_world_kind_parse(s);
    return k >= 0 ? k : strcmp(s, "all") ? -2 : -1;
}

int cmd_world(int argc, char **argv) {
    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'},   {"seed", required_argument, 0, 's'},
        {"n", required_argument, 0, 'n'},     {"kind", required_argument, 0, 'k'},
        {"scale", required_argument, 0, 'x'}, {"cols", required_argument, 0, 'c'},
        {"animals", no_argument, 0, 'a'},     {"degrade", no_argument, 0, 'd'},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
    const char *out = NULL;
    long seed = 0, n = 24, scale = 4, cols = 0;
    int kind = -1, animals = 0, degrade = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 's':
            if (!parse_long(optarg, 0, 2147483647L, &seed)) return cli_usage_error("world", "--seed '%s' is not a seed ≥ 0", optarg);
            break;
        case 'n':
            if (!parse_long(optarg, 1, MAX_N, &n)) return cli_usage_error("world", "--n '%s' is not in [1, %d]", optarg, MAX_N);
            break;
        case 'k':
            kind = kind_of(optarg);
            if (kind == -2)
                return cli_usage_error("world", "--kind '%s' is not single, color, count, composition, location or all", optarg);
            break;
        case 'x':
            if (!parse_long(optarg, 1, 32, &scale)) return cli_usage_error("world", "--scale '%s' is not in [1, 32]", optarg);
            break;
        case 'c':
            if (!parse_long(optarg, 1, MAX_N, &cols)) return cli_usage_error("world", "--cols '%s' is not in [1, %d]", optarg, MAX_N);
            break;
        case 'a': animals = 1; break;
        case 'd': degrade = 1; break;
        case 'h': world_help(); return SDPO_EXIT_OK;
        default: return cli_usage_error("world", "unknown option");
        }
    }
    if (optind < argc) return cli_usage_error("world", "unexpected argument '%s'", argv[optind]);
    if (!out) return cli_usage_error("world", "--out is required");
    if (animals && kind != -1) return cli_usage_error("world", "--animals and --kind exclude each other");
    if (animals) n = SDPO_WORLD_N_ANIMALS;
    const int per = degrade ? 2 : 1, ncell = (int)n * per;
    if (!cols) cols = animals || ncell < 8 ? ncell : 8;

    sdpo_world *w;
    if (sdpo_world_open(NULL, &w) != SDPO_OK) return cli_report_error();
    sdpo_font *font;
    if (sdpo_font_open(LABEL_PX, &font) != SDPO_OK) {
        sdpo_world_close(w);
        return cli_report_error();
    }
    const int cell = SDPO_WORLD_SIZE * (int)scale, lh = sdpo_font_line_height(font);
    const int colw = cell < 112 ? 112 : cell, rowh = cell + 2 * lh + 6;
    const int rows = (ncell + (int)cols - 1) / (int)cols, title_h = lh + 6;
    const int W = GUTTER + (int)cols * (colw + GUTTER), H = title_h + GUTTER + rows * (rowh + GUTTER);
    uint8_t *img = malloc((size_t)W * H * 3), rgb8[SDPO_WORLD_SIZE * SDPO_WORLD_SIZE * 3];
    float chw[SDPO_WORLD_PIXELS], unit[SDPO_WORLD_PIXELS];
    int rc = SDPO_EXIT_OK;
    if (!img) {
        fprintf(stderr, "sdpo: out of memory for a %dx%d grid\n", W, H);
        rc = SDPO_EXIT_FAIL;
        goto done;
    }
    memset(img, 255, (size_t)W * H * 3);
    static const uint8_t black[3] = {0, 0, 0}, grey[3] = {110, 110, 110};
    char title[160];
    snprintf(title, sizeof title, "sdpo world  seed %ld  %s", seed,
             animals ? "the 45 animals" : kind < 0 ? "default mix" : sdpo_world_kind_name((sdpo_scene_kind)kind));
    sdpo_font_draw(font, img, H, W, GUTTER, 3, title, black);
    sdpo_world_mix one = {{0}};
    if (kind >= 0) one.weight[kind] = 1.f;
    for (int i = 0; i < (int)n; i++) {
        sdpo_scene sc;
        sdpo_status st;
        if (animals) {
            sc = (sdpo_scene){SDPO_SCENE_SINGLE, {i, -1}, 1, -1, -1, ""};
            st = sdpo_world_render(w, &sc, (uint64_t)seed, (uint64_t)i, chw);
        } else {
            st = sdpo_world_sample(w, (uint64_t)seed, (uint64_t)i, kind >= 0 ? &one : NULL, &sc, chw);
        }
        if (st != SDPO_OK) {
            rc = cli_report_error();
            goto done;
        }
        for (int v = 0; v < per; v++) {
            if (v == 1) sdpo_world_degrade(chw, (uint64_t)seed, (uint64_t)i);
            for (int p = 0; p < SDPO_WORLD_PIXELS; p++) unit[p] = 0.5f * chw[p] + 0.5f;
            sdpo_image_to_rgb8(SDPO_WORLD_SIZE, SDPO_WORLD_SIZE, unit, rgb8);
            int k = i * per + v, r = k / (int)cols, col = k % (int)cols;
            int x0 = GUTTER + col * (colw + GUTTER) + (colw - cell) / 2, y0 = title_h + GUTTER + r * (rowh + GUTTER);
            /* A 1 px grey frame so white backgrounds stay visible on the white page. */
            for (int y = y0 - 1; y <= y0 + cell; y++)
                for (int x = x0 - 1; x <= x0 + cell; x++) {
                    uint8_t *q = img + ((size_t)y * W + x) * 3;
                    if (y == y0 - 1 || y == y0 + cell || x == x0 - 1 || x == x0 + cell) {
                        q[0] = q[1] = q[2] = 180;
                        continue;
                    }
                    const uint8_t *s = rgb8 + (((y - y0) / scale) * SDPO_WORLD_SIZE + (x - x0) / scale) * 3;
                    memcpy(q, s, 3);
                }
            char l1[128], l2[128];
            const char *label = animals ? sdpo_world_animal_name(i) : v ? "(degraded)" : sc.caption;
            wrap2(font, label, colw, l1, l2);
            int lx = GUTTER + col * (colw + GUTTER);
            sdpo_font_draw(font, img, H, W, lx + (colw - sdpo_font_text_width(font, l1)) / 2, y0 + cell + 3, l1,
                           v ? grey : black);
            if (l2[0])
                sdpo_font_draw(font, img, H, W, lx + (colw - sdpo_font_text_width(font, l2)) / 2,
                               y0 + cell + 3 + lh, l2, black);
        }
    }
    if (sdpo_png_write(out, H, W, img) != SDPO_OK) {
        rc = cli_report_error();
        goto done;
    }
    printf("%s\n", out);
done:
    free(img);
    sdpo_font_close(font);
    sdpo_world_close(w);
    return rc;
}

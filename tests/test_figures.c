/* tests/test_figures.c — eval/figures.h: each figure's CSV from fixture runs and an eval
 * summary (tests/data/eval_fixtures), each checked-in gnuplot script (figures/NAME.gp) producing a
 * PNG of its size, and the Fig. 1 / 13–18 grid from an eval PNG tree at sdpo_grid_size's size.
 * The gnuplot part is skipped only when gnuplot is not installed (scripts/install-deps.sh
 * installs it, so CI runs it). */
#include "eval/figures.h"
#include "eval/grid.h"
#include "rewards/image.h"
#include "tests/check_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

#define FX "tests/data/eval_fixtures/"

/* Width and height from a PNG's IHDR. */
static void png_size(const char *path, int *W, int *H) {
    unsigned char b[24];
    FILE *fp = fopen(path, "rb");
    ck_assert_msg(fp != NULL, "%s missing", path);
    ck_assert(fread(b, 1, 24, fp) == 24);
    fclose(fp);
    ck_assert(!memcmp(b, "\x89PNG", 4) && !memcmp(b + 12, "IHDR", 4));
    *W = (b[16] << 24) | (b[17] << 16) | (b[18] << 8) | b[19];
    *H = (b[20] << 24) | (b[21] << 16) | (b[22] << 8) | b[23];
}

static int have_gnuplot(void) { return system("command -v gnuplot >/dev/null 2>&1") == 0; }

START_TEST(every_figure_renders_at_its_size) {
    const char *dirs[] = {FX "runs"};
    const char *sums[] = {FX "summary.csv"};
    sdpo_run_set rs;
    ck_assert_msg(sdpo_runs_load(dirs, 1, &rs) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert_int_eq(rs.n, 10);
    char out[] = "/tmp/sdpo_figs_XXXXXX";
    ck_assert(mkdtemp(out));
    sdpo_figure_data figs[SDPO_MAX_FIGURES];
    int n;
    ck_assert_msg(sdpo_figures_write_data(&rs, sums, 1, out, figs, &n) == SDPO_OK, "%s", sdpo_last_error());
    sdpo_runs_free(&rs);
    ck_assert_int_eq(n, 8);
    static const struct { const char *name, *series; int rows, w, h; } want[] = {
        {"fig3", "DDPO SDPO", 8, 800, 600},
        {"fig5_strategy", "sim3-adaptive copy", 8, 1200, 500},
        {"fig5_gamma", "gamma=0.99 gamma=0.9 gamma=1", 12, 800, 600},
        {"fig6_norm", "per-step-prompt per-prompt", 8, 800, 600},
        {"fig6_lam", "lam=0.99 lam=0.9", 8, 800, 600},
        {"fig6_schedule", "shuffled sequential", 8, 800, 600},
        {"fig7", "DDPO_T=1 REBEL_mixed_T=1/2/4", 8, 800, 600},
        /* 25 measured rows + base's 5 step counts copied as epoch 0 of sdpo and of ddpo, so
         * each curve starts at the base model */
        {"fig4_toy-mode", "base sdpo ddpo", 35, 1800, 520},
    };
    int gp = have_gnuplot();
    if (!gp) fprintf(stderr, "test_figures: gnuplot not installed; PNG checks skipped\n");
    for (int i = 0; i < n; i++) {
        ck_assert_str_eq(figs[i].name, want[i].name);
        ck_assert_str_eq(figs[i].series, want[i].series);
        ck_assert_int_eq(figs[i].rows, want[i].rows);
        char script[256], assign[4096], png[256], csv[256];
        snprintf(csv, sizeof csv, "%s/%s.csv", out, figs[i].name);
        snprintf(script, sizeof script, "figures/%s", figs[i].script);
        snprintf(png, sizeof png, "%s/%s.png", out, figs[i].name);
        snprintf(assign, sizeof assign, "data='%s'; out='%s'; series='%s'%s%s", csv, png, figs[i].series,
                 figs[i].extra[0] ? "; " : "", figs[i].extra);
        if (gp) {
            ck_assert_msg(sdpo_figures_run_gnuplot("gnuplot", script, assign) == SDPO_OK, "%s", sdpo_last_error());
            int W, H;
            png_size(png, &W, &H);
            ck_assert_msg(W == want[i].w && H == want[i].h, "%s: %dx%d", png, W, H);
            unlink(png);
        }
        unlink(csv);
    }
    rmdir(out);
}
END_TEST

START_TEST(missing_gnuplot_is_named) {
    ck_assert(sdpo_figures_run_gnuplot("/nonexistent/gnuplot", "figures/fig3.gp", "x=1") == SDPO_ERR_IO);
    ck_assert_msg(strstr(sdpo_last_error(), "/nonexistent/gnuplot"), "%s", sdpo_last_error());
}
END_TEST

START_TEST(figures_without_data_have_no_rows) {
    sdpo_run_set rs = {0};
    char out[] = "/tmp/sdpo_figs_XXXXXX";
    ck_assert(mkdtemp(out));
    sdpo_figure_data figs[SDPO_MAX_FIGURES];
    int n;
    ck_assert(sdpo_figures_write_data(&rs, NULL, 0, out, figs, &n) == SDPO_OK);
    ck_assert_int_eq(n, 7);
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(figs[i].rows, 0);
        char csv[256];
        snprintf(csv, sizeof csv, "%s/%s.csv", out, figs[i].name);
        unlink(csv);
    }
    rmdir(out);
}
END_TEST

static void put_png(const char *root, const char *method, int epoch, int steps, int v) {
    char p[512];
    snprintf(p, sizeof p, "mkdir -p %s/images/%s/epoch-%06d/steps-%d", root, method, epoch, steps);
    ck_assert(system(p) == 0);
    snprintf(p, sizeof p, "%s/images/%s/epoch-%06d/steps-%d/p3_i1.png", root, method, epoch, steps);
    uint8_t img[6 * 8 * 3];
    for (int i = 0; i < 6 * 8 * 3; i++) img[i] = (uint8_t)(v + i);
    ck_assert(sdpo_png_write(p, 6, 8, img) == SDPO_OK);
}

START_TEST(grid_from_eval_tree) {
    char root[] = "/tmp/sdpo_gridev_XXXXXX";
    ck_assert(mkdtemp(root));
    put_png(root, "base", 0, 1, 10);
    put_png(root, "base", 0, 4, 20);
    put_png(root, "sdpo", 10, 1, 30);
    put_png(root, "sdpo", 20, 1, 40);
    put_png(root, "sdpo", 20, 4, 50);
    put_png(root, "ddpo", 20, 4, 60); /* ddpo at 1 step missing: grey cell */
    char p[512];
    snprintf(p, sizeof p, "%s/images.csv", root);
    FILE *fp = fopen(p, "w");
    fputs("method,epoch,prompt_index,prompt,image_index,steps,reward,score\n"
          "base,0,3,a cat,1,1,toy,0.5\n", fp);
    fclose(fp);
    char out[600];
    snprintf(out, sizeof out, "%s/grid.png", root);
    ck_assert_msg(sdpo_grid_from_eval(root, 3, 1, -1, 4, out) == SDPO_OK, "%s", sdpo_last_error());
    static const char *const rows[] = {"base", "ddpo (epoch 20)", "sdpo (epoch 20)"};
    static const char *const cols[] = {"1 step", "4 steps"};
    sdpo_grid_layout L = {3, 2, 6, 8, 4, "\"a cat\"", rows, cols, NULL};
    int eh, ew, H, W;
    ck_assert(sdpo_grid_size(&L, &eh, &ew) == SDPO_OK);
    uint8_t *img;
    ck_assert(sdpo_png_read(out, &H, &W, &img) == SDPO_OK);
    free(img);
    ck_assert_int_eq(H, eh);
    ck_assert_int_eq(W, ew);
    /* an epoch no trained method has is an error naming the directory */
    ck_assert(sdpo_grid_from_eval(root, 3, 1, 7, 1, out) == SDPO_ERR_FORMAT);
    ck_assert_msg(strstr(sdpo_last_error(), "epoch-000007"), "%s", sdpo_last_error());
    /* no such image anywhere */
    ck_assert(sdpo_grid_from_eval(root, 9, 9, -1, 1, out) == SDPO_ERR_FORMAT);
    snprintf(p, sizeof p, "rm -rf %s", root);
    ck_assert(system(p) == 0);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("figures");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, every_figure_renders_at_its_size);
    tcase_add_test(tc, missing_gnuplot_is_named);
    tcase_add_test(tc, figures_without_data_have_no_rows);
    tcase_add_test(tc, grid_from_eval_tree);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

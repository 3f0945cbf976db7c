/* tests/test_grid.c — labelled image grids and contact sheets: geometry, cell placement, labels
 * actually drawn. */
#include "eval/grid.h"
#include "rewards/image.h"
#include "tests/check_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Cells of 8×8 upscaled 12× (96 px) are wider than any column label at 14 px, so columns are
 * exactly cell-wide and the geometry below is exact. */
enum { R = 3, C = 4, CH = 8, CW = 8, S = 12 };

static const char *const rows[R] = {"SD-Turbo", "DDPO", "SDPO"};
static const char *const cols[C] = {"1 step", "4 steps", "16 steps", "50 steps"};

START_TEST(cells_and_labels_land_where_they_should) {
    uint8_t *cells[R * C];
    for (int k = 0; k < R * C; k++) {
        cells[k] = malloc(CH * CW * 3);
        for (int p = 0; p < CH * CW; p++) {
            cells[k][3 * p] = (uint8_t)(20 * k);
            cells[k][3 * p + 1] = (uint8_t)(255 - 20 * k);
            cells[k][3 * p + 2] = (uint8_t)(p * 3);
        }
    }
    free(cells[5]);
    cells[5] = NULL; /* an empty cell is drawn grey */
    sdpo_grid_layout L = {R, C, CH, CW, S, "a cat", rows, cols, NULL};
    char dir[] = "/tmp/sdpo_grid_XXXXXX";
    ck_assert(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/grid.png", dir);
    ck_assert_msg(sdpo_grid_write_png(path, &L, (const uint8_t *const *)cells) == SDPO_OK, "%s", sdpo_last_error());
    int H, W, eh, ew;
    uint8_t *img;
    ck_assert(sdpo_png_read(path, &H, &W, &img) == SDPO_OK);
    ck_assert(sdpo_grid_size(&L, &eh, &ew) == SDPO_OK);
    ck_assert_int_eq(H, eh);
    ck_assert_int_eq(W, ew);
    /* The last cell's bottom-right pixel sits GUTTER = 4 px from the image's corner, and holds
     * the source's last pixel (nearest-neighbour upscale). */
    const uint8_t *px = img + ((size_t)(H - 5) * W + (size_t)(W - 5)) * 3;
    ck_assert_int_eq(px[0], 20 * (R * C - 1));
    ck_assert_int_eq(px[2], (CH * CW - 1) * 3);
    /* Walk back from that corner to find each cell's origin and check its colour. */
    int cell_h = CH * S, cell_w = CW * S;
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) {
            int y = H - (R - r) * (cell_h + 4), x = W - (C - c) * (cell_w + 4);
            const uint8_t *q = img + ((size_t)y * W + (size_t)x) * 3;
            int k = r * C + c;
            if (k == 5) {
                ck_assert(q[0] == 200 && q[1] == 200 && q[2] == 200);
            } else {
                ck_assert_msg(q[0] == 20 * k && q[1] == 255 - 20 * k && q[2] == 0,
                              "cell %d at (%d,%d): %d %d %d", k, x, y, q[0], q[1], q[2]);
            }
        }
    /* Labels: the left margin (row labels) and the top band (title, column labels) contain dark
     * anti-aliased text pixels; a blank margin would have none. */
    int left_dark = 0, top_dark = 0, label_w = W - C * (cell_w + 4);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < label_w; x++) left_dark += img[((size_t)y * W + x) * 3] < 100;
    for (int y = 0; y < H - R * (cell_h + 4); y++)
        for (int x = 0; x < W; x++) top_dark += img[((size_t)y * W + x) * 3] < 100;
    ck_assert_int_gt(left_dark, 50);
    ck_assert_int_gt(top_dark, 100);
    free(img);
    for (int k = 0; k < R * C; k++) free(cells[k]);
    if (getenv("SDPO_KEEP_GRID") == NULL) {
        unlink(path);
        rmdir(dir);
    }
}
END_TEST

/* A contact sheet: no row or column labels, a label under every cell. Columns stay cell-wide
 * (96 px beat any 3-letter label), there is no label column beyond the 4 px margin and no header,
 * and each label band under a cell is dark exactly where its label is not empty. */
START_TEST(contact_sheet_labels_under_cells) {
    enum { SR = 2, SC = 2 };
    static const char *const labels[SR * SC] = {"cat", "dog", "fox", ""};
    uint8_t *cells[SR * SC];
    for (int k = 0; k < SR * SC; k++) {
        cells[k] = malloc(CH * CW * 3);
        memset(cells[k], 40 + 50 * k, CH * CW * 3);
    }
    sdpo_grid_layout L = {SR, SC, CH, CW, S, NULL, NULL, NULL, labels};
    char dir[] = "/tmp/sdpo_grid_XXXXXX";
    ck_assert(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/sheet.png", dir);
    ck_assert_msg(sdpo_grid_write_png(path, &L, (const uint8_t *const *)cells) == SDPO_OK, "%s",
                  sdpo_last_error());
    int H, W;
    uint8_t *img;
    ck_assert(sdpo_png_read(path, &H, &W, &img) == SDPO_OK);
    const int cell = CH * S, row_h = H / SR;
    ck_assert_int_eq(W, 4 + SC * (cell + 4));
    ck_assert_int_eq(H % SR, 0);
    ck_assert_int_gt(row_h, cell + 4 + 8); /* room for a line of 14 px text */
    ck_assert_int_lt(row_h, cell + 4 + 40);
    for (int k = 0; k < SR * SC; k++) {
        const int r = k / SC, c = k % SC, x0 = 4 + c * (cell + 4), y0 = r * row_h;
        ck_assert_int_eq(img[((size_t)y0 * W + x0) * 3], 40 + 50 * k);
        ck_assert_int_eq(img[((size_t)(y0 + cell - 1) * W + x0 + cell - 1) * 3], 40 + 50 * k);
        int dark = 0;
        for (int y = y0 + cell; y < y0 + row_h; y++)
            for (int x = x0; x < x0 + cell; x++) dark += img[((size_t)y * W + x) * 3] < 100;
        if (labels[k][0]) ck_assert_msg(dark > 10, "no label under cell %d", k);
        else ck_assert_msg(dark == 0, "%d dark pixels under the unlabelled cell", dark);
    }
    free(img);
    for (int k = 0; k < SR * SC; k++) free(cells[k]);
    unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(bad_layout_and_missing_font) {
    const uint8_t *none[1] = {NULL};
    sdpo_grid_layout L = {1, 1, 0, 8, 1, NULL, rows, cols, NULL};
    ck_assert(sdpo_grid_write_png("/tmp/never.png", &L, none) == SDPO_ERR_ARG);
    ck_assert(access("/tmp/never.png", F_OK) != 0);
    setenv("SDPO_FONT", "/nonexistent/font.ttf", 1);
    L.cell_h = 8;
    ck_assert(sdpo_grid_write_png("/tmp/never.png", &L, none) == SDPO_ERR_IO);
    ck_assert_msg(strstr(sdpo_last_error(), "/nonexistent/font.ttf"), "%s", sdpo_last_error());
    unsetenv("SDPO_FONT");
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("grid");
    TCase *tc = tcase_create("png");
    tcase_add_test(tc, cells_and_labels_land_where_they_should);
    tcase_add_test(tc, contact_sheet_labels_under_cells);
    tcase_add_test(tc, bad_layout_and_missing_font);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

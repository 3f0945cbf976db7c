/* eval/grid.c — labelled image grids (grid.h). */
#include "eval/grid.h"

#include <stdlib.h>
#include <string.h>

#include "eval/text.h"
#include "rewards/image.h"

#define GUTTER 4
#define FONT_PX 14

typedef struct {
    int label_w, header_h, title_h, col_w, row_h, H, W;
} geometry;

static sdpo_status measure(const sdpo_grid_layout *L, sdpo_font *font, geometry *g) {
    if (L->rows < 1 || L->cols < 1 || L->cell_h < 1 || L->cell_w < 1 || L->scale < 1 ||
        (long)L->cell_h * L->scale * L->rows > 16384 || (long)L->cell_w * L->scale * L->cols > 16384)
        return sdpo_fail(SDPO_ERR_ARG, "grid: bad layout %dx%d cells of %dx%d at scale %d", L->rows,
                         L->cols, L->cell_w, L->cell_h, L->scale);
    int line = sdpo_font_line_height(font);
    g->label_w = 0;
    for (int r = 0; L->row_labels && r < L->rows; r++) {
        int w = sdpo_font_text_width(font, L->row_labels[r]);
        if (w > g->label_w) g->label_w = w;
    }
    g->label_w += L->row_labels ? 2 * GUTTER : GUTTER;
    g->header_h = L->col_labels ? line + GUTTER : 0;
    g->title_h = L->title ? line + GUTTER : 0;
    /* A column is as wide as its cells or its widest label, so labels never overlap. */
    g->col_w = L->cell_w * L->scale;
    for (int c = 0; L->col_labels && c < L->cols; c++) {
        int w = sdpo_font_text_width(font, L->col_labels[c]) + GUTTER;
        if (w > g->col_w) g->col_w = w;
    }
    for (int k = 0; L->cell_labels && k < L->rows * L->cols; k++) {
        int w = sdpo_font_text_width(font, L->cell_labels[k]) + GUTTER;
        if (w > g->col_w) g->col_w = w;
    }
    g->row_h = L->cell_h * L->scale + GUTTER + (L->cell_labels ? line : 0);
    g->W = g->label_w + L->cols * (g->col_w + GUTTER);
    g->H = g->title_h + g->header_h + L->rows * g->row_h;
    return SDPO_OK;
}

sdpo_status sdpo_grid_size(const sdpo_grid_layout *layout, int *H, int *W) {
    sdpo_font *font;
    sdpo_status rc = sdpo_font_open(FONT_PX, &font);
    if (rc != SDPO_OK) return rc;
    geometry g;
    rc = measure(layout, font, &g);
    sdpo_font_close(font);
    *H = g.H;
    *W = g.W;
    return rc;
}

sdpo_status sdpo_grid_write_png(const char *path, const sdpo_grid_layout *L,
                                const uint8_t *const *cells) {
    sdpo_font *font;
    sdpo_status rc = sdpo_font_open(FONT_PX, &font);
    if (rc != SDPO_OK) return rc;
    geometry g;
    rc = measure(L, font, &g);
    uint8_t *img = rc == SDPO_OK ? malloc((size_t)g.H * (size_t)g.W * 3) : NULL;
    if (rc == SDPO_OK && !img) rc = sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory for the grid", path);
    if (rc != SDPO_OK) {
        sdpo_font_close(font);
        return rc;
    }
    memset(img, 255, (size_t)g.H * (size_t)g.W * 3);
    const uint8_t black[3] = {0, 0, 0};
    const int ch = L->cell_h * L->scale, cw = L->cell_w * L->scale, line = sdpo_font_line_height(font);
    if (L->title) sdpo_font_draw(font, img, g.H, g.W, GUTTER, 0, L->title, black);
    for (int c = 0; L->col_labels && c < L->cols; c++) {
        int x0 = g.label_w + c * (g.col_w + GUTTER);
        int tw = sdpo_font_text_width(font, L->col_labels[c]);
        sdpo_font_draw(font, img, g.H, g.W, x0 + (g.col_w - tw) / 2, g.title_h, L->col_labels[c], black);
    }
    for (int r = 0; r < L->rows; r++) {
        int y0 = g.title_h + g.header_h + r * g.row_h;
        if (L->row_labels)
            sdpo_font_draw(font, img, g.H, g.W, GUTTER, y0 + (ch - line) / 2, L->row_labels[r], black);
        for (int c = 0; c < L->cols; c++) {
            int x0 = g.label_w + c * (g.col_w + GUTTER) + (g.col_w - cw) / 2;
            const uint8_t *cell = cells[r * L->cols + c];
            if (L->cell_labels) {
                const char *t = L->cell_labels[r * L->cols + c];
                int tx = g.label_w + c * (g.col_w + GUTTER) + (g.col_w - sdpo_font_text_width(font, t)) / 2;
                sdpo_font_draw(font, img, g.H, g.W, tx, y0 + ch + 1, t, black);
            }
            for (int y = 0; y < ch; y++)
                for (int x = 0; x < cw; x++) {
                    uint8_t *px = img + ((size_t)(y0 + y) * (size_t)g.W + (size_t)(x0 + x)) * 3;
                    if (!cell) {
                        px[0] = px[1] = px[2] = 200;
                        continue;
                    }
                    const uint8_t *src = cell + ((size_t)(y / L->scale) * (size_t)L->cell_w + (size_t)(x / L->scale)) * 3;
                    px[0] = src[0];
                    px[1] = src[1];
                    px[2] = src[2];
                }
        }
    }
    sdpo_font_close(font);
    rc = sdpo_png_write(path, g.H, g.W, img);
    free(img);
    return rc;
}

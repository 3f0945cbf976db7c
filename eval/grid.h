/* eval/grid.h — labelled image grids like the paper's Fig. 1 and 13–18: rows are methods (base
 * model first), columns are step counts, every cell the same prompt and seed.
 *
 * Layout: an optional title line, a header row with the column labels, then one row per method
 * with its label on the left. A sheet without row or column labels (NULL) has no label column or
 * header row; cell labels, when given, are drawn centred under each cell (a contact sheet).
 * Cells are upscaled by an integer factor with nearest-neighbour sampling (so a 32×32
 * micro-world sample stays crisp) and separated by a 4-pixel white gutter on a white
 * background; a column is widened (cells centred) when its label is wider than its cells.
 * Written as an 8-bit RGB PNG through a temporary file. */
#ifndef SDPO_EVAL_GRID_H
#define SDPO_EVAL_GRID_H

#include <stdint.h>

#include "core/error.h"

typedef struct {
    int rows, cols;
    int cell_h, cell_w;               /* size of each input image */
    int scale;                        /* integer upscale factor ≥ 1 */
    const char *title;                /* NULL for none */
    const char *const *row_labels;    /* [rows], or NULL for none */
    const char *const *col_labels;    /* [cols], or NULL for none */
    const char *const *cell_labels;   /* [rows * cols] under each cell, or NULL for none */
} sdpo_grid_layout;

/* cells[r * cols + c] is RGB8 [cell_h, cell_w, 3], or NULL for an empty (grey) cell. */
sdpo_status sdpo_grid_write_png(const char *path, const sdpo_grid_layout *layout,
                                const uint8_t *const *cells);

/* The PNG's size for a layout (what sdpo_grid_write_png produces), for tests and callers. */
sdpo_status sdpo_grid_size(const sdpo_grid_layout *layout, int *H, int *W);

#endif

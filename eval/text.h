/* eval/text.h — text labels drawn into RGB8 images with FreeType (figures' image grids).
 *
 * The font is DejaVu Sans from Debian's fonts-dejavu-core (installed by scripts/install-deps.sh);
 * SDPO_FONT overrides the path. Glyphs are rendered anti-aliased in 8-bit grey and blended in the
 * given colour. Only this file knows about FreeType. */
#ifndef SDPO_EVAL_TEXT_H
#define SDPO_EVAL_TEXT_H

#include <stdint.h>

#include "core/error.h"

typedef struct sdpo_font sdpo_font;

/* Opens the font at pixel height `px`. Errors name the font path and how to install it. */
sdpo_status sdpo_font_open(int px, sdpo_font **out);
void sdpo_font_close(sdpo_font *f);

/* Width in pixels of `text` (UTF-8) when drawn; the height is the font's line height. */
int sdpo_font_text_width(sdpo_font *f, const char *text);
int sdpo_font_line_height(const sdpo_font *f);

/* Draws `text` with its top-left corner at (x, y) into img RGB8 [H, W, 3], clipped to the image. */
void sdpo_font_draw(sdpo_font *f, uint8_t *img, int H, int W, int x, int y, const char *text,
                    const uint8_t rgb[3]);

#endif

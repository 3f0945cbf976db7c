/* eval/text.c — FreeType text rendering into RGB8 buffers (text.h). */
#include "eval/text.h"

#include <ft2build.h>
#include FT_FREETYPE_H

#include <stdlib.h>
#include <unistd.h>

#define DEFAULT_FONT "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

struct sdpo_font {
    FT_Library lib;
    FT_Face face;
    int px;
};

sdpo_status sdpo_font_open(int px, sdpo_font **out) {
    const char *path = getenv("SDPO_FONT");
    if (!path || !*path) path = DEFAULT_FONT;
    sdpo_font *f = calloc(1, sizeof *f);
    if (!f) return sdpo_fail(SDPO_ERR_NOMEM, "font: out of memory");
    if (FT_Init_FreeType(&f->lib) != 0) {
        free(f);
        return sdpo_fail(SDPO_ERR_IO, "font: FreeType failed to initialise");
    }
    if (FT_New_Face(f->lib, path, 0, &f->face) != 0) {
        FT_Done_FreeType(f->lib);
        free(f);
        return sdpo_fail(SDPO_ERR_IO,
                         "%s: cannot load font (install Debian's fonts-dejavu-core, or set SDPO_FONT "
                         "to a TrueType file)", path);
    }
    FT_Set_Pixel_Sizes(f->face, 0, (FT_UInt)px);
    f->px = px;
    *out = f;
    return SDPO_OK;
}

void sdpo_font_close(sdpo_font *f) {
    if (!f) return;
    FT_Done_Face(f->face);
    FT_Done_FreeType(f->lib);
    free(f);
}

int sdpo_font_line_height(const sdpo_font *f) {
    return (int)(f->face->size->metrics.height >> 6);
}

/* Next code point of a UTF-8 string (invalid bytes decode as U+FFFD, one byte each). */
static uint32_t next_utf8(const char **s) {
    const unsigned char *p = (const unsigned char *)*s;
    uint32_t c = p[0];
    int n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
    if (n < 0) {
        *s += 1;
        return 0xFFFD;
    }
    c = n == 0 ? c : n == 1 ? (c & 0x1f) : n == 2 ? (c & 0x0f) : (c & 0x07);
    for (int i = 1; i <= n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            *s += 1;
            return 0xFFFD;
        }
        c = (c << 6) | (p[i] & 0x3f);
    }
    *s += n + 1;
    return c;
}

int sdpo_font_text_width(sdpo_font *f, const char *text) {
    int w = 0;
    while (*text) {
        uint32_t c = next_utf8(&text);
        if (FT_Load_Char(f->face, c, FT_LOAD_DEFAULT) == 0) w += (int)(f->face->glyph->advance.x >> 6);
    }
    return w;
}

void sdpo_font_draw(sdpo_font *f, uint8_t *img, int H, int W, int x, int y, const char *text,
                    const uint8_t rgb[3]) {
    const int ascender = (int)(f->face->size->metrics.ascender >> 6);
    int pen = x;
    while (*text) {
        uint32_t c = next_utf8(&text);
        if (FT_Load_Char(f->face, c, FT_LOAD_RENDER) != 0) continue;
        FT_GlyphSlot g = f->face->glyph;
        const FT_Bitmap *bm = &g->bitmap;
        int top = y + ascender - g->bitmap_top, left = pen + g->bitmap_left;
        for (unsigned r = 0; r < bm->rows; r++) {
            int yy = top + (int)r;
            if (yy < 0 || yy >= H) continue;
            for (unsigned col = 0; col < bm->width; col++) {
                int xx = left + (int)col;
                if (xx < 0 || xx >= W) continue;
                unsigned a = bm->buffer[r * (unsigned)bm->pitch + col];
                uint8_t *px = img + ((size_t)yy * (size_t)W + (size_t)xx) * 3;
                for (int k = 0; k < 3; k++) px[k] = (uint8_t)((px[k] * (255 - a) + rgb[k] * a + 127) / 255);
            }
        }
        pen += (int)(g->advance.x >> 6);
    }
}

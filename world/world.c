/* world/world.c — the micro world (world.h): Noto Color Emoji animals composed into captioned
 * 32×32 scenes of the five kinds, and the degradations the micro quality predictor learns from.
 *
 * Pipeline: each glyph's CBDT colour bitmap (BGRA, premultiplied sRGB) is decoded once at open
 * into linear premultiplied RGBA, cropped to its opaque bounding box and area-averaged to every
 * longest-side size 1..32 px (sRGB averaging would darken anti-aliased edges). Scenes paint a
 * procedural background into an sRGB canvas, then alpha-composite (Porter–Duff "over", in sRGB
 * as every image editor does) the sprites on top. */
#include "world/world.h"

#include "core/rng.h"

#include <ft2build.h>
#include FT_FREETYPE_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_EMOJI_FONT "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"
#define S SDPO_WORLD_SIZE

/* Sub-ranges of one scene's RNG blocks (world.h). */
enum {
    RNG_CHOICE = 0, RNG_LAYOUT = 16, RNG_TEXTURE = 256, RNG_DEGRADE = 2048,
    RNG_END = (int)SDPO_WORLD_BLOCKS_PER_SCENE
};

typedef struct {
    const char *name, *plural;
    uint32_t codepoint;
} animal_def;

/* Line i of data/prompts/simple_animals_45.txt. Whole-animal emoji where Unicode has one (cat
 * U+1F408 rather than the face U+1F431), so that scenes show bodies in poses; lion, bear, fox,
 * wolf and frog exist only as faces. Mouse uses the face U+1F42D: the whole mouse U+1F401 and
 * rat U+1F400 are the same grey silhouette at 32 px. Chicken is the hen U+1F414. */
static const animal_def ANIMALS[SDPO_WORLD_N_ANIMALS] = {
    {"cat", "cats", 0x1F408},           {"dog", "dogs", 0x1F415},
    {"horse", "horses", 0x1F40E},       {"monkey", "monkeys", 0x1F412},
    {"rabbit", "rabbits", 0x1F407},     {"zebra", "zebras", 0x1F993},
    {"spider", "spiders", 0x1F577},     {"bird", "birds", 0x1F426},
    {"sheep", "sheep", 0x1F411},        {"deer", "deer", 0x1F98C},
    {"cow", "cows", 0x1F404},           {"goat", "goats", 0x1F410},
    {"lion", "lions", 0x1F981},         {"tiger", "tigers", 0x1F405},
    {"bear", "bears", 0x1F43B},         {"raccoon", "raccoons", 0x1F99D},
    {"fox", "foxes", 0x1F98A},          {"wolf", "wolves", 0x1F43A},
    {"lizard", "lizards", 0x1F98E},     {"beetle", "beetles", 0x1FAB2},
    {"ant", "ants", 0x1F41C},           {"butterfly", "butterflies", 0x1F98B},
    {"fish", "fish", 0x1F41F},          {"shark", "sharks", 0x1F988},
    {"whale", "whales", 0x1F40B},       {"dolphin", "dolphins", 0x1F42C},
    {"squirrel", "squirrels", 0x1F43F}, {"mouse", "mice", 0x1F42D},
    {"rat", "rats", 0x1F400},           {"snake", "snakes", 0x1F40D},
    {"turtle", "turtles", 0x1F422},     {"frog", "frogs", 0x1F438},
    {"chicken", "chickens", 0x1F414},   {"duck", "ducks", 0x1F986},
    {"goose", "geese", 0x1FABF},        {"bee", "bees", 0x1F41D},
    {"pig", "pigs", 0x1F416},           {"turkey", "turkeys", 0x1F983},
    {"fly", "flies", 0x1FAB0},          {"llama", "llamas", 0x1F999},
    {"camel", "camels", 0x1F42A},       {"bat", "bats", 0x1F987},
    {"gorilla", "gorillas", 0x1F98D},   {"hedgehog", "hedgehogs", 0x1F994},
    {"kangaroo", "kangaroos", 0x1F998},
};

/* Saturated, mutually distinct sRGB colours; white is left out because backgrounds are light. */
static const struct {
    const char *name;
    float rgb[3];
} COLORS[SDPO_WORLD_N_COLORS] = {
    {"red", {0.90f, 0.10f, 0.10f}},    {"green", {0.10f, 0.75f, 0.15f}},
    {"blue", {0.12f, 0.30f, 0.95f}},   {"yellow", {1.00f, 0.88f, 0.10f}},
    {"purple", {0.58f, 0.18f, 0.80f}}, {"orange", {1.00f, 0.50f, 0.05f}},
    {"pink", {1.00f, 0.45f, 0.75f}},   {"black", {0.10f, 0.10f, 0.10f}},
    {"brown", {0.50f, 0.30f, 0.12f}},
};

enum { PLACE_MOON, PLACE_PARK, PLACE_BEACH, PLACE_SNOW, PLACE_WATER, PLACE_DESERT };
static const char *const PLACES[SDPO_WORLD_N_PLACES] = {
    "on the moon", "in the park", "on the beach", "in the snow", "in the water", "in the desert"};

static const char *const NUMBERS[5] = {"", "one", "two", "three", "four"};

/* A sprite: w×h premultiplied sRGB RGBA, row-major. */
typedef struct {
    int w, h;
    float *rgba;
} sprite;

struct sdpo_world {
    sprite sizes[SDPO_WORLD_N_ANIMALS][S + 1]; /* [animal][longest side 1..32] */
    float mean_luma[SDPO_WORLD_N_ANIMALS];     /* alpha-weighted sRGB luma, for recolouring */
};

const char *sdpo_world_animal_name(int i) {
    return i >= 0 && i < SDPO_WORLD_N_ANIMALS ? ANIMALS[i].name : NULL;
}
const char *sdpo_world_animal_plural(int i) {
    return i >= 0 && i < SDPO_WORLD_N_ANIMALS ? ANIMALS[i].plural : NULL;
}
const char *sdpo_world_color_name(int c) {
    return c >= 0 && c < SDPO_WORLD_N_COLORS ? COLORS[c].name : NULL;
}
void sdpo_world_color_rgb(int c, float rgb[3]) {
    for (int k = 0; k < 3; k++) rgb[k] = c >= 0 && c < SDPO_WORLD_N_COLORS ? COLORS[c].rgb[k] : 0.f;
}
const char *sdpo_world_place_phrase(int p) {
    return p >= 0 && p < SDPO_WORLD_N_PLACES ? PLACES[p] : NULL;
}

static const char *const KIND_NAMES[SDPO_SCENE_N_KINDS] = {"single", "color", "count",
                                                           "composition", "location"};

const char *sdpo_world_kind_name(sdpo_scene_kind k) {
    return (int)k >= 0 && k < SDPO_SCENE_N_KINDS ? KIND_NAMES[k] : NULL;
}

int sdpo_world_kind_parse(const char *name) {
    for (int k = 0; k < SDPO_SCENE_N_KINDS; k++)
        if (!strcmp(name, KIND_NAMES[k])) return k;
    return -1;
}

/* ---- glyphs ----------------------------------------------------------------------------- */

static float srgb_to_linear(float c) {
    return c <= 0.04045f ? c / 12.92f : powf((c + 0.055f) / 1.055f, 2.4f);
}
static float linear_to_srgb(float c) {
    return c <= 0.0031308f ? 12.92f * c : 1.055f * powf(c, 1.f / 2.4f) - 0.055f;
}
static float luma(const float *rgb) { return 0.299f * rgb[0] + 0.587f * rgb[1] + 0.114f * rgb[2]; }

/* Area average along one axis: n source samples (stride sstride) onto m destination samples;
 * destination i covers source interval [i·n/m, (i+1)·n/m). 4 channels. */
static void resample_1d(const float *src, int n, int sstride, float *dst, int m, int dstride) {
    const double r = (double)n / m;
    for (int i = 0; i < m; i++) {
        double a = i * r, b = (i + 1) * r, acc[4] = {0, 0, 0, 0};
        for (int j = (int)a; j < n && j < b; j++) {
            double wgt = fmin(b, j + 1.0) - fmax(a, (double)j);
            for (int c = 0; c < 4; c++) acc[c] += wgt * src[(size_t)j * sstride + c];
        }
        for (int c = 0; c < 4; c++) dst[(size_t)i * dstride + c] = (float)(acc[c] / r);
    }
}

/* Downsamples a linear premultiplied cw×ch image to tw×th and stores it as premultiplied sRGB. */
static sdpo_status make_sprite(const float *lin, int cw, int ch, int tw, int th, sprite *out) {
    float *tmp = malloc((size_t)tw * ch * 4 * sizeof *tmp);
    float *dst = malloc((size_t)tw * th * 4 * sizeof *dst);
    if (!tmp || !dst) {
        free(tmp);
        free(dst);
        return sdpo_fail(SDPO_ERR_NOMEM, "world: out of memory for glyph sprites");
    }
    for (int y = 0; y < ch; y++) resample_1d(lin + (size_t)y * cw * 4, cw, 4, tmp + (size_t)y * tw * 4, tw, 4);
    for (int x = 0; x < tw; x++) resample_1d(tmp + (size_t)x * 4, ch, tw * 4, dst + (size_t)x * 4, th, tw * 4);
    free(tmp);
    for (int p = 0; p < tw * th; p++) {
        float *q = dst + 4 * p, a = q[3];
        if (a <= 0.f) {
            q[0] = q[1] = q[2] = q[3] = 0.f;
            continue;
        }
        if (a > 1.f) a = q[3] = 1.f;
        for (int c = 0; c < 3; c++) {
            float v = q[c] / a;
            q[c] = linear_to_srgb(v > 1.f ? 1.f : v) * a;
        }
    }
    out->w = tw;
    out->h = th;
    out->rgba = dst;
    return SDPO_OK;
}

/* Loads animal i's glyph from the selected strike and fills w->sizes[i][*] and mean_luma[i]. */
static sdpo_status load_animal(sdpo_world *w, FT_Face face, const char *path, int i) {
    const animal_def *d = &ANIMALS[i];
    FT_UInt gi = FT_Get_Char_Index(face, d->codepoint);
    if (gi == 0)
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: no glyph for U+%04X (animal %d '%s'); need "
                         "Debian's fonts-noto-color-emoji ≥ 2.038", path, (unsigned)d->codepoint, i, d->name);
    if (FT_Load_Glyph(face, gi, FT_LOAD_COLOR) != 0 ||
        face->glyph->bitmap.pixel_mode != FT_PIXEL_MODE_BGRA)
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: U+%04X ('%s') is not a BGRA colour bitmap", path,
                         (unsigned)d->codepoint, d->name);
    const FT_Bitmap *bm = &face->glyph->bitmap;
    int W = (int)bm->width, H = (int)bm->rows, x0 = W, x1 = -1, y0 = H, y1 = -1;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            if (bm->buffer[(size_t)y * (size_t)bm->pitch + 4 * (size_t)x + 3] > 0) {
                if (x < x0) x0 = x;
                if (x > x1) x1 = x;
                if (y < y0) y0 = y;
                if (y > y1) y1 = y;
            }
    if (x1 < 0) return sdpo_fail(SDPO_ERR_FORMAT, "%s: U+%04X ('%s') is an empty bitmap", path,
                                 (unsigned)d->codepoint, d->name);
    int cw = x1 - x0 + 1, ch = y1 - y0 + 1;
    float *lin = malloc((size_t)cw * ch * 4 * sizeof *lin);
    if (!lin) return sdpo_fail(SDPO_ERR_NOMEM, "world: out of memory decoding '%s'", d->name);
    double lsum = 0, asum = 0;
    for (int y = 0; y < ch; y++)
        for (int x = 0; x < cw; x++) {
            const unsigned char *px = bm->buffer + (size_t)(y + y0) * (size_t)bm->pitch + 4 * (size_t)(x + x0);
            float a = px[3] / 255.f, *q = lin + 4 * ((size_t)y * cw + x), srgb[3];
            q[3] = a;
            for (int c = 0; c < 3; c++) {
                /* BGRA premultiplied: un-premultiply, linearise, premultiply again. */
                float v = a > 0.f ? (px[2 - c] / 255.f) / a : 0.f;
                srgb[c] = v > 1.f ? 1.f : v;
                q[c] = srgb_to_linear(srgb[c]) * a;
            }
            lsum += a * luma(srgb);
            asum += a;
        }
    w->mean_luma[i] = (float)(lsum / asum);
    sdpo_status st = SDPO_OK;
    int longest = cw > ch ? cw : ch;
    for (int s = 1; s <= S && st == SDPO_OK; s++) {
        int tw = (int)lround((double)cw * s / longest), th = (int)lround((double)ch * s / longest);
        st = make_sprite(lin, cw, ch, tw < 1 ? 1 : tw, th < 1 ? 1 : th, &w->sizes[i][s]);
    }
    free(lin);
    return st;
}

sdpo_status sdpo_world_open(const char *font_path, sdpo_world **out) {
    *out = NULL;
    const char *path = font_path;
    if (!path || !*path) path = getenv("SDPO_EMOJI_FONT");
    if (!path || !*path) path = DEFAULT_EMOJI_FONT;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return sdpo_fail(SDPO_ERR_IO, "%s: cannot open the emoji font (install Debian's "
                         "fonts-noto-color-emoji, or set SDPO_EMOJI_FONT)", path);
    fclose(fp);
    FT_Library lib;
    if (FT_Init_FreeType(&lib) != 0) return sdpo_fail(SDPO_ERR_IO, "world: FreeType failed to initialise");
    FT_Face face;
    if (FT_New_Face(lib, path, 0, &face) != 0) {
        FT_Done_FreeType(lib);
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: not a font FreeType can load", path);
    }
    /* CBDT fonts have fixed strikes only (Noto Color Emoji: one, 109 ppem): take the largest. */
    if (!FT_HAS_COLOR(face) || face->num_fixed_sizes < 1) {
        FT_Done_Face(face);
        FT_Done_FreeType(lib);
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: has no colour bitmap strikes (want Noto Color Emoji)", path);
    }
    int best = 0;
    for (int k = 1; k < face->num_fixed_sizes; k++)
        if (face->available_sizes[k].y_ppem > face->available_sizes[best].y_ppem) best = k;
    sdpo_status st = SDPO_OK;
    if (FT_Select_Size(face, best) != 0)
        st = sdpo_fail(SDPO_ERR_FORMAT, "%s: cannot select bitmap strike %d", path, best);
    sdpo_world *w = calloc(1, sizeof *w);
    if (st == SDPO_OK && !w) st = sdpo_fail(SDPO_ERR_NOMEM, "world: out of memory");
    for (int i = 0; i < SDPO_WORLD_N_ANIMALS && st == SDPO_OK; i++) st = load_animal(w, face, path, i);
    FT_Done_Face(face);
    FT_Done_FreeType(lib);
    if (st != SDPO_OK) {
        sdpo_world_close(w);
        return st;
    }
    *out = w;
    return SDPO_OK;
}

void sdpo_world_close(sdpo_world *w) {
    if (!w) return;
    for (int i = 0; i < SDPO_WORLD_N_ANIMALS; i++)
        for (int s = 0; s <= S; s++) free(w->sizes[i][s].rgba);
    free(w);
}

/* ---- random helpers --------------------------------------------------------------------- */

static sdpo_rng rng_at(uint64_t seed, uint64_t index, int offset) {
    sdpo_rng r;
    sdpo_rng_init(&r, seed, SDPO_STREAM_DATA);
    r.block = index * SDPO_WORLD_BLOCKS_PER_SCENE + (uint64_t)offset;
    return r;
}

/* Fails if a sub-range overran its budget (a bug here, not a caller error). */
static sdpo_status rng_check(const sdpo_rng *r, uint64_t index, int end, const char *what) {
    uint64_t limit = index * SDPO_WORLD_BLOCKS_PER_SCENE + (uint64_t)end;
    if (r->block > limit)
        return sdpo_fail(SDPO_ERR_ARG, "world: %s used %llu RNG blocks past its budget", what,
                         (unsigned long long)(r->block - limit));
    return SDPO_OK;
}

static float unif(sdpo_rng *r, float a, float b) { return a + (b - a) * sdpo_rng_uniform(r); }
/* Uniform integer in [a, b] (b ≥ a). */
static int irange(sdpo_rng *r, int a, int b) { return a + (int)sdpo_rng_below(r, (uint32_t)(b - a + 1)); }

/* ---- canvas ----------------------------------------------------------------------------- */

typedef struct {
    float px[S][S][3]; /* sRGB [0, 1], [y][x][c] */
} canvas;

static void put(canvas *cv, int x, int y, const float rgb[3]) {
    if (x < 0 || y < 0 || x >= S || y >= S) return;
    for (int c = 0; c < 3; c++) cv->px[y][x][c] = rgb[c];
}

static void fill_rows(canvas *cv, int y0, int y1, const float top[3], const float bottom[3]) {
    for (int y = y0 < 0 ? 0 : y0; y < y1 && y < S; y++) {
        float t = y1 - 1 > y0 ? (float)(y - y0) / (float)(y1 - 1 - y0) : 0.f;
        for (int x = 0; x < S; x++)
            for (int c = 0; c < 3; c++) cv->px[y][x][c] = top[c] + t * (bottom[c] - top[c]);
    }
}

static void disk(canvas *cv, float cx, float cy, float rx, float ry, const float rgb[3]) {
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            float dx = (x + 0.5f - cx) / rx, dy = (y + 0.5f - cy) / ry;
            if (dx * dx + dy * dy <= 1.f) put(cv, x, y, rgb);
        }
}

/* Adds uniform noise of amplitude amp (times per-channel weights) to rows [y0, S) where the
 * ground starts at ground[x]. One texture draw per pixel. */
static void texture(canvas *cv, sdpo_rng *tex, const int ground[S], float amp, const float wgt[3]) {
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            float n = amp * (2.f * sdpo_rng_uniform(tex) - 1.f);
            if (y < ground[x]) continue;
            for (int c = 0; c < 3; c++) {
                float v = cv->px[y][x][c] + n * wgt[c];
                cv->px[y][x][c] = v < 0.f ? 0.f : v > 1.f ? 1.f : v;
            }
        }
}

/* Paints place p (or a plain light background for p = -1); ground[x] receives the first row of
 * ground in column x (S for none), where animals stand. */
static void paint_background(canvas *cv, int p, sdpo_rng *lay, sdpo_rng *tex, int ground[S]) {
    for (int x = 0; x < S; x++) ground[x] = 0;
    if (p < 0) {
        /* White half the time, else a light tint (each channel 0.86–1). */
        float bg[3] = {1.f, 1.f, 1.f};
        if (sdpo_rng_uniform(lay) < 0.5f)
            for (int c = 0; c < 3; c++) bg[c] = unif(lay, 0.86f, 1.f);
        fill_rows(cv, 0, S, bg, bg);
        return;
    }
    switch (p) {
    case PLACE_MOON: {
        /* Black starry sky with the Earth, grey convex cratered ground. */
        static const float sky[3] = {0.02f, 0.02f, 0.07f}, grey[3] = {0.56f, 0.56f, 0.54f},
                           dark[3] = {0.36f, 0.36f, 0.35f}, rim[3] = {0.74f, 0.74f, 0.72f},
                           earth[3] = {0.20f, 0.45f, 0.90f}, land[3] = {0.25f, 0.65f, 0.30f};
        int hz = irange(lay, 17, 22);
        fill_rows(cv, 0, S, sky, sky);
        for (int k = 0; k < 14; k++) {
            float b = unif(lay, 0.55f, 1.f), star[3] = {b, b, b};
            put(cv, irange(lay, 0, S - 1), irange(lay, 0, hz - 1), star);
        }
        float ex = (float)irange(lay, 4, 28), ey = (float)irange(lay, 4, 8);
        disk(cv, ex, ey, 3.2f, 3.2f, earth);
        disk(cv, ex - 0.8f, ey - 0.6f, 1.4f, 1.0f, land);
        for (int x = 0; x < S; x++) {
            float d = (x + 0.5f - S / 2.f);
            ground[x] = hz + (int)(d * d / 90.f);
        }
        for (int x = 0; x < S; x++)
            for (int y = ground[x]; y < S; y++) put(cv, x, y, grey);
        int ncr = irange(lay, 3, 5);
        for (int k = 0; k < ncr; k++) {
            float rx = unif(lay, 1.8f, 4.5f), cx = unif(lay, 0.f, S), cy = unif(lay, hz + 3.f, S - 1.f);
            disk(cv, cx, cy - 0.6f, rx, rx * 0.45f, rim);
            disk(cv, cx, cy, rx * 0.85f, rx * 0.38f, dark);
        }
        static const float w3[3] = {1.f, 1.f, 1.f};
        texture(cv, tex, ground, 0.04f, w3);
        break;
    }
    case PLACE_PARK: {
        static const float skytop[3] = {0.45f, 0.68f, 0.95f}, skybot[3] = {0.78f, 0.88f, 1.f},
                           grass_far[3] = {0.36f, 0.66f, 0.26f}, grass_near[3] = {0.22f, 0.55f, 0.16f},
                           trunk[3] = {0.45f, 0.29f, 0.14f}, leaves[3] = {0.12f, 0.42f, 0.14f},
                           wgt[3] = {0.3f, 1.f, 0.3f};
        int hz = irange(lay, 13, 19);
        fill_rows(cv, 0, hz, skytop, skybot);
        fill_rows(cv, hz, S, grass_far, grass_near);
        for (int x = 0; x < S; x++) ground[x] = hz;
        int ntrees = irange(lay, 1, 2);
        for (int k = 0; k < ntrees; k++) {
            int tx = k == 0 ? irange(lay, 1, 7) : irange(lay, 24, 30);
            for (int y = hz - 5; y <= hz + 1; y++) {
                put(cv, tx, y, trunk);
                put(cv, tx + 1, y, trunk);
            }
            disk(cv, tx + 1.f, hz - 7.f, 4.2f, 4.6f, leaves);
        }
        texture(cv, tex, ground, 0.07f, wgt);
        int nfl = irange(lay, 3, 6);
        for (int k = 0; k < nfl; k++) {
            float fl[3] = {1.f, 0.3f + 0.6f * (k % 2), 0.25f};
            put(cv, irange(lay, 0, S - 1), irange(lay, hz + 2, S - 1), fl);
        }
        break;
    }
    case PLACE_BEACH: {
        static const float skytop[3] = {0.45f, 0.72f, 0.98f}, skybot[3] = {0.75f, 0.88f, 1.f},
                           sea_far[3] = {0.08f, 0.35f, 0.70f}, sea_near[3] = {0.15f, 0.55f, 0.80f},
                           foam[3] = {0.92f, 0.96f, 1.f}, sand[3] = {0.95f, 0.85f, 0.60f},
                           sun[3] = {1.f, 0.92f, 0.35f}, wgt[3] = {1.f, 0.9f, 0.6f};
        int hz = irange(lay, 9, 13), sea = irange(lay, 5, 8);
        fill_rows(cv, 0, hz, skytop, skybot);
        if (sdpo_rng_uniform(lay) < 0.6f) disk(cv, unif(lay, 4.f, 28.f), unif(lay, 2.5f, 5.f), 2.6f, 2.6f, sun);
        fill_rows(cv, hz, hz + sea, sea_far, sea_near);
        fill_rows(cv, hz + sea, S, sand, sand);
        for (int x = 0; x < S; x++) {
            ground[x] = hz + sea + 1;
            /* A wavy foam line where the sea meets the sand. */
            int fy = hz + sea + (int)(1.2f * sinf(0.5f * x + unif(lay, 0.f, 0.4f)));
            put(cv, x, fy, foam);
        }
        texture(cv, tex, ground, 0.05f, wgt);
        break;
    }
    case PLACE_SNOW: {
        static const float skytop[3] = {0.66f, 0.73f, 0.86f}, skybot[3] = {0.84f, 0.87f, 0.94f},
                           mount[3] = {0.55f, 0.60f, 0.72f}, cap[3] = {0.97f, 0.98f, 1.f},
                           snow_far[3] = {0.90f, 0.93f, 0.99f}, snow_near[3] = {0.98f, 0.99f, 1.f},
                           flake[3] = {1.f, 1.f, 1.f}, wgt[3] = {0.6f, 0.6f, 0.25f};
        int hz = irange(lay, 14, 19);
        fill_rows(cv, 0, hz, skytop, skybot);
        int nm = irange(lay, 1, 2);
        for (int k = 0; k < nm; k++) {
            float px = unif(lay, 4.f, 28.f), ph = unif(lay, 7.f, 11.f);
            for (int y = (int)(hz - ph); y < hz; y++)
                for (int x = 0; x < S; x++) {
                    float half = (y - (hz - ph)) * 1.3f;
                    if (fabsf(x + 0.5f - px) <= half) put(cv, x, y, y < hz - ph * 0.6f ? cap : mount);
                }
        }
        fill_rows(cv, hz, S, snow_far, snow_near);
        for (int x = 0; x < S; x++) ground[x] = hz;
        texture(cv, tex, ground, 0.05f, wgt);
        for (int k = 0; k < 22; k++) put(cv, irange(lay, 0, S - 1), irange(lay, 0, S - 1), flake);
        break;
    }
    case PLACE_WATER: {
        static const float skytop[3] = {0.55f, 0.78f, 1.f}, skybot[3] = {0.80f, 0.90f, 1.f},
                           deep_far[3] = {0.12f, 0.45f, 0.80f}, deep_near[3] = {0.04f, 0.25f, 0.58f},
                           wave[3] = {0.55f, 0.78f, 0.98f}, wgt[3] = {0.3f, 0.6f, 1.f};
        int hz = irange(lay, 6, 10);
        fill_rows(cv, 0, hz, skytop, skybot);
        fill_rows(cv, hz, S, deep_far, deep_near);
        for (int x = 0; x < S; x++) ground[x] = hz;
        texture(cv, tex, ground, 0.04f, wgt);
        int nw = irange(lay, 7, 11);
        for (int k = 0; k < nw; k++) {
            int wx = irange(lay, -2, S - 2), wy = irange(lay, hz + 1, S - 1), len = irange(lay, 3, 5);
            for (int j = 0; j < len; j++) put(cv, wx + j, wy, wave);
        }
        break;
    }
    default: { /* PLACE_DESERT */
        static const float skytop[3] = {0.50f, 0.72f, 0.95f}, skybot[3] = {0.95f, 0.90f, 0.76f},
                           sand_far[3] = {0.93f, 0.74f, 0.42f}, sand_near[3] = {0.85f, 0.60f, 0.30f},
                           sun[3] = {1.f, 0.85f, 0.25f}, cactus[3] = {0.20f, 0.55f, 0.22f},
                           wgt[3] = {1.f, 0.8f, 0.5f};
        int hz = irange(lay, 14, 19);
        float ph = unif(lay, 0.f, 6.283f), fr = unif(lay, 0.15f, 0.3f);
        fill_rows(cv, 0, S, skytop, skybot);
        disk(cv, unif(lay, 4.f, 28.f), unif(lay, 3.f, 6.f), 3.f, 3.f, sun);
        for (int x = 0; x < S; x++) ground[x] = hz + (int)lroundf(2.f * sinf(fr * x + ph));
        for (int x = 0; x < S; x++)
            for (int y = ground[x]; y < S; y++) {
                float t = (float)(y - ground[x]) / (float)(S - ground[x]), c[3];
                for (int k = 0; k < 3; k++) c[k] = sand_far[k] + t * (sand_near[k] - sand_far[k]);
                put(cv, x, y, c);
            }
        if (sdpo_rng_uniform(lay) < 0.7f) {
            int cx = sdpo_rng_uniform(lay) < 0.5f ? irange(lay, 1, 5) : irange(lay, 26, 30);
            int base = ground[cx] + 1, top = base - irange(lay, 7, 10);
            for (int y = top; y <= base; y++) put(cv, cx, y, cactus), put(cv, cx + 1, y, cactus);
            for (int y = top + 2; y < top + 5; y++) put(cv, cx - 2, y, cactus);
            put(cv, cx - 1, top + 4, cactus);
            for (int y = top + 3; y < top + 6; y++) put(cv, cx + 3, y, cactus);
            put(cv, cx + 2, top + 5, cactus);
        }
        texture(cv, tex, ground, 0.05f, wgt);
        break;
    }
    }
}

/* Composites sprite sp at (x0, y0), mirrored if flip, over the canvas. With tint, each pixel is
 * recoloured first: its luma relative to the glyph's mean luma becomes a shade of the tint
 * (darker parts darker, highlights lifted toward white), so the animal keeps its shape and
 * detail while its colour reads as the named one even at 32 px. */
static void draw_sprite(canvas *cv, const sprite *sp, int x0, int y0, int flip, const float *tint,
                        float mean_luma) {
    for (int sy = 0; sy < sp->h; sy++) {
        int y = y0 + sy;
        if (y < 0 || y >= S) continue;
        for (int sx = 0; sx < sp->w; sx++) {
            int x = x0 + sx;
            if (x < 0 || x >= S) continue;
            const float *q = sp->rgba + 4 * ((size_t)sy * sp->w + (flip ? sp->w - 1 - sx : sx));
            float a = q[3], pm[3] = {q[0], q[1], q[2]};
            if (a <= 0.f) continue;
            if (tint) {
                float c[3] = {q[0] / a, q[1] / a, q[2] / a};
                float shade = 0.85f + 1.1f * (luma(c) - mean_luma);
                shade = shade < 0.2f ? 0.2f : shade > 1.35f ? 1.35f : shade;
                for (int k = 0; k < 3; k++) {
                    float v = shade <= 1.f ? tint[k] * shade : tint[k] + (1.f - tint[k]) * (shade - 1.f);
                    pm[k] = v * a;
                }
            }
            for (int k = 0; k < 3; k++) cv->px[y][x][k] = pm[k] + (1.f - a) * cv->px[y][x][k];
        }
    }
}

/* "a" or "an" before word. */
static const char *article(const char *word) { return strchr("aeiou", word[0]) ? "an" : "a"; }

static sdpo_status check_scene(const sdpo_scene *sc) {
    const int N = SDPO_WORLD_N_ANIMALS;
    if ((int)sc->kind < 0 || sc->kind >= SDPO_SCENE_N_KINDS)
        return sdpo_fail(SDPO_ERR_ARG, "world: scene.kind %d is not a scene kind", (int)sc->kind);
    if (sc->animal[0] < 0 || sc->animal[0] >= N)
        return sdpo_fail(SDPO_ERR_ARG, "world: scene.animal[0] %d not in 0..%d", sc->animal[0], N - 1);
    int comp = sc->kind == SDPO_SCENE_COMPOSITION;
    if (comp ? (sc->animal[1] < 0 || sc->animal[1] >= N || sc->animal[1] == sc->animal[0]) : sc->animal[1] != -1)
        return sdpo_fail(SDPO_ERR_ARG, "world: scene.animal[1] %d: want a second, different animal "
                         "for COMPOSITION, else -1", sc->animal[1]);
    int cnt = sc->kind == SDPO_SCENE_COUNT;
    if (cnt ? (sc->count < 2 || sc->count > 4) : sc->count != 1)
        return sdpo_fail(SDPO_ERR_ARG, "world: scene.count %d: want 2..4 for COUNT, else 1", sc->count);
    int col = sc->kind == SDPO_SCENE_COLOR;
    if (col ? (sc->color < 0 || sc->color >= SDPO_WORLD_N_COLORS) : sc->color != -1)
        return sdpo_fail(SDPO_ERR_ARG, "world: scene.color %d: want 0..%d for COLOR, else -1",
                         sc->color, SDPO_WORLD_N_COLORS - 1);
    int loc = sc->kind == SDPO_SCENE_LOCATION;
    int place_ok = loc ? (sc->place >= 0 && sc->place < SDPO_WORLD_N_PLACES)
                       : cnt ? (sc->place >= -1 && sc->place < SDPO_WORLD_N_PLACES) : sc->place == -1;
    if (!place_ok)
        return sdpo_fail(SDPO_ERR_ARG, "world: scene.place %d: want 0..%d for LOCATION, that or -1 "
                         "for COUNT, else -1", sc->place, SDPO_WORLD_N_PLACES - 1);
    return SDPO_OK;
}

static sdpo_status check_index(uint64_t index) {
    if (index > UINT64_MAX / SDPO_WORLD_BLOCKS_PER_SCENE - 1)
        return sdpo_fail(SDPO_ERR_ARG, "world: scene index %llu is past the stream's end",
                         (unsigned long long)index);
    return SDPO_OK;
}

/* Blends the lower part (from 55% of its height) of a sprite's box back toward the background,
 * so an animal "in the water" looks half submerged. */
static void submerge(canvas *cv, const canvas *bg, int x0, int y0, int w, int h) {
    for (int y = y0 + (int)(0.55f * h); y < y0 + h; y++)
        for (int x = x0; x < x0 + w; x++) {
            if (x < 0 || y < 0 || x >= S || y >= S) continue;
            for (int k = 0; k < 3; k++) cv->px[y][x][k] = 0.5f * cv->px[y][x][k] + 0.5f * bg->px[y][x][k];
        }
}

/* Places a sprite of width w, height h standing on the ground near column x0 + w/2: its bottom
 * row lands between 2 px below the horizon and the image's bottom. */
static int ground_y0(sdpo_rng *lay, const int ground[S], int x0, int w, int h) {
    int xc = x0 + w / 2;
    xc = xc < 0 ? 0 : xc >= S ? S - 1 : xc;
    int lo = ground[xc] + 2 < S - 1 ? ground[xc] + 2 : S - 1;
    int y0 = irange(lay, lo, S - 1) - h + 1;
    return y0 < -h / 8 ? -h / 8 : y0;
}

sdpo_status sdpo_world_render(const sdpo_world *w, sdpo_scene *sc, uint64_t seed, uint64_t index,
                              float *chw) {
    sdpo_status st = check_scene(sc);
    if (st == SDPO_OK) st = check_index(index);
    if (st != SDPO_OK) return st;
    sdpo_rng lay = rng_at(seed, index, RNG_LAYOUT), tex = rng_at(seed, index, RNG_TEXTURE);
    const char *name = ANIMALS[sc->animal[0]].name;
    char *cap = sc->caption;
    const size_t CM = SDPO_WORLD_CAPTION_MAX;
    switch (sc->kind) {
    case SDPO_SCENE_SINGLE: {
        /* The bare RL prompt ("cat") half the time, as the RL stage prompts exactly that. */
        float u = sdpo_rng_uniform(&lay);
        if (u < 0.5f) snprintf(cap, CM, "%s", name);
        else if (u < 0.8f) snprintf(cap, CM, "%s %s", article(name), name);
        else snprintf(cap, CM, "a photo of %s %s", article(name), name);
        break;
    }
    case SDPO_SCENE_COLOR: {
        const char *cn = COLORS[sc->color].name;
        snprintf(cap, CM, "%s %s colored %s", article(cn), cn, name);
        break;
    }
    case SDPO_SCENE_COUNT:
        snprintf(cap, CM, "%s %s%s%s", NUMBERS[sc->count], ANIMALS[sc->animal[0]].plural,
                 sc->place >= 0 ? " " : "", sc->place >= 0 ? PLACES[sc->place] : "");
        break;
    case SDPO_SCENE_COMPOSITION: {
        const char *n2 = ANIMALS[sc->animal[1]].name;
        snprintf(cap, CM, "%s %s and %s %s", article(name), name, article(n2), n2);
        break;
    }
    default:
        snprintf(cap, CM, "%s %s %s", article(name), name, PLACES[sc->place]);
        break;
    }

    canvas cv, bg;
    int ground[S];
    paint_background(&cv, sc->place, &lay, &tex, ground);
    bg = cv;
    const int a0 = sc->animal[0];
    switch (sc->kind) {
    case SDPO_SCENE_SINGLE:
    case SDPO_SCENE_COLOR:
    case SDPO_SCENE_LOCATION: {
        /* SINGLE/COLOR: 0.65–0.95 of the image (21–30 px, longest side), mostly inside (up to
         * 1/8 of the sprite may leave the frame). LOCATION: 16–24 px, standing on the ground. */
        int loc = sc->kind == SDPO_SCENE_LOCATION;
        const sprite *sp = &w->sizes[a0][loc ? irange(&lay, 16, 24) : irange(&lay, 21, 30)];
        int x0 = irange(&lay, -sp->w / 8, S - sp->w + sp->w / 8);
        int y0 = loc ? ground_y0(&lay, ground, x0, sp->w, sp->h)
                     : irange(&lay, -sp->h / 8, S - sp->h + sp->h / 8);
        int flip = sdpo_rng_uniform(&lay) < 0.5f;
        float tint[3];
        sdpo_world_color_rgb(sc->color, tint);
        draw_sprite(&cv, sp, x0, y0, flip, sc->kind == SDPO_SCENE_COLOR ? tint : NULL, w->mean_luma[a0]);
        if (sc->place == PLACE_WATER) submerge(&cv, &bg, x0, y0, sp->w, sp->h);
        break;
    }
    case SDPO_SCENE_COUNT: {
        /* Two copies: one per vertical half, 12–14 px. Three or four: one per chosen quadrant,
         * 10–13 px. Each stays inside its cell with a 1 px margin (columns/rows 1..14 of the
         * 16 px cell), so copies never touch: at least 2 px of background separate them. */
        int cells[4] = {0, 1, 2, 3}, halves = sc->count == 2;
        if (!halves) sdpo_rng_permutation(&lay, cells, 4);
        for (int k = 0; k < sc->count; k++) {
            const sprite *sp = &w->sizes[a0][halves ? irange(&lay, 12, 14) : irange(&lay, 10, 13)];
            int cx = halves ? 16 * k : 16 * (cells[k] % 2), cy = halves ? 0 : 16 * (cells[k] / 2);
            int ch = halves ? S : 16;
            int x0 = irange(&lay, cx + 1, cx + 15 - sp->w), ylo = cy + 1, yhi = cy + ch - 1 - sp->h;
            if (halves && sc->place >= 0) {
                /* On a place, pairs stand in the lower half of the picture. */
                int g = ground[cx + 8] - sp->h / 2;
                ylo = g < ylo ? ylo : g > yhi ? yhi : g;
            }
            int y0 = irange(&lay, ylo, yhi);
            draw_sprite(&cv, sp, x0, y0, sdpo_rng_uniform(&lay) < 0.5f, NULL, 0.f);
            if (sc->place == PLACE_WATER) submerge(&cv, &bg, x0, y0, sp->w, sp->h);
        }
        break;
    }
    default: { /* COMPOSITION: animal[0] on the left half, animal[1] on the right, 13–16 px. */
        for (int k = 0; k < 2; k++) {
            const sprite *sp = &w->sizes[sc->animal[k]][irange(&lay, 13, 16)];
            int x0 = irange(&lay, 16 * k, 16 * k + 16 - sp->w), y0 = irange(&lay, 0, S - sp->h);
            draw_sprite(&cv, sp, x0, y0, sdpo_rng_uniform(&lay) < 0.5f, NULL, 0.f);
        }
        break;
    }
    }
    st = rng_check(&lay, index, RNG_TEXTURE, "scene layout");
    if (st == SDPO_OK) st = rng_check(&tex, index, RNG_DEGRADE, "background texture");
    if (st != SDPO_OK) return st;
    if (chw)
        for (int k = 0; k < 3; k++)
            for (int y = 0; y < S; y++)
                for (int x = 0; x < S; x++) {
                    float v = 2.f * cv.px[y][x][k] - 1.f;
                    chw[(k * S + y) * S + x] = v < -1.f ? -1.f : v > 1.f ? 1.f : v;
                }
    return SDPO_OK;
}

/* SINGLE 0.5 (the RL prompts are single animals); the four unseen-prompt kinds share the rest. */
static const sdpo_world_mix DEFAULT_MIX = {{0.5f, 0.125f, 0.125f, 0.125f, 0.125f}};

sdpo_status sdpo_world_sample(const sdpo_world *w, uint64_t seed, uint64_t index,
                              const sdpo_world_mix *mix, sdpo_scene *scene, float *chw) {
    const sdpo_world_mix *m = mix ? mix : &DEFAULT_MIX;
    double total = 0;
    for (int k = 0; k < SDPO_SCENE_N_KINDS; k++) {
        if (!(m->weight[k] >= 0.f) || !isfinite(m->weight[k]))
            return sdpo_fail(SDPO_ERR_ARG, "world: mix.weight[%d] = %g is not a finite weight ≥ 0", k,
                             (double)m->weight[k]);
        total += m->weight[k];
    }
    if (!(total > 0)) return sdpo_fail(SDPO_ERR_ARG, "world: mix weights are all 0");
    sdpo_status st = check_index(index);
    if (st != SDPO_OK) return st;
    sdpo_rng r = rng_at(seed, index, RNG_CHOICE);
    sdpo_scene local, *sc = scene ? scene : &local;
    double u = sdpo_rng_uniform(&r) * total, cum = 0;
    int kind = -1;
    for (int k = 0; k < SDPO_SCENE_N_KINDS; k++) {
        cum += m->weight[k];
        if (m->weight[k] > 0.f) {
            kind = k;
            if (u < cum) break;
        }
    }
    memset(sc, 0, sizeof *sc);
    sc->kind = (sdpo_scene_kind)kind;
    sc->animal[0] = (int)sdpo_rng_below(&r, SDPO_WORLD_N_ANIMALS);
    sc->animal[1] = -1;
    sc->count = 1;
    sc->color = -1;
    sc->place = -1;
    switch (sc->kind) {
    case SDPO_SCENE_COLOR: sc->color = (int)sdpo_rng_below(&r, SDPO_WORLD_N_COLORS); break;
    case SDPO_SCENE_COUNT:
        sc->count = 2 + (int)sdpo_rng_below(&r, 3);
        /* "four wolves in the park": 40% of counted scenes have a place. */
        if (sdpo_rng_uniform(&r) < 0.4f) sc->place = (int)sdpo_rng_below(&r, SDPO_WORLD_N_PLACES);
        break;
    case SDPO_SCENE_COMPOSITION: {
        int b = (int)sdpo_rng_below(&r, SDPO_WORLD_N_ANIMALS - 1);
        sc->animal[1] = b >= sc->animal[0] ? b + 1 : b;
        break;
    }
    case SDPO_SCENE_LOCATION: sc->place = (int)sdpo_rng_below(&r, SDPO_WORLD_N_PLACES); break;
    default: break;
    }
    st = rng_check(&r, index, RNG_LAYOUT, "scene choice");
    if (st != SDPO_OK) return st;
    return sdpo_world_render(w, sc, seed, index, chw);
}

/* ---- degradations ----------------------------------------------------------------------- */

enum { DEG_BLUR, DEG_NOISE, DEG_WASH, DEG_PIXELATE, DEG_ERASE, DEG_N };

static void blur121(float *chw) {
    for (int k = 0; k < 3; k++) {
        float *p = chw + k * S * S, t[S * S];
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                int xl = x > 0 ? x - 1 : 0, xr = x < S - 1 ? x + 1 : S - 1;
                t[y * S + x] = 0.25f * p[y * S + xl] + 0.5f * p[y * S + x] + 0.25f * p[y * S + xr];
            }
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                int yu = y > 0 ? y - 1 : 0, yd = y < S - 1 ? y + 1 : S - 1;
                p[y * S + x] = 0.25f * t[yu * S + x] + 0.5f * t[y * S + x] + 0.25f * t[yd * S + x];
            }
    }
}

static void degrade_one(float *chw, int op, sdpo_rng *r) {
    switch (op) {
    case DEG_BLUR: { /* 2–3 passes of the [1 2 1]/4 binomial filter (σ ≈ 1–1.2 px). */
        int passes = irange(r, 2, 3);
        for (int k = 0; k < passes; k++) blur121(chw);
        break;
    }
    case DEG_NOISE: { /* Gaussian noise, σ 0.08–0.2 on the [-1, 1] scale. */
        float sigma = unif(r, 0.08f, 0.2f), z[SDPO_WORLD_PIXELS];
        sdpo_rng_normal_fill(r, z, SDPO_WORLD_PIXELS);
        for (int i = 0; i < SDPO_WORLD_PIXELS; i++) chw[i] += sigma * z[i];
        break;
    }
    case DEG_WASH: { /* Low contrast toward a light grey, then half desaturated. */
        float f = unif(r, 0.3f, 0.5f), g = unif(r, 0.2f, 0.6f);
        for (int i = 0; i < S * S; i++) {
            float v[3];
            for (int k = 0; k < 3; k++) v[k] = (1.f - f) * chw[k * S * S + i] + f * g;
            float l = luma(v);
            for (int k = 0; k < 3; k++) chw[k * S * S + i] = 0.5f * v[k] + 0.5f * l;
        }
        break;
    }
    case DEG_PIXELATE: { /* Averages over 2–4 px blocks. */
        int b = irange(r, 2, 4);
        for (int k = 0; k < 3; k++)
            for (int by = 0; by < S; by += b)
                for (int bx = 0; bx < S; bx += b) {
                    float acc = 0;
                    int n = 0;
                    for (int y = by; y < by + b && y < S; y++)
                        for (int x = bx; x < bx + b && x < S; x++) acc += chw[(k * S + y) * S + x], n++;
                    for (int y = by; y < by + b && y < S; y++)
                        for (int x = bx; x < bx + b && x < S; x++) chw[(k * S + y) * S + x] = acc / n;
                }
        break;
    }
    default: { /* Erases a 9–16 px rectangle to a flat colour: halfway between the image's mean
                * and a random grey, so it stands out even where it covers only background. */
        int ew = irange(r, 9, 16), eh = irange(r, 9, 16), x0 = irange(r, 0, S - ew), y0 = irange(r, 0, S - eh);
        float grey = unif(r, -0.6f, 0.6f);
        for (int k = 0; k < 3; k++) {
            float mean = 0;
            for (int i = 0; i < S * S; i++) mean += chw[k * S * S + i];
            mean /= S * S;
            for (int y = y0; y < y0 + eh; y++)
                for (int x = x0; x < x0 + ew; x++) chw[(k * S + y) * S + x] = 0.5f * mean + 0.5f * grey;
        }
        break;
    }
    }
}

void sdpo_world_degrade(float *chw, uint64_t seed, uint64_t index) {
    /* Indices past the stream's end wrap (index · B mod 2^64); sample() refuses them anyway. */
    sdpo_rng r = rng_at(seed, index, RNG_DEGRADE);
    int first = (int)sdpo_rng_below(&r, DEG_N);
    int second = sdpo_rng_uniform(&r) < 0.35f ? (first + 1 + (int)sdpo_rng_below(&r, DEG_N - 1)) % DEG_N : -1;
    degrade_one(chw, first, &r);
    if (second >= 0) degrade_one(chw, second, &r);
    for (int i = 0; i < SDPO_WORLD_PIXELS; i++) chw[i] = chw[i] < -1.f ? -1.f : chw[i] > 1.f ? 1.f : chw[i];
}

/* world/world.h — the micro world: the 45 training animals as Noto Color Emoji bitmaps,
 * composed into captioned 32×32 scenes (issue #8). Everything the micro model, the micro
 * reward models and `sdpo repro` learn from comes from here.
 *
 * Contract:
 *   - Glyphs come from Debian's fonts-noto-color-emoji (FreeType colour bitmaps, FT_LOAD_COLOR,
 *     BGRA premultiplied), path /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf unless
 *     $SDPO_EMOJI_FONT says otherwise. They are rasterised once at open and downsampled
 *     (area average in linear premultiplied RGBA) to the sizes scenes use.
 *   - Animal i is line i of data/prompts/simple_animals_45.txt ("cat", "dog", …, "kangaroo");
 *     its codepoint table lives in world.c. All 45 exist in the font.
 *   - A scene is a deterministic function of (seed, index): sdpo_world_sample() draws scene
 *     `index` of the stream of `seed` (SDPO_STREAM_DATA, one fresh block range per index), so
 *     datasets are reproducible, resumable (an index is all a pretraining run needs to store)
 *     and splittable across threads.
 *   - Images are float CHW [3, 32, 32] RGB in [-1, 1] (the diffusion models' pixel range;
 *     x/2 + 0.5 gives the [0, 1] images rewards take).
 *   - Captions are lower-case English in the scene grammar below. */
#ifndef SDPO_WORLD_WORLD_H
#define SDPO_WORLD_WORLD_H

#include <stdint.h>

#include "core/error.h"

#define SDPO_WORLD_N_ANIMALS 45
#define SDPO_WORLD_SIZE 32
#define SDPO_WORLD_PIXELS (3 * SDPO_WORLD_SIZE * SDPO_WORLD_SIZE)
#define SDPO_WORLD_CAPTION_MAX 96
#define SDPO_WORLD_N_COLORS 9      /* red green blue yellow purple orange pink black brown */
#define SDPO_WORLD_N_PLACES 6      /* moon park beach snow water desert */

/* RNG layout: scene `index` of seed s owns blocks [index·B, (index+1)·B) of stream
 * (s, SDPO_STREAM_DATA), B = SDPO_WORLD_BLOCKS_PER_SCENE, so index k never depends on k−1.
 * Inside that range: [0, 16) chooses the scene (kind, animals, colour, count, place),
 * [16, 256) its layout (template, sizes, positions, flips, background geometry),
 * [256, 2048) per-pixel background texture, [2048, 4096) sdpo_world_degrade. */
#define SDPO_WORLD_BLOCKS_PER_SCENE 4096u

/* The scene kinds: the 45 training prompts plus the four kinds of DPOK's unseen prompts. */
typedef enum {
    SDPO_SCENE_SINGLE = 0,     /* "cat", "a cat", "a photo of a cat" */
    SDPO_SCENE_COLOR,          /* "a green colored rabbit" (tinted animal) */
    SDPO_SCENE_COUNT,          /* "four wolves in the park" (2–4 copies, optional place) */
    SDPO_SCENE_COMPOSITION,    /* "a cat and a dog" (two animals side by side) */
    SDPO_SCENE_LOCATION,       /* "a dog on the moon" (a background place) */
    SDPO_SCENE_N_KINDS
} sdpo_scene_kind;

typedef struct {
    sdpo_scene_kind kind;
    int animal[2];             /* animal[1] only for COMPOSITION, else -1 */
    int count;                 /* copies for COUNT (2..4), else 1 */
    int color;                 /* index into the colour table for COLOR, else -1 */
    int place;                 /* index into the place table (park, moon, …), -1 = plain */
    char caption[SDPO_WORLD_CAPTION_MAX];
} sdpo_scene;

typedef struct sdpo_world sdpo_world;

/* Opens the font and rasterises the 45 glyphs. font_path NULL: $SDPO_EMOJI_FONT, else the
 * Debian path. Errors name the path and the package to install. */
sdpo_status sdpo_world_open(const char *font_path, sdpo_world **out);
void sdpo_world_close(sdpo_world *w);

/* Name of animal i (0..44) as in simple_animals_45.txt; its plural ("wolves"). */
const char *sdpo_world_animal_name(int i);
const char *sdpo_world_animal_plural(int i);

/* Colour c (0..SDPO_WORLD_N_COLORS-1): its caption word and the sRGB [0, 1] it paints. */
const char *sdpo_world_color_name(int c);
void sdpo_world_color_rgb(int c, float rgb[3]);
/* Place p (0..SDPO_WORLD_N_PLACES-1): its caption phrase ("on the moon", "in the park"). */
const char *sdpo_world_place_phrase(int p);

/* Kind k's name ("single", "color", "count", "composition", "location"; NULL out of range),
 * and the kind a name gives (-1 for none). */
const char *sdpo_world_kind_name(sdpo_scene_kind k);
int sdpo_world_kind_parse(const char *name);

/* Relative frequency of each kind in sdpo_world_sample (weights ≥ 0, not all 0). NULL gives
 * the default mix, in which SINGLE dominates (the RL prompts are single animals). */
typedef struct {
    float weight[SDPO_SCENE_N_KINDS];
} sdpo_world_mix;

/* Scene `index` of the seeded stream: its description and caption in *scene and its image in
 * chw [3, 32, 32] (either may be NULL). Position and scale jitter, flips and the background
 * are drawn from the same (seed, index). */
sdpo_status sdpo_world_sample(const sdpo_world *w, uint64_t seed, uint64_t index,
                              const sdpo_world_mix *mix, sdpo_scene *scene, float *chw);

/* Renders a given scene description (jitter drawn from (seed, index)); fills scene->caption.
 * Fields are checked (SDPO_ERR_ARG naming the field): kind; animal[0] in 0..44; for
 * COMPOSITION animal[1] in 0..44 and ≠ animal[0], else -1; count 2..4 for COUNT, else 1;
 * color valid for COLOR, else -1; place valid for LOCATION, valid or -1 for COUNT, else -1. */
sdpo_status sdpo_world_render(const sdpo_world *w, sdpo_scene *scene, uint64_t seed,
                              uint64_t index, float *chw);

/* A degraded copy of a rendered image for the quality predictor (clean ≻ degraded): blur,
 * noise, colour wash-out, blockiness, partial erasure, drawn from (seed, index). In place.
 * One or two of the five are applied (always at least one), output clamped to [-1, 1]. */
void sdpo_world_degrade(float *chw, uint64_t seed, uint64_t index);

#endif

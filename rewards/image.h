/* rewards/image.h — images as rewards and grids see them, and their PNG files.
 *
 * The pipeline's images are float NCHW RGB in [0, 1] (diffusers postprocess: (x/2 + 0.5)
 * clamped). Reward code that needs 8-bit pixels converts them exactly as DDPO/SDPO do:
 * (images * 255).round().clamp(0, 255).to(uint8), in float32 with round-half-to-even (torch.round). */
#ifndef SDPO_REWARDS_IMAGE_H
#define SDPO_REWARDS_IMAGE_H

#include <stdint.h>

#include "core/error.h"

/* One image [3, H, W] in [0, 1] → interleaved RGB8 [H, W, 3]. */
void sdpo_image_to_rgb8(int H, int W, const float *chw, uint8_t *hwc);
/* Interleaved RGB8 [H, W, 3] → [3, H, W] in [0, 1] (value / 255). */
void sdpo_image_from_rgb8(int H, int W, const uint8_t *hwc, float *chw);

/* Writes RGB8 [H, W, 3] as an 8-bit RGB PNG (temp file + rename). */
sdpo_status sdpo_png_write(const char *path, int H, int W, const uint8_t *hwc);
/* Reads an 8-bit PNG (gray, gray+alpha, RGB or RGBA; alpha dropped, 16-bit and palette
 * converted) into a malloc'd RGB8 [H, W, 3] buffer the caller frees. */
sdpo_status sdpo_png_read(const char *path, int *H, int *W, uint8_t **hwc);

#endif

/* rewards/jpeg.h — JPEG compressibility and incompressibility rewards (DDPO rewards.py).
 *
 * size_kB = len(JPEG(image, quality = 95)) / 1000 (bytes / 1000, not 1024), with Pillow's
 * defaults as DDPO encodes: baseline, no Huffman optimisation, 4:2:0 chroma subsampling, islow
 * DCT, a JFIF header. jpeg-incompressibility = +size_kB, jpeg-compressibility = −size_kB.
 * libjpeg-turbo with jpeg_set_defaults + jpeg_set_quality(95) writes the same bytes as Pillow
 * (checked against Pillow on fixtures: tests/test_rewards_jpeg.c). */
#ifndef SDPO_REWARDS_JPEG_H
#define SDPO_REWARDS_JPEG_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Byte count of the JPEG encoding of RGB8 [H, W, 3] at the given quality. */
sdpo_status sdpo_jpeg_size(int H, int W, const uint8_t *hwc, int quality, size_t *bytes);

#endif

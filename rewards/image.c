/* rewards/image.c — float↔RGB8 conversion and PNG I/O with libpng (image.h). */
#include "rewards/image.h"

#include <math.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic_file.h"

void sdpo_image_to_rgb8(int H, int W, const float *chw, uint8_t *hwc) {
    size_t plane = (size_t)H * (size_t)W;
    for (size_t p = 0; p < plane; p++)
        for (int c = 0; c < 3; c++) {
            float v = rintf(chw[(size_t)c * plane + p] * 255.0f); /* torch.round: half to even */
            hwc[3 * p + (size_t)c] = (uint8_t)(v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v);
        }
}

void sdpo_image_from_rgb8(int H, int W, const uint8_t *hwc, float *chw) {
    size_t plane = (size_t)H * (size_t)W;
    for (size_t p = 0; p < plane; p++)
        for (int c = 0; c < 3; c++) chw[(size_t)c * plane + p] = hwc[3 * p + (size_t)c] / 255.0f;
}

sdpo_status sdpo_png_write(const char *path, int H, int W, const uint8_t *hwc) {
    if (H < 1 || W < 1) return sdpo_fail(SDPO_ERR_ARG, "%s: image size %dx%d", path, W, H);
    sdpo_atomic_file f;
    sdpo_status rc = sdpo_atomic_open(&f, path);
    if (rc != SDPO_OK) return rc;
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)W;
    img.height = (png_uint_32)H;
    img.format = PNG_FORMAT_RGB;
    if (!png_image_write_to_stdio(&img, f.fp, 0, hwc, 0, NULL)) {
        sdpo_atomic_abort(&f);
        return sdpo_fail(SDPO_ERR_IO, "%s: PNG write failed: %s", path, img.message);
    }
    return sdpo_atomic_commit(&f);
}

sdpo_status sdpo_png_read(const char *path, int *H, int *W, uint8_t **hwc) {
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, path))
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: cannot read PNG: %s", path, img.message);
    if (img.width > 16384 || img.height > 16384) {
        png_image_free(&img);
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: image %ux%u is larger than 16384x16384", path,
                         img.width, img.height);
    }
    img.format = PNG_FORMAT_RGB;
    uint8_t *buf = malloc(PNG_IMAGE_SIZE(img));
    if (!buf) {
        png_image_free(&img);
        return sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory", path);
    }
    /* A transparent pixel is composited on black (libpng's default for RGB output). */
    if (!png_image_finish_read(&img, NULL, buf, 0, NULL)) {
        free(buf);
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: corrupt PNG: %s", path, img.message);
    }
    *H = (int)img.height;
    *W = (int)img.width;
    *hwc = buf;
    return SDPO_OK;
}

/* rewards/preprocess.c — PIL-exact bicubic resize and the CLIP/HPSv2 preprocessing
 * (preprocess.h). The resize follows Pillow's libImaging/Resample.c (precompute_coeffs,
 * normalize_coeffs_8bpc, ImagingResampleHorizontal_8bpc / Vertical_8bpc) operation for
 * operation, so it reproduces PIL's bytes rather than approximating them. */
#include "rewards/preprocess.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const float sdpo_clip_mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
const float sdpo_clip_std[3] = {0.26862954f, 0.26130258f, 0.27577711f};

/* Pillow's PRECISION_BITS for 8-bit images: 32 − 8 − 2. */
#define RESAMPLE_BITS 22

/* Keys' cubic convolution kernel with a = −0.5 (Pillow's bicubic_filter), support 2. */
static double bicubic(double x) {
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
    return 0.0;
}

/* One axis: for each of n_out outputs, the first input index (first[i]), the tap count
 * (taps[i] ≤ ksize) and ksize fixed-point weights (w[i·ksize …]). */
typedef struct {
    int ksize;
    int *first, *taps;
    int32_t *w;
} axis_coeffs;

static void axis_free(axis_coeffs *a) {
    free(a->first);
    free(a->taps);
    free(a->w);
}

static sdpo_status axis_init(axis_coeffs *a, int n_in, int n_out) {
    double scale = (double)n_in / n_out, filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 2.0 * filterscale;
    a->ksize = (int)ceil(support) * 2 + 1;
    a->first = malloc((size_t)n_out * sizeof *a->first);
    a->taps = malloc((size_t)n_out * sizeof *a->taps);
    a->w = malloc((size_t)n_out * (size_t)a->ksize * sizeof *a->w);
    double *k = malloc((size_t)a->ksize * sizeof *k);
    if (!a->first || !a->taps || !a->w || !k) {
        free(k);
        axis_free(a);
        return sdpo_fail(SDPO_ERR_NOMEM, "resize: out of memory for %d-tap weights", a->ksize);
    }
    for (int i = 0; i < n_out; i++) {
        double center = (i + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int lo = (int)(center - support + 0.5), hi = (int)(center + support + 0.5);
        if (lo < 0) lo = 0;
        if (hi > n_in) hi = n_in;
        int n = hi - lo;
        for (int x = 0; x < n; x++) {
            k[x] = bicubic((x + lo - center + 0.5) * ss);
            ww += k[x];
        }
        int32_t *w = a->w + (size_t)i * (size_t)a->ksize;
        for (int x = 0; x < a->ksize; x++) {
            double v = x < n ? (ww != 0.0 ? k[x] / ww : k[x]) : 0.0;
            v *= (double)(1 << RESAMPLE_BITS);
            w[x] = (int32_t)(v < 0 ? v - 0.5 : v + 0.5);
        }
        a->first[i] = lo;
        a->taps[i] = n;
    }
    free(k);
    return SDPO_OK;
}

/* Pillow's clip8: (sum >> 22) clamped to [0, 255] (a negative sum is 0). */
static uint8_t clip8(int32_t s) {
    if (s < 0) return 0;
    s >>= RESAMPLE_BITS;
    return (uint8_t)(s > 255 ? 255 : s);
}

sdpo_status sdpo_resize_bicubic_rgb8(int H, int W, const uint8_t *in, int H2, int W2,
                                     uint8_t *out) {
    if (H < 1 || W < 1 || H2 < 1 || W2 < 1)
        return sdpo_fail(SDPO_ERR_ARG, "resize: bad sizes %dx%d -> %dx%d", W, H, W2, H2);
    if (H == H2 && W == W2) {
        memcpy(out, in, (size_t)H * (size_t)W * 3);
        return SDPO_OK;
    }
    axis_coeffs ax, ay;
    sdpo_status rc = axis_init(&ax, W, W2);
    if (rc != SDPO_OK) return rc;
    rc = axis_init(&ay, H, H2);
    if (rc != SDPO_OK) {
        axis_free(&ax);
        return rc;
    }
    /* Horizontal pass into an 8-bit [H, W2, 3] intermediate (Pillow rounds and clips between
     * the passes; it also restricts this pass to the rows the vertical pass reads, which
     * changes nothing in the result). A pass whose size does not change is skipped. */
    uint8_t *tmp = NULL;
    const uint8_t *src = in;
    if (W2 != W) {
        tmp = malloc((size_t)H * (size_t)W2 * 3);
        if (!tmp) {
            axis_free(&ax);
            axis_free(&ay);
            return sdpo_fail(SDPO_ERR_NOMEM, "resize: out of memory");
        }
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W2; x++) {
                const int32_t *w = ax.w + (size_t)x * (size_t)ax.ksize;
                const uint8_t *row = in + ((size_t)y * (size_t)W + (size_t)ax.first[x]) * 3;
                for (int c = 0; c < 3; c++) {
                    int32_t s = 1 << (RESAMPLE_BITS - 1);
                    for (int t = 0; t < ax.taps[x]; t++) s += row[3 * t + c] * w[t];
                    tmp[((size_t)y * (size_t)W2 + (size_t)x) * 3 + (size_t)c] = clip8(s);
                }
            }
        src = tmp;
    }
    if (H2 != H) {
        for (int y = 0; y < H2; y++) {
            const int32_t *w = ay.w + (size_t)y * (size_t)ay.ksize;
            for (int x = 0; x < W2; x++)
                for (int c = 0; c < 3; c++) {
                    int32_t s = 1 << (RESAMPLE_BITS - 1);
                    for (int t = 0; t < ay.taps[y]; t++)
                        s += src[((size_t)(ay.first[y] + t) * (size_t)W2 + (size_t)x) * 3 +
                                 (size_t)c] * w[t];
                    out[((size_t)y * (size_t)W2 + (size_t)x) * 3 + (size_t)c] = clip8(s);
                }
        }
    } else {
        memcpy(out, src, (size_t)H2 * (size_t)W2 * 3);
    }
    free(tmp);
    axis_free(&ax);
    axis_free(&ay);
    return SDPO_OK;
}

/* out [3, size, size] = normalised pixels of the size×size window of img [h, w, 3] at (top,
 * left); window pixels outside img are the pad value 0. */
static void normalise_window(int h, int w, const uint8_t *img, int top, int left, int size,
                             float *out) {
    size_t plane = (size_t)size * (size_t)size;
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
            int sy = y + top, sx = x + left;
            int inside = sy >= 0 && sy < h && sx >= 0 && sx < w;
            for (int c = 0; c < 3; c++) {
                uint8_t v = inside ? img[((size_t)sy * (size_t)w + (size_t)sx) * 3 + (size_t)c] : 0;
                out[(size_t)c * plane + (size_t)y * (size_t)size + (size_t)x] =
                    ((float)v / 255.0f - sdpo_clip_mean[c]) / sdpo_clip_std[c];
            }
        }
}

/* Resizes in [H, W] to [h, w] (a malloc'd buffer in *buf) and normalises the window. */
static sdpo_status resize_and_window(int H, int W, const uint8_t *in, int h, int w, int top,
                                     int left, int size, float *out) {
    if (h < 1 || w < 1)
        return sdpo_fail(SDPO_ERR_ARG, "preprocess: image %dx%d is too thin to resize", W, H);
    uint8_t *buf = malloc((size_t)h * (size_t)w * 3);
    if (!buf) return sdpo_fail(SDPO_ERR_NOMEM, "preprocess: out of memory");
    sdpo_status rc = sdpo_resize_bicubic_rgb8(H, W, in, h, w, buf);
    if (rc == SDPO_OK) normalise_window(h, w, buf, top, left, size, out);
    free(buf);
    return rc;
}

sdpo_status sdpo_preprocess_clip(int H, int W, const uint8_t *in, int size, float *out) {
    if (H < 1 || W < 1 || size < 1)
        return sdpo_fail(SDPO_ERR_ARG, "preprocess: bad image %dx%d or size %d", W, H, size);
    int h, w;
    if (H <= W) {
        h = size;
        w = (int)((double)size * W / H);
    } else {
        w = size;
        h = (int)((double)size * H / W);
    }
    return resize_and_window(H, W, in, h, w, (h - size) / 2, (w - size) / 2, size, out);
}

sdpo_status sdpo_preprocess_resize_max_pad(int H, int W, const uint8_t *in, int size, float *out) {
    if (H < 1 || W < 1 || size < 1)
        return sdpo_fail(SDPO_ERR_ARG, "preprocess: bad image %dx%d or size %d", W, H, size);
    double scale = (double)size / (H > W ? H : W);
    /* ResizeMaxSize skips resize and pad when scale == 1; padding a non-square image anyway is
     * what the model needs (open_clip would reject the unpadded tensor). */
    int h = (int)rint(H * scale), w = (int)rint(W * scale);
    int pad_h = size - h, pad_w = size - w;
    return resize_and_window(H, W, in, h, w, -(pad_h / 2), -(pad_w / 2), size, out);
}

/* rewards/preprocess.h — the reward models' image preprocessing, bit-exact with PIL.
 *
 * Every reward in SDPO's official code turns the [0, 1] float image into uint8 with
 * (x·255).round().clamp(0, 255) (rewards/image.h) and hands it to
 * CLIPProcessor("openai/clip-vit-large-patch14") (transformers 4.30 CLIPImageProcessor, the
 * PIL-based "slow" processor): resize the shorter side to 224 with PIL BICUBIC, centre-crop
 * 224, ×1/255, normalise with the CLIP mean/std. ImageReward's own transform (torchvision
 * Resize(224, BICUBIC) + CenterCrop on a PIL image) and PickScore's processor do the same PIL
 * resize. HPSv2's img_score.py instead uses its vendored open_clip ResizeMaxSize(224): scale the
 * LONGER side to 224 (new size round(dim·scale), Python round), pad with 0 (black) centred to
 * 224×224 (left/top get pad//2), ToTensor, normalise. For the 512×512 SD-Turbo images every path
 * is a plain 512→224 resize.
 *
 * The resize is Pillow's ImagingResample (libImaging/Resample.c) on 8-bit RGB: a separable
 * two-pass filter, horizontal first into an 8-bit intermediate, then vertical. Keys' cubic with
 * a = −0.5 and support 2, widened by the scale factor when downscaling (antialiasing);
 * per-output-pixel weights are computed in double, normalised to sum 1, then converted to
 * 22-bit fixed point (round half away from zero); each output is
 * clip8((2^21 + Σ w_fixed·pixel) >> 22). Doing the same integer arithmetic gives PIL's bytes. */
#ifndef SDPO_REWARDS_PREPROCESS_H
#define SDPO_REWARDS_PREPROCESS_H

#include <stdint.h>

#include "core/error.h"

/* OpenAI CLIP's normalisation (used by all four rewards). */
extern const float sdpo_clip_mean[3];
extern const float sdpo_clip_std[3];

/* PIL Image.resize((W2, H2), Image.BICUBIC) of an RGB8 image: in [H, W, 3] → out [H2, W2, 3].
 * SDPO_ERR_ARG for sizes < 1, SDPO_ERR_NOMEM. */
sdpo_status sdpo_resize_bicubic_rgb8(int H, int W, const uint8_t *in, int H2, int W2,
                                     uint8_t *out);

/* CLIPImageProcessor: shorter side → `size` (the longer side becomes int(size·long/short),
 * transformers' get_resize_output_image_size), centre crop size×size with top = (h − size)//2
 * and left = (w − size)//2 (transformers' center_crop), then (v/255 − mean)/std.
 * in RGB8 [H, W, 3]; out float [3, size, size]. */
sdpo_status sdpo_preprocess_clip(int H, int W, const uint8_t *in, int size, float *out);

/* HPSv2's ResizeMaxSize(size, fill 0) + ToTensor + Normalize: longer side → size
 * (each side round(dim·size/max(H, W)), half to even), zero padding centred, then
 * (v/255 − mean)/std. in RGB8 [H, W, 3]; out float [3, size, size]. */
sdpo_status sdpo_preprocess_resize_max_pad(int H, int W, const uint8_t *in, int size, float *out);

#endif

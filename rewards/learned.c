/* rewards/learned.c — helpers shared by the learned rewards (learned.h). */
#include "rewards/learned.h"

#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "nn/arena.h"
#include "rewards/image.h"
#include "rewards/preprocess.h"

nn_ctx sdpo_reward_ctx(void) {
    return (nn_ctx){.backend = NN_BACKEND_CPU, .n_threads = omp_get_max_threads(), .stream = NULL};
}

sdpo_status sdpo_reward_pixels(int B, int H, int W, const float *images, int size,
                               sdpo_pixels_mode mode, float **pixels) {
    if (B < 1 || H < 1 || W < 1)
        return sdpo_fail(SDPO_ERR_ARG, "reward: bad image batch %d x 3 x %d x %d", B, H, W);
    const size_t plane = (size_t)H * (size_t)W, per = (size_t)3 * size * size;
    uint8_t *rgb = malloc(plane * 3);
    float *px = malloc((size_t)B * per * sizeof *px);
    if (!rgb || !px) {
        free(rgb);
        free(px);
        return sdpo_fail(SDPO_ERR_NOMEM, "reward: out of memory for %d images", B);
    }
    sdpo_status rc = SDPO_OK;
    for (int b = 0; b < B && rc == SDPO_OK; b++) {
        sdpo_image_to_rgb8(H, W, images + (size_t)b * 3 * plane, rgb);
        rc = mode == SDPO_PIXELS_CLIP ? sdpo_preprocess_clip(H, W, rgb, size, px + b * per)
                                      : sdpo_preprocess_resize_max_pad(H, W, rgb, size, px + b * per);
    }
    free(rgb);
    if (rc != SDPO_OK) {
        free(px);
        return rc;
    }
    *pixels = px;
    return SDPO_OK;
}

sdpo_status sdpo_reward_path(char *buf, size_t n, const char *dir, const char *name) {
    if ((size_t)snprintf(buf, n, "%s/%s", dir, name) >= n)
        return sdpo_fail(SDPO_ERR_ARG, "%s/%s: path too long", dir, name);
    return SDPO_OK;
}

float sdpo_reward_cosine(const float *a, const float *t, int n) {
    double aa = 0, tt = 0, at = 0;
    for (int i = 0; i < n; i++) {
        aa += (double)a[i] * a[i];
        tt += (double)t[i] * t[i];
        at += (double)a[i] * t[i];
    }
    return (float)(at / (sqrt(aa) * sqrt(tt)));
}

sdpo_status sdpo_reward_text_embeds(nn_ctx *ctx, const sdpo_reward_text *t, int B,
                                    const char *const *prompts, float *embeds) {
    const int Lmax = t->tok.max_length;
    int64_t *ids = malloc((size_t)B * Lmax * sizeof *ids);
    if (!ids) return sdpo_fail(SDPO_ERR_NOMEM, "reward: out of memory for token ids");
    int L = 1;
    sdpo_status rc = SDPO_OK;
    for (int b = 0; b < B && rc == SDPO_OK; b++) {
        int n;
        if (!prompts || !prompts[b]) {
            rc = sdpo_fail(SDPO_ERR_ARG, "reward: image %d has no prompt", b);
            break;
        }
        rc = sdpo_clip_tokenize(&t->tok, prompts[b], ids + (size_t)b * Lmax, &n, NULL);
        if (rc == SDPO_OK && n > L) L = n;
    }
    if (rc == SDPO_OK && L > t->text.cfg.max_positions)
        rc = sdpo_fail(SDPO_ERR_ARG, "reward: %d tokens exceed the text tower's %d positions", L,
                       t->text.cfg.max_positions);
    /* Keep the first L ids of each row, contiguous [B, L]. */
    for (int b = 1; b < B && rc == SDPO_OK; b++)
        for (int i = 0; i < L; i++) ids[(size_t)b * L + i] = ids[(size_t)b * Lmax + i];
    nn_arena arena = {0};
    if (rc == SDPO_OK) rc = nn_arena_init(&arena, sdpo_clip_text_arena_bytes(ctx, &t->text.cfg, B, L));
    if (rc == SDPO_OK)
        rc = sdpo_clip_text_forward(ctx, &t->text, &arena, ids, B, L, NULL, NULL, NULL, embeds);
    nn_arena_free(&arena);
    free(ids);
    return rc;
}

sdpo_status sdpo_clip_pair_new(sdpo_reward *r, const char *name, sdpo_pixels_mode pixels,
                               sdpo_clip_pair **out) {
    sdpo_clip_pair *s = calloc(1, sizeof *s);
    if (!s) return sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory", name);
    s->name = name;
    s->pixels = pixels;
    s->ctx = sdpo_reward_ctx();
    nn_params_init(&s->params);
    r->state = s;
    r->destroy = sdpo_clip_pair_destroy;
    *out = s;
    return SDPO_OK;
}

void sdpo_clip_pair_destroy(sdpo_reward *r) {
    sdpo_clip_pair *s = r->state;
    if (!s) return;
    sdpo_vit_free(&s->vit);
    sdpo_clip_text_unbind(&s->text.text);
    sdpo_clip_tokenizer_free(&s->text.tok);
    nn_params_free(&s->params);
    free(s);
    r->state = NULL;
}

sdpo_status sdpo_clip_pair_score(sdpo_reward *r, int B, int H, int W, const float *images,
                                 const char *const *prompts, float *scores) {
    sdpo_clip_pair *s = r->state;
    const int E = s->vit.cfg.embed_dim;
    float *pixels = NULL, *img = malloc((size_t)2 * B * E * sizeof *img);
    if (!img) return sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory", s->name);
    float *txt = img + (size_t)B * E;
    sdpo_status rc = sdpo_reward_pixels(B, H, W, images, s->vit.cfg.image_size, s->pixels, &pixels);
    if (rc == SDPO_OK) rc = sdpo_vit_forward(&s->ctx, &s->vit, B, pixels, img);
    if (rc == SDPO_OK) rc = sdpo_reward_text_embeds(&s->ctx, &s->text, B, prompts, txt);
    for (int b = 0; b < B && rc == SDPO_OK; b++)
        scores[b] = s->factor * sdpo_reward_cosine(img + (size_t)b * E, txt + (size_t)b * E, E);
    free(pixels);
    free(img);
    return rc;
}

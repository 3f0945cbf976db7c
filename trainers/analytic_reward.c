/* trainers/analytic_reward.c — the toy-mode and brightness rewards (analytic_reward.h). */
#include "trainers/analytic_reward.h"

#include <stdlib.h>

#include "trainers/policy_toy.h"

static sdpo_status toy_mode_score(sdpo_reward *r, int B, int H, int W, const float *images,
                                  const char *const *prompts, float *scores) {
    (void)prompts;
    const float *target = r->state;
    const size_t n = (size_t)3 * H * W;
    for (int b = 0; b < B; b++) {
        const float *img = images + (size_t)b * n;
        double acc = 0.0;
        for (size_t k = 0; k < n; k++) acc += ((double)img[k] - target[k]) * ((double)img[k] - target[k]);
        scores[b] = (float)(-acc / (double)n);
    }
    return SDPO_OK;
}

static void toy_mode_destroy(sdpo_reward *r) { free(r->state); }

sdpo_status sdpo_toy_reward_create(sdpo_policy *p, int target_mode, sdpo_reward **out) {
    sdpo_reward *r = calloc(1, sizeof *r);
    float *target = malloc(p->D * sizeof(float));
    if (!r || !target) {
        free(r);
        free(target);
        return sdpo_fail(SDPO_ERR_NOMEM, "toy-mode reward: out of memory");
    }
    sdpo_status rc = p->decode(p, 1, sdpo_policy_toy_mode_mean(p, target_mode), target);
    if (rc != SDPO_OK) {
        free(r);
        free(target);
        return rc;
    }
    r->name = "toy-mode";
    r->scale = "minus the mean squared pixel difference to the image of the target mode, in [-1, 0]";
    r->score = toy_mode_score;
    r->destroy = toy_mode_destroy;
    r->state = target;
    *out = r;
    return SDPO_OK;
}

static sdpo_status brightness_score(sdpo_reward *r, int B, int H, int W, const float *images,
                                    const char *const *prompts, float *scores) {
    (void)r, (void)prompts;
    const size_t n = (size_t)3 * H * W;
    for (int b = 0; b < B; b++) {
        double acc = 0.0;
        for (size_t k = 0; k < n; k++) acc += images[(size_t)b * n + k];
        scores[b] = (float)(acc / (double)n);
    }
    return SDPO_OK;
}

sdpo_status sdpo_brightness_reward_create(sdpo_reward **out) {
    sdpo_reward *r = calloc(1, sizeof *r);
    if (!r) return sdpo_fail(SDPO_ERR_NOMEM, "brightness reward: out of memory");
    r->name = "brightness";
    r->scale = "the mean pixel value in [0, 1]";
    r->score = brightness_score;
    *out = r;
    return SDPO_OK;
}

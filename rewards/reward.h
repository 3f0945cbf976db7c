/* rewards/reward.h — the one interface every reward implements: a batch of images and their
 * prompts in, one score per image out. Trainers, the evaluator and `sdpo score` all go through
 * it, so a score means the same thing everywhere.
 *
 * Images are float [B, 3, H, W] RGB in [0, 1] (the decoded x̂ after (x/2 + 0.5).clamp(0, 1)).
 * Scores are the reward's published scale, stated by `scale` (shown in --help and written to CSV
 * metadata). A reward is created once per run (learned rewards load their weights then). */
#ifndef SDPO_REWARDS_REWARD_H
#define SDPO_REWARDS_REWARD_H

#include "core/error.h"

typedef struct sdpo_reward sdpo_reward;

struct sdpo_reward {
    const char *name;   /* as on the command line, e.g. "jpeg-compressibility" */
    const char *scale;  /* one sentence: the score's unit and sign */
    sdpo_status (*score)(sdpo_reward *r, int B, int H, int W, const float *images,
                         const char *const *prompts, float *scores);
    void (*destroy)(sdpo_reward *r);
    void *state;
};

/* Creates the reward called `name`; model_dir is used by learned rewards (NULL otherwise).
 * Unknown names fail with SDPO_ERR_ARG listing the known ones. A learned reward without a
 * model_dir uses its default folder — micro-clip data/micro/clip, micro-quality
 * data/micro/quality (relative to the working directory: the repository root) — and the four
 * full-scale ones, which have none, fail with SDPO_ERR_ARG naming what the folder must hold. */
sdpo_status sdpo_reward_create(const char *name, const char *model_dir, sdpo_reward **out);

typedef struct {
    /* 1: the scale SDPO's official code logged instead of the published one: PickScore and
     * HPSv2 as raw cosines, ImageReward without its (r − mean)/std normalisation. The aesthetic
     * and JPEG rewards have one scale only. */
    int official_scale;
} sdpo_reward_options;

/* sdpo_reward_create with options (NULL = defaults, the published scales). */
sdpo_status sdpo_reward_create_with(const char *name, const char *model_dir,
                                    const sdpo_reward_options *opt, sdpo_reward **out);
void sdpo_reward_free(sdpo_reward *r);

/* Space-separated names of every reward this build knows. */
const char *sdpo_reward_names(void);

#endif

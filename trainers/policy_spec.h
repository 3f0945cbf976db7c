/* trainers/policy_spec.h — the model keys of a training config (model.*, toy.*, run.seed) and
 * the one constructor of the policy they describe, shared by the trainer (trainers/trainer.c)
 * and the evaluator (eval/evaluate.h), so a checkpoint is always loaded into the policy it was
 * trained in: same model folder or toy world, same adapter rank/alpha, same LoRA init seed. */
#ifndef SDPO_TRAINERS_POLICY_SPEC_H
#define SDPO_TRAINERS_POLICY_SPEC_H

#include <stdint.h>

#include "core/error.h"
#include "trainers/policy.h"
#include "trainers/train_config.h"

typedef struct {
    sdpo_model_type type;
    char dir[SDPO_CFG_PATH_MAX];        /* unet: the diffusers folder */
    int lora_rank;                      /* unet: 0 = no adapter */
    double lora_alpha;
    uint64_t param_seed;                /* the run's seed: the LoRA down-projection init */
    int toy_height, toy_width, toy_modes, toy_prediction, toy_seed, toy_target_mode;
    double toy_mode_scale, toy_mode_var, toy_prompt_scale;
} sdpo_policy_spec;

/* The spec of a resolved training config (toy fields zero for a unet model). */
void sdpo_policy_spec_from_config(const sdpo_train_config *c, sdpo_policy_spec *s);

/* How big the policy's buffers are and what it conditions on. */
typedef struct {
    int n_prompts;
    const char *const *prompts;         /* encoded once: cond[s] = index */
    int max_batch;                      /* largest EVAL/REFERENCE forward and decode */
    int max_train;                      /* largest TRAIN forward (unet) */
    int threads;                        /* unet */
    int recompute;                      /* unet: see sdpo_unet_policy_config */
} sdpo_policy_sizes;

/* Creates the unet (trainers/policy_unet.h) or toy (trainers/policy_toy.h) policy of `s`. */
sdpo_status sdpo_policy_spec_create(const sdpo_policy_spec *s, const sdpo_policy_sizes *z,
                                    sdpo_policy **out);

#endif

/* trainers/policy_spec.c — see policy_spec.h. */
#include "trainers/policy_spec.h"

#include <stdio.h>
#include <string.h>

#include "trainers/policy_toy.h"
#include "trainers/policy_unet.h"

void sdpo_policy_spec_from_config(const sdpo_train_config *c, sdpo_policy_spec *s) {
    memset(s, 0, sizeof *s);
    s->type = (sdpo_model_type)c->model_type;
    snprintf(s->dir, sizeof s->dir, "%s", c->model_dir);
    s->lora_rank = c->lora_rank;
    s->lora_alpha = c->lora_alpha;
    s->param_seed = (uint64_t)c->seed;
    if (s->type != SDPO_MODEL_TOY) return;
    s->toy_height = c->toy_height;
    s->toy_width = c->toy_width;
    s->toy_modes = c->toy_modes;
    s->toy_prediction = c->toy_prediction;
    s->toy_seed = c->toy_seed;
    s->toy_target_mode = c->toy_target_mode;
    s->toy_mode_scale = c->toy_mode_scale;
    s->toy_mode_var = c->toy_mode_var;
    s->toy_prompt_scale = c->toy_prompt_scale;
}

sdpo_status sdpo_policy_spec_create(const sdpo_policy_spec *s, const sdpo_policy_sizes *z,
                                    sdpo_policy **out) {
    if (s->type == SDPO_MODEL_UNET) {
        const sdpo_unet_policy_config uc = {s->dir, s->lora_rank, s->lora_alpha, s->param_seed,
                                            z->n_prompts, z->prompts, z->max_batch, z->max_train,
                                            z->threads, z->recompute};
        return sdpo_policy_unet_create(&uc, out);
    }
    const sdpo_toy_config tc = {s->toy_height, s->toy_width, (sdpo_prediction)s->toy_prediction,
                                s->toy_modes, s->toy_mode_scale, s->toy_mode_var,
                                s->toy_prompt_scale, (uint64_t)s->toy_seed, s->param_seed,
                                s->lora_rank, s->lora_alpha, z->n_prompts, z->max_batch};
    return sdpo_policy_toy_create(&tc, out);
}

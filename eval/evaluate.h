/* eval/evaluate.h — the evaluator behind `sdpo eval` and `sdpo record-trajectories` (paper Sec.
 * 4.2: Fig. 4, 8–11 step generalisation per checkpoint, Table 1 unseen prompts; App. C Table 3).
 *
 * A *target* is one model to sample: a policy (toy or UNet, built as the trainer builds it from
 * the model keys of a training config) plus the weights to load into it (a training checkpoint,
 * a diffusers LoRA file, or none = the base model), labelled (method, epoch) in the outputs.
 * Targets come from training run dirs (the method is the run's train.method; the epoch-0
 * checkpoint is the base model and appears once, as method "base", epoch 0, however many runs
 * are given) or from a model given directly.
 *
 * sdpo_eval_run samples every target at every step count with the eval sampler
 * (eval/sample_eval.h: the same x_T and per-step noise for the same (seed, prompt, image)
 * everywhere), scores every image with every reward and writes into out_dir:
 *   images.csv   '#' metadata lines (sampler, seed, η, prompts, rewards and their scales, every
 *                target's source, git commit, build), then
 *                method,epoch,prompt_index,prompt,image_index,steps,reward,score — one row per
 *                image × reward, in target, steps, prompt, image, reward order;
 *   summary.csv  per (method, epoch, reward, steps): mean, std, sem, n (eval/eval_summary.h);
 *   images/<method>/epoch-<NNNNNN>/steps-<S>/p<prompt>_i<image>.png for the prompts asked for
 *                (what eval/figures.h sdpo_grid_from_eval lays out).
 * Every file is written through a temporary file and renamed, the PNGs through a temporary
 * directory renamed to images/ after the last one: a failed evaluation leaves no images.csv,
 * summary.csv or images/. out_dir must not hold an evaluation already (images.csv, or images/
 * when images are saved).
 *
 * Rewards: the registry's (rewards/reward.h; learned ones need their model folder) and the
 * analytic ones the trainers use (trainers/analytic_reward.h): "brightness" for any policy and
 * "toy-mode" for a toy policy, targeting the mode of the model's toy.target_mode. */
#ifndef SDPO_EVAL_EVALUATE_H
#define SDPO_EVAL_EVALUATE_H

#include <stdint.h>

#include "core/error.h"
#include "eval/sample_eval.h"
#include "trainers/policy_spec.h"

#define SDPO_EVAL_NAME_MAX 64
#define SDPO_EVAL_MAX_STEP_COUNTS 32

typedef enum {
    SDPO_EVAL_WEIGHTS_NONE = 0,         /* the policy as created: the base model */
    SDPO_EVAL_WEIGHTS_CHECKPOINT,       /* a training checkpoint dir (weights.safetensors) */
    SDPO_EVAL_WEIGHTS_LORA              /* a diffusers/peft LoRA file (unet only) */
} sdpo_eval_weights;

typedef struct {
    char method[SDPO_EVAL_NAME_MAX];
    int epoch;
    sdpo_policy_spec model;          /* the policy (trainers/policy_spec.h) */
    sdpo_eval_weights weights;
    char path[SDPO_CFG_PATH_MAX];       /* the checkpoint dir or LoRA file */
    char source[SDPO_CFG_PATH_MAX + 64];/* where it came from, for the metadata */
} sdpo_eval_target;

typedef struct {
    sdpo_eval_target *items;
    int n, cap;
} sdpo_eval_targets;

void sdpo_eval_targets_free(sdpo_eval_targets *t);

/* Adds the targets of training run `run_dir` (its config.json and checkpoints/): the base model
 * (its epoch-0 checkpoint, or the policy as created when that checkpoint was deleted — the same
 * weights: the adapter starts at zero) unless a "base" target is there already, then the
 * checkpoints selected: n_select = 0 the newest, SDPO_EVAL_ALL_CHECKPOINTS every one in epoch
 * order, n_select > 0 the epochs select[0..n_select) in that order (epoch 0 is the base, added
 * once). `name` overrides the method label (NULL: train.method). Fails naming the dir when it
 * holds no run or no checkpoint, when a listed epoch has no checkpoint (naming those it has),
 * when its base model differs from the one already added (model type, folder or toy world), or
 * when its label is already used by another run. */
#define SDPO_EVAL_ALL_CHECKPOINTS (-1)
sdpo_status sdpo_eval_targets_add_run(sdpo_eval_targets *t, const char *run_dir, const char *name,
                                      const int *select, int n_select);

/* Adds one model given directly: `model` is a diffusers folder (the unet policy) or a training
 * config .json (its model keys; e.g. configs/toy/sdpo.json for the toy policy). `lora` (NULL:
 * none) is a training checkpoint dir (its config.json gives the adapter's rank and alpha, its
 * state.json the epoch) or a LoRA .safetensors file (unet; rank and alpha from the file).
 * `method` labels the rows (NULL: "base" without lora; required with it); epoch < 0 takes the
 * checkpoint's epoch (0 for a file or no lora). */
sdpo_status sdpo_eval_targets_add_model(sdpo_eval_targets *t, const char *model, const char *lora,
                                        const char *method, int epoch);

/* Progress: fraction of the work done (model passes weighted by steps) and a short label. */
typedef void (*sdpo_eval_progress_fn)(double fraction, const char *label, void *user);

typedef struct {
    const char *out_dir;
    const char *prompts_file;           /* one prompt a line (trainers/prompts.h) */
    int images_per_prompt;
    int n_steps;
    int steps[SDPO_EVAL_MAX_STEP_COUNTS];
    sdpo_eval_sampler_config sampler;
    int threads;
    int n_rewards;
    const char *const *rewards;         /* [n_rewards] names */
    const char *const *reward_dirs;     /* [n_rewards] model folders, NULL entries: none */
    int official_scale;                 /* rewards/reward.h sdpo_reward_options */
    int save_images;                    /* PNGs of prompts < save_images; -1: all; 0: none */
    sdpo_eval_progress_fn progress;     /* may be NULL */
    void *progress_user;
} sdpo_eval_config;

sdpo_status sdpo_eval_run(const sdpo_eval_config *c, const sdpo_eval_targets *targets);

/* 1 if `name` is a reward the evaluator can create (registry or analytic). */
int sdpo_eval_reward_known(const char *name);
/* Space-separated names of every such reward. */
const char *sdpo_eval_reward_names(void);

/* `sdpo record-trajectories`: N trajectories of T steps of one target, trajectory j being
 * prompt j mod P, image j div P of the prompt list (P prompts), sampled as sdpo_eval_run does;
 * the decoded x̂ of EVERY step is scored (paper App. C: Table 3 queries the reward model at every
 * step), and the final image (decode of the last sample) too. Writes out_path (safetensors),
 * what `sdpo table3` and `sdpo dense-reward` read:
 *   xhat F32 [N, T, D], reward F32 [N, T] (step 0 = the first, noisiest step), final_reward
 *   F32 [N], logp F32 [N, T] (only when η > 0), timesteps I64 [T], prompt_index I64 [N],
 *   image_index I64 [N]; metadata: reward, seed, eta, steps, prompts, model, git commit. */
typedef struct {
    const char *out_path;
    const char *prompts_file;
    int T, N;
    sdpo_eval_sampler_config sampler;
    int threads;
    const char *reward, *reward_dir;
    int official_scale;
    sdpo_eval_progress_fn progress;
    void *progress_user;
} sdpo_record_config;

sdpo_status sdpo_eval_record_trajectories(const sdpo_record_config *c,
                                          const sdpo_eval_target *target);

#endif

/* micro/pretrain.h — full-parameter pretraining of the micro text-to-image model on the micro
 * world (issue #8, `sdpo pretrain-micro`) and its export as a diffusers folder.
 *
 * The model is a diffusers folder without a vae (micro/model.h, trainers/policy_unet.h):
 * UNet2DConditionModel in RGB pixel space [3, 32, 32], a frozen random CLIPTextModel, a pruned
 * CLIP tokenizer, a DDIM scheduler config. Training is the standard diffusion objective of
 * diffusers' train_text_to_image.py, minus the VAE:
 *   x0, caption = scene `k` of the world stream `seed` (sdpo_world_sample, the default mix or the
 *                 run's `mix`), for the images k = step·batch + i seen so far (so a run never
 *                 repeats a scene; a run started from trained weights uses a new seed to see
 *                 scenes they have not)
 *   t           ~ uniform{0, …, num_train_timesteps − 1}, ε ~ N(0, I), both drawn from the
 *                 Philox stream (seed, SDPO_STREAM_INIT_NOISE) at a block range owned by image
 *                 k: blocks [k·S, k·S + D/4) hold ε (D = 3·32·32), block k·S + D/4 the timestep
 *                 (S = D/4 + 4), so they depend on k alone, never on the batch or on a resume
 *   x_t         = √ᾱ_t·x0 + √(1 − ᾱ_t)·ε
 *   target      = v = √ᾱ_t·ε − √(1 − ᾱ_t)·x0 for prediction_type "v_prediction" (the micro
 *                 model; scheduler.get_velocity), ε for "epsilon"
 *   loss        = mean over the batch and all D elements of (UNet(x_t, t, text(caption)) −
 *                 target)²  (F.mse_loss, reduction "mean")
 * then clip_grad_norm_(max_grad_norm) and AdamW (nn/optim.h) with a linear lr warm-up over the
 * first warmup_steps steps (lr·(step + 1)/warmup_steps), constant afterwards — until a sitting
 * asks for an anneal of K steps: from the step a0 it starts at, step s ∈ [a0, a0 + K) uses
 * lr·(a0 + K − s)/(K + 1) (linear to nearly 0; constant-lr diffusion weights are noisy, and
 * annealing is the cheap substitute for an EMA of them), and the run ends at a0 + K. The anneal
 * is part of the run (stored in every later checkpoint), so a resume continues it. The text
 * encoder is frozen, so the caption states are recomputed per batch without gradients.
 *
 * A run directory OUT holds
 *   model/                the diffusers folder being trained: the configs and tokenizer copied
 *                         from the source folder at the start, the frozen text encoder, and
 *                         unet/diffusion_pytorch_model.safetensors (F32) of the newest checkpoint
 *                         (so OUT/model loads through sdpo_policy_unet_create mid-run)
 *   checkpoints/epoch-NNNNNN/  trainers/checkpoint.h directories ("epoch" = optimizer step):
 *                         every parameter, the AdamW moments and step, the run settings
 *                         (config.json, hashed) and pretrain.json (training seconds so far;
 *                         anneal_start and anneal_steps once an anneal began)
 *   pre-anneal/epoch-NNNNNN/  a copy of the checkpoint an anneal started from (never rotated):
 *                         the constant-lr state to branch from (copy the run, put it back
 *                         under checkpoints/, truncate the log to its step, --resume)
 *   init_pretrain_log.csv the training log of the weights a run started from (init_weights)
 *   pretrain_log.csv      '#' metadata (seed, command, git commit, model size, FLOPs), then
 *                         step,images,loss,grad_norm,lr,wall_s — one row per optimizer step;
 *                         wall_s (training seconds over all sittings) last, so determinism
 *                         checks can mask it.
 * A run stops when images ≥ max_images, this sitting has run max_minutes, its anneal is
 * complete, or *stop is set (a signal); it then checkpoints. --resume continues from the newest checkpoint bit for bit: the
 * data, noise and timesteps of a step depend only on its index, and the checkpoint holds
 * everything else (at the same thread count: GEMM blocking makes bits depend on it). */
#ifndef SDPO_MICRO_PRETRAIN_H
#define SDPO_MICRO_PRETRAIN_H

#include <signal.h>
#include <stdint.h>

#include "core/error.h"
#include "core/schedule.h"
#include "world/world.h"

/* Scene `index` of the training stream: caption (lower-case, NUL-terminated) and image chw
 * [3, S, S] in [−1, 1], S = the UNet's sample_size. */
typedef sdpo_status (*sdpo_pretrain_data_fn)(void *user, uint64_t seed, uint64_t index,
                                             char caption[SDPO_WORLD_CAPTION_MAX], float *chw);

typedef struct {
    int step;             /* optimizer steps done */
    long long images;     /* images seen */
    double loss;          /* of the last step */
    double lr;            /* of the last step */
    double wall_s;        /* training seconds over all sittings */
    double sitting_s;     /* seconds of this sitting */
    double img_per_s;     /* this sitting's throughput */
    double fraction;      /* of this sitting's budget used: the larger of the images seen
                             since it started over those it has to see, and of its minutes */
} sdpo_pretrain_progress;

typedef struct {
    const char *model_dir;      /* configs + tokenizer to train (data/micro/model); a resumed run
                                   uses its own OUT/model instead */
    const char *out_dir;
    uint64_t seed;              /* world scenes, noise/timesteps and the init */
    int batch;
    double lr, weight_decay, max_grad_norm;
    int warmup_steps;
    long long max_images;       /* stop once this many images are seen (0: no limit) */
    double max_minutes;         /* stop after this sitting has trained this long (0: no limit) */
    int save_every;             /* checkpoint every K steps (0: only when stopping) */
    int anneal_steps;           /* > 0: anneal the lr over the K steps from this sitting's start
                                   (see above); refused when the run has an anneal already */
    int init_weights;           /* fresh runs: start from model_dir's trained weights (its
                                   unet/ and text_encoder/ safetensors) instead of the seeded
                                   init; the run records their hash (settings key
                                   "init_weights_fnv1a") and keeps model_dir's pretrain_log.csv
                                   as OUT/init_pretrain_log.csv, which export ships */
    int has_mix;                /* 1: draw scenes with `mix` (settings key "mix"); 0: the
                                   world's default mix (no key, as runs before the option) */
    sdpo_world_mix mix;
    int resume;                 /* continue from the newest checkpoint of out_dir */
    int threads;
    const char *command;        /* recorded in the log metadata */
    const sdpo_world *world;    /* the data when `data` is NULL */
    sdpo_pretrain_data_fn data; /* test hook: another data source */
    void *data_user;
    volatile sig_atomic_t *stop;   /* may be NULL; set (e.g. by a signal) to stop after a step */
    void (*progress)(const sdpo_pretrain_progress *p, void *user);   /* after every step */
    void *progress_user;
} sdpo_pretrain_config;

/* seed 0, batch 64, lr 3e-4, weight decay 0.01 (torch AdamW's), grad clip 1.0, warm-up 20
 * steps, checkpoint every 100 steps, 1 thread, no limits, model data/micro/model. */
sdpo_pretrain_config sdpo_pretrain_defaults(void);

typedef struct {
    int step;
    long long images;
    double loss;               /* of the last step (NaN when no step ran in this sitting) */
    double wall_s;             /* training seconds over all sittings */
    double img_per_s;          /* this sitting */
    int stopped;               /* 1: *stop was set */
    double flops_per_forward;  /* one sample (sdpo_micro_unet_flops) */
    long long unet_params;
} sdpo_pretrain_result;

/* x_t and the training target of one image of D elements at timestep t, as in the objective
 * above: x_t = √ᾱ_t·x0 + √(1 − ᾱ_t)·ε (diffusers add_noise), target = v = √ᾱ_t·ε − √(1 − ᾱ_t)·x0
 * (get_velocity) for v_prediction, ε for epsilon; ᾱ_t is the schedule's float32 value, the
 * arithmetic double, rounded to float once. */
void sdpo_pretrain_target(const sdpo_schedule *s, int t, size_t D, const float *x0,
                          const float *eps, float *x_t, float *target);

/* The loss over n elements, mean((out − target)²) accumulated in double, and its gradient
 * dout = 2·(out − target)/n (float). */
double sdpo_pretrain_mse(size_t n, const float *out, const float *target, float *dout);

/* Trains until a limit is reached (see above). A fresh run refuses an out_dir that already has
 * a checkpoint (SDPO_ERR_ARG: use resume); a resume refuses settings that differ from the
 * run's (SDPO_ERR_ARG naming the setting). Errors name the file or setting at fault. */
sdpo_status sdpo_pretrain_run(const sdpo_pretrain_config *c, sdpo_pretrain_result *res);

/* Copies OUT/model (which must hold trained UNet weights) and OUT/pretrain_log.csv up to the
 * newest checkpoint's step (that of OUT/model's weights; a running sitting logs past it) into
 * the diffusers folder dest, with a generated README.md (architecture, parameters, FLOPs per
 * forward, training summary at that step, the commands from the log). dest is replaced as a whole: written
 * beside it as a temporary folder, then renamed into place. */
sdpo_status sdpo_pretrain_export(const char *run_dir, const char *dest);

#endif

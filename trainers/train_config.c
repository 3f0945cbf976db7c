/* trainers/train_config.c — the key table and its parsers, validators and serialisers
 * (train_config.h). Defaults cite the official configs: sdpo config/base_sdpo.py and
 * config_sdpo.py (sdpo_official_code.md §3), ddpo-pytorch config/base.py and dgx.py, d3po
 * config/base.py, rlcm conf/ (baselines.md §4). */
#include "trainers/train_config.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rewards/reward.h"

typedef enum { K_INT, K_DOUBLE, K_BOOL, K_STRING, K_ENUM, K_INT_LIST } key_type;

enum {
    M_SDPO = 1u << SDPO_METHOD_SDPO, M_DDPO = 1u << SDPO_METHOD_DDPO,
    M_REBEL = 1u << SDPO_METHOD_REBEL, M_D3PO = 1u << SDPO_METHOD_D3PO,
    M_ALL = M_SDPO | M_DDPO | M_REBEL | M_D3PO, M_BASELINES = M_DDPO | M_REBEL | M_D3PO,
    MT_TOY = 1u << SDPO_MODEL_TOY, MT_UNET = 1u << SDPO_MODEL_UNET, MT_ALL = MT_TOY | MT_UNET
};

typedef struct {
    const char *name;
    key_type type;
    size_t off;              /* field offset; K_STRING: char[size]; K_INT_LIST: int[LIST_MAX] */
    size_t aux;              /* K_STRING: buffer size; K_INT_LIST: offset of the count */
    double lo, hi;           /* range of numbers (and list elements) */
    int open;                /* LO_OPEN / HI_OPEN: that bound itself is excluded */
    const char *const *choices;
    const char *def;                        /* default, as --set would spell it */
    const char *def_m[SDPO_METHOD_COUNT];   /* per-method default (NULL: def) */
    unsigned methods, models;
    int resumable;
    const char *doc;
} key_spec;

enum { LO_OPEN = 1, HI_OPEN = 2 };

#define OFF(f) offsetof(sdpo_train_config, f)
#define STR(f) OFF(f), sizeof(((sdpo_train_config *)0)->f)
#define BIG 1e30

static const char *const method_names[] = {"sdpo", "ddpo", "rebel", "d3po", NULL};
static const char *const model_names[] = {"toy", "unet", NULL};
static const char *const prediction_names[] = {"epsilon", "v", NULL};
static const char *const spacing_names[] = {"model", "trailing", "leading", NULL};
static const char *const dense_names[] = {"copy", "interp2", "sim2", "sim3-fixed",
                                          "sim3-random", "sim3-adaptive", "full", NULL};
static const char *const anchor_names[] = {"paper", "official", NULL};
static const char *const final_names[] = {"xhat", "sample", NULL};
static const char *const norm_names[] = {"per-step-prompt", "per-prompt", "global", NULL};
static const char *const update_names[] = {"shuffled", "sequential", "accumulated", NULL};
static const char *const weighting_names[] = {"decay", "uniform", "reverse", NULL};
static const char *const returns_names[] = {"discounted", "none", NULL};

/* Rewards a config may name. The learned ones (the paper's four) are accepted here so that the
 * full-scale configs validate before rewards/ provides them; creating one that this build lacks
 * fails at run time with rewards/'s list of what exists. */
/* The trainers' analytic rewards (trainers/analytic_reward.h); the rest is the registry's. */
static const char *const analytic_rewards[] = {"toy-mode", "brightness", NULL};

static const key_spec keys[] = {
    /* ---- run ---- */
    {"run.seed", K_INT, OFF(seed), 0, 0, 2147483647, 0, NULL, "42", {0}, M_ALL, MT_ALL, 0,
     "Seed of every random stream (core/rng.h): initial noise, sampler noise, prompt choice, "
     "step shuffles, random anchors, minibatch order, LoRA init. Table 2: 42 (the official code "
     "seeds process r with 42 + r; this is one process)."},
    {"run.num_epochs", K_INT, OFF(num_epochs), 0, 0, 1e6, 0, NULL, "100", {0}, M_ALL, MT_ALL, 1,
     "Epochs to train (official: 100 for aesthetic, 200 for the other rewards). May be changed "
     "with --set when resuming; a value not above the checkpoint's epoch only loads it."},
    {"run.save_freq", K_INT, OFF(save_freq), 0, 0, 1e6, 0, NULL, "1", {0}, M_ALL, MT_ALL, 1,
     "Write a checkpoint every N epochs and after the last one (0: only after the last). The "
     "initial state is saved as epoch 0 at the start, so a run that fails early still leaves a "
     "loadable checkpoint. Official save_freq: 1."},
    {"run.keep_checkpoints", K_INT, OFF(keep_checkpoints), 0, 1, 1000, 0, NULL, "2", {0}, M_ALL,
     MT_ALL, 1,
     "Complete checkpoints kept under OUT/checkpoints/; older ones are deleted only after a "
     "newer one is complete."},
    {"run.threads", K_INT, OFF(threads), 0, 1, 256, 0, NULL, "1", {0}, M_ALL, MT_ALL, 0,
     "Worker threads of the model. Results are bit-identical across reruns at a fixed count, "
     "so the count is part of the run (written to train.csv's header)."},
    /* ---- model ---- */
    {"model.type", K_ENUM, OFF(model_type), 0, 0, 0, 0, model_names, "toy", {0}, M_ALL, MT_ALL, 0,
     "Policy model. toy: the exact predictor of a Gaussian mixture plus a trainable low-rank "
     "correction (trainers/policy_toy.h; fast, for tests and CI). unet: a diffusers folder's "
     "UNet with LoRA, conditioned on its CLIP text encoder, images from its VAE "
     "(trainers/policy_unet.h)."},
    {"model.dir", K_STRING, STR(model_dir), 0, 0, 0, NULL, "", {0}, M_ALL, MT_UNET, 0,
     "Diffusers model folder (unet/, text_encoder/, tokenizer/, vae/, scheduler/), e.g. an "
     "SD-Turbo snapshot. Required for model.type unet."},
    {"model.lora_rank", K_INT, OFF(lora_rank), 0, 1, 1024, 0, NULL, "4", {0}, M_ALL, MT_ALL, 0,
     "LoRA rank (official: 4, on to_q, to_k, to_v, to_out.0 of every attention processor). For "
     "the toy model: the rank of its trainable correction."},
    {"model.lora_alpha", K_DOUBLE, OFF(lora_alpha), 0, 0, BIG, 0, NULL, "0", {0}, M_ALL, MT_ALL,
     0,
     "LoRA alpha; adapter outputs are scaled by alpha/rank. 0 means alpha = rank (scale 1), "
     "diffusers 0.17.1 network_alpha=None as in the official code."},
    {"model.max_batch", K_INT, OFF(max_batch), 0, 0, 1e6, 0, NULL, "0", {0}, M_ALL, MT_ALL, 0,
     "Largest batch of one model pass (memory): sampling and reward decoding run in chunks of "
     "at most this many samples. A training pass is one minibatch (both members of each pair, "
     "twice with CFG) and must fit. 0: no limit (the sampling batch)."},
    {"model.recompute", K_BOOL, OFF(recompute), 0, 0, 0, 0, NULL, "true", {0}, M_ALL, MT_UNET, 0,
     "Training passes keep only each UNet unit's output and recompute the rest in the "
     "backward (exact; about a third of the activation memory for one extra forward)."},
    /* ---- toy world ---- */
    {"toy.height", K_INT, OFF(toy_height), 0, 1, 64, 0, NULL, "4", {0}, M_ALL, MT_TOY, 0,
     "The toy sample is a 3 x height x width image (D = 3*H*W elements); x-hat maps to pixels "
     "by clamp(x/2 + 0.5, 0, 1), as the VAE output is post-processed, so image rewards (JPEG) "
     "apply to it too."},
    {"toy.width", K_INT, OFF(toy_width), 0, 1, 64, 0, NULL, "4", {0}, M_ALL, MT_TOY, 0,
     "Width of the toy image (see toy.height)."},
    {"toy.prediction", K_ENUM, OFF(toy_prediction), 0, 0, 0, 0, prediction_names, "v", {0},
     M_ALL, MT_TOY, 0,
     "What the toy model predicts: v (x-hat = sqrt(abar)*x - sqrt(1-abar)*v, so a change of "
     "the output moves x-hat by at most its size at every step, as in a few-step model) or "
     "epsilon (x-hat moves 15x the change at t = 999, making the first step's x-hat "
     "hypersensitive). The DDIM log-prob is the same function of x-hat and epsilon either way."},
    {"toy.modes", K_INT, OFF(toy_modes), 0, 1, 64, 0, NULL, "4", {0}, M_ALL, MT_TOY, 0,
     "Modes K of the toy data: a Gaussian mixture whose exact epsilon predictor "
     "(core/gaussian_mixture.h) is the frozen base model."},
    {"toy.mode_scale", K_DOUBLE, OFF(toy_mode_scale), 0, 0, 10, LO_OPEN, NULL, "0.5", {0}, M_ALL,
     MT_TOY, 0, "Mode means are drawn N(0, mode_scale^2) per element."},
    {"toy.mode_var", K_DOUBLE, OFF(toy_mode_var), 0, 0, 10, LO_OPEN, NULL, "0.05", {0}, M_ALL, MT_TOY,
     0, "Per-mode isotropic data variance s^2."},
    {"toy.prompt_scale", K_DOUBLE, OFF(toy_prompt_scale), 0, 0, 10, 0, NULL, "1", {0}, M_ALL,
     MT_TOY, 0,
     "Prompt c weights mode k by exp(prompt_scale * g[c][k]), g ~ N(0, 1): prompts condition "
     "the toy model through its mixture weights (the unconditional model of CFG uses uniform "
     "weights)."},
    {"toy.seed", K_INT, OFF(toy_seed), 0, 0, 2147483647, 0, NULL, "0", {0}, M_ALL, MT_TOY, 0,
     "Seed of the toy world (mode means, prompt weights), separate from run.seed so that runs "
     "with different seeds train in the same world."},
    {"toy.target_mode", K_INT, OFF(toy_target_mode), 0, 0, 63, 0, NULL, "0", {0}, M_ALL, MT_TOY,
     0,
     "Mode whose mean the toy-mode reward targets: toy-mode = -mean over pixels of "
     "(image - image of the target mean)^2, in [-1, 0]."},
    /* ---- sample ---- */
    {"sample.prompt_file", K_STRING, STR(prompt_file), 0, 0, 0, NULL,
     "data/prompts/simple_animals_45.txt", {0}, M_ALL, MT_ALL, 0,
     "Training prompts, one per line (trimmed; blank lines skipped). Each prompt of a batch is "
     "drawn uniformly with replacement (official random.choice over simple_animals)."},
    {"sample.num_steps", K_INT, OFF(num_steps), 0, 1, 1000, 0, NULL, "50", {0}, M_ALL, MT_ALL, 0,
     "Denoising steps per trajectory T (Table 2: 50). Appendix B's few-step baselines use 1 "
     "or 2."},
    {"sample.num_steps_cycle", K_INT_LIST, OFF(num_steps_cycle), OFF(n_num_steps_cycle), 1, 1000,
     0, NULL, "", {0}, M_BASELINES, MT_ALL, 0,
     "Appendix B's mixed trajectory lengths for the baselines: epoch e samples every "
     "trajectory with T = list[(e-1) mod length], e.g. 1,2,4,8,16,50; a non-empty cycle replaces "
     "sample.num_steps. Empty: every epoch uses sample.num_steps. Not for SDPO, whose "
     "statistics are per step."},
    {"sample.timestep_spacing", K_ENUM, OFF(spacing), 0, 0, 0, 0, spacing_names, "model", {0},
     M_ALL, MT_ALL, 0,
     "DDIM timestep spacing. model: the model's scheduler config (SD-Turbo: trailing, i.e. "
     "999, 979, ..., 19 for T = 50; the toy model uses SD-Turbo's scheduler); or force "
     "trailing / leading."},
    {"sample.eta", K_DOUBLE, OFF(eta), 0, 0, 10, LO_OPEN, NULL, "1", {0}, M_ALL, MT_ALL, 0,
     "DDIM eta (noise scale), 1 in every official code; 0 would make the step log-prob "
     "undefined and is refused."},
    {"sample.guidance_scale", K_DOUBLE, OFF(guidance_scale), 0, 1, 100, 0, NULL, "1", {0}, M_ALL,
     MT_ALL, 0,
     "Classifier-free guidance scale. 1 (Table 2; SD-Turbo has no CFG) is one model pass. "
     "Above 1, [unconditional, conditional] passes are combined at sampling and at training, "
     "as DDPO's train.cfg=True."},
    {"sample.batch_size", K_INT, OFF(batch_size), 0, 1, 4096, 0, NULL, "8", {0}, M_ALL, MT_ALL, 0,
     "Prompts per sampling batch (Table 2 B1: 8). SDPO, REBEL and D3PO sample a pair of "
     "trajectories per prompt; DDPO one."},
    {"sample.num_batches_per_epoch", K_INT, OFF(num_batches_per_epoch), 0, 1, 100000, 0, NULL,
     "4", {0}, M_ALL, MT_ALL, 0,
     "Sampling batches per epoch (Table 2: 4 per GPU on 4 GPUs; one process needs 16 for the "
     "same 128 prompts per epoch, as configs/full/ does)."},
    {"sample.shared_init_noise", K_BOOL, OFF(shared_init_noise), 0, 0, 0, 0, NULL, "true",
     {[SDPO_METHOD_REBEL] = "false"}, M_SDPO | M_REBEL | M_D3PO, MT_ALL, 0,
     "The two trajectories of a pair start from the same x_T (official SDPO train L497, "
     "copied from D3PO) and diverge through the sampler noise. REBEL's RLCM code samples its "
     "pairs from independent noise, hence its default false."},
    /* ---- reward ---- */
    {"reward.name", K_STRING, STR(reward_name), 0, 0, 0, NULL, "toy-mode", {0}, M_ALL, MT_ALL, 0,
     "Reward function: toy-mode (closeness to a mode; toy model only), brightness (mean pixel, "
     "D3PO's light reward), jpeg-compressibility, jpeg-incompressibility, or the paper's "
     "aesthetic, imagereward, hpsv2, pickscore (these need reward.model_dir)."},
    {"reward.model_dir", K_STRING, STR(reward_model_dir), 0, 0, 0, NULL, "", {0}, M_ALL, MT_ALL,
     0, "Weights folder of a learned reward model, passed to rewards/."},
    {"reward.official_scale", K_BOOL, OFF(official_scale), 0, 0, 0, 0, NULL, "true", {0},
     M_ALL, MT_ALL, 0,
     "Score on the scale SDPO's official code used (PickScore and HPSv2 as raw cosines, "
     "ImageReward without its (r - mean)/std normalisation; rewards/reward.h) rather than the "
     "published one. The advantages are normalised either way, so training barely depends on "
     "it; it sets the scale of the logged rewards. No effect on the toy, JPEG and aesthetic "
     "rewards."},
    {"reward.dense_strategy", K_ENUM, OFF(dense_strategy), 0, 0, 0, 0, dense_names,
     "sim3-adaptive", {0}, M_SDPO, MT_ALL, 0,
     "SDPO dense-reward prediction (Sec. 3.2; Sec. 4.3 / Fig. 5 left ablation; "
     "core/dense_reward.h): copy (1 query), interp2 and sim2 (2 queries), sim3-fixed, "
     "sim3-random and sim3-adaptive (3 queries: first, anchor, last; Eq. 9-11), full (T "
     "queries). Only the queried steps' x-hat are decoded and scored."},
    {"reward.anchor_range", K_ENUM, OFF(anchor_all_steps), 0, 0, 0, 0, anchor_names, "official",
     {0}, M_SDPO, MT_ALL, 0,
     "Steps the sim3-adaptive anchor is searched over. official (default): all steps, "
     "endpoints included (official pipeline L234, torch.argmin); paper: the interior steps "
     "[1, T-2] of Eq. 10."},
    {"reward.final_image", K_ENUM, OFF(final_image), 0, 0, 0, 0, final_names, "sample", {0},
     M_BASELINES, MT_ALL, 0,
     "What the baselines' sparse final reward scores. sample (default): the final latent x_0, "
     "as the DDPO, D3PO and RLCM pipelines decode it. xhat: x-hat of the last step, what "
     "SDPO's pipeline scores (its logged '50-step' reward)."},
    {"reward.log_first_step", K_BOOL, OFF(log_first_step), 0, 0, 0, 0, NULL, "true", {0}, M_ALL,
     MT_ALL, 0,
     "Also score x-hat of the first step of each trajectory when the method does not query "
     "it, for train.csv's reward_first_* columns: the official SDPO code logs this as its "
     "'1-step' reward (L623-625; its raw _1s array holds returns by a numpy aliasing bug, the "
     "mean/std are the rewards, which is what is logged here). Counted in log_queries."},
    /* ---- stats ---- */
    {"stats.mode", K_ENUM, OFF(norm_mode), 0, 0, 0, 0, norm_names, "per-step-prompt",
     {[SDPO_METHOD_DDPO] = "per-prompt", [SDPO_METHOD_REBEL] = "per-prompt"},
     M_SDPO | M_DDPO | M_REBEL, MT_ALL, 0,
     "Advantage normalisation (core/stat_tracker.h). SDPO default per-step-prompt: returns "
     "normalised per (prompt, step) (Sec. 3.3); per-prompt and global are the Fig. 6 left "
     "ablations. DDPO and REBEL normalise the final reward per prompt (DDPO's "
     "PerPromptStatTracker); global is their tracking-disabled branch."},
    {"stats.buffer_size", K_INT, OFF(buffer_size), 0, 1, 1000000, 0, NULL, "32", {0},
     M_SDPO | M_DDPO | M_REBEL, MT_ALL, 0,
     "Running-statistics FIFO length per prompt (and step) (Table 2: 32; DDPO aesthetic 32)."},
    {"stats.min_count", K_INT, OFF(min_count), 0, 0, 1000000, 0, NULL, "16", {0},
     M_SDPO | M_DDPO | M_REBEL, MT_ALL, 0,
     "With fewer buffered values, the current batch's statistics are used instead (Table 2: "
     "16)."},
    /* ---- train ---- */
    {"train.method", K_ENUM, OFF(method), 0, 0, 0, 0, method_names, "sdpo", {0}, M_ALL, MT_ALL,
     0,
     "sdpo (Algorithm 1), ddpo (PPO clip surrogate on the final reward), rebel "
     "(trajectory-level reward-difference regression), d3po (per-step DPO against the frozen "
     "initial model)."},
    {"train.learning_rate", K_DOUBLE, OFF(learning_rate), 0, 0, BIG, LO_OPEN, NULL, "1e-4",
     {[SDPO_METHOD_DDPO] = "3e-4", [SDPO_METHOD_REBEL] = "3e-4", [SDPO_METHOD_D3PO] = "3e-4"},
     M_ALL, MT_ALL, 0,
     "AdamW learning rate (Table 2: 1e-4 aesthetic, 5e-5 ImageReward/HPSv2, 6e-5 PickScore). "
     "Baselines: DDPO's 3e-4, shared by REBEL and D3PO per Appendix A (the SDPO authors' "
     "baseline values are not published)."},
    {"train.adam_beta1", K_DOUBLE, OFF(adam_beta1), 0, 0, 1, HI_OPEN, NULL, "0.9", {0}, M_ALL, MT_ALL,
     0, "AdamW beta1 (Table 2: 0.9)."},
    {"train.adam_beta2", K_DOUBLE, OFF(adam_beta2), 0, 0, 1, HI_OPEN, NULL, "0.999", {0}, M_ALL,
     MT_ALL, 0, "AdamW beta2 (Table 2: 0.999)."},
    {"train.adam_epsilon", K_DOUBLE, OFF(adam_epsilon), 0, 0, 1, LO_OPEN, NULL, "1e-8", {0}, M_ALL,
     MT_ALL, 0, "AdamW epsilon (Table 2: 1e-8)."},
    {"train.adam_weight_decay", K_DOUBLE, OFF(adam_weight_decay), 0, 0, 1, 0, NULL, "1e-4", {0},
     M_ALL, MT_ALL, 0, "AdamW decoupled weight decay (Table 2: 1e-4)."},
    {"train.batch_size", K_INT, OFF(train_batch_size), 0, 1, 4096, 0, NULL, "1", {0}, M_ALL,
     MT_ALL, 0,
     "Pairs (SDPO, REBEL, D3PO) or samples (DDPO) per minibatch (Table 2 B2: 2 aesthetic, 1 "
     "otherwise). Must divide the prompts per epoch."},
    {"train.gradient_accumulation_steps", K_INT, OFF(grad_acc), 0, 1, 1000000, 0, NULL, "1", {0},
     M_ALL, MT_ALL, 0,
     "Minibatch backward passes per optimizer step; each is scaled by 1/(passes per step), as "
     "accelerate does. SDPO (official): grad_acc minibatches at mixed steps, NOT multiplied by "
     "T (Table 2: 8 / 32 / 32 / 16 per GPU). The paper's Algorithm 1 (T updates per epoch, one "
     "per shuffled column) is grad_acc = minibatches per epoch. DDPO and D3PO: grad_acc x "
     "trained steps passes (upstream). REBEL: grad_acc minibatches, each over all T steps."},
    {"train.max_grad_norm", K_DOUBLE, OFF(max_grad_norm), 0, 0, BIG, 0, NULL, "1",
     {[SDPO_METHOD_REBEL] = "0"}, M_ALL, MT_ALL, 0,
     "Global L2 gradient clipping before each optimizer step (torch clip_grad_norm_; Table "
     "2: 1). 0 disables it: REBEL's RLCM loop never clips, hence its default."},
    {"train.num_inner_epochs", K_INT, OFF(num_inner_epochs), 0, 1, 100, 0, NULL, "1", {0}, M_ALL,
     MT_ALL, 0,
     "Passes over each epoch's samples (official: 1); every pass reshuffles."},
    {"train.shuffle_batch", K_BOOL, OFF(shuffle_batch), 0, 0, 0, 0, NULL, "true", {0}, M_ALL,
     MT_ALL, 0,
     "Permute the samples (pairs) of the epoch before minibatching (official shuffle_batch)."},
    {"train.update_schedule", K_ENUM, OFF(update_schedule), 0, 0, 0, 0, update_names, "shuffled",
     {0}, M_SDPO | M_DDPO | M_D3PO, MT_ALL, 0,
     "Step order and optimizer-step frequency (core/update_schedule.h; Sec. 4.3 / Fig. 6 "
     "right). SDPO: shuffled = an independent permutation of the steps per pair, column j "
     "outer and minibatches inner (official); sequential = step j in column j "
     "(shuffle_timestep=False); accumulated = one optimizer step per epoch over all steps. "
     "DDPO and D3PO: shuffled = per-sample timestep permutation (upstream), sequential = none, "
     "accumulated = one optimizer step per epoch."},
    {"train.timestep_fraction", K_DOUBLE, OFF(timestep_fraction), 0, 0, 1, LO_OPEN, NULL, "1", {0},
     M_SDPO | M_DDPO | M_D3PO, MT_ALL, 0,
     "Train only the first floor(T * fraction) shuffled columns of each epoch (official "
     "timestep_fraction: 1)."},
    {"train.adv_clip_max", K_DOUBLE, OFF(adv_clip_max), 0, 0, BIG, LO_OPEN, NULL, "5", {0},
     M_SDPO | M_DDPO, MT_ALL, 0,
     "Advantages are clipped to [-M, M] (official adv_clip_max: 5; REBEL does not clip)."},
    {"train.clip_range", K_DOUBLE, OFF(clip_range), 0, 0, BIG, 0, NULL, "1e-4", {0},
     M_SDPO | M_DDPO, MT_ALL, 0,
     "SDPO: log-ratio clip epsilon of Eq. 15 (Table 2: 1e-4; 0 drops the clipped term). DDPO: "
     "PPO ratio clip (1e-4)."},
    {"train.log_scale", K_DOUBLE, OFF(log_scale), 0, 0, BIG, LO_OPEN, NULL, "1", {0}, M_SDPO | M_REBEL,
     MT_ALL, 0,
     "eta of Eq. 12-16: SDPO divides the weighted log-ratio difference by it (official "
     "train.log_scale, Table 2: 1); REBEL multiplies it by rebel_lr = 1/eta (RLCM: 1)."},
    {"train.lam", K_DOUBLE, OFF(lam), 0, 0, 1, LO_OPEN, NULL, "0.99", {0}, M_SDPO, MT_ALL, 0,
     "Stepwise importance decay lambda (Eq. 14, Table 2: 0.99): weight lambda^i / eta at step "
     "i = 0 (first, noisiest) ... T-1. Fig. 6 middle ablates 0.99, 0.9, 1 and reverse (see "
     "train.weighting)."},
    {"train.weighting", K_ENUM, OFF(weighting), 0, 0, 0, 0, weighting_names, "decay", {0}, M_SDPO,
     MT_ALL, 0,
     "decay: lambda^i (official); uniform: 1 (same as lam = 1); reverse: lambda^(T-1-i), the "
     "'reverse order' ablation (upstream only as the commented-out line L251)."},
    {"train.returns", K_ENUM, OFF(returns_mode), 0, 0, 0, 0, returns_names, "discounted", {0},
     M_SDPO, MT_ALL, 0,
     "discounted: G_i = R_i + gamma * G_{i+1} (Eq. 13); none: G = R, the 'w/o returns' "
     "ablation of Fig. 5 right."},
    {"train.gamma", K_DOUBLE, OFF(gamma), 0, 0, 1, 0, NULL, "0.99", {0}, M_SDPO, MT_ALL, 0,
     "Discount factor of Eq. 13 (Table 2: 0.99; Fig. 5 right ablates 0.99, 0.9, 1). As "
     "upstream, gamma = 0 means no returns."},
    {"train.d3po_beta", K_DOUBLE, OFF(d3po_beta), 0, 0, BIG, LO_OPEN, NULL, "0.1", {0}, M_D3PO, MT_ALL,
     0, "D3PO beta (official 0.1)."},
    {"train.d3po_eps", K_DOUBLE, OFF(d3po_eps), 0, 0, 1, HI_OPEN, NULL, "0.1", {0}, M_D3PO, MT_ALL,
     0,
     "D3PO ratio clamp: pi/pi_ref is clamped to [1 - eps, 1 + eps] (official 0.1); clamped "
     "ratios pass no gradient."},
};
enum { N_KEYS = (int)(sizeof keys / sizeof keys[0]) };
_Static_assert(N_KEYS <= SDPO_CFG_MAX_KEYS, "raise SDPO_CFG_MAX_KEYS");

const char *sdpo_method_name(sdpo_method m) {
    return (unsigned)m < SDPO_METHOD_COUNT ? method_names[m] : "unknown";
}

static int find_key(const char *name) {
    for (int k = 0; k < N_KEYS; k++)
        if (!strcmp(keys[k].name, name)) return k;
    return -1;
}

static void join_choices(const char *const *ch, const char *sep, char *buf, size_t n) {
    buf[0] = '\0';
    for (int i = 0; ch[i]; i++) {
        if (i) strncat(buf, sep, n - strlen(buf) - 1);
        strncat(buf, ch[i], n - strlen(buf) - 1);
    }
}

/* ---- typed stores with range checks; `where` names the source in messages ------------ */

/* "[lo, hi]" with open bounds as parentheses and BIG as inf. */
static void range_text(const key_spec *ks, char *buf, size_t n) {
    const int digits = ks->type == K_DOUBLE ? 6 : 17;
    char hi[32];
    if (ks->hi >= BIG) snprintf(hi, sizeof hi, "inf)");
    else snprintf(hi, sizeof hi, "%.*g%s", digits, ks->hi, ks->open & HI_OPEN ? ")" : "]");
    snprintf(buf, n, "%s%.*g, %s", ks->open & LO_OPEN ? "(" : "[", digits, ks->lo, hi);
}

static sdpo_status range_fail(const key_spec *ks, const char *where, double v) {
    char range[96];
    range_text(ks, range, sizeof range);
    return sdpo_fail(SDPO_ERR_ARG, "%s: key '%s' = %.17g is out of range %s", where, ks->name,
                     v, range);
}

static int in_range(const key_spec *ks, double v) {
    return isfinite(v) && (ks->open & LO_OPEN ? v > ks->lo : v >= ks->lo) &&
           (ks->open & HI_OPEN ? v < ks->hi : v <= ks->hi);
}

static sdpo_status store_int(sdpo_train_config *c, const key_spec *ks, const char *where,
                             double v) {
    if (!in_range(ks, v) || v != floor(v)) return range_fail(ks, where, v);
    *(int *)((char *)c + ks->off) = (int)v;
    return SDPO_OK;
}

static sdpo_status store_double(sdpo_train_config *c, const key_spec *ks, const char *where,
                                double v) {
    if (!in_range(ks, v)) return range_fail(ks, where, v);
    *(double *)((char *)c + ks->off) = v;
    return SDPO_OK;
}

static sdpo_status store_string(sdpo_train_config *c, const key_spec *ks, const char *where,
                                const char *v) {
    if (strlen(v) >= ks->aux)
        return sdpo_fail(SDPO_ERR_ARG, "%s: key '%s': value is longer than %zu bytes", where,
                         ks->name, ks->aux - 1);
    if (!strcmp(ks->name, "reward.name") && *v) {
        int known = 0;
        for (int i = 0; analytic_rewards[i]; i++) known |= !strcmp(v, analytic_rewards[i]);
        const char *built = sdpo_reward_names();
        size_t len = strlen(v);
        for (const char *p = strstr(built, v); p && !known; p = strstr(p + 1, v))
            known = (p == built || p[-1] == ' ') && (p[len] == ' ' || p[len] == '\0');
        if (!known)
            return sdpo_fail(SDPO_ERR_ARG, "%s: key 'reward.name' = '%s' is not a known reward "
                             "(toy-mode brightness %s)", where, v, built);
    }
    memcpy((char *)c + ks->off, v, strlen(v) + 1);
    return SDPO_OK;
}

static sdpo_status store_enum(sdpo_train_config *c, const key_spec *ks, const char *where,
                              const char *v) {
    for (int i = 0; ks->choices[i]; i++)
        if (!strcmp(v, ks->choices[i])) {
            *(int *)((char *)c + ks->off) = i;
            return SDPO_OK;
        }
    char list[256];
    join_choices(ks->choices, ", ", list, sizeof list);
    return sdpo_fail(SDPO_ERR_ARG, "%s: key '%s' = '%s' is not one of: %s", where, ks->name, v,
                     list);
}

static sdpo_status store_list(sdpo_train_config *c, const key_spec *ks, const char *where,
                              const double *v, int n) {
    if (n > SDPO_CFG_LIST_MAX)
        return sdpo_fail(SDPO_ERR_ARG, "%s: key '%s': at most %d entries", where, ks->name,
                         SDPO_CFG_LIST_MAX);
    for (int i = 0; i < n; i++)
        if (!in_range(ks, v[i]) || v[i] != floor(v[i]))
            return sdpo_fail(SDPO_ERR_ARG, "%s: key '%s': entry %d = %.17g is not an integer in "
                             "[%.17g, %.17g]", where, ks->name, i, v[i], ks->lo, ks->hi);
    int *dst = (int *)((char *)c + ks->off);
    for (int i = 0; i < n; i++) dst[i] = (int)v[i];
    *(int *)((char *)c + ks->aux) = n;
    return SDPO_OK;
}

/* Parses a --set / default spelling of key ks. */
static sdpo_status set_from_text(sdpo_train_config *c, const key_spec *ks, const char *where,
                                 const char *text) {
    char *end;
    switch (ks->type) {
    case K_INT: case K_DOUBLE: {
        double v = strtod(text, &end);
        if (end == text || *end)
            return sdpo_fail(SDPO_ERR_ARG, "%s: key '%s': '%s' is not a%s number", where,
                             ks->name, text, ks->type == K_INT ? "n integer" : "");
        return ks->type == K_INT ? store_int(c, ks, where, v) : store_double(c, ks, where, v);
    }
    case K_BOOL:
        if (!strcmp(text, "true") || !strcmp(text, "1")) *(int *)((char *)c + ks->off) = 1;
        else if (!strcmp(text, "false") || !strcmp(text, "0")) *(int *)((char *)c + ks->off) = 0;
        else
            return sdpo_fail(SDPO_ERR_ARG, "%s: key '%s': '%s' is not true or false", where,
                             ks->name, text);
        return SDPO_OK;
    case K_STRING: return store_string(c, ks, where, text);
    case K_ENUM: return store_enum(c, ks, where, text);
    case K_INT_LIST: {
        double v[SDPO_CFG_LIST_MAX + 1];
        int n = 0;
        const char *p = text;
        if (*p == '[') p++;
        while (*p && *p != ']') {
            if (n > SDPO_CFG_LIST_MAX) break;
            v[n] = strtod(p, &end);
            if (end == p)
                return sdpo_fail(SDPO_ERR_ARG, "%s: key '%s': '%s' is not a comma-separated "
                                 "list of integers", where, ks->name, text);
            n++;
            p = end;
            if (*p == ',') p++;
        }
        if ((*p == ']' && p[1]) || (text[0] == '[') != (*p == ']'))
            return sdpo_fail(SDPO_ERR_ARG, "%s: key '%s': '%s' is not a comma-separated list "
                             "of integers", where, ks->name, text);
        return store_list(c, ks, where, v, n);
    }
    }
    return SDPO_ERR_ARG;
}

static const char *json_type_name(const json_t *j) {
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE: case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

static sdpo_status set_from_json(sdpo_train_config *c, const key_spec *ks, const char *where,
                                 const json_t *j) {
    const char *want = NULL;
    switch (ks->type) {
    case K_INT:
        if (json_is_integer(j)) return store_int(c, ks, where, (double)json_integer_value(j));
        want = "an integer";
        break;
    case K_DOUBLE:
        if (json_is_number(j)) return store_double(c, ks, where, json_number_value(j));
        want = "a number";
        break;
    case K_BOOL:
        if (json_is_boolean(j)) {
            *(int *)((char *)c + ks->off) = json_is_true(j);
            return SDPO_OK;
        }
        want = "true or false";
        break;
    case K_STRING:
        if (json_is_string(j)) return store_string(c, ks, where, json_string_value(j));
        want = "a string";
        break;
    case K_ENUM:
        if (json_is_string(j)) return store_enum(c, ks, where, json_string_value(j));
        want = "a string";
        break;
    case K_INT_LIST:
        if (json_is_array(j)) {
            double v[SDPO_CFG_LIST_MAX + 1];
            size_t n = json_array_size(j);
            if (n > SDPO_CFG_LIST_MAX) return store_list(c, ks, where, v, (int)n);
            for (size_t i = 0; i < n; i++) {
                const json_t *e = json_array_get(j, i);
                if (!json_is_integer(e))
                    return sdpo_fail(SDPO_ERR_ARG, "%s: key '%s': entry %zu must be an integer, "
                                     "got %s", where, ks->name, i, json_type_name(e));
                v[i] = (double)json_integer_value(e);
            }
            return store_list(c, ks, where, v, (int)n);
        }
        want = "an array of integers";
        break;
    }
    return sdpo_fail(SDPO_ERR_ARG, "%s: key '%s': expected %s, got %s", where, ks->name, want,
                     json_type_name(j));
}

static void mark_set(sdpo_train_config *c, int k, const char *where) {
    snprintf(c->origin[k], sizeof c->origin[k], "%s", where);
}

void sdpo_train_config_defaults(sdpo_train_config *c) {
    memset(c, 0, sizeof *c);
    for (int k = 0; k < N_KEYS; k++) set_from_text(c, &keys[k], "default", keys[k].def);
}

/* A dotted prefix that some key starts with ("train" for "train.method"). */
static int is_section(const char *prefix) {
    size_t n = strlen(prefix);
    for (int k = 0; k < N_KEYS; k++)
        if (!strncmp(keys[k].name, prefix, n) && keys[k].name[n] == '.') return 1;
    return 0;
}

static sdpo_status load_object(sdpo_train_config *c, const char *path, const char *prefix,
                               json_t *obj) {
    const char *name;
    json_t *val;
    json_object_foreach(obj, name, val) {
        char full[256];
        int w = snprintf(full, sizeof full, "%s%s%s", prefix, *prefix ? "." : "", name);
        if (w < 0 || (size_t)w >= sizeof full)
            return sdpo_fail(SDPO_ERR_ARG, "%s: key '%.64s...' is too long", path, full);
        int k = find_key(full);
        if (k < 0 && is_section(full)) {
            if (!json_is_object(val))
                return sdpo_fail(SDPO_ERR_ARG, "%s: key '%s' must be an object of keys, got %s",
                                 path, full, json_type_name(val));
            sdpo_status rc = load_object(c, path, full, val);
            if (rc != SDPO_OK) return rc;
            continue;
        }
        if (k < 0)
            return sdpo_fail(SDPO_ERR_ARG, "%s: unknown key '%s'", path, full);
        sdpo_status rc = set_from_json(c, &keys[k], path, val);
        if (rc != SDPO_OK) return rc;
        mark_set(c, k, path);
    }
    return SDPO_OK;
}

sdpo_status sdpo_train_config_load_file(sdpo_train_config *c, const char *path) {
    json_error_t err;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
    if (!root)
        return sdpo_fail(SDPO_ERR_ARG, "%s: line %d: %s", path, err.line, err.text);
    sdpo_status rc = json_is_object(root)
                         ? load_object(c, path, "", root)
                         : sdpo_fail(SDPO_ERR_ARG, "%s: the config must be a JSON object", path);
    json_decref(root);
    return rc;
}

sdpo_status sdpo_train_config_set(sdpo_train_config *c, const char *assignment) {
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment)
        return sdpo_fail(SDPO_ERR_ARG, "--set '%s': expected section.key=value", assignment);
    char name[256];
    size_t n = (size_t)(eq - assignment);
    if (n >= sizeof name) n = sizeof name - 1;
    memcpy(name, assignment, n);
    name[n] = '\0';
    int k = find_key(name);
    if (k < 0)
        return sdpo_fail(SDPO_ERR_ARG, "--set: unknown key '%s'", name);
    sdpo_status rc = set_from_text(c, &keys[k], "--set", eq + 1);
    if (rc == SDPO_OK) mark_set(c, k, "--set");
    return rc;
}

int sdpo_train_config_key_is_resumable(const char *name) {
    int k = find_key(name);
    return k >= 0 && keys[k].resumable;
}

/* ---- finalize ------------------------------------------------------------------------ */

static void methods_text(unsigned m, char *buf, size_t n) {
    buf[0] = '\0';
    for (int i = 0; i < SDPO_METHOD_COUNT; i++)
        if (m & (1u << i)) {
            if (buf[0]) strncat(buf, ", ", n - strlen(buf) - 1);
            strncat(buf, method_names[i], n - strlen(buf) - 1);
        }
}

static int applies(const key_spec *ks, const sdpo_train_config *c) {
    return (ks->methods & (1u << c->method)) && (ks->models & (1u << c->model_type));
}

/* Trained columns per epoch: floor(T * fraction) as upstream's int(T * timestep_fraction). */
static int trained_steps(int T, double fraction) { return (int)((double)T * fraction); }

static sdpo_status check_schedule(const sdpo_train_config *c, int T) {
    const int per_epoch = c->batch_size * c->num_batches_per_epoch;
    const int n_mb = per_epoch / c->train_batch_size;
    const int uses_fraction = c->method != SDPO_METHOD_REBEL;
    const int cols = uses_fraction ? trained_steps(T, c->timestep_fraction) : T;
    if (cols < 1)
        return sdpo_fail(SDPO_ERR_ARG, "key 'train.timestep_fraction' = %g trains no step of a "
                         "T = %d trajectory (floor(T * fraction) = 0)", c->timestep_fraction, T);
    if (c->update_schedule == SDPO_UPDATE_ACCUMULATED && c->method != SDPO_METHOD_REBEL)
        return SDPO_OK;
    /* SDPO steps every grad_acc minibatch passes over cols x n_mb; the others accumulate whole
     * minibatches (DDPO/D3PO: all their trained steps; REBEL: all T steps in one pass). */
    const long passes = c->method == SDPO_METHOD_SDPO ? (long)cols * n_mb : n_mb;
    if (passes % c->grad_acc)
        return sdpo_fail(SDPO_ERR_ARG, "key 'train.gradient_accumulation_steps' = %d does not "
                         "divide the %ld %s per epoch (the epoch must end on an optimizer "
                         "step, as upstream asserts)", c->grad_acc, passes,
                         c->method == SDPO_METHOD_SDPO ? "minibatch passes (T x minibatches)"
                                                       : "minibatches");
    return SDPO_OK;
}

sdpo_status sdpo_train_config_finalize(sdpo_train_config *c) {
    for (int k = 0; k < N_KEYS; k++) {
        const key_spec *ks = &keys[k];
        if (!c->origin[k][0] && ks->def_m[c->method])
            set_from_text(c, ks, "default", ks->def_m[c->method]);
    }
    for (int k = 0; k < N_KEYS; k++) {
        const key_spec *ks = &keys[k];
        if (!c->origin[k][0] || applies(ks, c)) continue;
        if (!(ks->models & (1u << c->model_type)))
            return sdpo_fail(SDPO_ERR_ARG, "%s: key '%s' does not apply to model.type %s",
                             c->origin[k], ks->name, model_names[c->model_type]);
        char m[64];
        methods_text(ks->methods, m, sizeof m);
        return sdpo_fail(SDPO_ERR_ARG, "%s: key '%s' is not used by method %s (only by: %s)",
                         c->origin[k], ks->name, method_names[c->method], m);
    }
    if (c->model_type == SDPO_MODEL_UNET && !c->model_dir[0])
        return sdpo_fail(SDPO_ERR_ARG, "key 'model.dir' is required for model.type unet");
    if (!strcmp(c->reward_name, "toy-mode") && c->model_type != SDPO_MODEL_TOY)
        return sdpo_fail(SDPO_ERR_ARG, "key 'reward.name' = 'toy-mode' needs model.type toy");
    if (!c->reward_name[0]) return sdpo_fail(SDPO_ERR_ARG, "key 'reward.name' must not be empty");
    if (!c->prompt_file[0])
        return sdpo_fail(SDPO_ERR_ARG, "key 'sample.prompt_file' must not be empty");
    if (c->model_type == SDPO_MODEL_TOY && c->lora_rank > 64)
        return sdpo_fail(SDPO_ERR_ARG, "key 'model.lora_rank' = %d: the toy model's correction "
                         "has rank at most 64", c->lora_rank);
    if (c->model_type == SDPO_MODEL_TOY && c->toy_target_mode >= c->toy_modes)
        return sdpo_fail(SDPO_ERR_ARG, "key 'toy.target_mode' = %d must be below toy.modes = %d",
                         c->toy_target_mode, c->toy_modes);
    const int train_rows = (c->method == SDPO_METHOD_DDPO ? 1 : 2) * c->train_batch_size *
                           (c->guidance_scale > 1.0 ? 2 : 1);
    if (c->max_batch > 0 && c->max_batch < train_rows)
        return sdpo_fail(SDPO_ERR_ARG, "key 'model.max_batch' = %d is below the %d samples of "
                         "one training pass (train.batch_size, pairs, CFG)", c->max_batch,
                         train_rows);
    const int per_epoch = c->batch_size * c->num_batches_per_epoch;
    if (per_epoch % c->train_batch_size)
        return sdpo_fail(SDPO_ERR_ARG, "key 'train.batch_size' = %d does not divide the %d "
                         "prompts per epoch (sample.batch_size x sample.num_batches_per_epoch)",
                         c->train_batch_size, per_epoch);
    if (c->n_num_steps_cycle == 0) return check_schedule(c, c->num_steps);
    for (int i = 0; i < c->n_num_steps_cycle; i++) {
        sdpo_status rc = check_schedule(c, c->num_steps_cycle[i]);
        if (rc != SDPO_OK) return rc;
    }
    return SDPO_OK;
}

/* ---- serialisation ------------------------------------------------------------------- */

static json_t *key_to_json(const sdpo_train_config *c, const key_spec *ks) {
    const char *p = (const char *)c + ks->off;
    switch (ks->type) {
    case K_INT: return json_integer(*(const int *)p);
    case K_DOUBLE: return json_real(*(const double *)p);
    case K_BOOL: return json_boolean(*(const int *)p);
    case K_STRING: return json_string(p);
    case K_ENUM: return json_string(ks->choices[*(const int *)p]);
    case K_INT_LIST: {
        json_t *a = json_array();
        int n = *(const int *)((const char *)c + ks->aux);
        for (int i = 0; i < n; i++) json_array_append_new(a, json_integer(((const int *)p)[i]));
        return a;
    }
    }
    return json_null();
}

static char *to_json(const sdpo_train_config *c, int with_resumable) {
    json_t *root = json_object();
    for (int k = 0; k < N_KEYS; k++) {
        const key_spec *ks = &keys[k];
        if (!applies(ks, c) || (ks->resumable && !with_resumable)) continue;
        /* a cycle replaces sample.num_steps, and finalize refuses both */
        if (c->n_num_steps_cycle && ks->off == OFF(num_steps) && ks->type == K_INT) continue;
        char section[64];
        const char *dot = strchr(ks->name, '.');
        snprintf(section, sizeof section, "%.*s", (int)(dot - ks->name), ks->name);
        json_t *sec = json_object_get(root, section);
        if (!sec) {
            sec = json_object();
            json_object_set_new(root, section, sec);
        }
        json_object_set_new(sec, dot + 1, key_to_json(c, ks));
    }
    char *s = json_dumps(root, JSON_SORT_KEYS | JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    json_decref(root);
    return s;
}

sdpo_status sdpo_train_config_to_json(const sdpo_train_config *c, char **out) {
    *out = to_json(c, 1);
    return *out ? SDPO_OK : sdpo_fail(SDPO_ERR_NOMEM, "config: out of memory serialising");
}

uint64_t sdpo_train_config_hash(const sdpo_train_config *c) {
    char *s = to_json(c, 0);
    uint64_t h = 1469598103934665603ull;
    for (const char *p = s; p && *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    free(s);
    return h;
}

/* ---- documentation ------------------------------------------------------------------- */

int sdpo_train_config_num_keys(void) { return N_KEYS; }

static const char *type_text(const key_spec *ks, char *buf, size_t n) {
    switch (ks->type) {
    case K_INT: return "int";
    case K_DOUBLE: return "float";
    case K_BOOL: return "bool";
    case K_STRING: return "string";
    case K_INT_LIST: return "int list";
    case K_ENUM:
        snprintf(buf, n, "one of: ");
        join_choices(ks->choices, "|", buf + strlen(buf), n - strlen(buf));
        return buf;
    }
    return "";
}

void sdpo_train_config_key_doc(int k, sdpo_train_key_doc *d, char *buf, size_t buf_len) {
    const key_spec *ks = &keys[k];
    size_t q = buf_len / 4;
    char *type_buf = buf, *range_buf = buf + q, *def_buf = buf + 2 * q, *app_buf = buf + 3 * q;
    d->name = ks->name;
    d->doc = ks->doc;
    d->type = type_text(ks, type_buf, q);
    range_buf[0] = '\0';
    if (ks->type == K_INT || ks->type == K_DOUBLE || ks->type == K_INT_LIST)
        range_text(ks, range_buf, q);
    d->range = range_buf;
    snprintf(def_buf, q, "%s", ks->def[0] ? ks->def : "\"\"");
    for (int m = 0; m < SDPO_METHOD_COUNT; m++)
        if (ks->def_m[m] && (ks->methods & (1u << m)))
            snprintf(def_buf + strlen(def_buf), q - strlen(def_buf), "%s%s: %s",
                     strchr(def_buf, '(') ? ", " : " (", method_names[m], ks->def_m[m]);
    if (strchr(def_buf, '(')) snprintf(def_buf + strlen(def_buf), q - strlen(def_buf), ")");
    d->defaults = def_buf;
    if (ks->methods == M_ALL) snprintf(app_buf, q, "all methods");
    else methods_text(ks->methods, app_buf, q);
    if (ks->models != MT_ALL)
        snprintf(app_buf + strlen(app_buf), q - strlen(app_buf), "; model.type %s",
                 model_names[ks->models == MT_TOY ? SDPO_MODEL_TOY : SDPO_MODEL_UNET]);
    d->applies = app_buf;
}

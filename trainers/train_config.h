/* trainers/train_config.h — the training configuration: one struct, one key table.
 *
 * Every key of a training run lives in a single table (train_config.c) that gives its name,
 * type, range or choices, default (per method where the official codes differ), the methods
 * and model types that use it, and its documentation. The same table validates JSON files and
 * `--set key=value` overrides and generates `sdpo train --help`, so the documentation cannot
 * drift from what is accepted.
 *
 * Sources are applied in order: defaults < config file(s) < --set overrides. A key that is
 * never set explicitly takes its default for the resolved method (e.g. train.max_grad_norm is
 * 1 for SDPO/DDPO/D3PO and 0 = off for REBEL, as upstream). A key set explicitly but not used
 * by the resolved method or model type is refused, naming the key and where it was set.
 *
 * Where the SDPO paper and the official code disagree, the default is the official code's
 * behaviour and the paper's is a value of a key; the key docs say which (see the table). */
#ifndef SDPO_TRAINERS_TRAIN_CONFIG_H
#define SDPO_TRAINERS_TRAIN_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "core/dense_reward.h"
#include "core/error.h"
#include "core/returns.h"
#include "core/stat_tracker.h"
#include "core/update_schedule.h"
#include "core/weights.h"

typedef enum { SDPO_METHOD_SDPO = 0, SDPO_METHOD_DDPO, SDPO_METHOD_REBEL, SDPO_METHOD_D3PO,
               SDPO_METHOD_COUNT } sdpo_method;
typedef enum { SDPO_MODEL_TOY = 0, SDPO_MODEL_UNET } sdpo_model_type;
/* Which image a sparse (final-step) reward scores: x̂ of the last step (the SDPO pipeline's
 * images[-1]) or the final sample x_0 (DDPO/D3PO/RLCM pipelines decode the last latent). */
typedef enum { SDPO_FINAL_XHAT = 0, SDPO_FINAL_SAMPLE } sdpo_final_image;
/* sample.timestep_spacing: the model's scheduler config, or forced. */
typedef enum { SDPO_SPACING_CHOICE_MODEL = 0, SDPO_SPACING_CHOICE_TRAILING,
               SDPO_SPACING_CHOICE_LEADING } sdpo_spacing_choice;

#define SDPO_CFG_PATH_MAX 1024
#define SDPO_CFG_NAME_MAX 128
#define SDPO_CFG_LIST_MAX 16
#define SDPO_CFG_MAX_KEYS 80
#define SDPO_CFG_ORIGIN_MAX 256

typedef struct {
    /* run */
    int seed, num_epochs, save_freq, keep_checkpoints, threads;
    /* model */
    int model_type;                    /* sdpo_model_type */
    char model_dir[SDPO_CFG_PATH_MAX];
    int lora_rank;
    double lora_alpha;                 /* 0: alpha = rank (scale 1, diffusers network_alpha=None) */
    int max_batch;                     /* 0: no limit */
    int recompute;
    /* toy world (model.type = toy) */
    int toy_height, toy_width, toy_modes, toy_seed, toy_target_mode;
    int toy_prediction;                /* sdpo_prediction */
    double toy_mode_scale, toy_mode_var, toy_prompt_scale;
    /* sample */
    char prompt_file[SDPO_CFG_PATH_MAX];
    int num_steps;
    int num_steps_cycle[SDPO_CFG_LIST_MAX], n_num_steps_cycle;
    int spacing;                       /* sdpo_spacing_choice */
    double eta, guidance_scale;
    int batch_size, num_batches_per_epoch, shared_init_noise;
    /* reward */
    char reward_name[SDPO_CFG_NAME_MAX];
    char reward_model_dir[SDPO_CFG_PATH_MAX];
    int dense_strategy;                /* sdpo_dense_strategy */
    int anchor_all_steps;              /* reward.anchor_range: 1 official, 0 paper */
    int final_image;                   /* sdpo_final_image */
    int log_first_step;
    int official_scale;                /* reward.official_scale */
    /* stats */
    int norm_mode;                     /* sdpo_norm_mode */
    int buffer_size, min_count;
    /* train */
    int method;                        /* sdpo_method */
    double learning_rate, adam_beta1, adam_beta2, adam_epsilon, adam_weight_decay;
    int train_batch_size, grad_acc, num_inner_epochs, shuffle_batch;
    int update_schedule;               /* sdpo_update_mode */
    double max_grad_norm, timestep_fraction, adv_clip_max, clip_range, log_scale, lam;
    int weighting;                     /* sdpo_weighting */
    int returns_mode;                  /* sdpo_returns_mode */
    double gamma, d3po_beta, d3po_eps;
    /* bookkeeping: per key of the table, where it was set explicitly (NULL: default) */
    char origin[SDPO_CFG_MAX_KEYS][SDPO_CFG_ORIGIN_MAX];
} sdpo_train_config;

/* "sdpo", "ddpo", "rebel", "d3po" ("unknown" outside the enum). */
const char *sdpo_method_name(sdpo_method m);

/* Every key at its SDPO default (the official aesthetic config at toy scale is NOT implied:
 * defaults are the official code's base values, Table 2 where the base has none). */
void sdpo_train_config_defaults(sdpo_train_config *c);

/* Applies a JSON file of nested objects ({"train": {"learning_rate": 1e-4}, …}). Errors name the
 * file and the key: unknown key, wrong type, out of range, not an object. */
sdpo_status sdpo_train_config_load_file(sdpo_train_config *c, const char *path);

/* Applies one "section.key=value" override (value parsed by the key's type; lists as "1,2,4").
 * Errors name the key and say "--set". */
sdpo_status sdpo_train_config_set(sdpo_train_config *c, const char *assignment);

/* Resolves method-dependent defaults for keys not set explicitly, then checks keys against the
 * method/model that use them and every cross-key constraint (divisibility of batches, grad
 * accumulation, …). Call once after all sources are applied. */
sdpo_status sdpo_train_config_finalize(sdpo_train_config *c);

/* The resolved config as canonical JSON (sorted keys, only the keys that apply to the method
 * and model, doubles with 17 significant digits so a reload is exact); malloc'd. */
sdpo_status sdpo_train_config_to_json(const sdpo_train_config *c, char **out);

/* FNV-1a 64 of the canonical JSON without the keys that may change on resume
 * (run.num_epochs, run.save_freq, run.keep_checkpoints). */
uint64_t sdpo_train_config_hash(const sdpo_train_config *c);

/* Keys that `sdpo train --resume` accepts as --set overrides (they do not change results). */
int sdpo_train_config_key_is_resumable(const char *name);

/* ---- the key table, for --help ------------------------------------------------------- */
typedef struct {
    const char *name;       /* "train.learning_rate" */
    const char *type;       /* "int", "float", "bool", "string", "one of: a|b|c", "int list" */
    const char *range;      /* "[1, inf)" or "" */
    const char *defaults;   /* "1e-4" or "1 (rebel: 0)" */
    const char *applies;    /* "all", "sdpo", "ddpo rebel d3po", "toy model" … */
    const char *doc;        /* one paragraph */
} sdpo_train_key_doc;

int sdpo_train_config_num_keys(void);
/* Fills *d for key k (0 ≤ k < num_keys); the strings live in static storage or in buf. */
void sdpo_train_config_key_doc(int k, sdpo_train_key_doc *d, char *buf, size_t buf_len);

#endif

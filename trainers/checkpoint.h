/* trainers/checkpoint.h — complete, crash-safe training checkpoints.
 *
 * A checkpoint is a directory OUT/checkpoints/epoch-NNNNNN/ holding
 *   config.json            the resolved config (trainers/train_config.h canonical JSON)
 *   weights.safetensors    the trainable tensors, F32, named as the policy registers them
 *                          (for the UNet the LoRA names its model code uses)
 *   optimizer.safetensors  AdamW moments "<name>.exp_avg" and "<name>.exp_avg_sq"; metadata
 *                          "step" = torch's state['step']
 *   state.json             format version, epoch, samples seen, the config hash, and every
 *                          random stream's position (seed, stream, block, unconsumed words)
 *   stat_tracker.bin       the running statistics (core/stat_tracker.h format), if any
 *   pytorch_lora_weights.safetensors   the UNet policy's LoRA as diffusers' load_lora_weights
 *                          reads it (models/unet.h sdpo_unet_lora_save), for the evaluator
 * It is written into OUT/checkpoints/.tmp-epoch-NNNNNN-<pid>/, every file flushed to disk,
 * then renamed into place: a killed run leaves either a complete checkpoint or a temporary
 * directory that the next start removes — never a partial epoch-NNNNNN. Older checkpoints are
 * deleted only after the new one is in place. */
#ifndef SDPO_TRAINERS_CHECKPOINT_H
#define SDPO_TRAINERS_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/rng.h"
#include "core/stat_tracker.h"
#include "nn/optim.h"
#include "nn/params.h"

#define SDPO_CHECKPOINT_VERSION 1

typedef struct {
    int epoch;
    long long samples_seen;
    uint64_t config_hash;
    sdpo_rng rng[SDPO_STREAM_COUNT];  /* rng[s] is stream s; index 0 unused */
} sdpo_ckpt_state;

/* Writes more files into the checkpoint directory `dir` before it is renamed into place. */
typedef sdpo_status (*sdpo_checkpoint_extra_fn)(void *user, const char *dir);

/* Writes the checkpoint of st->epoch under run_dir/checkpoints/ and keeps the newest `keep`.
 * tracker and extra may be NULL. The final directory path goes to `written` (n bytes). */
sdpo_status sdpo_checkpoint_write(const char *run_dir, const char *config_json,
                                  const nn_params *p, const nn_adamw *opt,
                                  const sdpo_ckpt_state *st, const sdpo_stat_tracker *tracker,
                                  sdpo_checkpoint_extra_fn extra, void *user, int keep,
                                  char *written, size_t n);

/* The newest complete checkpoint directory of run_dir (SDPO_ERR_IO if there is none). */
sdpo_status sdpo_checkpoint_latest(const char *run_dir, char *dir, size_t n);

/* Removes temporary directories left by killed runs. */
void sdpo_checkpoint_clean_tmp(const char *run_dir);

sdpo_status sdpo_checkpoint_read_state(const char *dir, sdpo_ckpt_state *st);

/* Loads weights, moments and the step into a registry with the same trainable tensors (names
 * and shapes must match exactly, in both directions). */
sdpo_status sdpo_checkpoint_read_params(const char *dir, nn_params *p, nn_adamw *opt);

/* *tracker = NULL when the checkpoint has none. */
sdpo_status sdpo_checkpoint_read_tracker(const char *dir, sdpo_stat_tracker **tracker);

#endif

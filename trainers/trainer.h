/* trainers/trainer.h — one training run: the epoch loop shared by SDPO, DDPO, REBEL and D3PO.
 *
 * Every epoch (Algorithm 1; official train L449–835):
 *   1. sample: prompts (stream PROMPT_CHOICE) → DDIM trajectories of the current policy
 *      (η, guidance, trailing/leading timesteps), pairs sharing x_T where configured;
 *   2. reward: only the samples the method needs are decoded and scored (SDPO: the steps its
 *      dense-reward strategy queries; baselines: the final image), counted and timed;
 *   3. advantages: SDPO dense rewards → returns → per-step-prompt statistics; DDPO/REBEL
 *      final rewards → per-prompt statistics; D3PO uses the rewards' order;
 *   4. update: the method's minibatch loop with gradient accumulation, global-norm clipping
 *      and AdamW;
 *   5. log one train.csv row; checkpoint every run.save_freq epochs and after the last.
 *
 * Output directory: OUT/config.json (the resolved config), OUT/train.csv, OUT/checkpoints/
 * epoch-NNNNNN/ (config.json, weights.safetensors, optimizer.safetensors, state.json,
 * stat_tracker.bin), each checkpoint written to a temporary directory and renamed when
 * complete. A run is a deterministic function of its config: the same seed gives a
 * byte-identical train.csv apart from the timing columns (the last two), and a resumed run
 * continues exactly as if it had not stopped.
 *
 * A non-finite loss, gradient norm, parameter or sample stops the run with SDPO_ERR_NONFINITE
 * and a message naming the epoch; the last checkpoint written stays the last good one. */
#ifndef SDPO_TRAINERS_TRAINER_H
#define SDPO_TRAINERS_TRAINER_H

#include "core/error.h"
#include "trainers/train_config.h"

typedef struct sdpo_trainer sdpo_trainer;

typedef struct {
    int epoch, num_epochs;      /* the epoch in progress, 1-based */
    const char *phase;          /* "sample" or "train" */
    double epoch_fraction;      /* 0 … 1 within the epoch */
} sdpo_train_progress;

typedef void (*sdpo_progress_fn)(const sdpo_train_progress *p, void *user);

/* A new run in out_dir, which must not hold a run already (config.json, train.csv or
 * checkpoints/). cfg must be finalized. Writes config.json, train.csv's header and the epoch-0
 * checkpoint. */
sdpo_status sdpo_trainer_create(const sdpo_train_config *cfg, const char *out_dir,
                                sdpo_trainer **out);

/* Continues the run in out_dir from its newest complete checkpoint; `overrides` are --set
 * assignments, allowed only for keys that do not change results (run.num_epochs,
 * run.save_freq, run.keep_checkpoints). train.csv is cut back to the checkpoint's epoch. */
sdpo_status sdpo_trainer_resume(const char *out_dir, const char *const *overrides, int n_overrides,
                                sdpo_trainer **out);

/* Trains until run.num_epochs epochs are complete. */
sdpo_status sdpo_trainer_run(sdpo_trainer *t, sdpo_progress_fn progress, void *user);

/* Epochs completed, and the resolved config. */
int sdpo_trainer_epochs_done(const sdpo_trainer *t);
const sdpo_train_config *sdpo_trainer_config(const sdpo_trainer *t);

void sdpo_trainer_free(sdpo_trainer *t);

#endif

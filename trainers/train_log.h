/* trainers/train_log.h — OUT/train.csv, one row per epoch.
 *
 * Leading '#' lines hold the run metadata (gnuplot and the eval readers skip them), then the
 * column header, then one row per epoch, appended and flushed as each epoch ends so a crash
 * leaves a valid file (a torn last line is dropped on resume). Floats use %.9g, so float32
 * values round-trip exactly. Columns:
 *   epoch, num_steps (T of the epoch), samples (trajectories sampled so far),
 *   reward_last_mean/std   reward of the last step's image (x̂_{T−1}, or x_0 for the
 *                          baselines' final_image = sample): the training "50-step" curve,
 *   reward_first_mean/std  reward of x̂ at the first step: the official "1-step" curve (nan
 *                          when not scored),
 *   loss, clipfrac         means over the epoch's minibatch passes,
 *   grad_norm              mean pre-clipping global gradient norm over optimizer steps,
 *   updates                optimizer steps in the epoch,
 *   reward_queries         queries the method made; log_queries: extra first-step queries,
 *   wall_s, reward_s       seconds of the epoch, and of its reward decoding + scoring.
 * The two timing columns come last so a determinism check can mask them: everything before
 * them is a deterministic function of the config. Means and population stds are over the
 * epoch's trajectories. */
#ifndef SDPO_TRAINERS_TRAIN_LOG_H
#define SDPO_TRAINERS_TRAIN_LOG_H

#include "core/error.h"

#define SDPO_TRAIN_CSV_COLUMNS                                                                  \
    "epoch,num_steps,samples,reward_last_mean,reward_last_std,reward_first_mean,"              \
    "reward_first_std,loss,clipfrac,grad_norm,updates,reward_queries,log_queries,wall_s,"      \
    "reward_s"
#define SDPO_TRAIN_CSV_TIMING_COLUMNS 2

typedef struct {
    int epoch, num_steps;
    long long samples;
    double reward_last_mean, reward_last_std, reward_first_mean, reward_first_std;
    double loss, clipfrac, grad_norm;
    long long updates, reward_queries, log_queries;
    double wall_s, reward_s;
} sdpo_train_row;

/* Creates path (atomically) with the '#' metadata lines (each without '#' or newline) and the
 * column header. */
sdpo_status sdpo_train_log_create(const char *path, const char *const *meta, int n_meta);

/* Keeps the metadata, the header and the complete rows with epoch <= last_epoch, drops the
 * rest (rows of epochs after a checkpoint, a torn line), appends the '#' line `note`. */
sdpo_status sdpo_train_log_truncate(const char *path, int last_epoch, const char *note);

/* Appends one row and flushes it to disk. */
sdpo_status sdpo_train_log_append(const char *path, const sdpo_train_row *row);

#endif

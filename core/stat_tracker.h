/* core/stat_tracker.h — running reward/return statistics that turn values into advantages.
 *
 * One opaque tracker, three modes (Sec. 3.3 "per-step-prompt reward normalization" and the
 * Sec. 4.3 / Fig. 6-left ablation). Values are [N, T] row-major (core/trajectory.h), one prompt
 * string per row; keys are exact byte strings (strcmp equality).
 *
 *   SDPO_NORM_PER_STEP_PROMPT  SDPO's PerStepPromptStatTracker (sdpo
 *       sdpo_pytorch/stat_tracking.py L17–42, official spec §2.7). For every unique prompt c and
 *       step i: append this call's values {v[n][i] : prompt[n] = c} (rows in order) to the FIFO
 *       buffer (c, i) of capacity buffer_size, THEN take μ, σ from that buffer if it holds
 *       >= min_count values, else from column i of the whole current batch (all prompts);
 *       A = (v − μ)/(σ + 1e-6).
 *   SDPO_NORM_PER_PROMPT  DDPO's PerPromptStatTracker (ddpo-pytorch stat_tracking.py L11–30,
 *       baselines §2): one FIFO buffer per prompt; the rows of prompt c contribute their values
 *       row-major (trajectory, then step) before the statistics are taken; the fallback below
 *       min_count is the mean/std of ALL N×T values of the current batch; same 1e-6. DDPO,
 *       REBEL and D3PO call it with T = 1.
 *   SDPO_NORM_GLOBAL  A = (v − mean)/(std + 1e-8) over all N×T values of the batch, no state
 *       (sdpo scripts/train_sdpo.py L643–644). buffer_size and min_count are unused.
 *
 * Statistics: mean and population std (ddof = 0, as np.std), two-pass, in double, over the
 * buffer in FIFO order (so a restored tracker rounds exactly like one that never stopped).
 * Upstream computes them in float32 numpy; results agree to float rounding. Buffers persist
 * across calls (upstream: the deque outlives the epoch and is checkpointed, train L216). */
#ifndef SDPO_CORE_STAT_TRACKER_H
#define SDPO_CORE_STAT_TRACKER_H

#include <stddef.h>

#include "core/error.h"

typedef enum {
    SDPO_NORM_PER_STEP_PROMPT = 0,
    SDPO_NORM_PER_PROMPT,
    SDPO_NORM_GLOBAL
} sdpo_norm_mode;

/* Parses "per-step-prompt" | "per-prompt" | "global"; SDPO_ERR_ARG listing them otherwise. */
sdpo_status sdpo_norm_mode_parse(const char *s, sdpo_norm_mode *out);

/* The config spelling of a mode; "unknown" for a value outside the enum. */
const char *sdpo_norm_mode_name(sdpo_norm_mode mode);

typedef struct sdpo_stat_tracker sdpo_stat_tracker;

/* T >= 1 steps per row, buffer_size >= 1 (deque maxlen), min_count >= 0 (below it: fallback).
 * SDPO defaults 32 / 16; DDPO 16 / 16 or 32 / 16 (baselines §2). */
sdpo_status sdpo_stat_tracker_new(sdpo_norm_mode mode, int T, int buffer_size, int min_count,
                                  sdpo_stat_tracker **out);

void sdpo_stat_tracker_free(sdpo_stat_tracker *tr);

/* Appends the batch and writes advantages [N, T]. prompts[N] may be NULL in GLOBAL mode.
 * `advantages` may equal `values`. Fails (tracker unchanged, advantages untouched) on
 * non-finite values (SDPO_ERR_NONFINITE naming values[n][i]), bad arguments, or NOMEM. */
sdpo_status sdpo_stat_tracker_update(sdpo_stat_tracker *tr, int N, const char *const *prompts,
                                     const float *values, float *advantages);

/* Number of distinct prompts with buffers (0 in GLOBAL mode). */
int sdpo_stat_tracker_num_prompts(const sdpo_stat_tracker *tr);

/* Copies buffer (prompt, step) oldest-first into out[0..*count) (out may be NULL to query the
 * count; it must hold buffer_size floats otherwise). An unknown prompt gives *count = 0. step
 * must be 0 in PER_PROMPT mode and in [0, T) in PER_STEP_PROMPT mode; GLOBAL has no buffers. */
sdpo_status sdpo_stat_tracker_buffer(const sdpo_stat_tracker *tr, const char *prompt, int step,
                                     float *out, int *count);

/* Checkpoint format, version 1, all integers little-endian uint32, floats IEEE-754 binary32
 * stored as their bit patterns (exact round trip):
 *
 *   offset  size  field
 *   0       8     magic        "SDPOSTAT"
 *   8       4     version      1
 *   12      4     mode         0 per-step-prompt, 1 per-prompt, 2 global
 *   16      4     T            >= 1
 *   20      4     buffer_size  >= 1
 *   24      4     min_count
 *   28      4     n_keys       0 in global mode
 *   32      …     n_keys records, keys in strictly ascending strcmp order (no duplicates):
 *                   key_len u32, key bytes (no NUL, not terminated),
 *                   n_buf buffers (n_buf = T per-step-prompt, 1 per-prompt), each:
 *                     count u32 (1 … buffer_size), count × float32 values oldest first
 *   end−4   4     crc32        CRC-32 (IEEE 802.3, as zlib) of every preceding byte
 *
 * serialize allocates *buf with malloc (caller frees). deserialize validates every field,
 * never reads outside [buf, buf+len), and fails with SDPO_ERR_FORMAT naming the field at fault
 * (magic, version, mode, T, buffer_size, min_count, n_keys, key_len, key, count, values,
 * crc32, or trailing bytes); allocations are bounded by len. */
sdpo_status sdpo_stat_tracker_serialize(const sdpo_stat_tracker *tr, unsigned char **buf,
                                        size_t *len);
sdpo_status sdpo_stat_tracker_deserialize(const unsigned char *buf, size_t len,
                                          sdpo_stat_tracker **out);

#endif

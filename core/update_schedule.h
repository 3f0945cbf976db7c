/* core/update_schedule.h — which step each pair trains on in each column of the update loop,
 * and how many backward passes make one optimizer step (Sec. 3.3 "step-shuffled gradient
 * updates", Algorithm 1 L10–14, Eq. 16; Sec. 4.3 / Fig. 6 right; official spec §2.9).
 *
 * The update loop runs over columns j = 0..T−1 (outer) and minibatches of pairs (inner), as the
 * official code does (sdpo scripts/train_sdpo.py L696–709). order[p*T + j] is the step index i
 * (core/trajectory.h) that pair p trains on in column j; both members a and b of a pair use
 * it, so a pair is always compared at one step (L668–685 permute every key of a sample,
 * trajectories a and b alike, with the same `perms` row).
 *
 *   SHUFFLED     an independent uniform permutation of the T steps per pair, drawn with
 *                sdpo_rng_permutation from the caller's stream (the trainer passes
 *                SDPO_STREAM_STEP_SHUFFLE), pairs in order 0..n_pairs−1 (official
 *                shuffle_timestep=True, L668–685); an optimizer step every grad_acc minibatch
 *                backward passes (accelerate gradient_accumulation_steps, NOT multiplied by T,
 *                L76–81).
 *   SEQUENTIAL   identity: column j is step j for every pair (shuffle_timestep=False), so
 *                updates run step 0 → T−1; optimizer steps as SHUFFLED.
 *   ACCUMULATED  the gradients of all T columns of all minibatches are summed before one
 *                optimizer step per epoch (the paper's "step-accumulated updates", DDPO-style);
 *                upstream has no flag, it is grad_acc = T × n_minibatches. The step order is
 *                the SHUFFLED one (same draws), so this ablation changes only when the
 *                optimizer steps; the summed gradient does not depend on the order.
 *
 * With accelerate each backward is scaled by 1/(backwards per step), so an optimizer step
 * sees the mean over its minibatches of the per-minibatch mean loss gradients. */
#ifndef SDPO_CORE_UPDATE_SCHEDULE_H
#define SDPO_CORE_UPDATE_SCHEDULE_H

#include "core/error.h"
#include "core/rng.h"

typedef enum {
    SDPO_UPDATE_SHUFFLED = 0,
    SDPO_UPDATE_SEQUENTIAL,
    SDPO_UPDATE_ACCUMULATED
} sdpo_update_mode;

/* Parses "shuffled" | "sequential" | "accumulated"; SDPO_ERR_ARG listing them otherwise. */
sdpo_status sdpo_update_mode_parse(const char *s, sdpo_update_mode *out);

/* The config spelling of a mode; "unknown" for a value outside the enum. */
const char *sdpo_update_mode_name(sdpo_update_mode mode);

/* Fills order[n_pairs][T] as described above. n_pairs >= 0, T >= 1; rng is required (and
 * advanced by n_pairs permutations) for SHUFFLED and ACCUMULATED, unused (may be NULL) for
 * SEQUENTIAL. */
sdpo_status sdpo_update_step_order(sdpo_update_mode mode, int n_pairs, int T, sdpo_rng *rng,
                                   int *order);

/* *backwards = minibatch backward passes per optimizer step: grad_acc for SHUFFLED and
 * SEQUENTIAL, T × n_minibatches for ACCUMULATED (grad_acc unused). All counts must be >= 1, and
 * for SHUFFLED/SEQUENTIAL the epoch's T × n_minibatches backward passes must be a multiple of
 * grad_acc (upstream asserts the epoch ends on an optimizer step, L835). */
sdpo_status sdpo_update_backwards_per_step(sdpo_update_mode mode, int grad_acc,
                                           int n_minibatches, int T, int *backwards);

#endif

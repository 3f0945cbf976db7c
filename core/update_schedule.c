/* core/update_schedule.c — step orders and accumulation counts (see update_schedule.h). */
#include "core/update_schedule.h"

#include <limits.h>
#include <stddef.h>
#include <string.h>

static const char *const update_names[] = {"shuffled", "sequential", "accumulated"};
enum { N_UPDATE_MODES = sizeof update_names / sizeof update_names[0] };

sdpo_status sdpo_update_mode_parse(const char *s, sdpo_update_mode *out) {
    for (int k = 0; s && k < N_UPDATE_MODES; k++) {
        if (strcmp(s, update_names[k]) == 0) {
            *out = (sdpo_update_mode)k;
            return SDPO_OK;
        }
    }
    return sdpo_fail(SDPO_ERR_ARG,
                     "update schedule: unknown mode '%s' (valid: shuffled, sequential, accumulated)",
                     s ? s : "(null)");
}

const char *sdpo_update_mode_name(sdpo_update_mode mode) {
    return (unsigned)mode < N_UPDATE_MODES ? update_names[mode] : "unknown";
}

sdpo_status sdpo_update_step_order(sdpo_update_mode mode, int n_pairs, int T, sdpo_rng *rng,
                                   int *order) {
    if ((unsigned)mode >= N_UPDATE_MODES)
        return sdpo_fail(SDPO_ERR_ARG, "update schedule: invalid mode %d", (int)mode);
    if (n_pairs < 0 || T < 1)
        return sdpo_fail(SDPO_ERR_ARG, "update schedule: n_pairs = %d must be >= 0, T = %d >= 1",
                         n_pairs, T);
    if (n_pairs > 0 && !order)
        return sdpo_fail(SDPO_ERR_ARG, "update schedule: order must not be NULL");
    if (mode == SDPO_UPDATE_SEQUENTIAL) {
        for (int p = 0; p < n_pairs; p++)
            for (int j = 0; j < T; j++) order[(size_t)p * T + j] = j;
        return SDPO_OK;
    }
    if (!rng)
        return sdpo_fail(SDPO_ERR_ARG, "update schedule: mode %s needs an rng stream",
                         update_names[mode]);
    /* One torch.randperm(T) per sample, samples in order (L670–672). */
    for (int p = 0; p < n_pairs; p++) sdpo_rng_permutation(rng, order + (size_t)p * T, T);
    return SDPO_OK;
}

sdpo_status sdpo_update_backwards_per_step(sdpo_update_mode mode, int grad_acc,
                                           int n_minibatches, int T, int *backwards) {
    if ((unsigned)mode >= N_UPDATE_MODES)
        return sdpo_fail(SDPO_ERR_ARG, "update schedule: invalid mode %d", (int)mode);
    if (!backwards) return sdpo_fail(SDPO_ERR_ARG, "update schedule: backwards must not be NULL");
    if (n_minibatches < 1 || T < 1)
        return sdpo_fail(SDPO_ERR_ARG, "update schedule: n_minibatches = %d and T = %d must be >= 1",
                         n_minibatches, T);
    if (n_minibatches > INT_MAX / T)
        return sdpo_fail(SDPO_ERR_ARG, "update schedule: T × n_minibatches = %d × %d overflows",
                         T, n_minibatches);
    const int per_epoch = T * n_minibatches;
    if (mode == SDPO_UPDATE_ACCUMULATED) {
        *backwards = per_epoch;
        return SDPO_OK;
    }
    if (grad_acc < 1)
        return sdpo_fail(SDPO_ERR_ARG, "update schedule: grad_acc = %d must be >= 1", grad_acc);
    if (per_epoch % grad_acc != 0)
        return sdpo_fail(SDPO_ERR_ARG,
                         "update schedule: T × n_minibatches = %d is not a multiple of grad_acc = "
                         "%d (the epoch must end on an optimizer step, official L835)",
                         per_epoch, grad_acc);
    *backwards = grad_acc;
    return SDPO_OK;
}

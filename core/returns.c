/* core/returns.c — discounted returns (see returns.h). */
#include "core/returns.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

sdpo_status sdpo_returns_mode_parse(const char *s, sdpo_returns_mode *out) {
    if (s && strcmp(s, "discounted") == 0) {
        *out = SDPO_RETURNS_DISCOUNTED;
        return SDPO_OK;
    }
    if (s && strcmp(s, "none") == 0) {
        *out = SDPO_RETURNS_NONE;
        return SDPO_OK;
    }
    return sdpo_fail(SDPO_ERR_ARG, "returns: unknown mode '%s' (valid: discounted, none)",
                     s ? s : "(null)");
}

const char *sdpo_returns_mode_name(sdpo_returns_mode mode) {
    switch (mode) {
    case SDPO_RETURNS_DISCOUNTED: return "discounted";
    case SDPO_RETURNS_NONE: return "none";
    }
    return "unknown";
}

/* Shared argument checks; every value is validated before anything is written. */
static sdpo_status check_rewards(int N, int T, const float *rewards, const float *returns) {
    if (N < 0) return sdpo_fail(SDPO_ERR_ARG, "returns: N = %d must be >= 0", N);
    if (T < 1) return sdpo_fail(SDPO_ERR_ARG, "returns: T = %d must be >= 1", T);
    if (N > 0 && (!rewards || !returns))
        return sdpo_fail(SDPO_ERR_ARG, "returns: rewards/returns must not be NULL");
    for (int n = 0; n < N; n++)
        for (int i = 0; i < T; i++)
            if (!isfinite(rewards[(size_t)n * T + i]))
                return sdpo_fail(SDPO_ERR_NONFINITE, "returns: rewards[%d][%d] is not finite", n,
                                 i);
    return SDPO_OK;
}

sdpo_status sdpo_discounted_returns(int N, int T, const float *rewards, double gamma,
                                    float *returns) {
    if (isnan(gamma) || gamma > 1.0)
        return sdpo_fail(SDPO_ERR_ARG, "returns: gamma = %g must be <= 1 (paper: (0, 1])", gamma);
    sdpo_status st = check_rewards(N, T, rewards, returns);
    if (st != SDPO_OK) return st;
    for (int n = 0; n < N; n++) {
        const float *r = rewards + (size_t)n * T;
        float *g = returns + (size_t)n * T;
        if (gamma <= 0.0) { /* official: the return block is skipped (L631) */
            if (g != r) memcpy(g, r, (size_t)T * sizeof *g);
            continue;
        }
        /* Backward from the last step (L632–635); R_i is read before G_i overwrites it. */
        double acc = 0.0;
        for (int i = T - 1; i >= 0; i--) {
            acc = (double)r[i] + gamma * acc;
            g[i] = (float)acc;
        }
    }
    return SDPO_OK;
}

sdpo_status sdpo_compute_returns(sdpo_returns_mode mode, int N, int T, const float *rewards,
                                 double gamma, float *returns) {
    switch (mode) {
    case SDPO_RETURNS_DISCOUNTED: return sdpo_discounted_returns(N, T, rewards, gamma, returns);
    case SDPO_RETURNS_NONE: return sdpo_discounted_returns(N, T, rewards, 0.0, returns);
    }
    return sdpo_fail(SDPO_ERR_ARG, "returns: invalid mode %d", (int)mode);
}

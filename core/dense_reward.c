/* core/dense_reward.c — dense reward prediction strategies (see dense_reward.h). */
#include "core/dense_reward.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* torch.nn.functional.cosine_similarity's default eps. */
#define SDPO_COSINE_EPS 1e-8

static const char *const strategy_names[SDPO_DENSE_COUNT] = {
    [SDPO_DENSE_COPY] = "copy",
    [SDPO_DENSE_INTERP2] = "interp2",
    [SDPO_DENSE_SIM2] = "sim2",
    [SDPO_DENSE_SIM3_FIXED] = "sim3-fixed",
    [SDPO_DENSE_SIM3_RANDOM] = "sim3-random",
    [SDPO_DENSE_SIM3_ADAPTIVE] = "sim3-adaptive",
    [SDPO_DENSE_FULL] = "full",
};

const char *sdpo_dense_strategy_name(sdpo_dense_strategy s) {
    if ((int)s < 0 || s >= SDPO_DENSE_COUNT) return "unknown";
    return strategy_names[s];
}

sdpo_status sdpo_dense_strategy_parse(const char *name, sdpo_dense_strategy *out) {
    if (!name || !out)
        return sdpo_fail(SDPO_ERR_ARG, "dense reward strategy: NULL %s", name ? "out" : "name");
    for (int s = 0; s < SDPO_DENSE_COUNT; s++) {
        if (strcmp(name, strategy_names[s]) == 0) {
            *out = (sdpo_dense_strategy)s;
            return SDPO_OK;
        }
    }
    char valid[160] = "";
    size_t len = 0;
    for (int s = 0; s < SDPO_DENSE_COUNT && len < sizeof valid; s++)
        len += (size_t)snprintf(valid + len, sizeof valid - len, "%s%s", s ? ", " : "",
                                strategy_names[s]);
    return sdpo_fail(SDPO_ERR_ARG, "dense reward strategy '%s' is unknown (valid: %s)", name,
                     valid);
}

double sdpo_cosine_from_sums(double dot, double aa, double bb) {
    /* max(|a|, eps)·max(|b|, eps) written as one sqrt of the product of squares: see the header
     * for why (exact symmetry and cos(a, a) = 1). */
    const double eps2 = SDPO_COSINE_EPS * SDPO_COSINE_EPS;
    return dot / sqrt(fmax(aa, eps2) * fmax(bb, eps2));
}

double sdpo_cosine(const float *a, const float *b, size_t D) {
    double dot = 0, aa = 0, bb = 0;
    for (size_t d = 0; d < D; d++) {
        double x = a[d], y = b[d];
        dot += x * y;
        aa += x * x;
        bb += y * y;
    }
    return sdpo_cosine_from_sums(dot, aa, bb);
}

static int is_sim3(sdpo_dense_strategy s) {
    return s == SDPO_DENSE_SIM3_FIXED || s == SDPO_DENSE_SIM3_RANDOM ||
           s == SDPO_DENSE_SIM3_ADAPTIVE;
}

static int uses_xhat(sdpo_dense_strategy s) { return s == SDPO_DENSE_SIM2 || is_sim3(s); }

int sdpo_dense_query_count(sdpo_dense_strategy s, int T) {
    if (T < 1 || (int)s < 0 || s >= SDPO_DENSE_COUNT) return 0;
    if (T == 1) return 1;
    switch (s) {
    case SDPO_DENSE_COPY: return 1;
    case SDPO_DENSE_INTERP2:
    case SDPO_DENSE_SIM2: return 2;
    case SDPO_DENSE_SIM3_FIXED:
    case SDPO_DENSE_SIM3_RANDOM:
    case SDPO_DENSE_SIM3_ADAPTIVE: return T == 2 ? 2 : 3;
    case SDPO_DENSE_FULL: return T;
    case SDPO_DENSE_COUNT: break;
    }
    return 0;
}

/* Validates what every entry point shares: config, T, and x̂ when the strategy reads it. */
static sdpo_status check_common(const sdpo_dense_config *cfg, int T, size_t D, const float *xhat,
                                const char *fn) {
    if (!cfg) return sdpo_fail(SDPO_ERR_ARG, "%s: NULL config", fn);
    if ((int)cfg->strategy < 0 || cfg->strategy >= SDPO_DENSE_COUNT)
        return sdpo_fail(SDPO_ERR_ARG, "%s: config.strategy = %d is not a strategy", fn,
                         (int)cfg->strategy);
    const char *name = strategy_names[cfg->strategy];
    if (cfg->anchor_all_steps != 0 && cfg->anchor_all_steps != 1)
        return sdpo_fail(SDPO_ERR_ARG, "%s (%s): config.anchor_all_steps = %d, must be 0 or 1", fn,
                         name, cfg->anchor_all_steps);
    if (T < 1) return sdpo_fail(SDPO_ERR_ARG, "%s (%s): T = %d, need T >= 1", fn, name, T);
    if (!uses_xhat(cfg->strategy)) return SDPO_OK;
    if (!xhat) return sdpo_fail(SDPO_ERR_ARG, "%s (%s): NULL xhat", fn, name);
    if (D < 1) return sdpo_fail(SDPO_ERR_ARG, "%s (%s): D = 0, need D >= 1", fn, name);
    for (int i = 0; i < T; i++)
        for (size_t d = 0; d < D; d++)
            if (!isfinite(xhat[(size_t)i * D + d]))
                return sdpo_fail(SDPO_ERR_NONFINITE, "%s (%s): xhat[%d][%zu] = %g is not finite",
                                 fn, name, i, d, (double)xhat[(size_t)i * D + d]);
    return SDPO_OK;
}

/* The range of steps the anchor may take for a sim3-* strategy with T ≥ 3. */
static void anchor_range(const sdpo_dense_config *cfg, int T, int *lo, int *hi) {
    int all = cfg->strategy == SDPO_DENSE_SIM3_ADAPTIVE && cfg->anchor_all_steps;
    *lo = all ? 0 : 1;
    *hi = all ? T - 1 : T - 2;
}

/* Eq. 10: argmin of s^F_i + s^L_i over [lo, hi]; the strict '<' keeps the first (smallest)
 * minimiser, as torch.argmin does. */
static int adaptive_anchor(int T, size_t D, const float *xhat, int lo, int hi) {
    const float *first = xhat, *last = xhat + (size_t)(T - 1) * D;
    int best = lo;
    double best_sum = INFINITY;
    for (int i = lo; i <= hi; i++) {
        const float *x = xhat + (size_t)i * D;
        double sum = sdpo_cosine(x, first, D) + sdpo_cosine(x, last, D);
        if (sum < best_sum) {
            best_sum = sum;
            best = i;
        }
    }
    return best;
}

sdpo_status sdpo_dense_query_steps(const sdpo_dense_config *cfg, int T, size_t D,
                                   const float *xhat, sdpo_rng *anchor_rng, int *steps,
                                   int *n_steps) {
    static const char fn[] = "dense reward query steps";
    sdpo_status st = check_common(cfg, T, D, xhat, fn);
    if (st != SDPO_OK) return st;
    if (!steps || !n_steps)
        return sdpo_fail(SDPO_ERR_ARG, "%s: NULL %s", fn, steps ? "n_steps" : "steps");
    sdpo_dense_strategy s = cfg->strategy;
    if (T == 1) {
        steps[0] = 0;
        *n_steps = 1;
        return SDPO_OK;
    }
    if (s == SDPO_DENSE_COPY) {
        steps[0] = T - 1;
        *n_steps = 1;
        return SDPO_OK;
    }
    if (s == SDPO_DENSE_FULL) {
        for (int i = 0; i < T; i++) steps[i] = i;
        *n_steps = T;
        return SDPO_OK;
    }
    if (!is_sim3(s) || T == 2) { /* interp2, sim2, and sim3-* with an empty anchor range */
        steps[0] = 0;
        steps[1] = T - 1;
        *n_steps = 2;
        return SDPO_OK;
    }
    int k, lo, hi;
    anchor_range(cfg, T, &lo, &hi);
    if (s == SDPO_DENSE_SIM3_FIXED) {
        k = T / 2;
    } else if (s == SDPO_DENSE_SIM3_RANDOM) {
        if (!anchor_rng) return sdpo_fail(SDPO_ERR_ARG, "%s (sim3-random): NULL anchor_rng", fn);
        k = 1 + (int)sdpo_rng_below(anchor_rng, (uint32_t)(T - 2));
    } else {
        k = adaptive_anchor(T, D, xhat, lo, hi);
    }
    steps[0] = 0;
    steps[1] = k;
    steps[2] = T - 1;
    *n_steps = 3;
    return SDPO_OK;
}

/* Checks that steps[0 .. n_steps) is the layout sdpo_dense_query_steps gives for cfg and T. */
static sdpo_status check_layout(const sdpo_dense_config *cfg, int T, const int *steps,
                                int n_steps, const char *fn) {
    const char *name = strategy_names[cfg->strategy];
    int want_n = sdpo_dense_query_count(cfg->strategy, T);
    if (n_steps != want_n)
        return sdpo_fail(SDPO_ERR_ARG, "%s (%s): n_steps = %d, expected %d for T = %d", fn, name,
                         n_steps, want_n, T);
    for (int j = 0; j < n_steps; j++) {
        int want;
        if (cfg->strategy == SDPO_DENSE_FULL || T == 1) {
            want = j;
        } else if (cfg->strategy == SDPO_DENSE_COPY) {
            want = T - 1;
        } else if (j == 0) {
            want = 0;
        } else if (j == n_steps - 1) {
            want = T - 1;
        } else { /* the sim3 anchor */
            int lo, hi;
            anchor_range(cfg, T, &lo, &hi);
            if (steps[j] < lo || steps[j] > hi)
                return sdpo_fail(SDPO_ERR_ARG, "%s (%s): anchor steps[%d] = %d is outside [%d, %d]",
                                 fn, name, j, steps[j], lo, hi);
            continue;
        }
        if (steps[j] != want)
            return sdpo_fail(SDPO_ERR_ARG, "%s (%s): steps[%d] = %d, expected %d", fn, name, j,
                             steps[j], want);
    }
    return SDPO_OK;
}

/* Eq. 11 at every step not in `refs`: the average of rewards rr[0 .. m) weighted by
 * cos(x̂_i, x̂_refs[j]), numerator and denominator summed in the official code's order (first,
 * anchor, last; train L555–559). The queried steps are left for the caller to overwrite. */
static sdpo_status similarity_average(int T, size_t D, const float *xhat, const int *refs,
                                      const float *rr, int m, float *pred, const char *name) {
    for (int i = 0; i < T; i++) {
        int queried = 0;
        for (int j = 0; j < m; j++) queried |= refs[j] == i;
        if (queried) continue;
        const float *x = xhat + (size_t)i * D;
        double num = 0, den = 0;
        for (int j = 0; j < m; j++) {
            double w = sdpo_cosine(x, xhat + (size_t)refs[j] * D, D);
            num += w * rr[j];
            den += w;
        }
        if (den == 0.0)
            return sdpo_fail(SDPO_ERR_NONFINITE,
                             "dense reward predict (%s): step %d: similarity weights sum to 0",
                             name, i);
        pred[i] = (float)(num / den);
        if (!isfinite(pred[i]))
            return sdpo_fail(SDPO_ERR_NONFINITE,
                             "dense reward predict (%s): step %d: prediction %g / %g is not a "
                             "finite float", name, i, num, den);
    }
    return SDPO_OK;
}

sdpo_status sdpo_dense_predict(const sdpo_dense_config *cfg, int T, size_t D, const float *xhat,
                               const int *steps, int n_steps, const float *queried_rewards,
                               float *pred) {
    static const char fn[] = "dense reward predict";
    sdpo_status st = check_common(cfg, T, D, xhat, fn);
    if (st != SDPO_OK) return st;
    const char *name = strategy_names[cfg->strategy];
    if (!steps || !queried_rewards || !pred)
        return sdpo_fail(SDPO_ERR_ARG, "%s (%s): NULL %s", fn, name,
                         !steps ? "steps" : !queried_rewards ? "queried_rewards" : "pred");
    st = check_layout(cfg, T, steps, n_steps, fn);
    if (st != SDPO_OK) return st;
    for (int j = 0; j < n_steps; j++)
        if (!isfinite(queried_rewards[j]))
            return sdpo_fail(SDPO_ERR_NONFINITE,
                             "%s (%s): queried_rewards[%d] (step %d) = %g is not finite", fn, name,
                             j, steps[j], (double)queried_rewards[j]);

    const float *R = queried_rewards;
    if (T == 1 || cfg->strategy == SDPO_DENSE_FULL) { /* every step queried */
        for (int i = 0; i < T; i++) pred[i] = R[i];
        return SDPO_OK;
    }
    if (cfg->strategy == SDPO_DENSE_COPY) {
        for (int i = 0; i < T; i++) pred[i] = R[0];
        return SDPO_OK;
    }
    if (cfg->strategy == SDPO_DENSE_INTERP2) {
        double r0 = R[0], r1 = R[1];
        for (int i = 1; i < T - 1; i++) pred[i] = (float)(r0 + (r1 - r0) * i / (T - 1));
    } else {
        /* sim2, or sim3-* (T = 2 leaves n_steps = 2: sim2). The query list [first, anchor,
         * last] is already the official weighting order; for sim2 it is [first, last]. */
        st = similarity_average(T, D, xhat, steps, R, n_steps, pred, name);
        if (st != SDPO_OK) return st;
    }
    /* Queried steps take their exact reward: first, last, then the anchor (train L561–562,
     * L571–572), so an anchor on an endpoint keeps the anchor query's value. */
    pred[0] = R[0];
    pred[T - 1] = R[n_steps - 1];
    if (n_steps == 3) pred[steps[1]] = R[1];
    return SDPO_OK;
}

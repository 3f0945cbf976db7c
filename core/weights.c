/* core/weights.c — stepwise importance weights (see weights.h). */
#include "core/weights.h"

#include <math.h>
#include <string.h>

static const char *const weighting_names[] = {"decay", "uniform", "reverse"};
enum { N_WEIGHTINGS = sizeof weighting_names / sizeof weighting_names[0] };

sdpo_status sdpo_weighting_parse(const char *s, sdpo_weighting *out) {
    for (int k = 0; s && k < N_WEIGHTINGS; k++) {
        if (strcmp(s, weighting_names[k]) == 0) {
            *out = (sdpo_weighting)k;
            return SDPO_OK;
        }
    }
    return sdpo_fail(SDPO_ERR_ARG, "weighting: unknown mode '%s' (valid: decay, uniform, reverse)",
                     s ? s : "(null)");
}

const char *sdpo_weighting_name(sdpo_weighting mode) {
    return (unsigned)mode < N_WEIGHTINGS ? weighting_names[mode] : "unknown";
}

double sdpo_step_weight(sdpo_weighting mode, double lambda, double eta, int i, int T) {
    if (i < 0 || i >= T || !isfinite(lambda) || !isfinite(eta) || eta == 0.0) return NAN;
    switch (mode) {
    case SDPO_WEIGHT_DECAY: return pow(lambda, i) / eta;            /* L250 */
    case SDPO_WEIGHT_UNIFORM: return 1.0 / eta;                     /* λ = 1 */
    case SDPO_WEIGHT_REVERSE: return pow(lambda, T - 1 - i) / eta;  /* L251, commented out */
    }
    return NAN;
}

sdpo_status sdpo_step_weights(sdpo_weighting mode, double lambda, double eta, int T, double *w) {
    if ((unsigned)mode >= N_WEIGHTINGS)
        return sdpo_fail(SDPO_ERR_ARG, "weighting: invalid mode %d", (int)mode);
    if (T < 1) return sdpo_fail(SDPO_ERR_ARG, "weighting: T = %d must be >= 1", T);
    if (!isfinite(lambda))
        return sdpo_fail(SDPO_ERR_ARG, "weighting: lambda = %g must be finite", lambda);
    if (!isfinite(eta) || eta == 0.0)
        return sdpo_fail(SDPO_ERR_ARG, "weighting: eta = %g must be finite and non-zero", eta);
    if (!w) return sdpo_fail(SDPO_ERR_ARG, "weighting: w must not be NULL");
    for (int i = 0; i < T; i++) w[i] = sdpo_step_weight(mode, lambda, eta, i, T);
    return SDPO_OK;
}

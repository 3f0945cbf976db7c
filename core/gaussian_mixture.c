/* core/gaussian_mixture.c — see gaussian_mixture.h. */
#include "core/gaussian_mixture.h"

#include <math.h>

void sdpo_gmm_eps(const sdpo_gmm *g, double alpha_bar, const float *x_t, float *eps,
                  double *scratch) {
    const double sa = sqrt(alpha_bar), sb = sqrt(1.0 - alpha_bar);
    const double v = alpha_bar * g->var + 1.0 - alpha_bar;
    /* Log-responsibilities, then a max-shifted softmax so no exp() underflows to all zeros. */
    double best = -INFINITY;
    for (int k = 0; k < g->K; k++) {
        const float *mu = g->means + (size_t)k * g->D;
        double d2 = 0.0;
        for (size_t d = 0; d < g->D; d++) {
            double r = x_t[d] - sa * mu[d];
            d2 += r * r;
        }
        scratch[k] = log(g->weights[k]) - d2 / (2.0 * v);
        if (scratch[k] > best) best = scratch[k];
    }
    double z = 0.0;
    for (int k = 0; k < g->K; k++) {
        scratch[k] = exp(scratch[k] - best);
        z += scratch[k];
    }
    for (size_t d = 0; d < g->D; d++) {
        double e = 0.0;
        for (int k = 0; k < g->K; k++) e += scratch[k] * (x_t[d] - sa * g->means[(size_t)k * g->D + d]);
        eps[d] = (float)(sb * e / (v * z));
    }
}

/* core/gaussian_mixture.h — the exact noise predictor of a Gaussian-mixture data distribution.
 *
 * For data x0 ~ Σ_k π_k N(μ_k, s²·I) and the forward process x_t = √ᾱ·x0 + √(1−ᾱ)·ε, the
 * optimal ε-prediction (the one a perfectly trained network converges to) is closed-form:
 *   x_t | k ~ N(√ᾱ·μ_k, v·I) with v = ᾱ·s² + 1 − ᾱ,
 *   w_k ∝ π_k·exp(−‖x_t − √ᾱ·μ_k‖² / (2v))          (posterior responsibility)
 *   E[ε | x_t] = Σ_k w_k·√(1−ᾱ)·(x_t − √ᾱ·μ_k)/v        (Cov(ε, x_t | k) = √(1−ᾱ)·I).
 * It stands in for a UNet wherever a test or demo needs real DDIM trajectories without a
 * trained model: trajectories bend as the responsibilities shift between modes, so the x̂
 * path is not a great circle and adaptive anchors land inside (sdpo_official_code.md §7.1). */
#ifndef SDPO_CORE_GAUSSIAN_MIXTURE_H
#define SDPO_CORE_GAUSSIAN_MIXTURE_H

#include <stddef.h>

typedef struct {
    int K;                 /* components */
    size_t D;              /* dimension */
    const float *means;    /* [K, D] */
    const double *weights; /* [K], positive, need not sum to 1 */
    double var;            /* s², the per-component isotropic variance of the data */
} sdpo_gmm;

/* eps[0..D) = E[ε | x_t] at ᾱ = alpha_bar; scratch holds K doubles. */
void sdpo_gmm_eps(const sdpo_gmm *g, double alpha_bar, const float *x_t, float *eps,
                  double *scratch);

#endif

/* core/losses.c — SDPO, DDPO, REBEL and D3PO losses and their autograd-exact gradients
 * (see losses.h for the formulas and upstream line references). */
#include "core/losses.h"

#include <math.h>
#include <stddef.h>

/* ---------------------------------------------------------------------------------------------
 * shared checks and autograd rules */

/* Fails unless x[0..rows*cols) is non-NULL and finite; indices are printed as [r] or [r][c]. */
static sdpo_status check_input(const char *loss, const char *name, const float *x, int rows,
                               int cols) {
    if (!x) return sdpo_fail(SDPO_ERR_ARG, "%s loss: %s must not be NULL", loss, name);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            if (!isfinite(x[(size_t)r * cols + c])) {
                if (cols == 1)
                    return sdpo_fail(SDPO_ERR_NONFINITE, "%s loss: %s[%d] is not finite", loss,
                                     name, r);
                return sdpo_fail(SDPO_ERR_NONFINITE, "%s loss: %s[%d][%d] is not finite", loss,
                                 name, r, c);
            }
    return SDPO_OK;
}

/* torch.maximum backward: the larger input takes the gradient, an exact tie splits it. */
static void maximum_grad(double a, double b, double *ga, double *gb) {
    *ga = a > b ? 1.0 : a < b ? 0.0 : 0.5;
    *gb = 1.0 - *ga;
}

/* torch.clamp forward, and its backward mask: 1 where lo <= x <= hi (inclusive). */
static double clamp(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }
static double clamp_pass(double x, double lo, double hi) { return lo <= x && x <= hi; }

/* ---------------------------------------------------------------------------------------------
 * SDPO */

sdpo_status sdpo_loss_sdpo(const sdpo_sdpo_loss_params *p, int B, const float *logp_a,
                           const float *old_logp_a, const float *adv_a, const float *logp_b,
                           const float *old_logp_b, const float *adv_b, const double *weight,
                           float *dlogp_a, float *dlogp_b, sdpo_sdpo_loss_info *info) {
    if (!p || !dlogp_a || !dlogp_b || !info || !weight)
        return sdpo_fail(SDPO_ERR_ARG, "sdpo loss: params, weight and outputs must not be NULL");
    if (B < 1) return sdpo_fail(SDPO_ERR_ARG, "sdpo loss: B = %d must be >= 1", B);
    if (!(p->adv_clip_max > 0.0))
        return sdpo_fail(SDPO_ERR_ARG, "sdpo loss: adv_clip_max = %g must be > 0", p->adv_clip_max);
    if (isnan(p->clip_range) || p->clip_range == INFINITY)
        return sdpo_fail(SDPO_ERR_ARG, "sdpo loss: clip_range = %g must be finite", p->clip_range);
    const struct { const char *name; const float *x; } in[] = {
        {"logp_a", logp_a}, {"old_logp_a", old_logp_a}, {"adv_a", adv_a},
        {"logp_b", logp_b}, {"old_logp_b", old_logp_b}, {"adv_b", adv_b}};
    for (size_t k = 0; k < sizeof in / sizeof in[0]; k++) {
        sdpo_status st = check_input("sdpo", in[k].name, in[k].x, B, 1);
        if (st != SDPO_OK) return st;
    }
    for (int b = 0; b < B; b++)
        if (!isfinite(weight[b]))
            return sdpo_fail(SDPO_ERR_NONFINITE, "sdpo loss: weight[%d] is not finite", b);

    const double M = p->adv_clip_max, eps = p->clip_range, inv_b = 1.0 / B;
    const int clipped = eps > 0.0; /* L789: `if config.train.clip_range > 0` */
    double loss = 0.0, clipfrac = 0.0, adv_clip_count = 0.0;
    for (int b = 0; b < B; b++) {
        const double w = weight[b];
        const double ra = (double)logp_a[b] - old_logp_a[b];
        const double rb = (double)logp_b[b] - old_logp_b[b];
        const double aa = clamp(adv_a[b], -M, M), ab = clamp(adv_b[b], -M, M);
        const double dA = aa - ab;
        adv_clip_count += (aa > adv_a[b]) + (ab > adv_b[b]); /* L813–816: one-sided */
        const double du = w * (ra - rb) - dA, lu = du * du;
        /* d(L_u)/d(logp_a) = 2·du·w, d(L_u)/d(logp_b) = −2·du·w. */
        double ga = 2.0 * du * w, gb = -2.0 * du * w;
        if (clipped) {
            const double ma = clamp_pass(ra, -eps, eps), mb = clamp_pass(rb, -eps, eps);
            const double dc = w * (clamp(ra, -eps, eps) - clamp(rb, -eps, eps)) - dA,
                         lc = dc * dc;
            double gu, gc;
            maximum_grad(lu, lc, &gu, &gc);
            ga = gu * ga + gc * 2.0 * dc * w * ma;
            gb = gu * gb - gc * 2.0 * dc * w * mb;
            loss += fmax(lu, lc);
            clipfrac += lc > lu;
        } else {
            loss += lu;
        }
        dlogp_a[b] = (float)(ga * inv_b);
        dlogp_b[b] = (float)(gb * inv_b);
    }
    info->loss = loss * inv_b;
    info->clipfrac = clipfrac * inv_b;
    info->adv_clipfrac = adv_clip_count * inv_b / 2.0;
    return SDPO_OK;
}

/* ---------------------------------------------------------------------------------------------
 * DDPO */

sdpo_status sdpo_loss_ddpo(const sdpo_ddpo_loss_params *p, int B, const float *logp,
                           const float *old_logp, const float *adv, float *dlogp,
                           sdpo_ddpo_loss_info *info) {
    if (!p || !dlogp || !info)
        return sdpo_fail(SDPO_ERR_ARG, "ddpo loss: params and outputs must not be NULL");
    if (B < 1) return sdpo_fail(SDPO_ERR_ARG, "ddpo loss: B = %d must be >= 1", B);
    if (!(p->adv_clip_max > 0.0))
        return sdpo_fail(SDPO_ERR_ARG, "ddpo loss: adv_clip_max = %g must be > 0", p->adv_clip_max);
    if (!(p->clip_range >= 0.0) || !isfinite(p->clip_range))
        return sdpo_fail(SDPO_ERR_ARG, "ddpo loss: clip_range = %g must be finite and >= 0",
                         p->clip_range);
    sdpo_status st;
    if ((st = check_input("ddpo", "logp", logp, B, 1)) != SDPO_OK) return st;
    if ((st = check_input("ddpo", "old_logp", old_logp, B, 1)) != SDPO_OK) return st;
    if ((st = check_input("ddpo", "adv", adv, B, 1)) != SDPO_OK) return st;

    const double M = p->adv_clip_max, lo = 1.0 - p->clip_range, hi = 1.0 + p->clip_range;
    const double inv_b = 1.0 / B;
    double loss = 0.0, kl = 0.0, clipfrac = 0.0;
    for (int b = 0; b < B; b++) {
        const double rho = (double)logp[b] - old_logp[b], r = exp(rho);
        const double A = clamp(adv[b], -M, M);
        const double t_u = -A * r, t_c = -A * clamp(r, lo, hi);
        double gu, gc;
        maximum_grad(t_u, t_c, &gu, &gc);
        /* dr/dlogp = r; the clamped branch passes it only inside [lo, hi]. */
        const double g = gu * (-A * r) + gc * (-A * r * clamp_pass(r, lo, hi));
        dlogp[b] = (float)(g * inv_b);
        loss += fmax(t_u, t_c);
        kl += rho * rho;
        clipfrac += fabs(r - 1.0) > p->clip_range;
    }
    info->loss = loss * inv_b;
    info->approx_kl = 0.5 * kl * inv_b;
    info->clipfrac = clipfrac * inv_b;
    return SDPO_OK;
}

/* ---------------------------------------------------------------------------------------------
 * REBEL */

sdpo_status sdpo_loss_rebel(double rebel_lr, int B, int T, const float *logp1,
                            const float *old_logp1, const float *adv1, const float *logp2,
                            const float *old_logp2, const float *adv2, float *dlogp1,
                            float *dlogp2, sdpo_rebel_loss_info *info) {
    if (!dlogp1 || !dlogp2 || !info)
        return sdpo_fail(SDPO_ERR_ARG, "rebel loss: outputs must not be NULL");
    if (B < 1 || T < 1)
        return sdpo_fail(SDPO_ERR_ARG, "rebel loss: B = %d and T = %d must be >= 1", B, T);
    if (!isfinite(rebel_lr))
        return sdpo_fail(SDPO_ERR_ARG, "rebel loss: rebel_lr = %g must be finite", rebel_lr);
    const struct { const char *name; const float *x; int cols; } in[] = {
        {"logp1", logp1, T}, {"old_logp1", old_logp1, T}, {"adv1", adv1, 1},
        {"logp2", logp2, T}, {"old_logp2", old_logp2, T}, {"adv2", adv2, 1}};
    for (size_t k = 0; k < sizeof in / sizeof in[0]; k++) {
        sdpo_status st = check_input("rebel", in[k].name, in[k].x, B, in[k].cols);
        if (st != SDPO_OK) return st;
    }

    const double inv_b = 1.0 / B;
    double loss = 0.0, abs_diff = 0.0;
    for (int b = 0; b < B; b++) {
        /* Per-pair sums over this pair's T steps: the intended `stack(dim=-1).sum(-1)`, not
         * upstream's torch.cat(…, dim=-1).sum(-1), which also sums over the other pairs of the
         * minibatch (rebel_training_loop.py L321–325; see losses.h). */
        const size_t row = (size_t)b * T;
        double new1 = 0.0, old1 = 0.0, new2 = 0.0, old2 = 0.0;
        for (int t = 0; t < T; t++) {
            new1 += logp1[row + t];
            old1 += old_logp1[row + t];
            new2 += logp2[row + t];
            old2 += old_logp2[row + t];
        }
        const double log_diff = (new1 - old1) - (new2 - old2);
        const double resid = rebel_lr * log_diff - ((double)adv1[b] - adv2[b]);
        loss += resid * resid;
        abs_diff += fabs(log_diff);
        /* Every step of pair b enters log_diff_b with coefficient +1 (traj 1) or −1 (traj 2). */
        const float g = (float)(2.0 * resid * rebel_lr * inv_b);
        for (int t = 0; t < T; t++) {
            dlogp1[row + t] = g;
            dlogp2[row + t] = -g;
        }
    }
    info->loss = loss * inv_b;
    info->mean_abs_log_diff = abs_diff * inv_b;
    return SDPO_OK;
}

/* ---------------------------------------------------------------------------------------------
 * D3PO */

/* softplus(x) = log(1 + e^x) without overflow; −log σ(z) = softplus(−z). */
static double softplus(double x) { return fmax(x, 0.0) + log1p(exp(-fabs(x))); }

/* σ(x) without overflow. */
static double sigmoid(double x) {
    if (x >= 0.0) return 1.0 / (1.0 + exp(-x));
    const double e = exp(x);
    return e / (1.0 + e);
}

sdpo_status sdpo_loss_d3po(const sdpo_d3po_loss_params *p, int B, const float *logp0,
                           const float *ref_logp0, const float *reward0, const float *logp1,
                           const float *ref_logp1, const float *reward1, float *dlogp0,
                           float *dlogp1, sdpo_d3po_loss_info *info) {
    if (!p || !dlogp0 || !dlogp1 || !info)
        return sdpo_fail(SDPO_ERR_ARG, "d3po loss: params and outputs must not be NULL");
    if (B < 1) return sdpo_fail(SDPO_ERR_ARG, "d3po loss: B = %d must be >= 1", B);
    if (!isfinite(p->beta))
        return sdpo_fail(SDPO_ERR_ARG, "d3po loss: beta = %g must be finite", p->beta);
    if (!(p->eps >= 0.0 && p->eps < 1.0))
        return sdpo_fail(SDPO_ERR_ARG, "d3po loss: eps = %g must be in [0, 1)", p->eps);
    const struct { const char *name; const float *x; } in[] = {
        {"logp0", logp0}, {"ref_logp0", ref_logp0}, {"reward0", reward0},
        {"logp1", logp1}, {"ref_logp1", ref_logp1}, {"reward1", reward1}};
    for (size_t k = 0; k < sizeof in / sizeof in[0]; k++) {
        sdpo_status st = check_input("d3po", in[k].name, in[k].x, B, 1);
        if (st != SDPO_OK) return st;
    }

    const double lo = 1.0 - p->eps, hi = 1.0 + p->eps, beta = p->beta, inv_b = 1.0 / B;
    double loss = 0.0, clipped = 0.0, ties = 0.0;
    for (int b = 0; b < B; b++) {
        /* compare(): the higher reward is preferred; equal rewards give (0, 0). */
        const double h0 = reward0[b] < reward1[b] ? -1.0 : reward0[b] > reward1[b] ? 1.0 : 0.0;
        const double h1 = -h0;
        ties += h0 == 0.0;
        const double r0 = exp((double)logp0[b] - ref_logp0[b]);
        const double r1 = exp((double)logp1[b] - ref_logp1[b]);
        const double m0 = clamp_pass(r0, lo, hi), m1 = clamp_pass(r1, lo, hi);
        clipped += (1.0 - m0) + (1.0 - m1);
        const double z = beta * log(clamp(r0, lo, hi)) * h0 + beta * log(clamp(r1, lo, hi)) * h1;
        loss += softplus(-z);
        /* d(−log σ(z))/dz = −σ(−z); d log ρ_k / dΔ_k = (1/ρ_k)·e^Δ_k·mask_k = mask_k. */
        const double dz = -sigmoid(-z) * inv_b;
        dlogp0[b] = (float)(dz * beta * h0 * m0);
        dlogp1[b] = (float)(dz * beta * h1 * m1);
    }
    info->loss = loss * inv_b;
    info->clipfrac = clipped * inv_b / 2.0;
    info->tie_frac = ties * inv_b;
    return SDPO_OK;
}

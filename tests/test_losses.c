/* tests/test_losses.c — SDPO, DDPO, REBEL and D3PO losses: hand-derived values, the
 * torch.maximum tie and torch.clamp boundary rules, every gradient against central finite
 * differences, non-finite rejection, and the NumPy fixture tests/data/core_rl/losses.txt.
 *
 * Finite-difference tolerance, used by every check_fd call: |analytic − FD| <= 1e−6·|FD| + 1e−9.
 * The inputs are float32, perturbed by h = 1e−3 and divided by the exact float difference
 * x⁺ − x⁻; the loss is evaluated in double. Error sources: the analytic gradient is rounded to
 * float (<= 6e−8 relative); central FD truncation h²/6·|f'''/f'| is 0 for the piecewise
 * quadratic SDPO and REBEL losses, ≈ 1.7e−7 relative for DDPO's e^ρ and smaller for D3PO's
 * softplus; double rounding of the loss over 2h is ~1e−13. A missing 1/B, a wrong tie split
 * (×2) or a wrong sign is an error of 50% or more. Inputs are drawn at least 5e−3 (five steps h)
 * away from every clip boundary, so no difference straddles a kink. */
#include "core/losses.h"
#include "core/rng.h"
#include "tests/check_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIXTURE "tests/data/core_rl/losses.txt"
#define FD_H 1e-3f
#define MAXB 16

static double load_scalar(const char *name) {
    double v;
    ck_load_block(FIXTURE, name, 1, &v);
    return v;
}

static void load_floats(const char *name, size_t n, float *out) {
    double tmp[64];
    ck_assert_uint_le(n, 64);
    ck_load_block(FIXTURE, name, n, tmp);
    for (size_t k = 0; k < n; k++) out[k] = (float)tmp[k];
}

/* Central differences of fn(ctx) w.r.t. each x[k] against grad[k] (tolerance: file top). */
typedef double (*loss_fn)(void *ctx);
static void check_fd(const char *what, loss_fn fn, void *ctx, float *x, const float *grad,
                     int n) {
    for (int k = 0; k < n; k++) {
        const float x0 = x[k], xp = x0 + FD_H, xm = x0 - FD_H;
        x[k] = xp;
        const double lp = fn(ctx);
        x[k] = xm;
        const double lm = fn(ctx);
        x[k] = x0;
        const double fd = (lp - lm) / ((double)xp - (double)xm);
        ck_assert_msg(fabs(grad[k] - fd) <= 1e-6 * fabs(fd) + 1e-9,
                      "%s[%d]: analytic %.10g, central FD %.10g", what, k, (double)grad[k], fd);
    }
}

/* A value in ±[lo, hi] that keeps >= 5e−3 from ±edge (edge <= 0 means no edge). */
static double away_from(sdpo_rng *r, double lo, double hi, double edge) {
    double v;
    do v = lo + (hi - lo) * sdpo_rng_uniform(r);
    while (edge > 0 && fabs(v - edge) < 5e-3);
    return sdpo_rng_u32(r) & 1 ? v : -v;
}

/* ======================================= SDPO ============================================ */

typedef struct {
    sdpo_sdpo_loss_params p;
    int B;
    float la[MAXB], oa[MAXB], aa[MAXB], lb[MAXB], ob[MAXB], ab[MAXB];
    double w[MAXB];
    float ga[MAXB], gb[MAXB];
    sdpo_sdpo_loss_info info;
} sdpo_case;

static sdpo_status run_sdpo(sdpo_case *c) {
    return sdpo_loss_sdpo(&c->p, c->B, c->la, c->oa, c->aa, c->lb, c->ob, c->ab, c->w, c->ga,
                          c->gb, &c->info);
}

static double sdpo_case_loss(void *ctx) {
    sdpo_case c = *(sdpo_case *)ctx;
    ck_assert_int_eq(run_sdpo(&c), SDPO_OK);
    return c.info.loss;
}

/* All values are dyadic: every loss and gradient below is exact in binary. */
START_TEST(sdpo_hand_derived) {
    sdpo_case c = {.p = {5.0, 0.5}, .B = 3};
    /* pair 0: w 1, ρa 0.25, ρb 0, ΔA 1: unclipped, L_u = L_c = 0.5625 (tie, equal gradients),
     *         dL/dlogp_a = 2·(−0.75)·1 = −1.5.
     * pair 1: w 0.5, ρa 1.0 → 0.5, ρb −0.25, A = (−6 → −5) − (7 → 5) = −10:
     *         L_u = 10.625², L_c = 10.375² → unclipped wins, dL/dlogp_a = 2·10.625·0.5.
     * pair 2: w 1, ρa 1.0 → 0.5, ρb 0, ΔA 1: L_u = 0 < L_c = 0.25 → clipped wins, a is
     *         clamped (no gradient), dL/dlogp_b = −2·(−0.5)·1 = 1. */
    const float la[3] = {0.75f, 1.5f, 1.5f}, lb[3] = {0.5f, 0.25f, 0.5f};
    const float aa[3] = {1, -6, 1}, ab[3] = {0, 7, 0};
    const double w[3] = {1, 0.5, 1};
    for (int b = 0; b < 3; b++) {
        c.la[b] = la[b], c.oa[b] = 0.5f, c.aa[b] = aa[b];
        c.lb[b] = lb[b], c.ob[b] = 0.5f, c.ab[b] = ab[b], c.w[b] = w[b];
    }
    ck_assert_int_eq(run_sdpo(&c), SDPO_OK);
    CK_CLOSE(c.info.loss, (0.5625 + 112.890625 + 0.25) / 3, 0, 1e-15);
    const double want_a[3] = {-1.5 / 3, 10.625 / 3, 0}, want_b[3] = {1.5 / 3, -10.625 / 3, 1.0 / 3};
    for (int b = 0; b < 3; b++) {
        CK_CLOSE(c.ga[b], want_a[b], 0, 1e-7);
        CK_CLOSE(c.gb[b], want_b[b], 0, 1e-7);
    }
    CK_CLOSE(c.info.clipfrac, 1.0 / 3, 0, 1e-15);
    /* Official adv_clipfrac counts only clipping from below: A^a = −6 counts, A^b = 7 does not
     * → (1/3 + 0/3) / 2. */
    CK_CLOSE(c.info.adv_clipfrac, 1.0 / 6, 0, 1e-15);

    /* clip_range <= 0: loss = mean L_u (official L808), clipfrac 0. */
    c.p.clip_range = 0.0;
    ck_assert_int_eq(run_sdpo(&c), SDPO_OK);
    CK_CLOSE(c.info.loss, (0.5625 + 112.890625 + 0.0) / 3, 0, 1e-15);
    ck_assert_double_eq(c.info.clipfrac, 0.0);
    ck_assert_float_eq(c.ga[2], 0.0f);
    ck_assert_float_eq(c.gb[2], 0.0f);
    CK_CLOSE(c.ga[1], 10.625 / 3, 0, 1e-7);
}
END_TEST

/* torch.maximum: on an exact tie L_u == L_c each branch gets half the gradient. With ε 0.25,
 * ρa 0.75 (clamped), ρb 0, ΔA 0.5: du = 0.25, dc = −0.25, so L_u = L_c = 0.0625 but the
 * branches' gradients differ: a: (0.5, 0) → 0.25; b: (−0.5, +0.5) → 0. */
START_TEST(sdpo_maximum_tie_splits_gradient) {
    sdpo_case c = {.p = {5.0, 0.25}, .B = 1};
    c.la[0] = 1.25f, c.oa[0] = 0.5f, c.aa[0] = 0.5f;
    c.lb[0] = 0.5f, c.ob[0] = 0.5f, c.ab[0] = 0.0f, c.w[0] = 1.0;
    ck_assert_int_eq(run_sdpo(&c), SDPO_OK);
    ck_assert_double_eq(c.info.loss, 0.0625);
    ck_assert_float_eq(c.ga[0], 0.25f);
    ck_assert_float_eq(c.gb[0], 0.0f);
    ck_assert_double_eq(c.info.clipfrac, 0.0); /* L_c > L_u is false on a tie */
}
END_TEST

/* torch.clamp: ρ exactly at ±ε still passes the gradient. ρa = ε = 0.25, ρb = −0.75 (clamped),
 * ΔA = 1: L_u = 0 < L_c = 0.25, so the clipped branch is taken: a gets 2·(−0.5) = −1, b none.
 * The mirror case ρa = −ε, ρb = 0.75, ΔA = −1 gives a +1. */
START_TEST(sdpo_clamp_boundary_is_inclusive) {
    sdpo_case c = {.p = {5.0, 0.25}, .B = 1};
    c.la[0] = 0.75f, c.oa[0] = 0.5f, c.aa[0] = 1.0f;
    c.lb[0] = -0.25f, c.ob[0] = 0.5f, c.ab[0] = 0.0f, c.w[0] = 1.0;
    ck_assert_int_eq(run_sdpo(&c), SDPO_OK);
    ck_assert_double_eq(c.info.loss, 0.25);
    ck_assert_float_eq(c.ga[0], -1.0f);
    ck_assert_float_eq(c.gb[0], 0.0f);
    ck_assert_double_eq(c.info.clipfrac, 1.0);

    c.la[0] = 0.25f, c.aa[0] = 0.0f, c.lb[0] = 1.25f, c.ab[0] = 1.0f;
    ck_assert_int_eq(run_sdpo(&c), SDPO_OK);
    ck_assert_double_eq(c.info.loss, 0.25);
    ck_assert_float_eq(c.ga[0], 1.0f);
    ck_assert_float_eq(c.gb[0], 0.0f);
}
END_TEST

START_TEST(sdpo_gradient_matches_finite_differences) {
    sdpo_rng r;
    sdpo_rng_init(&r, 7, SDPO_STREAM_DATA);
    sdpo_case c = {.p = {1.5, 0.05}, .B = 12};
    for (int b = 0; b < c.B; b++) {
        c.oa[b] = -1.0f + 0.3f * sdpo_rng_uniform(&r);
        c.ob[b] = -1.0f + 0.3f * sdpo_rng_uniform(&r);
        c.la[b] = c.oa[b] + (float)away_from(&r, 0.0, 0.1, 0.05);
        c.lb[b] = c.ob[b] + (float)away_from(&r, 0.0, 0.1, 0.05);
        c.aa[b] = (float)away_from(&r, 0.0, 2.5, 1.5);
        c.ab[b] = (float)away_from(&r, 0.0, 2.5, 1.5);
        c.w[b] = pow(0.9, b % 10);
    }
    ck_assert_int_eq(run_sdpo(&c), SDPO_OK);
    ck_assert(c.info.clipfrac > 0 && c.info.clipfrac < 1); /* both branches of the max */
    sdpo_case work = c;
    check_fd("sdpo dlogp_a", sdpo_case_loss, &work, work.la, c.ga, c.B);
    check_fd("sdpo dlogp_b", sdpo_case_loss, &work, work.lb, c.gb, c.B);
    /* With clipping off the loss is the plain quadratic. */
    c.p.clip_range = 0.0;
    ck_assert_int_eq(run_sdpo(&c), SDPO_OK);
    work = c;
    check_fd("sdpo unclipped dlogp_a", sdpo_case_loss, &work, work.la, c.ga, c.B);
    check_fd("sdpo unclipped dlogp_b", sdpo_case_loss, &work, work.lb, c.gb, c.B);
}
END_TEST

START_TEST(sdpo_rejects_bad_input) {
    sdpo_case c = {.p = {5.0, 1e-4}, .B = 3};
    for (int b = 0; b < 3; b++) c.w[b] = 1.0, c.ga[b] = 42.0f;
    c.lb[1] = NAN;
    ck_assert_int_eq(run_sdpo(&c), SDPO_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(sdpo_last_error(), "logp_b[1]"));
    ck_assert_float_eq(c.ga[0], 42.0f); /* nothing written */
    c.lb[1] = 0;
    c.w[2] = INFINITY;
    ck_assert_int_eq(run_sdpo(&c), SDPO_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(sdpo_last_error(), "weight[2]"));
    c.w[2] = 1;
    c.ab[0] = -INFINITY;
    ck_assert_int_eq(run_sdpo(&c), SDPO_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(sdpo_last_error(), "adv_b[0]"));
    c.ab[0] = 0;
    c.p.adv_clip_max = 0;
    ck_assert_int_eq(run_sdpo(&c), SDPO_ERR_ARG);
    c.p.adv_clip_max = INFINITY; /* no advantage clipping is allowed */
    ck_assert_int_eq(run_sdpo(&c), SDPO_OK);
    c.p.clip_range = NAN;
    ck_assert_int_eq(run_sdpo(&c), SDPO_ERR_ARG);
    c.p.clip_range = 1e-4;
    c.B = 0;
    ck_assert_int_eq(run_sdpo(&c), SDPO_ERR_ARG);
}
END_TEST

/* ======================================= DDPO ============================================ */

typedef struct {
    sdpo_ddpo_loss_params p;
    int B;
    float logp[MAXB], old[MAXB], adv[MAXB], g[MAXB];
    sdpo_ddpo_loss_info info;
} ddpo_case;

static sdpo_status run_ddpo(ddpo_case *c) {
    return sdpo_loss_ddpo(&c->p, c->B, c->logp, c->old, c->adv, c->g, &c->info);
}

static double ddpo_case_loss(void *ctx) {
    ddpo_case c = *(ddpo_case *)ctx;
    ck_assert_int_eq(run_ddpo(&c), SDPO_OK);
    return c.info.loss;
}

START_TEST(ddpo_hand_derived) {
    /* ε 0.2, M 5. Sample 0: r = 1 (in range, both terms −2: tie with equal gradients −A·r).
     * 1: r = e^0.5 > 1.2, A = 1: max picks the clamped −1.2 → no gradient.
     * 2: same r, A = −1: max picks −A·r → gradient −A·r = e^0.5.
     * 3: r = e^−0.5 < 0.8, A = 7 → 5: −5r > −4 → unclipped, gradient −5·e^−0.5. */
    ddpo_case c = {.p = {5.0, 0.2}, .B = 4,
                   .logp = {-1, -0.5f, -0.5f, -1.5f}, .old = {-1, -1, -1, -1},
                   .adv = {2, 1, -1, 7}};
    ck_assert_int_eq(run_ddpo(&c), SDPO_OK);
    const double e = exp(0.5), ei = exp(-0.5);
    CK_CLOSE(c.info.loss, (-2 - 1.2 + e - 5 * ei) / 4, 0, 1e-15);
    CK_CLOSE(c.g[0], -2.0 / 4, 0, 1e-7);
    ck_assert_float_eq(c.g[1], 0.0f);
    CK_CLOSE(c.g[2], e / 4, 0, 1e-7);
    CK_CLOSE(c.g[3], -5 * ei / 4, 0, 1e-7);
    CK_CLOSE(c.info.approx_kl, 0.5 * (3 * 0.25) / 4, 0, 1e-15);
    CK_CLOSE(c.info.clipfrac, 0.75, 0, 1e-15);
    /* A = 0: both terms 0 → loss 0 and no gradient. */
    ddpo_case z = {.p = {5.0, 0.2}, .B = 1, .logp = {-0.5f}, .old = {-1}, .adv = {0}};
    ck_assert_int_eq(run_ddpo(&z), SDPO_OK);
    ck_assert_float_eq(z.g[0], 0.0f);
    ck_assert_double_eq(z.info.loss, 0.0);
}
END_TEST

/* r exactly at 1 ± ε: clamp passes the gradient (inclusive), the two terms tie, so the total is
 * the full −A·r; an exclusive clamp would give half. ε is built from r so that 1 + ε == r
 * exactly (r − 1 and 1 + (r − 1) are exact for r ∈ [1/2, 2]). */
START_TEST(ddpo_clamp_boundary_is_inclusive) {
    ddpo_case c = {.B = 1, .logp = {0.5625f}, .old = {0.5f}, .adv = {1}};
    const double r = exp((double)c.logp[0] - (double)c.old[0]);
    c.p = (sdpo_ddpo_loss_params){5.0, r - 1.0};
    ck_assert(1.0 + c.p.clip_range == r);
    ck_assert_int_eq(run_ddpo(&c), SDPO_OK);
    CK_CLOSE(c.g[0], -r, 0, 1e-7);
    ck_assert_double_eq(c.info.clipfrac, 0.0);

    c.logp[0] = 0.4375f, c.adv[0] = -1;
    const double rl = exp((double)c.logp[0] - (double)c.old[0]);
    c.p.clip_range = 1.0 - rl;
    ck_assert(1.0 - c.p.clip_range == rl);
    ck_assert_int_eq(run_ddpo(&c), SDPO_OK);
    CK_CLOSE(c.g[0], rl, 0, 1e-7);
}
END_TEST

START_TEST(ddpo_gradient_matches_finite_differences) {
    sdpo_rng r;
    sdpo_rng_init(&r, 8, SDPO_STREAM_DATA);
    ddpo_case c = {.p = {1.5, 0.05}, .B = 12};
    for (int b = 0; b < c.B; b++) {
        c.old[b] = -1.0f + 0.3f * sdpo_rng_uniform(&r);
        /* ratio edges: log(1 ± 0.05) = 0.0488, −0.0513; keep ρ clear of both */
        double rho;
        do rho = away_from(&r, 0.0, 0.12, 0.0);
        while (fabs(rho - log(1.05)) < 5e-3 || fabs(rho - log(0.95)) < 5e-3);
        c.logp[b] = c.old[b] + (float)rho;
        c.adv[b] = (float)away_from(&r, 0.1, 2.5, 1.5);
    }
    ck_assert_int_eq(run_ddpo(&c), SDPO_OK);
    ck_assert(c.info.clipfrac > 0 && c.info.clipfrac < 1);
    ddpo_case work = c;
    check_fd("ddpo dlogp", ddpo_case_loss, &work, work.logp, c.g, c.B);
}
END_TEST

START_TEST(ddpo_rejects_bad_input) {
    ddpo_case c = {.p = {5.0, 1e-4}, .B = 4};
    c.adv[3] = INFINITY;
    ck_assert_int_eq(run_ddpo(&c), SDPO_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(sdpo_last_error(), "adv[3]"));
    c.adv[3] = 0;
    c.old[0] = NAN;
    ck_assert_int_eq(run_ddpo(&c), SDPO_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(sdpo_last_error(), "old_logp[0]"));
    c.old[0] = 0;
    c.p.clip_range = -1;
    ck_assert_int_eq(run_ddpo(&c), SDPO_ERR_ARG);
    c.p.clip_range = 1e-4;
    c.p.adv_clip_max = NAN;
    ck_assert_int_eq(run_ddpo(&c), SDPO_ERR_ARG);
}
END_TEST

/* ======================================= REBEL =========================================== */

typedef struct {
    double lr;
    int B, T;
    float l1[MAXB * 4], o1[MAXB * 4], a1[MAXB], l2[MAXB * 4], o2[MAXB * 4], a2[MAXB];
    float g1[MAXB * 4], g2[MAXB * 4];
    sdpo_rebel_loss_info info;
} rebel_case;

static sdpo_status run_rebel(rebel_case *c) {
    return sdpo_loss_rebel(c->lr, c->B, c->T, c->l1, c->o1, c->a1, c->l2, c->o2, c->a2, c->g1,
                           c->g2, &c->info);
}

static double rebel_case_loss(void *ctx) {
    rebel_case c = *(rebel_case *)ctx;
    ck_assert_int_eq(run_rebel(&c), SDPO_OK);
    return c.info.loss;
}

/* B = 2, T = 2, old log-probs 0, lr 1. Per pair: log_diff = (0.75, 0.125), ΔA = (1, 0),
 * residuals (−0.25, 0.125), loss (0.0625 + 0.015625)/2. Upstream's torch.cat(…).sum(−1) would
 * give every pair Σ_b Σ_t logp1 = 0.875: residuals (−0.125, 0.875), loss 0.390625. */
START_TEST(rebel_hand_derived_and_not_the_cat_bug) {
    rebel_case c = {.lr = 1.0, .B = 2, .T = 2, .l1 = {0.5f, 0.25f, 0.125f, 0.0f}, .a1 = {1, 0}};
    ck_assert_int_eq(run_rebel(&c), SDPO_OK);
    ck_assert_double_eq(c.info.loss, 0.0390625);
    const float want1[4] = {-0.25f, -0.25f, 0.125f, 0.125f};
    for (int k = 0; k < 4; k++) {
        ck_assert_float_eq(c.g1[k], want1[k]);
        ck_assert_float_eq(c.g2[k], -want1[k]);
    }
    CK_CLOSE(c.info.mean_abs_log_diff, (0.75 + 0.125) / 2, 0, 1e-15);

    /* The bug's value, computed here from its definition, is a different number. */
    double cat_sum = 0, bug_loss = 0;
    for (int k = 0; k < 4; k++) cat_sum += c.l1[k];
    for (int b = 0; b < 2; b++) {
        double resid = (cat_sum - 0.0) - (0.0 - 0.0) - (c.a1[b] - c.a2[b]);
        bug_loss += resid * resid / 2;
    }
    ck_assert_double_eq(bug_loss, 0.390625);
    ck_assert(fabs(c.info.loss - bug_loss) > 0.3);

    /* With B = 1 the intended form and upstream agree: (0.75 − 1)² = 0.0625. */
    c.B = 1;
    ck_assert_int_eq(run_rebel(&c), SDPO_OK);
    ck_assert_double_eq(c.info.loss, 0.0625);
    ck_assert_float_eq(c.g1[0], -0.5f);
}
END_TEST

START_TEST(rebel_gradient_matches_finite_differences) {
    sdpo_rng r;
    sdpo_rng_init(&r, 9, SDPO_STREAM_DATA);
    rebel_case c = {.lr = 0.7, .B = 5, .T = 4};
    for (int k = 0; k < c.B * c.T; k++) {
        c.o1[k] = -1.0f + 0.3f * sdpo_rng_uniform(&r);
        c.o2[k] = -1.0f + 0.3f * sdpo_rng_uniform(&r);
        c.l1[k] = c.o1[k] + 0.1f * (sdpo_rng_uniform(&r) - 0.5f);
        c.l2[k] = c.o2[k] + 0.1f * (sdpo_rng_uniform(&r) - 0.5f);
    }
    for (int b = 0; b < c.B; b++) c.a1[b] = sdpo_rng_uniform(&r), c.a2[b] = -sdpo_rng_uniform(&r);
    ck_assert_int_eq(run_rebel(&c), SDPO_OK);
    rebel_case work = c;
    check_fd("rebel dlogp1", rebel_case_loss, &work, work.l1, c.g1, c.B * c.T);
    check_fd("rebel dlogp2", rebel_case_loss, &work, work.l2, c.g2, c.B * c.T);
}
END_TEST

START_TEST(rebel_rejects_bad_input) {
    rebel_case c = {.lr = 1.0, .B = 2, .T = 3};
    c.o2[5] = NAN;
    ck_assert_int_eq(run_rebel(&c), SDPO_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(sdpo_last_error(), "old_logp2[1][2]"));
    c.o2[5] = 0;
    c.a1[1] = NAN;
    ck_assert_int_eq(run_rebel(&c), SDPO_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(sdpo_last_error(), "adv1[1]"));
    c.a1[1] = 0;
    c.lr = NAN;
    ck_assert_int_eq(run_rebel(&c), SDPO_ERR_ARG);
    c.lr = 1;
    c.T = 0;
    ck_assert_int_eq(run_rebel(&c), SDPO_ERR_ARG);
}
END_TEST

/* ======================================= D3PO ============================================ */

typedef struct {
    sdpo_d3po_loss_params p;
    int B;
    float l0[MAXB], r0[MAXB], w0[MAXB], l1[MAXB], r1[MAXB], w1[MAXB], g0[MAXB], g1[MAXB];
    sdpo_d3po_loss_info info;
} d3po_case;

static sdpo_status run_d3po(d3po_case *c) {
    return sdpo_loss_d3po(&c->p, c->B, c->l0, c->r0, c->w0, c->l1, c->r1, c->w1, c->g0, c->g1,
                          &c->info);
}

static double d3po_case_loss(void *ctx) {
    d3po_case c = *(d3po_case *)ctx;
    ck_assert_int_eq(run_d3po(&c), SDPO_OK);
    return c.info.loss;
}

static double sigmoid_ref(double x) { return 1.0 / (1.0 + exp(-x)); }

START_TEST(d3po_hand_derived) {
    /* β 1, eps 0.1 (ratio range [0.9, 1.1]), ref log-probs −1.
     * pair 0: equal rewards → h = (0, 0): loss log 2, no gradient.
     * pair 1: r0 > r1 → h = (+1, −1); Δ = (0.0625, −0.03125), both in range: z = 0.09375,
     *         loss softplus(−z), gradients ∓σ(−z)/B.
     * pair 2: r0 < r1 → h = (−1, +1); Δ0 = 0.25 → ρ0 = 1.1 (clamped, no gradient), Δ1 = 0:
     *         z = −log 1.1, loss log 2.1, dlogp1 = −σ(log 1.1)/B = −(1.1/2.1)/3. */
    d3po_case c = {.p = {1.0, 0.1}, .B = 3,
                   .l0 = {-0.96875f, -0.9375f, -0.75f}, .r0 = {-1, -1, -1}, .w0 = {5, 6, 1},
                   .l1 = {-1.0f, -1.03125f, -1.0f}, .r1 = {-1, -1, -1}, .w1 = {5, 4, 2}};
    ck_assert_int_eq(run_d3po(&c), SDPO_OK);
    const double z = 0.09375;
    CK_CLOSE(c.info.loss, (log(2.0) + log1p(exp(-z)) + log(2.1)) / 3, 0, 1e-14);
    ck_assert_float_eq(c.g0[0], 0.0f);
    ck_assert_float_eq(c.g1[0], 0.0f);
    CK_CLOSE(c.g0[1], -sigmoid_ref(-z) / 3, 0, 1e-7);
    CK_CLOSE(c.g1[1], sigmoid_ref(-z) / 3, 0, 1e-7);
    ck_assert_float_eq(c.g0[2], 0.0f);
    CK_CLOSE(c.g1[2], -(1.1 / 2.1) / 3, 0, 1e-7);
    CK_CLOSE(c.info.clipfrac, 1.0 / 6, 0, 1e-15);
    CK_CLOSE(c.info.tie_frac, 1.0 / 3, 0, 1e-15);
}
END_TEST

/* exp(Δ0) exactly 1 + eps: the clamp passes the gradient at its bound. */
START_TEST(d3po_clamp_boundary_is_inclusive) {
    d3po_case c = {.B = 1, .l0 = {-0.9375f}, .r0 = {-1}, .w0 = {2}, .l1 = {-1}, .r1 = {-1},
                   .w1 = {1}};
    const double e = exp((double)c.l0[0] - (double)c.r0[0]);
    c.p = (sdpo_d3po_loss_params){1.0, e - 1.0};
    ck_assert(1.0 + c.p.eps == e);
    ck_assert_int_eq(run_d3po(&c), SDPO_OK);
    const double z = log(e);
    CK_CLOSE(c.g0[0], -sigmoid_ref(-z), 0, 1e-7);
    ck_assert_double_eq(c.info.clipfrac, 0.0);
}
END_TEST

/* Large β: z ≈ −953 would make a naive log(sigmoid(z)) return −inf. */
START_TEST(d3po_log_sigmoid_is_stable) {
    d3po_case c = {.p = {1e4, 0.1}, .B = 1, .l0 = {-0.75f}, .r0 = {-1}, .w0 = {1},
                   .l1 = {-1}, .r1 = {-1}, .w1 = {2}};
    ck_assert_int_eq(run_d3po(&c), SDPO_OK);
    CK_CLOSE(c.info.loss, 1e4 * log(1.1), 0, 1e-12);
    ck_assert_float_eq(c.g0[0], 0.0f);
    CK_CLOSE(c.g1[0], -1e4, 0, 1e-7);
    c.w1[0] = 0; /* preference flips: z ≈ +953, loss ≈ e^−953 underflows to 0, not NaN */
    ck_assert_int_eq(run_d3po(&c), SDPO_OK);
    ck_assert(c.info.loss >= 0 && c.info.loss < 1e-300);
    ck_assert(isfinite(c.g1[0]));
}
END_TEST

START_TEST(d3po_gradient_matches_finite_differences) {
    sdpo_rng r;
    sdpo_rng_init(&r, 10, SDPO_STREAM_DATA);
    d3po_case c = {.p = {0.5, 0.1}, .B = 12};
    for (int b = 0; b < c.B; b++) {
        c.r0[b] = -1.0f + 0.3f * sdpo_rng_uniform(&r);
        c.r1[b] = -1.0f + 0.3f * sdpo_rng_uniform(&r);
        double d0, d1;
        do d0 = away_from(&r, 0.0, 0.15, 0.0);
        while (fabs(d0 - log(1.1)) < 5e-3 || fabs(d0 - log(0.9)) < 5e-3);
        do d1 = away_from(&r, 0.0, 0.15, 0.0);
        while (fabs(d1 - log(1.1)) < 5e-3 || fabs(d1 - log(0.9)) < 5e-3);
        c.l0[b] = c.r0[b] + (float)d0;
        c.l1[b] = c.r1[b] + (float)d1;
        c.w0[b] = sdpo_rng_uniform(&r);
        c.w1[b] = b == 3 ? c.w0[b] : sdpo_rng_uniform(&r); /* one tie */
    }
    ck_assert_int_eq(run_d3po(&c), SDPO_OK);
    ck_assert(c.info.clipfrac > 0 && c.info.clipfrac < 1);
    d3po_case work = c;
    check_fd("d3po dlogp0", d3po_case_loss, &work, work.l0, c.g0, c.B);
    check_fd("d3po dlogp1", d3po_case_loss, &work, work.l1, c.g1, c.B);
}
END_TEST

START_TEST(d3po_rejects_bad_input) {
    d3po_case c = {.p = {0.1, 0.1}, .B = 2};
    c.w1[0] = NAN;
    ck_assert_int_eq(run_d3po(&c), SDPO_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(sdpo_last_error(), "reward1[0]"));
    c.w1[0] = 0;
    c.r0[1] = INFINITY;
    ck_assert_int_eq(run_d3po(&c), SDPO_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(sdpo_last_error(), "ref_logp0[1]"));
    c.r0[1] = 0;
    c.p.eps = 1.0;
    ck_assert_int_eq(run_d3po(&c), SDPO_ERR_ARG);
    c.p.eps = 0.1;
    c.p.beta = INFINITY;
    ck_assert_int_eq(run_d3po(&c), SDPO_ERR_ARG);
}
END_TEST

/* ================================== NumPy fixture ======================================== */

/* Tolerances: the loss and diagnostics are doubles from the same formulas (numpy's pairwise
 * mean and its exp differ by ~1e−16): 1e−12 relative. Gradients are float-rounded doubles:
 * <= 6e−8 relative plus ~1e−16 from operation order: 2e−7 relative (+1e−12 for exact zeros). */
START_TEST(sdpo_matches_numpy_reference) {
    sdpo_case c = {.B = 8};
    c.p.adv_clip_max = load_scalar("sdpo_adv_clip_max");
    c.p.clip_range = load_scalar("sdpo_clip_range");
    load_floats("sdpo_logp_a", 8, c.la);
    load_floats("sdpo_old_logp_a", 8, c.oa);
    load_floats("sdpo_adv_a", 8, c.aa);
    load_floats("sdpo_logp_b", 8, c.lb);
    load_floats("sdpo_old_logp_b", 8, c.ob);
    load_floats("sdpo_adv_b", 8, c.ab);
    ck_load_block(FIXTURE, "sdpo_weight", 8, c.w);
    ck_assert_int_eq(run_sdpo(&c), SDPO_OK);
    CK_CLOSE(c.info.loss, load_scalar("sdpo_loss"), 0, 1e-12);
    CK_CLOSE(c.info.clipfrac, load_scalar("sdpo_clipfrac"), 1e-15, 0);
    CK_CLOSE(c.info.adv_clipfrac, load_scalar("sdpo_adv_clipfrac"), 1e-15, 0);
    double want[8];
    ck_load_block(FIXTURE, "sdpo_dlogp_a", 8, want);
    ck_assert_array_close("sdpo_dlogp_a", c.ga, want, 8, 1e-12, 2e-7);
    ck_load_block(FIXTURE, "sdpo_dlogp_b", 8, want);
    ck_assert_array_close("sdpo_dlogp_b", c.gb, want, 8, 1e-12, 2e-7);
}
END_TEST

START_TEST(ddpo_matches_numpy_reference) {
    ddpo_case c = {.B = 8};
    c.p.adv_clip_max = load_scalar("ddpo_adv_clip_max");
    c.p.clip_range = load_scalar("ddpo_clip_range");
    load_floats("ddpo_logp", 8, c.logp);
    load_floats("ddpo_old_logp", 8, c.old);
    load_floats("ddpo_adv", 8, c.adv);
    ck_assert_int_eq(run_ddpo(&c), SDPO_OK);
    CK_CLOSE(c.info.loss, load_scalar("ddpo_loss"), 0, 1e-12);
    CK_CLOSE(c.info.approx_kl, load_scalar("ddpo_approx_kl"), 0, 1e-12);
    CK_CLOSE(c.info.clipfrac, load_scalar("ddpo_clipfrac"), 1e-15, 0);
    double want[8];
    ck_load_block(FIXTURE, "ddpo_dlogp", 8, want);
    ck_assert_array_close("ddpo_dlogp", c.g, want, 8, 1e-12, 2e-7);
}
END_TEST

START_TEST(rebel_matches_numpy_reference) {
    rebel_case c = {.B = 3, .T = 4};
    c.lr = load_scalar("rebel_lr");
    load_floats("rebel_logp1", 12, c.l1);
    load_floats("rebel_old_logp1", 12, c.o1);
    load_floats("rebel_adv1", 3, c.a1);
    load_floats("rebel_logp2", 12, c.l2);
    load_floats("rebel_old_logp2", 12, c.o2);
    load_floats("rebel_adv2", 3, c.a2);
    ck_assert_int_eq(run_rebel(&c), SDPO_OK);
    CK_CLOSE(c.info.loss, load_scalar("rebel_loss"), 0, 1e-12);
    CK_CLOSE(c.info.mean_abs_log_diff, load_scalar("rebel_mean_abs_log_diff"), 0, 1e-12);
    double want[12];
    ck_load_block(FIXTURE, "rebel_dlogp1", 12, want);
    ck_assert_array_close("rebel_dlogp1", c.g1, want, 12, 1e-12, 2e-7);
    ck_load_block(FIXTURE, "rebel_dlogp2", 12, want);
    ck_assert_array_close("rebel_dlogp2", c.g2, want, 12, 1e-12, 2e-7);
}
END_TEST

START_TEST(d3po_matches_numpy_reference) {
    d3po_case c = {.B = 8};
    c.p.beta = load_scalar("d3po_beta");
    c.p.eps = load_scalar("d3po_eps");
    load_floats("d3po_logp0", 8, c.l0);
    load_floats("d3po_ref_logp0", 8, c.r0);
    load_floats("d3po_reward0", 8, c.w0);
    load_floats("d3po_logp1", 8, c.l1);
    load_floats("d3po_ref_logp1", 8, c.r1);
    load_floats("d3po_reward1", 8, c.w1);
    ck_assert_int_eq(run_d3po(&c), SDPO_OK);
    CK_CLOSE(c.info.loss, load_scalar("d3po_loss"), 0, 1e-12);
    CK_CLOSE(c.info.clipfrac, load_scalar("d3po_clipfrac"), 1e-15, 0);
    CK_CLOSE(c.info.tie_frac, load_scalar("d3po_tie_frac"), 1e-15, 0);
    double want[8];
    ck_load_block(FIXTURE, "d3po_dlogp0", 8, want);
    ck_assert_array_close("d3po_dlogp0", c.g0, want, 8, 1e-12, 2e-7);
    ck_load_block(FIXTURE, "d3po_dlogp1", 8, want);
    ck_assert_array_close("d3po_dlogp1", c.g1, want, 8, 1e-12, 2e-7);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("losses");
    TCase *t;
    t = tcase_create("sdpo");
    tcase_add_test(t, sdpo_hand_derived);
    tcase_add_test(t, sdpo_maximum_tie_splits_gradient);
    tcase_add_test(t, sdpo_clamp_boundary_is_inclusive);
    tcase_add_test(t, sdpo_gradient_matches_finite_differences);
    tcase_add_test(t, sdpo_rejects_bad_input);
    tcase_add_test(t, sdpo_matches_numpy_reference);
    suite_add_tcase(s, t);
    t = tcase_create("ddpo");
    tcase_add_test(t, ddpo_hand_derived);
    tcase_add_test(t, ddpo_clamp_boundary_is_inclusive);
    tcase_add_test(t, ddpo_gradient_matches_finite_differences);
    tcase_add_test(t, ddpo_rejects_bad_input);
    tcase_add_test(t, ddpo_matches_numpy_reference);
    suite_add_tcase(s, t);
    t = tcase_create("rebel");
    tcase_add_test(t, rebel_hand_derived_and_not_the_cat_bug);
    tcase_add_test(t, rebel_gradient_matches_finite_differences);
    tcase_add_test(t, rebel_rejects_bad_input);
    tcase_add_test(t, rebel_matches_numpy_reference);
    suite_add_tcase(s, t);
    t = tcase_create("d3po");
    tcase_add_test(t, d3po_hand_derived);
    tcase_add_test(t, d3po_clamp_boundary_is_inclusive);
    tcase_add_test(t, d3po_log_sigmoid_is_stable);
    tcase_add_test(t, d3po_gradient_matches_finite_differences);
    tcase_add_test(t, d3po_rejects_bad_input);
    tcase_add_test(t, d3po_matches_numpy_reference);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

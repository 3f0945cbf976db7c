/* tests/test_ddim.c — noise schedule, timestep spacing, DDIM step with log-prob and its
 * gradient, and the Gaussian-mixture ε-predictor used by the toy trajectories. Reference
 * numbers are the double-precision values quoted in baselines.md §1 and sdpo_official_code.md. */
#include "core/gaussian_mixture.h"
#include "core/rng.h"
#include "core/schedule.h"
#include "tests/check_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sdpo_schedule S;

static void setup(void) { sdpo_schedule_sd_turbo(&S); }

static void expect_timesteps(sdpo_spacing sp, int N, const int *want) {
    int t[64];
    S.spacing = sp;
    ck_assert(sdpo_schedule_timesteps(&S, N, t) == SDPO_OK);
    for (int i = 0; i < N; i++) ck_assert_msg(t[i] == want[i], "N=%d t[%d]=%d want %d", N, i, t[i], want[i]);
    S.spacing = SDPO_SPACING_TRAILING;
}

START_TEST(trailing_and_leading_timesteps) {
    expect_timesteps(SDPO_SPACING_TRAILING, 1, (const int[]){999});
    expect_timesteps(SDPO_SPACING_TRAILING, 2, (const int[]){999, 499});
    expect_timesteps(SDPO_SPACING_TRAILING, 4, (const int[]){999, 749, 499, 249});
    expect_timesteps(SDPO_SPACING_TRAILING, 8, (const int[]){999, 874, 749, 624, 499, 374, 249, 124});
    /* 16 steps: ratio 62.5, np.round halves to even (937.5 → 938, 812.5 → 812), then − 1;
     * values cross-checked with NumPy. */
    expect_timesteps(SDPO_SPACING_TRAILING, 16,
                     (const int[]){999, 937, 874, 811, 749, 687, 624, 561, 499, 437, 374, 311, 249, 187, 124, 61});
    int t[50];
    ck_assert(sdpo_schedule_timesteps(&S, 50, t) == SDPO_OK);
    for (int i = 0; i < 50; i++) ck_assert_int_eq(t[i], 999 - 20 * i); /* 999, 979, …, 19 */
    /* DDPO (SD 1.x, leading, offset 1): 981 … 1; D3PO with 20 steps: 951 … 1. */
    S.spacing = SDPO_SPACING_LEADING;
    ck_assert(sdpo_schedule_timesteps(&S, 50, t) == SDPO_OK);
    for (int i = 0; i < 50; i++) ck_assert_int_eq(t[i], 981 - 20 * i);
    ck_assert(sdpo_schedule_timesteps(&S, 20, t) == SDPO_OK);
    for (int i = 0; i < 20; i++) ck_assert_int_eq(t[i], 951 - 50 * i);
    S.spacing = SDPO_SPACING_TRAILING;
    ck_assert(sdpo_schedule_timesteps(&S, 0, t) == SDPO_ERR_ARG);
    ck_assert(sdpo_schedule_timesteps(&S, 1001, t) == SDPO_ERR_ARG);
}
END_TEST

/* float32 ᾱ values carry ~6e-8 relative error; the quoted references have 5
 * significant digits, so tolerances are half a unit in their last digit. */
START_TEST(alphas_cumprod_matches_references) {
    CK_CLOSE(S.alphas_cumprod[0], 0.99915, 5e-7, 0);
    CK_CLOSE(S.alphas_cumprod[999], 0.0046601, 5e-8, 0);
    for (int i = 1; i < 1000; i++) ck_assert(S.alphas_cumprod[i] < S.alphas_cumprod[i - 1]);
}
END_TEST

START_TEST(ddim_coefficients_match_baselines_doc) {
    sdpo_ddim_coeffs c;
    /* DDPO, leading 50 steps, t = 981: ᾱ_t 0.005775, ᾱ_prev 0.007282, σ 0.45446, dir 0.88667. */
    ck_assert(sdpo_ddim_coeffs_at(&S, 981, 50, 1.0, &c) == SDPO_OK);
    ck_assert_int_eq(c.prev_t, 961);
    CK_CLOSE(c.alpha_t, 0.005775, 5e-7, 0);
    CK_CLOSE(c.alpha_prev, 0.007282, 5e-7, 0);
    CK_CLOSE(c.sigma * c.sigma, 0.20654, 5e-6, 0);
    CK_CLOSE(c.sigma, 0.45446, 5e-6, 0);
    CK_CLOSE(c.dir_coef, 0.88667, 5e-6, 0);
    /* t = 1: prev clamps to 0 (not final_alpha_cumprod): ᾱ_prev = 0.99915, σ = 0.020648. */
    ck_assert(sdpo_ddim_coeffs_at(&S, 1, 50, 1.0, &c) == SDPO_OK);
    ck_assert_int_eq(c.prev_t, 0);
    CK_CLOSE(c.alpha_t, 0.998296, 5e-7, 0);
    CK_CLOSE(c.alpha_prev, 0.999150, 5e-7, 0);
    CK_CLOSE(c.sigma, 0.020648, 5e-7, 0);
    /* D3PO, 20 steps, t = 951: σ = 0.64439. */
    ck_assert(sdpo_ddim_coeffs_at(&S, 951, 20, 1.0, &c) == SDPO_OK);
    CK_CLOSE(c.sigma, 0.64439, 5e-6, 0);
    /* SD-Turbo trailing 50 steps: σ ≈ 0.460 at the first step, ≈ 0.028 at the last (19 → 0). */
    ck_assert(sdpo_ddim_coeffs_at(&S, 999, 50, 1.0, &c) == SDPO_OK);
    CK_CLOSE(c.sigma, 0.460, 5e-4, 0);
    ck_assert(sdpo_ddim_coeffs_at(&S, 19, 50, 1.0, &c) == SDPO_OK);
    ck_assert_int_eq(c.prev_t, 0);
    CK_CLOSE(c.sigma, 0.028, 5e-4, 0);
    /* η scales σ linearly. */
    sdpo_ddim_coeffs h;
    sdpo_ddim_coeffs_at(&S, 19, 50, 0.5, &h);
    CK_CLOSE(h.sigma, 0.5 * c.sigma, 1e-15, 0);
}
END_TEST

/* The step against a direct evaluation of the formulas of schedule.h in the test. */
START_TEST(ddim_step_matches_closed_form) {
    enum { D = 37 };
    float x[D], eps[D], z[D], xp[D], x0[D];
    sdpo_rng r;
    sdpo_rng_init(&r, 5, SDPO_STREAM_INIT_NOISE);
    sdpo_rng_normal_fill(&r, x, D);
    sdpo_rng_normal_fill(&r, eps, D);
    sdpo_rng_normal_fill(&r, z, D);
    sdpo_ddim_coeffs c;
    sdpo_ddim_coeffs_at(&S, 749, 4, 1.0, &c);
    double logp;
    ck_assert(sdpo_ddim_step(&S, &c, D, x, eps, z, xp, x0, &logp, NULL) == SDPO_OK);
    double at = S.alphas_cumprod[749], ap = S.alphas_cumprod[499];
    double sig = sqrt((1 - ap) / (1 - at) * (1 - at / ap));
    double want = 0;
    for (int d = 0; d < D; d++) {
        double x0w = (x[d] - sqrt(1 - at) * eps[d]) / sqrt(at);
        double mu = sqrt(ap) * x0w + sqrt(1 - ap - sig * sig) * eps[d];
        CK_CLOSE(x0[d], x0w, 1e-6, 1e-6);
        CK_CLOSE(xp[d], mu + sig * z[d], 1e-6, 1e-6);
        double diff = (double)xp[d] - mu;
        want += -diff * diff / (2 * sig * sig) - log(sig) - 0.5 * log(2 * M_PI);
    }
    want /= D;
    /* x_prev is rounded to float before the density is taken: ≤ 1e-7·|z|/σ per element. */
    CK_CLOSE(logp, want, 1e-6, 1e-6);
    /* Re-evaluating the stored transition (noise = NULL) gives the same log-prob. */
    double logp2;
    ck_assert(sdpo_ddim_step(&S, &c, D, x, eps, NULL, xp, NULL, &logp2, NULL) == SDPO_OK);
    ck_assert(logp2 == logp);
    /* η = 0 has σ = 0: the log-prob is undefined and refused. */
    sdpo_ddim_coeffs c0;
    sdpo_ddim_coeffs_at(&S, 749, 4, 0.0, &c0);
    ck_assert(sdpo_ddim_step(&S, &c0, D, x, eps, z, xp, NULL, &logp, NULL) == SDPO_ERR_ARG);
}
END_TEST

static void check_gradient(sdpo_prediction pred, int t, int N) {
    enum { D = 16 };
    float x[D], out[D], xp[D], g[D];
    sdpo_rng r;
    sdpo_rng_init(&r, 11 + (uint64_t)t, SDPO_STREAM_INIT_NOISE);
    sdpo_rng_normal_fill(&r, x, D);
    sdpo_rng_normal_fill(&r, out, D);
    sdpo_rng_normal_fill(&r, xp, D);
    S.prediction = pred;
    sdpo_ddim_coeffs c;
    sdpo_ddim_coeffs_at(&S, t, N, 1.0, &c);
    for (int d = 0; d < D; d++) xp[d] = xp[d] * (float)c.sigma; /* a plausible next state */
    double logp;
    ck_assert(sdpo_ddim_step(&S, &c, D, x, out, NULL, xp, NULL, &logp, g) == SDPO_OK);
    for (int d = 0; d < D; d++) {
        /* logp is quadratic in out, so the central difference is exact up to rounding; h = 1e-2
         * keeps the float rounding of out ± h (1e-9 relative) far below the 1e-4 tolerance. */
        const float h = 1e-2f;
        float keep = out[d];
        double lp, lm;
        out[d] = keep + h;
        sdpo_ddim_step(&S, &c, D, x, out, NULL, xp, NULL, &lp, NULL);
        out[d] = keep - h;
        sdpo_ddim_step(&S, &c, D, x, out, NULL, xp, NULL, &lm, NULL);
        out[d] = keep;
        double fd = (lp - lm) / (2.0 * h);
        CK_CLOSE(g[d], fd, 1e-5, 1e-4);
    }
    S.prediction = SDPO_PRED_EPSILON;
}

START_TEST(dlogp_matches_finite_differences) {
    check_gradient(SDPO_PRED_EPSILON, 999, 50);
    check_gradient(SDPO_PRED_EPSILON, 499, 4);
    check_gradient(SDPO_PRED_EPSILON, 19, 50);
    check_gradient(SDPO_PRED_V, 999, 1);
    check_gradient(SDPO_PRED_V, 249, 4);
}
END_TEST

START_TEST(v_prediction_round_trip) {
    /* x_t = a·x0 + b·ε and v = a·ε − b·x0 must give back x0 and ε. */
    enum { D = 8 };
    float x0[D], e[D], xt[D], v[D], x0h[D], eh[D];
    sdpo_rng r;
    sdpo_rng_init(&r, 3, SDPO_STREAM_INIT_NOISE);
    sdpo_rng_normal_fill(&r, x0, D);
    sdpo_rng_normal_fill(&r, e, D);
    double at = S.alphas_cumprod[600], a = sqrt(at), b = sqrt(1 - at);
    for (int d = 0; d < D; d++) {
        xt[d] = (float)(a * x0[d] + b * e[d]);
        v[d] = (float)(a * e[d] - b * x0[d]);
    }
    S.prediction = SDPO_PRED_V;
    sdpo_predict_x0_eps(&S, at, D, xt, v, x0h, eh);
    S.prediction = SDPO_PRED_EPSILON;
    for (int d = 0; d < D; d++) {
        CK_CLOSE(x0h[d], x0[d], 1e-5, 1e-5);
        CK_CLOSE(eh[d], e[d], 1e-5, 1e-5);
    }
}
END_TEST

/* log p(x_t) of the mixture, evaluated directly (log-sum-exp of Gaussian densities). */
static double gmm_logpdf(const sdpo_gmm *g, double at, const double *x) {
    double v = at * g->var + 1 - at, m = -INFINITY, terms[8];
    for (int k = 0; k < g->K; k++) {
        double d2 = 0;
        for (size_t d = 0; d < g->D; d++) {
            double r = x[d] - sqrt(at) * g->means[k * g->D + d];
            d2 += r * r;
        }
        terms[k] = log(g->weights[k]) - d2 / (2 * v) - 0.5 * (double)g->D * log(2 * M_PI * v);
        if (terms[k] > m) m = terms[k];
    }
    double s = 0;
    for (int k = 0; k < g->K; k++) s += exp(terms[k] - m);
    return m + log(s);
}

START_TEST(gmm_eps_is_tweedie_score) {
    /* Tweedie: E[ε | x_t] = −√(1−ᾱ)·∇ log p(x_t). The gradient is taken by central differences
     * of the directly evaluated density (h = 1e-4 in double: truncation ~h² ≈ 1e-8). */
    enum { K = 3, D = 5 };
    float means[K * D];
    sdpo_rng r;
    sdpo_rng_init(&r, 21, SDPO_STREAM_DATA);
    sdpo_rng_normal_fill(&r, means, K * D);
    const double w[K] = {0.5, 0.3, 0.2};
    sdpo_gmm g = {K, D, means, w, 0.1};
    for (int tt = 0; tt < 3; tt++) {
        double at = S.alphas_cumprod[(int[]){999, 500, 50}[tt]];
        float x[D], eps[D];
        double xd[D], scratch[K];
        sdpo_rng_normal_fill(&r, x, D);
        for (int d = 0; d < D; d++) xd[d] = x[d];
        sdpo_gmm_eps(&g, at, x, eps, scratch);
        for (int d = 0; d < D; d++) {
            const double h = 1e-4;
            xd[d] = x[d] + h;
            double lp = gmm_logpdf(&g, at, xd);
            xd[d] = x[d] - h;
            double lm = gmm_logpdf(&g, at, xd);
            xd[d] = x[d];
            CK_CLOSE(eps[d], -sqrt(1 - at) * (lp - lm) / (2 * h), 1e-5, 1e-5);
        }
    }
}
END_TEST


/* ---- diffusers / torch fixtures (reference/dump_ddim_reference.py) ---------------------- */

static FILE *open_fixture(const char *name) {
    char path[256];
    snprintf(path, sizeof path, "tests/data/ddim/%s", name);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s (run tests from the repository root)", path);
    int c;
    while ((c = fgetc(f)) == '#')
        while ((c = fgetc(f)) != '\n' && c != EOF) {}
    ungetc(c, f);
    return f;
}

static double read_num(FILE *f) {
    char tok[64];
    ck_assert_msg(fscanf(f, "%63s", tok) == 1, "fixture truncated");
    return strtod(tok, NULL); /* accepts the hex floats float.hex() writes */
}

START_TEST(alphas_cumprod_bit_exact_with_diffusers) {
    /* torch.linspace in float32, squared, 1 − β in float32, cumprod accumulated in double and
     * stored as float32: reproduced exactly, so every ᾱ must match bit for bit. */
    FILE *f = open_fixture("alphas_cumprod.txt");
    for (int i = 0; i < 1000; i++) {
        float want = (float)read_num(f);
        ck_assert_msg(S.alphas_cumprod[i] == want, "alphas_cumprod[%d] = %a, diffusers %a", i,
                      (double)S.alphas_cumprod[i], (double)want);
    }
    fclose(f);
    f = open_fixture("timesteps.txt");
    for (int row = 0; row < 6; row++) {
        int N = (int)read_num(f), t[64];
        ck_assert(sdpo_schedule_timesteps(&S, N, t) == SDPO_OK);
        for (int i = 0; i < N; i++) ck_assert_int_eq(t[i], (int)read_num(f));
    }
    fclose(f);
}
END_TEST

START_TEST(ddim_step_matches_torch) {
    FILE *f = open_fixture("step_case.txt");
    int D = (int)read_num(f), N = (int)read_num(f), t = (int)read_num(f);
    float *v = malloc(5 * (size_t)D * sizeof *v), *x = v, *eps = v + D, *xp = v + 2 * D,
          *x0w = v + 3 * D, *gw = v + 4 * D;
    for (int k = 0; k < 4 * D; k++) v[k] = (float)read_num(f);
    double logp_w = read_num(f);
    for (int k = 0; k < D; k++) gw[k] = (float)read_num(f);
    fclose(f);
    sdpo_ddim_coeffs c;
    ck_assert(sdpo_ddim_coeffs_at(&S, t, N, 1.0, &c) == SDPO_OK);
    float x0[64], g[64];
    double logp;
    ck_assert(sdpo_ddim_step(&S, &c, (size_t)D, x, eps, NULL, xp, x0, &logp, g) == SDPO_OK);
    /* torch evaluates every intermediate in float32 (≈6e-8 relative each, a dozen operations),
     * we in double: agreement to 1e-6 relative is the float32 noise floor, not slack. */
    for (int k = 0; k < D; k++) {
        CK_CLOSE(x0[k], x0w[k], 1e-6, 1e-6);
        CK_CLOSE(g[k], gw[k], 1e-7, 1e-5);
    }
    CK_CLOSE(logp, logp_w, 1e-6, 1e-6);
    free(v);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("ddim");
    TCase *tc = tcase_create("schedule");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, trailing_and_leading_timesteps);
    tcase_add_test(tc, alphas_cumprod_matches_references);
    tcase_add_test(tc, ddim_coefficients_match_baselines_doc);
    tcase_add_test(tc, ddim_step_matches_closed_form);
    tcase_add_test(tc, dlogp_matches_finite_differences);
    tcase_add_test(tc, v_prediction_round_trip);
    tcase_add_test(tc, gmm_eps_is_tweedie_score);
    tcase_add_test(tc, alphas_cumprod_bit_exact_with_diffusers);
    tcase_add_test(tc, ddim_step_matches_torch);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

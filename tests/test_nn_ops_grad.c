/* tests/test_nn_ops_grad.c — every backward in nn/ops.h against central finite differences.
 *
 * Method: the scalar loss is L = Σ_j out_j · R_j for a fixed random R, accumulated in double, so
 * the backward's gradients with dout = R are ∂L/∂x. For each input and parameter tensor, each
 * checked element x_i is moved to x⁺ = fl(x_i + h) and x⁻ = fl(x_i − h) and
 *   fd_i = (L(x⁺) − L(x⁻)) / (x⁺ − x⁻)
 * divides by the perturbation actually applied (x ± h is rounded to float), which removes the
 * representation error of the step from the estimate.
 *
 * Accumulation: every gradient buffer is pre-filled with random "earlier" values before the
 * backward runs, and the check is on (buffer − prefill): a backward that overwrote (=) instead of
 * accumulating (+=), or touched a buffer it should not, fails.
 *
 * Error budget and tolerances (|analytic − fd| ≤ atol + rtol·|fd|):
 *  - rounding: L is evaluated from float outputs. Outputs that x_i does not reach are
 *    recomputed bit-identically (the ops are deterministic), so they cancel exactly in
 *    L(x⁺) − L(x⁻); the k outputs it does reach carry ~2⁻²⁴·|out|·√(terms) each, about 1e-6 for
 *    our magnitudes, so the estimate's rounding error is ≈ √k·1e-6 / (2h).
 *  - truncation: zero for ops linear in the perturbed tensor (linear, conv, shape ops, add,
 *    scale, reductions: all linear in each argument separately), which therefore use a large
 *    step h = 0.25 → rounding error ≲ 3e-5 for k ≤ 100: LINEAR_ATOL = 1e-4, LINEAR_RTOL = 1e-4
 *    (observed worst: 3e-6).
 *    Smooth nonlinear ops (activations, norms) have truncation h²/6·|L'''|; with h = 1e-2 and
 *    O(1)–O(10) third derivatives on unit-scale inputs that is ≲ 2e-4, plus rounding ≈ 5e-5:
 *    SMOOTH_ATOL = 5e-4, SMOOTH_RTOL = 5e-3 (observed worst: 5e-5, in group norm's dinp).
 * A real backward bug (a dropped term, a wrong index, a missing +=) is an O(0.1–1) error in at
 * least one element, far outside both. Set SDPO_TEST_VERBOSE=1 to print the worst error of each
 * check against its tolerance. */
#include "core/rng.h"
#include "nn/ops.h"
#include "tests/check_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINEAR_H 0.25
#define LINEAR_ATOL 1e-4
#define LINEAR_RTOL 1e-4
#define SMOOTH_H 1e-2
#define SMOOTH_ATOL 5e-4
#define SMOOTH_RTOL 5e-3

/* Elements checked per tensor: all of them up to this many, else an even sample. */
#define FD_MAX_POINTS 150

// ----------------------------------------------------------------------------
// test buffers (freed together at the end of each test)

enum { MAX_BUFS = 32 };
static float *bufs[MAX_BUFS];
static int n_bufs;
static uint64_t next_seed = 1;

/* n standard normals times `scale`, from a fresh seed. */
static float *randn(size_t n, float scale) {
    ck_assert_int_lt(n_bufs, MAX_BUFS);
    float *p = malloc((n ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    sdpo_rng r;
    sdpo_rng_init(&r, next_seed++, SDPO_STREAM_DATA);
    sdpo_rng_normal_fill(&r, p, n);
    for (size_t i = 0; i < n; i++) p[i] *= scale;
    bufs[n_bufs++] = p;
    return p;
}

static float *zeros(size_t n) {
    float *p = randn(n, 0.0f);
    memset(p, 0, (n ? n : 1) * sizeof *p);
    return p;
}

static void free_bufs(void) {
    for (int i = 0; i < n_bufs; i++) free(bufs[i]);
    n_bufs = 0;
}

static nn_ctx ctx2 = {.backend = NN_BACKEND_CPU, .n_threads = 2, .stream = NULL};

// ----------------------------------------------------------------------------
// the finite-difference harness

typedef struct {
    const char *name;
    float *x;  // the tensor perturbed
    float *g;  // its gradient buffer, filled by the backward
    size_t n;
} fd_target;

typedef struct {
    const char *op;
    void (*forward)(void *st);   // recomputes out from the current inputs
    void (*backward)(void *st);  // accumulates ∂L/∂(targets) into the targets' g, with dout = R
    void *st;
    const float *out, *R;
    size_t n_out;
    double h, atol, rtol;
} fd_problem;

static double loss(const fd_problem *p) {
    double s = 0.0;
    for (size_t j = 0; j < p->n_out; j++) s += (double)p->out[j] * p->R[j];
    return s;
}

static void fd_check(const fd_problem *p, fd_target *t, int nt) {
    enum { MAX_T = 4 };
    ck_assert_int_le(nt, MAX_T);
    float *prior[MAX_T];
    p->forward(p->st);  // saved statistics (norms) come from the unperturbed inputs
    for (int k = 0; k < nt; k++) {
        prior[k] = randn(t[k].n, 1.0f);
        memcpy(t[k].g, prior[k], t[k].n * sizeof(float));
    }
    p->backward(p->st);
    for (int k = 0; k < nt; k++) {
        size_t step = t[k].n <= FD_MAX_POINTS ? 1 : t[k].n / FD_MAX_POINTS;
        double worst = 0.0, worst_tol = 0.0, worst_ratio = -1.0;
        for (size_t i = (t[k].n <= FD_MAX_POINTS ? 0 : 7 % step); i < t[k].n; i += step) {
            float x0 = t[k].x[i];
            float xp = (float)(x0 + p->h), xm = (float)(x0 - p->h);
            t[k].x[i] = xp;
            p->forward(p->st);
            double lp = loss(p);
            t[k].x[i] = xm;
            p->forward(p->st);
            double lm = loss(p);
            t[k].x[i] = x0;
            double fd = (lp - lm) / ((double)xp - (double)xm);
            double an = (double)t[k].g[i] - (double)prior[k][i];
            double tol = p->atol + p->rtol * fabs(fd), err = fabs(an - fd);
            if (!(err <= tol))
                ck_abort_msg("%s: d%s[%zu] = %.8g, finite difference %.8g (tol %.3g)", p->op,
                             t[k].name, i, an, fd, tol);
            if (err / tol > worst_ratio) {
                worst_ratio = err / tol;
                worst = err;
                worst_tol = tol;
            }
        }
        if (getenv("SDPO_TEST_VERBOSE"))
            printf("fd %-28s d%-7s worst |err| %.2e (tol %.2e)\n", p->op, t[k].name, worst,
                   worst_tol);
    }
    p->forward(p->st);  // leave out consistent with the restored inputs
}

// ----------------------------------------------------------------------------
// linear

typedef struct {
    float *out, *inp, *w, *b, *dinp, *dw, *db, *R;
    int N, C_in, C_out;
} linear_st;

static void linear_fwd(void *v) {
    linear_st *s = v;
    nn_linear_forward(&ctx2, s->out, s->inp, s->w, s->b, s->N, s->C_in, s->C_out);
}

static void linear_bwd(void *v) {
    linear_st *s = v;
    nn_linear_backward(&ctx2, s->dinp, s->dw, s->db, s->R, s->inp, s->w, s->N, s->C_in, s->C_out);
}

START_TEST(grad_linear) {
    const int with_bias = _i;
    linear_st s = {.N = 5, .C_in = 7, .C_out = 6};
    s.inp = randn((size_t)s.N * s.C_in, 1.0f);
    s.w = randn((size_t)s.C_out * s.C_in, 0.5f);
    s.b = with_bias ? randn((size_t)s.C_out, 1.0f) : NULL;
    s.out = zeros((size_t)s.N * s.C_out);
    s.R = randn((size_t)s.N * s.C_out, 1.0f);
    s.dinp = zeros((size_t)s.N * s.C_in);
    s.dw = zeros((size_t)s.C_out * s.C_in);
    s.db = with_bias ? zeros((size_t)s.C_out) : NULL;
    fd_problem p = {with_bias ? "linear" : "linear (no bias)", linear_fwd, linear_bwd, &s, s.out,
                    s.R, (size_t)s.N * s.C_out, LINEAR_H, LINEAR_ATOL, LINEAR_RTOL};
    fd_target t[] = {{"inp", s.inp, s.dinp, (size_t)s.N * s.C_in},
                     {"weight", s.w, s.dw, (size_t)s.C_out * s.C_in},
                     {"bias", s.b, s.db, (size_t)s.C_out}};
    fd_check(&p, t, with_bias ? 3 : 2);
    free_bufs();
}
END_TEST

// ----------------------------------------------------------------------------
// conv2d

typedef struct {
    float *out, *inp, *w, *b, *dinp, *dw, *db, *R, *scratch;
    nn_conv2d_shape sh;
} conv_st;

static void conv_fwd(void *v) {
    conv_st *s = v;
    nn_conv2d_forward(&ctx2, s->out, s->inp, s->w, s->b, &s->sh, s->scratch);
}

static void conv_bwd(void *v) {
    conv_st *s = v;
    nn_conv2d_backward(&ctx2, s->dinp, s->dw, s->db, s->R, s->inp, s->w, &s->sh, s->scratch);
}

/* B, C_in, H, W, C_out, kh, kw, stride, pad_top, pad_bottom, pad_left, pad_right; bias? */
static const struct {
    const char *what;
    nn_conv2d_shape sh;
    int bias;
} conv_cases[] = {
    {"3x3 s1 p1 (resnet conv)", {2, 3, 5, 6, 4, 3, 3, 1, 1, 1, 1, 1}, 1},
    {"3x3 s2 p1 (UNet downsample)", {2, 2, 7, 6, 3, 3, 3, 2, 1, 1, 1, 1}, 1},
    {"3x3 s2 pad (0,1,0,1) (VAE downsample)", {1, 2, 6, 7, 3, 3, 3, 2, 0, 1, 0, 1}, 1},
    {"1x1 s1 p0 (pointwise path)", {2, 4, 3, 5, 3, 1, 1, 1, 0, 0, 0, 0}, 1},
    {"2x3 s2 pads (2,0,1,3), no bias", {1, 2, 5, 4, 2, 2, 3, 2, 2, 0, 1, 3}, 0},
    {"4x4 s3 p0 (patch-embed-like)", {2, 3, 7, 8, 2, 4, 4, 3, 0, 0, 0, 0}, 1},
    {"1x1 s2 p1", {1, 2, 4, 5, 2, 1, 1, 2, 1, 1, 1, 1}, 1},
};

START_TEST(grad_conv2d) {
    conv_st s = {.sh = conv_cases[_i].sh};
    const nn_conv2d_shape *sh = &s.sh;
    size_t n_in = (size_t)sh->B * sh->C_in * sh->H * sh->W;
    size_t n_w = (size_t)sh->C_out * sh->C_in * sh->kh * sh->kw;
    size_t n_out = (size_t)sh->B * sh->C_out * nn_conv2d_out_h(sh) * nn_conv2d_out_w(sh);
    size_t n_scratch = nn_conv2d_scratch_floats(sh);
    s.inp = randn(n_in, 1.0f);
    s.w = randn(n_w, 0.5f);
    s.b = conv_cases[_i].bias ? randn((size_t)sh->C_out, 1.0f) : NULL;
    s.out = zeros(n_out);
    s.R = randn(n_out, 1.0f);
    s.scratch = n_scratch ? zeros(n_scratch) : NULL;
    s.dinp = zeros(n_in);
    s.dw = zeros(n_w);
    s.db = conv_cases[_i].bias ? zeros((size_t)sh->C_out) : NULL;
    char name[96];
    snprintf(name, sizeof name, "conv2d %s", conv_cases[_i].what);
    fd_problem p = {name, conv_fwd, conv_bwd, &s, s.out, s.R, n_out,
                    LINEAR_H, LINEAR_ATOL, LINEAR_RTOL};
    fd_target t[] = {{"inp", s.inp, s.dinp, n_in},
                     {"weight", s.w, s.dw, n_w},
                     {"bias", s.b, s.db, (size_t)sh->C_out}};
    fd_check(&p, t, conv_cases[_i].bias ? 3 : 2);
    free_bufs();
}
END_TEST

// ----------------------------------------------------------------------------
// group norm and layer norm

typedef struct {
    float *out, *inp, *w, *b, *mean, *rstd, *dinp, *dw, *db, *R;
    int B, C, HW, G;
    float eps;
} gn_st;

static void gn_fwd(void *v) {
    gn_st *s = v;
    nn_group_norm_forward(&ctx2, s->out, s->mean, s->rstd, s->inp, s->w, s->b, s->B, s->C, s->HW,
                          s->G, s->eps);
}

static void gn_bwd(void *v) {
    gn_st *s = v;
    nn_group_norm_backward(&ctx2, s->dinp, s->dw, s->db, s->R, s->inp, s->w, s->mean, s->rstd,
                           s->B, s->C, s->HW, s->G);
}

/* {G, affine}: several groups, one group (LayerNorm-like), one channel per group
 * (InstanceNorm-like), and no affine. C = 6, HW = 5, B = 2. */
static const int gn_cases[][2] = {{3, 1}, {2, 1}, {1, 1}, {6, 1}, {3, 0}};

START_TEST(grad_group_norm) {
    int affine = gn_cases[_i][1];
    gn_st s = {.B = 2, .C = 6, .HW = 5, .G = gn_cases[_i][0], .eps = 1e-5f};
    size_t n = (size_t)s.B * s.C * s.HW;
    s.inp = randn(n, 1.5f);
    for (size_t i = 0; i < n; i++) s.inp[i] += 0.3f;  // a nonzero mean to subtract
    s.w = affine ? randn((size_t)s.C, 1.0f) : NULL;
    s.b = affine ? randn((size_t)s.C, 1.0f) : NULL;
    s.mean = zeros((size_t)s.B * s.G);
    s.rstd = zeros((size_t)s.B * s.G);
    s.out = zeros(n);
    s.R = randn(n, 1.0f);
    s.dinp = zeros(n);
    s.dw = affine ? zeros((size_t)s.C) : NULL;
    s.db = affine ? zeros((size_t)s.C) : NULL;
    char name[64];
    snprintf(name, sizeof name, "group_norm G=%d%s", s.G, affine ? "" : " no affine");
    fd_problem p = {name, gn_fwd, gn_bwd, &s, s.out, s.R, n, SMOOTH_H, SMOOTH_ATOL, SMOOTH_RTOL};
    fd_target t[] = {{"inp", s.inp, s.dinp, n},
                     {"weight", s.w, s.dw, (size_t)s.C},
                     {"bias", s.b, s.db, (size_t)s.C}};
    fd_check(&p, t, affine ? 3 : 1);
    free_bufs();
}
END_TEST

typedef struct {
    float *out, *inp, *w, *b, *mean, *rstd, *dinp, *dw, *db, *R;
    int N, C;
    float eps;
} ln_st;

static void ln_fwd(void *v) {
    ln_st *s = v;
    nn_layer_norm_forward(&ctx2, s->out, s->mean, s->rstd, s->inp, s->w, s->b, s->N, s->C, s->eps);
}

static void ln_bwd(void *v) {
    ln_st *s = v;
    nn_layer_norm_backward(&ctx2, s->dinp, s->dw, s->db, s->R, s->inp, s->w, s->mean, s->rstd,
                           s->N, s->C);
}

START_TEST(grad_layer_norm) {
    int affine = _i == 0;
    ln_st s = {.N = 4, .C = 7, .eps = 1e-5f};
    size_t n = (size_t)s.N * s.C;
    s.inp = randn(n, 1.5f);
    for (size_t i = 0; i < n; i++) s.inp[i] -= 0.4f;
    s.w = affine ? randn((size_t)s.C, 1.0f) : NULL;
    s.b = affine ? randn((size_t)s.C, 1.0f) : NULL;
    s.mean = zeros((size_t)s.N);
    s.rstd = zeros((size_t)s.N);
    s.out = zeros(n);
    s.R = randn(n, 1.0f);
    s.dinp = zeros(n);
    s.dw = affine ? zeros((size_t)s.C) : NULL;
    s.db = affine ? zeros((size_t)s.C) : NULL;
    fd_problem p = {affine ? "layer_norm" : "layer_norm no affine", ln_fwd, ln_bwd, &s, s.out, s.R,
                    n, SMOOTH_H, SMOOTH_ATOL, SMOOTH_RTOL};
    fd_target t[] = {{"inp", s.inp, s.dinp, n},
                     {"weight", s.w, s.dw, (size_t)s.C},
                     {"bias", s.b, s.db, (size_t)s.C}};
    fd_check(&p, t, affine ? 3 : 1);
    free_bufs();
}
END_TEST

// ----------------------------------------------------------------------------
// activations

typedef void (*unary_fwd_fn)(nn_ctx *, float *, const float *, size_t);
typedef void (*unary_bwd_fn)(nn_ctx *, float *, const float *, const float *, size_t);

typedef struct {
    float *out, *inp, *dinp, *R;
    size_t n;
    unary_fwd_fn f;
    unary_bwd_fn b;
} unary_st;

static void unary_fwd(void *v) {
    unary_st *s = v;
    s->f(&ctx2, s->out, s->inp, s->n);
}

static void unary_bwd(void *v) {
    unary_st *s = v;
    s->b(&ctx2, s->dinp, s->R, s->inp, s->n);
}

static const struct {
    const char *name;
    unary_fwd_fn f;
    unary_bwd_fn b;
} unary_cases[] = {
    {"silu", nn_silu_forward, nn_silu_backward},
    {"gelu", nn_gelu_forward, nn_gelu_backward},
    {"quick_gelu", nn_quick_gelu_forward, nn_quick_gelu_backward},
};

START_TEST(grad_activation) {
    unary_st s = {.n = 60, .f = unary_cases[_i].f, .b = unary_cases[_i].b};
    s.inp = randn(s.n, 2.0f);  // spans the curved region around 0 and both tails
    s.out = zeros(s.n);
    s.R = randn(s.n, 1.0f);
    s.dinp = zeros(s.n);
    fd_problem p = {unary_cases[_i].name, unary_fwd, unary_bwd, &s, s.out, s.R, s.n,
                    SMOOTH_H, SMOOTH_ATOL, SMOOTH_RTOL};
    fd_target t[] = {{"inp", s.inp, s.dinp, s.n}};
    fd_check(&p, t, 1);
    free_bufs();
}
END_TEST

typedef struct {
    float *out, *inp, *dinp, *R;
    int N, C;
} geglu_st;

static void geglu_fwd(void *v) {
    geglu_st *s = v;
    nn_geglu_forward(&ctx2, s->out, s->inp, s->N, s->C);
}

static void geglu_bwd(void *v) {
    geglu_st *s = v;
    nn_geglu_backward(&ctx2, s->dinp, s->R, s->inp, s->N, s->C);
}

START_TEST(grad_geglu) {
    geglu_st s = {.N = 3, .C = 5};
    size_t n_in = (size_t)s.N * 2 * s.C, n_out = (size_t)s.N * s.C;
    s.inp = randn(n_in, 1.5f);
    s.out = zeros(n_out);
    s.R = randn(n_out, 1.0f);
    s.dinp = zeros(n_in);
    fd_problem p = {"geglu", geglu_fwd, geglu_bwd, &s, s.out, s.R, n_out,
                    SMOOTH_H, SMOOTH_ATOL, SMOOTH_RTOL};
    fd_target t[] = {{"inp", s.inp, s.dinp, n_in}};
    fd_check(&p, t, 1);
    free_bufs();
}
END_TEST

// ----------------------------------------------------------------------------
// shape ops

typedef struct {
    float *out, *inp, *dinp, *R;
    int B, C, H, W;
} up_st;

static void up_fwd(void *v) {
    up_st *s = v;
    nn_upsample_nearest2x_forward(&ctx2, s->out, s->inp, s->B, s->C, s->H, s->W);
}

static void up_bwd(void *v) {
    up_st *s = v;
    nn_upsample_nearest2x_backward(&ctx2, s->dinp, s->R, s->B, s->C, s->H, s->W);
}

START_TEST(grad_upsample) {
    up_st s = {.B = 2, .C = 3, .H = 3, .W = 4};
    size_t n_in = (size_t)s.B * s.C * s.H * s.W, n_out = 4 * n_in;
    s.inp = randn(n_in, 1.0f);
    s.out = zeros(n_out);
    s.R = randn(n_out, 1.0f);
    s.dinp = zeros(n_in);
    fd_problem p = {"upsample_nearest2x", up_fwd, up_bwd, &s, s.out, s.R, n_out,
                    LINEAR_H, LINEAR_ATOL, LINEAR_RTOL};
    fd_target t[] = {{"inp", s.inp, s.dinp, n_in}};
    fd_check(&p, t, 1);
    free_bufs();
}
END_TEST

typedef struct {
    float *cat, *a, *b, *dcat, *da, *db, *R, *Ra, *Rb, *loss_out;
    int B, Ca, Cb, inner;
} cat_st;

static void concat_fwd(void *v) {
    cat_st *s = v;
    nn_concat_channels_forward(&ctx2, s->cat, s->a, s->b, s->B, s->Ca, s->Cb, s->inner);
}

static void concat_bwd(void *v) {
    cat_st *s = v;
    nn_concat_channels_backward(&ctx2, s->da, s->db, s->R, s->B, s->Ca, s->Cb, s->inner);
}

/* split's two outputs a, b are made one loss vector by concatenating them per batch in
 * loss_out (independently of the op: a plain loop), weighted by R = [Ra | Rb]. */
static void split_fwd(void *v) {
    cat_st *s = v;
    nn_split_channels_forward(&ctx2, s->a, s->b, s->cat, s->B, s->Ca, s->Cb, s->inner);
    size_t na = (size_t)s->Ca * s->inner, nb = (size_t)s->Cb * s->inner, k = 0;
    for (int i = 0; i < s->B; i++) {
        for (size_t j = 0; j < na; j++) s->loss_out[k++] = s->a[i * na + j];
        for (size_t j = 0; j < nb; j++) s->loss_out[k++] = s->b[i * nb + j];
    }
}

static void split_bwd(void *v) {
    cat_st *s = v;
    nn_split_channels_backward(&ctx2, s->dcat, s->Ra, s->Rb, s->B, s->Ca, s->Cb, s->inner);
}

START_TEST(grad_concat_split) {
    cat_st s = {.B = 2, .Ca = 3, .Cb = 2, .inner = 5};
    size_t na = (size_t)s.B * s.Ca * s.inner, nb = (size_t)s.B * s.Cb * s.inner, n = na + nb;
    s.a = randn(na, 1.0f);
    s.b = randn(nb, 1.0f);
    s.cat = zeros(n);
    s.R = randn(n, 1.0f);
    s.da = zeros(na);
    s.db = zeros(nb);
    fd_problem p = {"concat_channels", concat_fwd, concat_bwd, &s, s.cat, s.R, n,
                    LINEAR_H, LINEAR_ATOL, LINEAR_RTOL};
    fd_target t[] = {{"a", s.a, s.da, na}, {"b", s.b, s.db, nb}};
    fd_check(&p, t, 2);

    // split: R laid out as [Ra | Rb] per batch, i.e. the concat of Ra and Rb
    s.cat = randn(n, 1.0f);
    s.Ra = randn(na, 1.0f);
    s.Rb = randn(nb, 1.0f);
    s.R = zeros(n);
    nn_concat_channels_forward(&ctx2, s.R, s.Ra, s.Rb, s.B, s.Ca, s.Cb, s.inner);
    s.loss_out = zeros(n);
    s.dcat = zeros(n);
    fd_problem q = {"split_channels", split_fwd, split_bwd, &s, s.loss_out, s.R, n,
                    LINEAR_H, LINEAR_ATOL, LINEAR_RTOL};
    fd_target u[] = {{"inp", s.cat, s.dcat, n}};
    fd_check(&q, u, 1);

    // a NULL part contributes nothing: dinp += [0 | db]
    float *acc = zeros(n), *want = zeros(n);
    nn_split_channels_backward(&ctx2, acc, NULL, s.Rb, s.B, s.Ca, s.Cb, s.inner);
    float *zero_a = zeros(na);
    nn_concat_channels_forward(&ctx2, want, zero_a, s.Rb, s.B, s.Ca, s.Cb, s.inner);
    ck_assert_mem_eq(acc, want, n * sizeof(float));
    free_bufs();
}
END_TEST

typedef struct {
    float *out, *inp, *dinp, *R;
    int B, C, HW, to_tokens;
} tok_st;

static void tok_fwd(void *v) {
    tok_st *s = v;
    if (s->to_tokens) nn_nchw_to_tokens_forward(&ctx2, s->out, s->inp, s->B, s->C, s->HW);
    else nn_tokens_to_nchw_forward(&ctx2, s->out, s->inp, s->B, s->C, s->HW);
}

static void tok_bwd(void *v) {
    tok_st *s = v;
    if (s->to_tokens) nn_nchw_to_tokens_backward(&ctx2, s->dinp, s->R, s->B, s->C, s->HW);
    else nn_tokens_to_nchw_backward(&ctx2, s->dinp, s->R, s->B, s->C, s->HW);
}

START_TEST(grad_tokens) {
    // C and HW straddle the 32-wide transpose tiles
    tok_st s = {.B = 2, .C = 35, .HW = 40, .to_tokens = _i};
    size_t n = (size_t)s.B * s.C * s.HW;
    s.inp = randn(n, 1.0f);
    s.out = zeros(n);
    s.R = randn(n, 1.0f);
    s.dinp = zeros(n);
    fd_problem p = {s.to_tokens ? "nchw_to_tokens" : "tokens_to_nchw", tok_fwd, tok_bwd, &s, s.out,
                    s.R, n, LINEAR_H, LINEAR_ATOL, LINEAR_RTOL};
    fd_target t[] = {{"inp", s.inp, s.dinp, n}};
    fd_check(&p, t, 1);
    free_bufs();
}
END_TEST

// ----------------------------------------------------------------------------
// arithmetic and reductions

typedef struct {
    float *out, *a, *b, *da, *db, *R;
    size_t n;
    int B, C, inner, VB;
    float scale;
} arith_st;

static void add_fwd(void *v) {
    arith_st *s = v;
    nn_add_forward(&ctx2, s->out, s->a, s->b, s->n);
}

static void add_bwd(void *v) {
    arith_st *s = v;
    nn_add_backward(&ctx2, s->da, s->db, s->R, s->n);
}

static void addb_fwd(void *v) {
    arith_st *s = v;
    nn_add_broadcast_forward(&ctx2, s->out, s->a, s->b, s->B, s->C, s->inner, s->VB);
}

static void addb_bwd(void *v) {
    arith_st *s = v;
    nn_add_broadcast_backward(&ctx2, s->da, s->db, s->R, s->B, s->C, s->inner, s->VB);
}

static void scale_fwd(void *v) {
    arith_st *s = v;
    nn_scale_forward(&ctx2, s->out, s->a, s->scale, s->n);
}

static void scale_bwd(void *v) {
    arith_st *s = v;
    nn_scale_backward(&ctx2, s->da, s->R, s->scale, s->n);
}

START_TEST(grad_add_scale) {
    arith_st s = {.n = 23, .scale = -1.7f};
    s.a = randn(s.n, 1.0f);
    s.b = randn(s.n, 1.0f);
    s.out = zeros(s.n);
    s.R = randn(s.n, 1.0f);
    s.da = zeros(s.n);
    s.db = zeros(s.n);
    fd_problem p = {"add", add_fwd, add_bwd, &s, s.out, s.R, s.n,
                    LINEAR_H, LINEAR_ATOL, LINEAR_RTOL};
    fd_target t[] = {{"a", s.a, s.da, s.n}, {"b", s.b, s.db, s.n}};
    fd_check(&p, t, 2);
    fd_problem q = {"scale", scale_fwd, scale_bwd, &s, s.out, s.R, s.n,
                    LINEAR_H, LINEAR_ATOL, LINEAR_RTOL};
    fd_check(&q, t, 1);
    free_bufs();
}
END_TEST

START_TEST(grad_add_broadcast) {
    // _i = 0: v [B, C] over [B, C, HW] (time embedding); 1: v [C] shared by the batch
    arith_st s = {.B = 3, .C = 4, .inner = 5};
    s.VB = _i == 0 ? s.B : 1;
    size_t n = (size_t)s.B * s.C * s.inner, nv = (size_t)s.VB * s.C;
    s.a = randn(n, 1.0f);
    s.b = randn(nv, 1.0f);
    s.out = zeros(n);
    s.R = randn(n, 1.0f);
    s.da = zeros(n);
    s.db = zeros(nv);
    fd_problem p = {_i == 0 ? "add_broadcast VB=B" : "add_broadcast VB=1", addb_fwd, addb_bwd, &s,
                    s.out, s.R, n, LINEAR_H, LINEAR_ATOL, LINEAR_RTOL};
    fd_target t[] = {{"a", s.a, s.da, n}, {"v", s.b, s.db, nv}};
    fd_check(&p, t, 2);
    free_bufs();
}
END_TEST

typedef struct {
    float *out, *inp, *dinp, *R;
    size_t n;
    int B, C, HW, which;  // 0 sum, 1 mean, 2 mean_hw
} red_st;

static void red_fwd(void *v) {
    red_st *s = v;
    if (s->which == 0) nn_sum_forward(&ctx2, s->out, s->inp, s->n);
    else if (s->which == 1) nn_mean_forward(&ctx2, s->out, s->inp, s->n);
    else nn_mean_hw_forward(&ctx2, s->out, s->inp, s->B, s->C, s->HW);
}

static void red_bwd(void *v) {
    red_st *s = v;
    if (s->which == 0) nn_sum_backward(&ctx2, s->dinp, s->R, s->n);
    else if (s->which == 1) nn_mean_backward(&ctx2, s->dinp, s->R, s->n);
    else nn_mean_hw_backward(&ctx2, s->dinp, s->R, s->B, s->C, s->HW);
}

START_TEST(grad_reductions) {
    static const char *names[] = {"sum", "mean", "mean_hw"};
    red_st s = {.B = 2, .C = 3, .HW = 7, .which = _i};
    s.n = (size_t)s.B * s.C * s.HW;
    size_t n_out = s.which == 2 ? (size_t)s.B * s.C : 1;
    s.inp = randn(s.n, 1.0f);
    s.out = zeros(n_out);
    s.R = randn(n_out, 1.0f);
    s.dinp = zeros(s.n);
    fd_problem p = {names[_i], red_fwd, red_bwd, &s, s.out, s.R, n_out,
                    LINEAR_H, LINEAR_ATOL, LINEAR_RTOL};
    fd_target t[] = {{"inp", s.inp, s.dinp, s.n}};
    fd_check(&p, t, 1);
    free_bufs();
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("nn_ops_grad");
    TCase *tc = tcase_create("finite_differences");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, grad_linear, 0, 2);
    tcase_add_loop_test(tc, grad_conv2d, 0, (int)(sizeof conv_cases / sizeof conv_cases[0]));
    tcase_add_loop_test(tc, grad_group_norm, 0, (int)(sizeof gn_cases / sizeof gn_cases[0]));
    tcase_add_loop_test(tc, grad_layer_norm, 0, 2);
    tcase_add_loop_test(tc, grad_activation, 0, (int)(sizeof unary_cases / sizeof unary_cases[0]));
    tcase_add_test(tc, grad_geglu);
    tcase_add_test(tc, grad_upsample);
    tcase_add_test(tc, grad_concat_split);
    tcase_add_loop_test(tc, grad_tokens, 0, 2);
    tcase_add_test(tc, grad_add_scale);
    tcase_add_loop_test(tc, grad_add_broadcast, 0, 2);
    tcase_add_loop_test(tc, grad_reductions, 0, 3);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

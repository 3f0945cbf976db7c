/* tests/test_nn_ops_forward.c — the forwards of nn/ops.h against independent closed forms and a
 * direct double-precision convolution, plus bitwise determinism, extreme inputs, and partial
 * (NULL) gradient requests.
 *
 * The finite-difference suite (test_nn_ops_grad.c) proves each backward is the derivative of its
 * forward; a forward bug mirrored in its backward would pass there, so the forwards are pinned
 * here to values computed without the ops: by hand, by formula in double, or by a naive loop. */
#include "core/rng.h"
#include "nn/ops.h"
#include "tests/check_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static nn_ctx ctx1 = {.backend = NN_BACKEND_CPU, .n_threads = 1, .stream = NULL};
static nn_ctx ctx2 = {.backend = NN_BACKEND_CPU, .n_threads = 2, .stream = NULL};
static nn_ctx ctx3 = {.backend = NN_BACKEND_CPU, .n_threads = 3, .stream = NULL};

static float *randn(size_t n, uint64_t seed, float scale) {
    float *p = malloc((n ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    sdpo_rng r;
    sdpo_rng_init(&r, seed, SDPO_STREAM_DATA);
    sdpo_rng_normal_fill(&r, p, n);
    for (size_t i = 0; i < n; i++) p[i] *= scale;
    return p;
}

static float *zalloc(size_t n) {
    float *p = calloc(n ? n : 1, sizeof *p);
    ck_assert_ptr_nonnull(p);
    return p;
}

/* Check records every passing ck_assert through a pipe to the parent: loops over millions of
 * elements test first and only call into Check on failure. */
static void assert_floats_eq(const char *what, const float *got, const float *want, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (memcmp(&got[i], &want[i], sizeof(float)) != 0)
            ck_abort_msg("%s[%zu]: %.9g, want bit-identical %.9g", what, i, (double)got[i],
                         (double)want[i]);
}

// ----------------------------------------------------------------------------
// linear and conv2d: hand-computed cases

START_TEST(linear_closed_form) {
    // inp (2, 3), weight (2, 3), bias (2): out = inp · weightᵀ + bias, by hand
    const float inp[] = {1, 2, 3, -1, 0, 2}, w[] = {1, 0, -1, 2, 1, 0}, b[] = {0.5f, -1};
    const float want[] = {1 - 3 + 0.5f, 2 + 2 - 1, -1 - 2 + 0.5f, -2 + 0 - 1};
    float out[4];
    nn_linear_forward(&ctx1, out, inp, w, b, 2, 3, 2);
    assert_floats_eq("linear", out, want, 4);  // small integers: every step is exact
    nn_linear_forward(&ctx1, out, inp, w, NULL, 2, 3, 2);
    const float want_nb[] = {-2, 4, -3, -2};
    assert_floats_eq("linear (no bias)", out, want_nb, 4);
}
END_TEST

START_TEST(conv2d_closed_form) {
    // 3×3 image 1…9, pad 1: channel 0 = all-ones 3×3 kernel + 0.5 (sums of the in-image
    // neighbours), channel 1 = 2 × centre tap − 1 (an identity kernel)
    const float img[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    float w[18] = {0}, b[] = {0.5f, -1.0f}, out[18];
    for (int k = 0; k < 9; k++) w[k] = 1.0f;
    w[9 + 4] = 2.0f;
    nn_conv2d_shape s = {1, 1, 3, 3, 2, 3, 3, 1, 1, 1, 1, 1};
    float *scratch = zalloc(nn_conv2d_scratch_floats(&s));
    nn_conv2d_forward(&ctx1, out, img, w, b, &s, scratch);
    const float want[] = {12.5f, 21.5f, 16.5f, 27.5f, 45.5f, 33.5f, 24.5f, 39.5f, 28.5f,
                          1,     3,     5,     7,     9,     11,    13,    15,    17};
    assert_floats_eq("conv 3x3 pad 1", out, want, 18);
    free(scratch);

    // VAE encoder downsample on a 4×4 image 1…16: F.pad(x, (0, 1, 0, 1)) then 3×3 stride 2 with an
    // all-ones kernel: 2×2 outputs summing the in-image part of each window
    float img4[16], ones[9], out4[4];
    for (int k = 0; k < 16; k++) img4[k] = (float)(k + 1);
    for (int k = 0; k < 9; k++) ones[k] = 1.0f;
    nn_conv2d_shape v = {1, 1, 4, 4, 1, 3, 3, 2, 0, 1, 0, 1};
    ck_assert_int_eq(nn_conv2d_out_h(&v), 2);
    ck_assert_int_eq(nn_conv2d_out_w(&v), 2);
    scratch = zalloc(nn_conv2d_scratch_floats(&v));
    nn_conv2d_forward(&ctx1, out4, img4, ones, NULL, &v, scratch);
    const float want4[] = {1 + 2 + 3 + 5 + 6 + 7 + 9 + 10 + 11, 3 + 4 + 7 + 8 + 11 + 12,
                           9 + 10 + 11 + 13 + 14 + 15, 11 + 12 + 15 + 16};
    assert_floats_eq("conv VAE downsample", out4, want4, 4);
    free(scratch);
}
END_TEST

// ----------------------------------------------------------------------------
// conv2d against a direct loop in double, forward and backward, including the chunked path

/* Direct convolution and its adjoints in double, with Σ|terms| per output for the tolerance. */
typedef struct {
    double *out, *out_abs, *dinp, *dinp_abs, *dw, *dw_abs;
} conv_ref;

static void conv_reference(conv_ref *r, const nn_conv2d_shape *s, const float *inp,
                           const float *w, const float *b, const float *dout) {
    int Ho = nn_conv2d_out_h(s), Wo = nn_conv2d_out_w(s);
    size_t n_out = (size_t)s->B * s->C_out * Ho * Wo, n_in = (size_t)s->B * s->C_in * s->H * s->W;
    size_t n_w = (size_t)s->C_out * s->C_in * s->kh * s->kw;
    r->out = calloc(n_out, sizeof(double));
    r->out_abs = calloc(n_out, sizeof(double));
    r->dinp = calloc(n_in, sizeof(double));
    r->dinp_abs = calloc(n_in, sizeof(double));
    r->dw = calloc(n_w, sizeof(double));
    r->dw_abs = calloc(n_w, sizeof(double));
    for (int bi = 0; bi < s->B; bi++)
        for (int co = 0; co < s->C_out; co++)
            for (int oy = 0; oy < Ho; oy++)
                for (int ox = 0; ox < Wo; ox++) {
                    size_t o = (((size_t)bi * s->C_out + co) * Ho + oy) * Wo + ox;
                    double acc = b ? b[co] : 0.0, acc_abs = b ? fabs(b[co]) : 0.0;
                    for (int ci = 0; ci < s->C_in; ci++)
                        for (int ky = 0; ky < s->kh; ky++)
                            for (int kx = 0; kx < s->kw; kx++) {
                                int iy = oy * s->stride - s->pad_top + ky;
                                int ix = ox * s->stride - s->pad_left + kx;
                                if (iy < 0 || iy >= s->H || ix < 0 || ix >= s->W) continue;
                                size_t i = (((size_t)bi * s->C_in + ci) * s->H + iy) * s->W + ix;
                                size_t k = (((size_t)co * s->C_in + ci) * s->kh + ky) * s->kw + kx;
                                acc += (double)w[k] * inp[i];
                                acc_abs += fabs((double)w[k] * inp[i]);
                                r->dinp[i] += (double)w[k] * dout[o];
                                r->dinp_abs[i] += fabs((double)w[k] * dout[o]);
                                r->dw[k] += (double)dout[o] * inp[i];
                                r->dw_abs[k] += fabs((double)dout[o] * inp[i]);
                            }
                    r->out[o] = acc;
                    r->out_abs[o] = acc_abs;
                }
}

static void conv_ref_free(conv_ref *r) {
    free(r->out);
    free(r->out_abs);
    free(r->dinp);
    free(r->dinp_abs);
    free(r->dw);
    free(r->dw_abs);
}

/* |got − want| ≤ 2⁻²²·√terms·Σ|terms| + 1e-6: float accumulation of `terms` products has a
 * typical error of √terms·2⁻²⁴·Σ|terms| (Higham's probabilistic bound); 4× that margin still
 * rejects any wrong tap, whose error is a whole term. */
static void assert_conv_close(const char *what, const float *got, const double *want,
                              const double *abs_sum, size_t n, double terms) {
    for (size_t i = 0; i < n; i++) {
        double tol = ldexp(sqrt(terms), -22) * abs_sum[i] + 1e-6;
        if (!(fabs(got[i] - want[i]) <= tol))
            ck_abort_msg("%s[%zu]: %.9g, direct %.9g (tol %.3g)", what, i, (double)got[i],
                         want[i], tol);
    }
}

static const struct {
    const char *what;
    nn_conv2d_shape sh;
} direct_cases[] = {
    {"3x3 s1 p1", {2, 3, 5, 6, 4, 3, 3, 1, 1, 1, 1, 1}},
    {"3x3 s2 p1", {2, 2, 7, 6, 3, 3, 3, 2, 1, 1, 1, 1}},
    {"3x3 s2 pad (0,1,0,1)", {1, 2, 6, 7, 3, 3, 3, 2, 0, 1, 0, 1}},
    {"1x1 s1 p0", {2, 4, 3, 5, 3, 1, 1, 1, 0, 0, 0, 0}},
    {"2x3 s2 pads (2,0,1,3)", {1, 2, 5, 4, 2, 2, 3, 2, 2, 0, 1, 3}},
    {"14x14 s14 p0 (ViT patch embed)", {1, 3, 28, 42, 5, 14, 14, 14, 0, 0, 0, 0}},
    // at 2 threads these run as several chunks (2·455 columns for K = 576; see ops_conv2d.c)
    // whose edges fall mid-row and mid-image, and as 2 thread parts per chunk
    {"chunked 3x3 s1 p1 64ch 96x96", {1, 64, 96, 96, 4, 3, 3, 1, 1, 1, 1, 1}},
    {"chunked 3x3 s2 pad (0,1,0,1)", {1, 64, 191, 192, 3, 3, 3, 2, 0, 1, 0, 1}},
    {"chunks straddle images", {2, 64, 32, 32, 4, 3, 3, 1, 1, 1, 1, 1}},
    // one chunk of 3 images whose 2 thread parts split the middle image
    {"thread parts straddle images", {3, 16, 15, 20, 16, 3, 3, 1, 1, 1, 1, 1}},
    // a big 1×1: the pointwise path split across threads
    {"pointwise 1x1 64ch 40x40", {2, 64, 40, 40, 24, 1, 1, 1, 0, 0, 0, 0}},
};

START_TEST(conv2d_matches_direct) {
    const nn_conv2d_shape *s = &direct_cases[_i].sh;
    int Ho = nn_conv2d_out_h(s), Wo = nn_conv2d_out_w(s);
    size_t n_out = (size_t)s->B * s->C_out * Ho * Wo, n_in = (size_t)s->B * s->C_in * s->H * s->W;
    size_t n_w = (size_t)s->C_out * s->C_in * s->kh * s->kw;
    float *inp = randn(n_in, 11, 1.0f), *w = randn(n_w, 12, 0.5f), *b = randn(s->C_out, 13, 1.0f);
    float *dout = randn(n_out, 14, 1.0f), *out = zalloc(n_out), *dinp = zalloc(n_in);
    float *dw = zalloc(n_w), *db = zalloc(s->C_out);
    float *scratch = zalloc(nn_conv2d_scratch_floats(s));
    nn_conv2d_forward(&ctx2, out, inp, w, b, s, scratch);
    nn_conv2d_backward(&ctx2, dinp, dw, db, dout, inp, w, s, scratch);
    conv_ref r;
    conv_reference(&r, s, inp, w, b, dout);
    double K = (double)s->C_in * s->kh * s->kw;
    assert_conv_close("out", out, r.out, r.out_abs, n_out, K + 1);
    assert_conv_close("dinp", dinp, r.dinp, r.dinp_abs, n_in, (double)s->C_out * s->kh * s->kw);
    assert_conv_close("dweight", dw, r.dw, r.dw_abs, n_w, (double)s->B * Ho * Wo);
    for (int co = 0; co < s->C_out; co++) {
        double want = 0.0;
        for (int bi = 0; bi < s->B; bi++)
            for (int p = 0; p < Ho * Wo; p++)
                want += dout[((size_t)bi * s->C_out + co) * Ho * Wo + p];
        CK_CLOSE(db[co], want, 1e-5, 1e-6);  // summed in double, rounded once
    }
    conv_ref_free(&r);
    free(inp), free(w), free(b), free(dout), free(out), free(dinp), free(dw), free(db);
    free(scratch);
}
END_TEST

START_TEST(conv2d_partial_gradients) {
    // each NULL-able gradient alone gives bit-for-bit what the full call gives
    nn_conv2d_shape s = {2, 5, 9, 8, 6, 3, 3, 2, 1, 1, 1, 1};
    size_t n_out = (size_t)s.B * s.C_out * nn_conv2d_out_h(&s) * nn_conv2d_out_w(&s);
    size_t n_in = (size_t)s.B * s.C_in * s.H * s.W, n_w = (size_t)s.C_out * s.C_in * 9;
    float *inp = randn(n_in, 1, 1.0f), *w = randn(n_w, 2, 1.0f), *dout = randn(n_out, 3, 1.0f);
    float *scratch = zalloc(nn_conv2d_scratch_floats(&s));
    float *dinp = zalloc(n_in), *dw = zalloc(n_w), *db = zalloc(s.C_out);
    float *dinp1 = zalloc(n_in), *dw1 = zalloc(n_w), *db1 = zalloc(s.C_out);
    nn_conv2d_backward(&ctx2, dinp, dw, db, dout, inp, w, &s, scratch);
    nn_conv2d_backward(&ctx2, dinp1, NULL, NULL, dout, NULL, w, &s, scratch);
    nn_conv2d_backward(&ctx2, NULL, dw1, NULL, dout, inp, NULL, &s, scratch);
    nn_conv2d_backward(&ctx2, NULL, NULL, db1, dout, NULL, NULL, &s, NULL);
    assert_floats_eq("dinp alone", dinp1, dinp, n_in);
    assert_floats_eq("dweight alone", dw1, dw, n_w);
    assert_floats_eq("dbias alone", db1, db, s.C_out);
    free(inp), free(w), free(dout), free(scratch), free(dinp), free(dw), free(db);
    free(dinp1), free(dw1), free(db1);
}
END_TEST

// ----------------------------------------------------------------------------
// normalisation

START_TEST(group_norm_closed_form) {
    // x = [1, 2 | 3, 4] as B = 1, C = 2, HW = 2; weight = (2, −1), bias = (0.5, 0), eps = 1e-5
    const float x[] = {1, 2, 3, 4}, w[] = {2, -1}, b[] = {0.5f, 0};
    float out[4], mean[2], rstd[2];
    // G = 1: μ = 2.5, var = 1.25
    nn_group_norm_forward(&ctx1, out, mean, rstd, x, w, b, 1, 2, 2, 1, 1e-5f);
    double r1 = 1.0 / sqrt(1.25 + 1e-5);
    // the float result is (x − μ)·rstd·w + b with rstd rounded to float: a few ulp of 1
    CK_CLOSE(mean[0], 2.5, 0, 0);
    CK_CLOSE(rstd[0], r1, 0, 1e-7);
    const double want1[] = {-1.5 * r1 * 2 + 0.5, -0.5 * r1 * 2 + 0.5, 0.5 * r1 * -1, 1.5 * r1 * -1};
    for (int i = 0; i < 4; i++) CK_CLOSE(out[i], want1[i], 1e-6, 1e-6);
    // G = 2: groups {1, 2} and {3, 4}, each μ ± 0.5 with var 0.25
    nn_group_norm_forward(&ctx1, out, mean, rstd, x, w, b, 1, 2, 2, 2, 1e-5f);
    double r2 = 1.0 / sqrt(0.25 + 1e-5);
    CK_CLOSE(mean[0], 1.5, 0, 0);
    CK_CLOSE(mean[1], 3.5, 0, 0);
    const double want2[] = {-0.5 * r2 * 2 + 0.5, 0.5 * r2 * 2 + 0.5, 0.5 * r2, -0.5 * r2};
    for (int i = 0; i < 4; i++) CK_CLOSE(out[i], want2[i], 1e-6, 1e-6);
    // affine=False, stats not kept
    nn_group_norm_forward(&ctx1, out, NULL, NULL, x, NULL, NULL, 1, 2, 2, 2, 1e-5f);
    const double want3[] = {-0.5 * r2, 0.5 * r2, -0.5 * r2, 0.5 * r2};
    for (int i = 0; i < 4; i++) CK_CLOSE(out[i], want3[i], 1e-6, 1e-6);
}
END_TEST

START_TEST(layer_norm_closed_form) {
    // rows [1, 2, 3, 4] and [−2, −2, −2, 6] (μ = 0, var = 12), BERT's eps 1e-12
    const float x[] = {1, 2, 3, 4, -2, -2, -2, 6}, w[] = {1, 2, 3, 4}, b[] = {0, 0, 0, 1};
    float out[8], mean[2], rstd[2];
    nn_layer_norm_forward(&ctx1, out, mean, rstd, x, w, b, 2, 4, 1e-12f);
    double r0 = 1.0 / sqrt(1.25 + 1e-12), r1 = 1.0 / sqrt(12.0 + 1e-12);
    const double want[] = {-1.5 * r0, -0.5 * r0 * 2, 0.5 * r0 * 3, 1.5 * r0 * 4 + 1,
                           -2 * r1,   -2 * r1 * 2,   -2 * r1 * 3, 6 * r1 * 4 + 1};
    for (int i = 0; i < 8; i++) CK_CLOSE(out[i], want[i], 1e-6, 1e-6);
    CK_CLOSE(mean[1], 0.0, 0, 0);
    CK_CLOSE(rstd[1], r1, 0, 1e-7);
}
END_TEST

// ----------------------------------------------------------------------------
// activations

START_TEST(activation_closed_form) {
    // float erff/expf are within 2 ulp: 3e-7 relative, plus 1e-7 absolute around 0
    const float x[] = {1.0f, -1.0f, 0.0f, 2.5f};
    float y[4];
    nn_gelu_forward(&ctx1, y, x, 4);
    CK_CLOSE(y[0], 0.8413447460685429, 1e-7, 3e-7);  // GELU(1) = Φ(1)
    CK_CLOSE(y[1], -0.15865525393145707, 1e-7, 3e-7);
    CK_CLOSE(y[2], 0.0, 0, 0);
    CK_CLOSE(y[3], 2.5 * 0.5 * (1 + erf(2.5 / sqrt(2.0))), 1e-7, 3e-7);
    nn_quick_gelu_forward(&ctx1, y, x, 4);
    for (int i = 0; i < 4; i++) CK_CLOSE(y[i], x[i] / (1 + exp(-1.702 * x[i])), 1e-7, 3e-7);
    nn_silu_forward(&ctx1, y, x, 4);
    CK_CLOSE(y[0], 0.7310585786300049, 1e-7, 3e-7);  // σ(1)
    for (int i = 0; i < 4; i++) CK_CLOSE(y[i], x[i] / (1 + exp(-(double)x[i])), 1e-7, 3e-7);
    // in place
    float z[4];
    memcpy(z, x, sizeof z);
    nn_gelu_forward(&ctx1, z, z, 4);
    CK_CLOSE(z[0], 0.8413447460685429, 1e-7, 3e-7);

    // GEGLU: row [a0, a1 | g0, g1] → [a0·gelu(g0), a1·gelu(g1)]
    const float in[] = {2.0f, -3.0f, 1.0f, -1.0f};
    float out[2];
    nn_geglu_forward(&ctx1, out, in, 1, 2);
    CK_CLOSE(out[0], 2 * 0.8413447460685429, 1e-7, 3e-7);
    CK_CLOSE(out[1], -3 * -0.15865525393145707, 1e-7, 3e-7);
}
END_TEST

START_TEST(activation_extremes_are_finite) {
    // ggml tests GELU on [−150, 150] for NaNs: exp/erf saturate there
    enum { N = 601 };
    float x[N], y[N], g[N], ones[N], in2[2 * N], y2[N], g2[2 * N];
    for (int i = 0; i < N; i++) {
        x[i] = -150.0f + 0.5f * i;
        ones[i] = 1.0f;
        in2[i] = 1.0f;
        in2[N + i] = x[i];
    }
    void (*fw[])(nn_ctx *, float *, const float *, size_t) = {nn_gelu_forward,
                                                               nn_quick_gelu_forward,
                                                               nn_silu_forward};
    void (*bw[])(nn_ctx *, float *, const float *, const float *, size_t) = {
        nn_gelu_backward, nn_quick_gelu_backward, nn_silu_backward};
    for (int f = 0; f < 3; f++) {
        memset(g, 0, sizeof g);
        fw[f](&ctx1, y, x, N);
        bw[f](&ctx1, g, ones, x, N);
        for (int i = 0; i < N; i++) {
            ck_assert_msg(isfinite(y[i]) && isfinite(g[i]), "activation %d at %g: %g, grad %g", f,
                          (double)x[i], (double)y[i], (double)g[i]);
        }
        CK_CLOSE(y[0], 0.0, 1e-30, 0);  // x = −150: fully gated off
        CK_CLOSE(y[N - 1], 150.0, 0, 0);
        CK_CLOSE(g[0], 0.0, 1e-30, 0);
        CK_CLOSE(g[N - 1], 1.0, 0, 0);
    }
    memset(g2, 0, sizeof g2);
    nn_geglu_forward(&ctx1, y2, in2, 1, N);
    nn_geglu_backward(&ctx1, g2, ones, in2, 1, N);
    for (int i = 0; i < N; i++)
        ck_assert(isfinite(y2[i]) && isfinite(g2[i]) && isfinite(g2[N + i]));
}
END_TEST

// ----------------------------------------------------------------------------
// shape ops, arithmetic, reductions (exact: data movement and small-integer arithmetic)

START_TEST(upsample_closed_form) {
    const float x[] = {1, 2, 3, 4, 5, 6};  // B = 1, C = 1, H = 2, W = 3
    float y[24];
    nn_upsample_nearest2x_forward(&ctx1, y, x, 1, 1, 2, 3);
    const float want[] = {1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3,
                          4, 4, 5, 5, 6, 6, 4, 4, 5, 5, 6, 6};
    assert_floats_eq("upsample", y, want, 24);
    float d[6] = {0};
    nn_upsample_nearest2x_backward(&ctx1, d, want, 1, 1, 2, 3);
    const float want_d[] = {4, 8, 12, 16, 20, 24};
    assert_floats_eq("upsample backward", d, want_d, 6);
}
END_TEST

START_TEST(concat_split_round_trip) {
    // B = 2, a (2, 1, 3), b (2, 2, 3)
    const float a[] = {1, 2, 3, 4, 5, 6}, b[] = {10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21};
    float cat[18], a2[6], b2[12];
    nn_concat_channels_forward(&ctx1, cat, a, b, 2, 1, 2, 3);
    const float want[] = {1, 2, 3, 10, 11, 12, 13, 14, 15, 4, 5, 6, 16, 17, 18, 19, 20, 21};
    assert_floats_eq("concat", cat, want, 18);
    nn_split_channels_forward(&ctx1, a2, b2, cat, 2, 1, 2, 3);
    assert_floats_eq("split a", a2, a, 6);
    assert_floats_eq("split b", b2, b, 12);
}
END_TEST

START_TEST(tokens_layout) {
    // out[b, p, c] = inp[b, c, p], across 32-wide tile edges, and back
    int B = 2, C = 37, HW = 45;
    size_t n = (size_t)B * C * HW;
    float *x = randn(n, 5, 1.0f), *t = zalloc(n), *back = zalloc(n);
    nn_nchw_to_tokens_forward(&ctx2, t, x, B, C, HW);
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (int p = 0; p < HW; p++)
                if (t[((size_t)b * HW + p) * C + c] != x[((size_t)b * C + c) * HW + p])
                    ck_abort_msg("tokens[%d, %d, %d] is not nchw[%d, %d, %d]", b, p, c, b, c, p);
    nn_tokens_to_nchw_forward(&ctx2, back, t, B, C, HW);
    assert_floats_eq("tokens round trip", back, x, n);
    free(x), free(t), free(back);
}
END_TEST

START_TEST(arith_and_reductions_closed_form) {
    // a (B = 2, C = 2, inner = 2) = 1…8
    const float a[] = {1, 2, 3, 4, 5, 6, 7, 8}, v_b[] = {10, 20, 30, 40}, v_1[] = {100, 200};
    float y[8];
    nn_add_broadcast_forward(&ctx1, y, a, v_b, 2, 2, 2, 2);
    const float want_b[] = {11, 12, 23, 24, 35, 36, 47, 48};
    assert_floats_eq("add_broadcast VB=B", y, want_b, 8);
    nn_add_broadcast_forward(&ctx1, y, a, v_1, 2, 2, 2, 1);
    const float want_1[] = {101, 102, 203, 204, 105, 106, 207, 208};
    assert_floats_eq("add_broadcast VB=1", y, want_1, 8);
    float dv[4] = {0};
    nn_add_broadcast_backward(&ctx1, NULL, dv, a, 2, 2, 2, 1);
    ck_assert(dv[0] == 1 + 2 + 5 + 6 && dv[1] == 3 + 4 + 7 + 8);
    nn_add_forward(&ctx1, y, a, a, 8);
    nn_scale_forward(&ctx1, y, y, 0.25f, 8);  // in place
    for (int i = 0; i < 8; i++) ck_assert(y[i] == a[i] / 2);
    float s;
    nn_sum_forward(&ctx1, &s, a, 8);
    ck_assert(s == 36);
    nn_mean_forward(&ctx1, &s, a, 8);
    ck_assert(s == 4.5f);
    float m[4];
    nn_mean_hw_forward(&ctx1, m, a, 2, 2, 2);
    const float want_m[] = {1.5f, 3.5f, 5.5f, 7.5f};
    assert_floats_eq("mean_hw", m, want_m, 4);
    // a large sum: 1 + 2 + … + 10⁶ = 500000500000 is exact in double, then rounded once
    size_t n = 1000000;
    float *big = zalloc(n);
    for (size_t i = 0; i < n; i++) big[i] = (float)(i + 1);
    nn_sum_forward(&ctx2, &s, big, n);
    ck_assert(s == (float)500000500000.0);
    free(big);
}
END_TEST

// ----------------------------------------------------------------------------
// timestep embedding vs the direct formula

START_TEST(timestep_embedding_formula) {
    // diffusers get_timestep_embedding in double; the op keeps diffusers' float32 order, which
    // differs from it by a few roundings of the argument t·f_i (exponent, exp, product: ≲ 3 ulp
    // of an argument ≤ t), i.e. ≲ 3·2⁻²⁴·t in sin/cos: tol 1e-6 + 3e-7·t (3e-4 at t = 999)
    static const struct {
        int dim, flip;
        float shift, scale;
    } cfg[] = {{320, 1, 0.0f, 1.0f}, {320, 0, 1.0f, 1.0f}, {7, 1, 1.0f, 1.0f},
               {16, 0, 0.0f, 2.0f}};
    const float t[] = {0.0f, 1.0f, 999.0f};
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        int dim = cfg[c].dim, half = dim / 2;
        float *out = zalloc((size_t)3 * dim);
        nn_timestep_embedding_forward(&ctx1, out, t, 3, dim, cfg[c].flip, cfg[c].shift,
                                      cfg[c].scale, 10000.0f);
        for (int n = 0; n < 3; n++) {
            double tol = 1e-6 + 3e-7 * t[n];
            for (int i = 0; i < half; i++) {
                double arg = cfg[c].scale * t[n] * exp(-log(10000.0) * i / (half - cfg[c].shift));
                double first = cfg[c].flip ? cos(arg) : sin(arg);
                double second = cfg[c].flip ? sin(arg) : cos(arg);
                CK_CLOSE(out[(size_t)n * dim + i], first, tol, 0);
                CK_CLOSE(out[(size_t)n * dim + half + i], second, tol, 0);
            }
            if (dim % 2) ck_assert(out[(size_t)n * dim + dim - 1] == 0.0f);
        }
        // t = 0: exactly sin 0 = 0 and cos 0 = 1
        for (int i = 0; i < half; i++) {
            ck_assert(out[i] == (cfg[c].flip ? 1.0f : 0.0f));
            ck_assert(out[half + i] == (cfg[c].flip ? 0.0f : 1.0f));
        }
        free(out);
    }
}
END_TEST

// ----------------------------------------------------------------------------
// determinism: bitwise across reruns at 2 threads, and across thread counts where promised

typedef struct {
    float *out, *dinp, *dw, *db;
    size_t n_out, n_in, n_w, n_b;
} run_result;

static void run_result_free(run_result *r) {
    free(r->out), free(r->dinp), free(r->dw), free(r->db);
}

static void assert_same_run(const char *what, const run_result *a, const run_result *b) {
    ck_assert_msg(memcmp(a->out, b->out, a->n_out * sizeof(float)) == 0, "%s: out differs", what);
    ck_assert_msg(memcmp(a->dinp, b->dinp, a->n_in * sizeof(float)) == 0, "%s: dinp differs", what);
    ck_assert_msg(!a->n_w || memcmp(a->dw, b->dw, a->n_w * sizeof(float)) == 0,
                  "%s: dweight differs", what);
    ck_assert_msg(!a->n_b || memcmp(a->db, b->db, a->n_b * sizeof(float)) == 0,
                  "%s: dbias differs", what);
}

/* One forward + backward of op `which` at sizes large enough to run multithreaded. */
static run_result run_op(nn_ctx *ctx, int which) {
    run_result r = {0};
    switch (which) {
    case 0: {  // conv2d 3×3, B = 2, 16 → 16 channels, 32×32
        nn_conv2d_shape s = {2, 16, 32, 32, 16, 3, 3, 1, 1, 1, 1, 1};
        r.n_in = (size_t)2 * 16 * 32 * 32, r.n_out = r.n_in, r.n_w = 16 * 16 * 9, r.n_b = 16;
        float *x = randn(r.n_in, 21, 1.0f), *w = randn(r.n_w, 22, 0.1f), *b = randn(16, 23, 1.0f);
        float *dout = randn(r.n_out, 24, 1.0f), *scratch = zalloc(nn_conv2d_scratch_floats(&s));
        r.out = zalloc(r.n_out), r.dinp = zalloc(r.n_in), r.dw = zalloc(r.n_w), r.db = zalloc(16);
        nn_conv2d_forward(ctx, r.out, x, w, b, &s, scratch);
        nn_conv2d_backward(ctx, r.dinp, r.dw, r.db, dout, x, w, &s, scratch);
        free(x), free(w), free(b), free(dout), free(scratch);
        break;
    }
    case 1: {  // linear N = 300, 128 → 96
        r.n_in = 300 * 128, r.n_out = 300 * 96, r.n_w = 96 * 128, r.n_b = 96;
        float *x = randn(r.n_in, 31, 1.0f), *w = randn(r.n_w, 32, 0.1f), *b = randn(96, 33, 1.0f);
        float *dout = randn(r.n_out, 34, 1.0f);
        r.out = zalloc(r.n_out), r.dinp = zalloc(r.n_in), r.dw = zalloc(r.n_w), r.db = zalloc(96);
        nn_linear_forward(ctx, r.out, x, w, b, 300, 128, 96);
        nn_linear_backward(ctx, r.dinp, r.dw, r.db, dout, x, w, 300, 128, 96);
        free(x), free(w), free(b), free(dout);
        break;
    }
    case 2: {  // group norm B = 2, C = 64, HW = 256, G = 32
        r.n_in = r.n_out = (size_t)2 * 64 * 256, r.n_w = r.n_b = 64;
        float *x = randn(r.n_in, 41, 1.0f), *w = randn(64, 42, 1.0f), *b = randn(64, 43, 1.0f);
        float *dout = randn(r.n_out, 44, 1.0f), mean[64], rstd[64];
        r.out = zalloc(r.n_out), r.dinp = zalloc(r.n_in), r.dw = zalloc(64), r.db = zalloc(64);
        nn_group_norm_forward(ctx, r.out, mean, rstd, x, w, b, 2, 64, 256, 32, 1e-5f);
        nn_group_norm_backward(ctx, r.dinp, r.dw, r.db, dout, x, w, mean, rstd, 2, 64, 256, 32);
        free(x), free(w), free(b), free(dout);
        break;
    }
    case 3: {  // layer norm N = 200, C = 160
        r.n_in = r.n_out = 200 * 160, r.n_w = r.n_b = 160;
        float *x = randn(r.n_in, 51, 1.0f), *w = randn(160, 52, 1.0f), *b = randn(160, 53, 1.0f);
        float *dout = randn(r.n_out, 54, 1.0f), mean[200], rstd[200];
        r.out = zalloc(r.n_out), r.dinp = zalloc(r.n_in), r.dw = zalloc(160), r.db = zalloc(160);
        nn_layer_norm_forward(ctx, r.out, mean, rstd, x, w, b, 200, 160, 1e-5f);
        nn_layer_norm_backward(ctx, r.dinp, r.dw, r.db, dout, x, w, mean, rstd, 200, 160);
        free(x), free(w), free(b), free(dout);
        break;
    }
    case 4: {  // GEGLU N = 256, C = 80, then GELU, SiLU on the result
        r.n_in = 256 * 160, r.n_out = 256 * 80;
        float *x = randn(r.n_in, 61, 1.0f), *dout = randn(r.n_out, 62, 1.0f);
        float *h = zalloc(r.n_out), *dh = zalloc(r.n_out), *h2 = zalloc(r.n_out);
        float *dh2 = zalloc(r.n_out);
        r.out = zalloc(r.n_out), r.dinp = zalloc(r.n_in);
        nn_geglu_forward(ctx, h, x, 256, 80);
        nn_gelu_forward(ctx, h2, h, r.n_out);
        nn_silu_forward(ctx, r.out, h2, r.n_out);
        nn_silu_backward(ctx, dh2, dout, h2, r.n_out);
        nn_gelu_backward(ctx, dh, dh2, h, r.n_out);
        nn_geglu_backward(ctx, r.dinp, dh, x, 256, 80);
        free(x), free(dout), free(h), free(dh), free(h2), free(dh2);
        break;
    }
    case 5: {  // tokens → mean over everything, add_broadcast's dv, mean_hw
        int B = 2, C = 40, HW = 300;
        r.n_in = (size_t)B * C * HW, r.n_out = 1, r.n_b = (size_t)C;
        float *x = randn(r.n_in, 71, 1.0f), *t = zalloc(r.n_in), *dout = randn(r.n_in, 72, 1.0f);
        float m[80], g = 1.0f;
        r.out = zalloc(1), r.dinp = zalloc(r.n_in), r.db = zalloc(r.n_b);
        nn_nchw_to_tokens_forward(ctx, t, x, B, C, HW);
        nn_mean_forward(ctx, r.out, t, r.n_in);
        nn_mean_hw_forward(ctx, m, x, B, C, HW);
        r.out[0] += m[7];
        nn_mean_backward(ctx, t, &g, r.n_in);
        nn_nchw_to_tokens_backward(ctx, r.dinp, t, B, C, HW);
        nn_add_broadcast_backward(ctx, r.dinp, r.db, dout, B, C, HW, 1);
        free(x), free(t), free(dout);
        break;
    }
    default:
        ck_abort_msg("no op %d", which);
    }
    return r;
}

static const char *det_names[] = {"conv2d", "linear", "group_norm", "layer_norm",
                                  "geglu/gelu/silu", "tokens/mean/add_broadcast"};

START_TEST(bitwise_reruns_two_threads) {
    run_result a = run_op(&ctx2, _i), b = run_op(&ctx2, _i);
    assert_same_run(det_names[_i], &a, &b);
    run_result_free(&a);
    run_result_free(&b);
}
END_TEST

START_TEST(thread_count_independent) {
    // the non-GEMM ops promise the same bits at any thread count (ops.h)
    run_result a = run_op(&ctx1, _i), b = run_op(&ctx3, _i);
    assert_same_run(det_names[_i], &a, &b);
    run_result_free(&a);
    run_result_free(&b);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("nn_ops_forward");
    TCase *tc = tcase_create("closed_forms");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, linear_closed_form);
    tcase_add_test(tc, conv2d_closed_form);
    tcase_add_loop_test(tc, conv2d_matches_direct, 0,
                        (int)(sizeof direct_cases / sizeof direct_cases[0]));
    tcase_add_test(tc, conv2d_partial_gradients);
    tcase_add_test(tc, group_norm_closed_form);
    tcase_add_test(tc, layer_norm_closed_form);
    tcase_add_test(tc, activation_closed_form);
    tcase_add_test(tc, activation_extremes_are_finite);
    tcase_add_test(tc, upsample_closed_form);
    tcase_add_test(tc, concat_split_round_trip);
    tcase_add_test(tc, tokens_layout);
    tcase_add_test(tc, arith_and_reductions_closed_form);
    tcase_add_test(tc, timestep_embedding_formula);
    suite_add_tcase(s, tc);
    TCase *det = tcase_create("determinism");
    tcase_set_timeout(det, 300);
    tcase_add_loop_test(det, bitwise_reruns_two_threads, 0, 6);
    tcase_add_loop_test(det, thread_count_independent, 2, 6);
    suite_add_tcase(s, det);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

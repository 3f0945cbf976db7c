/* tests/test_nn_attention.c — multi-head attention vs a naive double-precision reference
 * (full score matrix), gradients vs central finite differences, determinism, extreme logits. */
#include "nn/attention.h"
#include "core/rng.h"
#include "tests/check_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    int B, H, Lq, Lk, dh, causal;
    nn_attn_mask_kind mask_kind;
} acase;

static nn_ctx cpu(int n_threads) {
    return (nn_ctx){.backend = NN_BACKEND_CPU, .n_threads = n_threads};
}

static nn_attention_shape shape_of(const acase *c) {
    return (nn_attention_shape){.B = c->B, .H = c->H, .Lq = c->Lq, .Lk = c->Lk, .dh = c->dh,
                                .causal = c->causal, .mask_kind = c->mask_kind};
}

static size_t mask_numel(const acase *c) {
    switch (c->mask_kind) {
    case NN_ATTN_MASK_QK: return (size_t)c->Lq * c->Lk;
    case NN_ATTN_MASK_BQK: return (size_t)c->B * c->Lq * c->Lk;
    case NN_ATTN_MASK_BK: return (size_t)c->B * c->Lk;
    case NN_ATTN_MASK_NONE: break;
    }
    return 0;
}

/* Inputs of one case, float for the op and the same values in double for the reference. */
typedef struct {
    size_t nq, nk, nm;
    float *q, *k, *v, *mask, *w;   /* w: weights of the test loss Σ w ∘ out (= dout) */
    double *qd, *kd, *vd, *maskd, *wd;
} inputs;

static float *fill_normal(sdpo_rng *r, size_t n, float sd) {
    float *x = malloc((n ? n : 1) * sizeof *x);
    sdpo_rng_normal_fill(r, x, n);
    for (size_t i = 0; i < n; i++) x[i] *= sd;
    return x;
}

static double *to_double(const float *x, size_t n) {
    double *d = malloc((n ? n : 1) * sizeof *d);
    for (size_t i = 0; i < n; i++) d[i] = x ? x[i] : 0.0;
    return d;
}

static inputs make_inputs(const acase *c, uint64_t seed) {
    inputs in = {0};
    const size_t HD = (size_t)c->H * c->dh;
    in.nq = (size_t)c->B * c->Lq * HD;
    in.nk = (size_t)c->B * c->Lk * HD;
    in.nm = mask_numel(c);
    sdpo_rng r;
    sdpo_rng_init(&r, seed, SDPO_STREAM_DATA);
    /* sd 1.3 makes the softmax visibly peaked without saturating it */
    in.q = fill_normal(&r, in.nq, 1.3f);
    in.k = fill_normal(&r, in.nk, 1.3f);
    in.v = fill_normal(&r, in.nk, 1.0f);
    in.w = fill_normal(&r, in.nq, 1.0f);
    if (in.nm) {
        in.mask = fill_normal(&r, in.nm, 1.0f);
        for (size_t i = 0; i < in.nm; i++) {
            float u = sdpo_rng_uniform(&r);
            if (c->mask_kind == NN_ATTN_MASK_BK) /* BERT padding: 0 or −10000 */
                in.mask[i] = u < 0.3f ? -10000.0f : 0.0f;
            else if (u < 0.15f)                  /* some keys fully blocked */
                in.mask[i] = -INFINITY;
        }
        /* key 0 stays open in every mask, so no row is fully masked here */
        for (size_t i = 0; i < in.nm; i += c->Lk) in.mask[i] = 0.0f;
    }
    in.qd = to_double(in.q, in.nq);
    in.kd = to_double(in.k, in.nk);
    in.vd = to_double(in.v, in.nk);
    in.wd = to_double(in.w, in.nq);
    in.maskd = to_double(in.mask, in.nm);
    return in;
}

static void free_inputs(inputs *in) {
    free(in->q), free(in->k), free(in->v), free(in->mask), free(in->w);
    free(in->qd), free(in->kd), free(in->vd), free(in->maskd), free(in->wd);
}

static double mask_at(const acase *c, const double *mask, int b, int i, int j) {
    switch (c->mask_kind) {
    case NN_ATTN_MASK_QK: return mask[(size_t)i * c->Lk + j];
    case NN_ATTN_MASK_BQK: return mask[((size_t)b * c->Lq + i) * c->Lk + j];
    case NN_ATTN_MASK_BK: return mask[(size_t)b * c->Lk + j];
    case NN_ATTN_MASK_NONE: break;
    }
    return 0.0;
}

/* Naive attention of head (b, h) in double with the full score row; writes that head's out
 * and lse (either may be NULL) and returns Σ w ∘ out over the head. */
static double ref_head(const acase *c, const inputs *in, const double *q, const double *k,
                       const double *v, int b, int h, double *out, double *lse) {
    const int HD = c->H * c->dh;
    const double scale = 1.0 / sqrt((double)c->dh);
    double *s = malloc((size_t)c->Lk * sizeof *s);
    double loss = 0.0;
    for (int i = 0; i < c->Lq; i++) {
        const double *qi = q + ((size_t)b * c->Lq + i) * HD + (size_t)h * c->dh;
        double mx = -INFINITY;
        for (int j = 0; j < c->Lk; j++) {
            const double *kj = k + ((size_t)b * c->Lk + j) * HD + (size_t)h * c->dh;
            double dot = 0.0;
            for (int d = 0; d < c->dh; d++) dot += qi[d] * kj[d];
            s[j] = scale * dot + mask_at(c, in->maskd, b, i, j);
            if (c->causal && j > i) s[j] = -INFINITY;
            if (s[j] > mx) mx = s[j];
        }
        double sum = 0.0;
        for (int j = 0; j < c->Lk; j++) sum += s[j] = exp(s[j] - mx);
        size_t orow = ((size_t)b * c->Lq + i) * HD + (size_t)h * c->dh;
        if (lse) lse[((size_t)b * c->H + h) * c->Lq + i] = mx + log(sum);
        for (int d = 0; d < c->dh; d++) {
            double o = 0.0;
            for (int j = 0; j < c->Lk; j++)
                o += s[j] / sum * v[((size_t)b * c->Lk + j) * HD + (size_t)h * c->dh + d];
            if (out) out[orow + d] = o;
            loss += in->wd[orow + d] * o;
        }
    }
    free(s);
    return loss;
}

/* Forward table: realistic head counts, blocks of 64 crossed, every mask kind. */
static const acase fwd_cases[] = {
    {"self, 3 heads, 2 query blocks", 2, 3, 70, 70, 16, 0, NN_ATTN_MASK_NONE},
    {"cross to 77 text tokens", 2, 2, 37, 77, 64, 0, NN_ATTN_MASK_NONE},
    {"CLIP causal L=77", 2, 2, 77, 77, 8, 1, NN_ATTN_MASK_NONE},
    {"additive mask [B,Lq,Lk]", 2, 2, 33, 45, 8, 0, NN_ATTN_MASK_BQK},
    {"additive mask [Lq,Lk]", 1, 3, 20, 30, 8, 0, NN_ATTN_MASK_QK},
    {"key padding [B,Lk]", 2, 2, 35, 35, 8, 0, NN_ATTN_MASK_BK},
    {"causal + mask, Lq > Lk", 1, 2, 130, 40, 8, 1, NN_ATTN_MASK_QK},
    {"causal, Lq < Lk", 2, 1, 10, 20, 8, 1, NN_ATTN_MASK_NONE},
    {"single head of 512 (VAE)", 1, 1, 16, 16, 512, 0, NN_ATTN_MASK_NONE},
};

START_TEST(forward_matches_double_reference) {
    const acase *c = &fwd_cases[_i];
    inputs in = make_inputs(c, 100 + (uint64_t)_i);
    nn_ctx ctx = cpu(2);
    nn_attention_shape s = shape_of(c);
    float *scratch = malloc(nn_attention_scratch_floats(&ctx, &s) * sizeof(float));
    size_t nl = (size_t)c->B * c->H * c->Lq;
    float *out = malloc(in.nq * sizeof *out), *lse = malloc(nl * sizeof *lse);
    nn_attention_forward(&ctx, out, lse, in.q, in.k, in.v, in.mask, &s, scratch);
    double *out_ref = malloc(in.nq * sizeof *out_ref), *lse_ref = malloc(nl * sizeof *lse_ref);
    for (int b = 0; b < c->B; b++)
        for (int h = 0; h < c->H; h++)
            ref_head(c, &in, in.qd, in.kd, in.vd, b, h, out_ref, lse_ref);
    /* float32 vs double: a score is a dh-term dot product of O(1.3²) terms (abs. error
     * ≲ √dh·1.7·6e-8 ≈ 1e-6 at dh 512 after scaling), exp turns that into the same relative
     * error of P, and out = Σ_j P_ij v_j (|v| ~ 1) adds ≲ 1e-6. 2e-5 leaves a 10× margin. */
    ck_assert_array_close(c->name, out, out_ref, in.nq, 2e-5, 2e-5);
    ck_assert_array_close("lse", lse, lse_ref, nl, 2e-5, 2e-5);
    free(scratch), free(out), free(lse), free(out_ref), free(lse_ref);
    free_inputs(&in);
}
END_TEST

/* Backward table: small head dims so every element can be finite-differenced, still crossing
 * the 64-row query blocks (dk/dv accumulate over blocks) and covering every mask kind. */
static const acase bwd_cases[] = {
    {"self, 2 query blocks", 1, 2, 70, 70, 4, 0, NN_ATTN_MASK_NONE},
    {"cross, Lk 77", 2, 2, 9, 77, 4, 0, NN_ATTN_MASK_NONE},
    {"causal, 2 query blocks", 1, 2, 77, 77, 4, 1, NN_ATTN_MASK_NONE},
    {"mask [B,Lq,Lk] with -inf", 2, 1, 12, 15, 4, 0, NN_ATTN_MASK_BQK},
    {"key padding [B,Lk]", 2, 2, 10, 10, 4, 0, NN_ATTN_MASK_BK},
    {"causal + [Lq,Lk], Lq > Lk", 1, 2, 66, 40, 4, 1, NN_ATTN_MASK_QK},
};

/* d(Σ w∘out)/dx by central differences of the double reference, for every element of x ∈
 * {q, k, v} (perturbing only the head the element belongs to). */
static void fd_grad(const acase *c, inputs *in, int which, double *grad) {
    double *x = which == 0 ? in->qd : which == 1 ? in->kd : in->vd;
    const int L = which == 0 ? c->Lq : c->Lk, HD = c->H * c->dh;
    const size_t n = which == 0 ? in->nq : in->nk;
    const double hstep = 1e-5;
    for (size_t e = 0; e < n; e++) {
        int b = (int)(e / ((size_t)L * HD)), h = (int)(e % HD) / c->dh;
        double x0 = x[e];
        x[e] = x0 + hstep;
        double lp = ref_head(c, in, in->qd, in->kd, in->vd, b, h, NULL, NULL);
        x[e] = x0 - hstep;
        double lm = ref_head(c, in, in->qd, in->kd, in->vd, b, h, NULL, NULL);
        x[e] = x0;
        grad[e] = (lp - lm) / (2 * hstep);
    }
}

START_TEST(backward_matches_finite_differences) {
    const acase *c = &bwd_cases[_i];
    inputs in = make_inputs(c, 200 + (uint64_t)_i);
    nn_ctx ctx = cpu(2);
    nn_attention_shape s = shape_of(c);
    float *scratch = malloc(nn_attention_scratch_floats(&ctx, &s) * sizeof(float));
    size_t nl = (size_t)c->B * c->H * c->Lq;
    float *out = malloc(in.nq * sizeof *out), *lse = malloc(nl * sizeof *lse);
    nn_attention_forward(&ctx, out, lse, in.q, in.k, in.v, in.mask, &s, scratch);
    /* gradients accumulate: start from 0.25 and subtract it afterwards */
    float *dq = malloc(in.nq * sizeof *dq), *dk = malloc(in.nk * sizeof *dk),
          *dv = malloc(in.nk * sizeof *dv);
    for (size_t i = 0; i < in.nq; i++) dq[i] = 0.25f;
    for (size_t i = 0; i < in.nk; i++) dk[i] = dv[i] = 0.25f;
    nn_attention_backward(&ctx, dq, dk, dv, in.w, in.q, in.k, in.v, out, lse, in.mask, &s,
                          scratch);
    for (size_t i = 0; i < in.nq; i++) dq[i] -= 0.25f;
    for (size_t i = 0; i < in.nk; i++) dk[i] -= 0.25f, dv[i] -= 0.25f;
    double *g = malloc((in.nq > in.nk ? in.nq : in.nk) * sizeof *g);
    /* Central differences of the double reference with h = 1e-5 are exact to ~1e-9
     * (truncation h²·f''' ~ 1e-10, rounding 1e-16/h ~ 1e-11), so the tolerance is the float32
     * backward's own error: each gradient sums ≤ Lk·dh products of O(1) factors after
     * recomputing P from the float lse (relative 1e-6), plus the 0.25 offset's rounding
     * (2⁻²⁴·0.25 ≈ 1.5e-8). 3e-5 absolute + 3e-5 relative is a ≥ 10× margin. */
    const double atol = 3e-5, rtol = 3e-5;
    fd_grad(c, &in, 0, g);
    ck_assert_array_close("dq", dq, g, in.nq, atol, rtol);
    fd_grad(c, &in, 1, g);
    ck_assert_array_close("dk", dk, g, in.nk, atol, rtol);
    fd_grad(c, &in, 2, g);
    ck_assert_array_close("dv", dv, g, in.nk, atol, rtol);

    /* NULL gradients are skipped, and the others are unaffected by which are requested. */
    float *dq2 = calloc(in.nq, sizeof *dq2), *dv2 = calloc(in.nk, sizeof *dv2);
    nn_attention_backward(&ctx, dq2, NULL, NULL, in.w, in.q, in.k, in.v, out, lse, in.mask, &s,
                          scratch);
    nn_attention_backward(&ctx, NULL, NULL, dv2, in.w, in.q, in.k, in.v, out, lse, in.mask, &s,
                          scratch);
    for (size_t i = 0; i < in.nq; i++) CK_CLOSE(dq2[i], dq[i], 1e-7, 1e-6);
    for (size_t i = 0; i < in.nk; i++) CK_CLOSE(dv2[i], dv[i], 1e-7, 1e-6);
    free(dq2), free(dv2);
    free(scratch), free(out), free(lse), free(dq), free(dk), free(dv), free(g);
    free_inputs(&in);
}
END_TEST

/* Finite differences of the float32 op itself (not the reference), on a few elements: checks
 * that forward and backward are the two halves of one function. */
START_TEST(backward_matches_op_finite_differences) {
    const acase c = {"self", 1, 2, 70, 70, 8, 1, NN_ATTN_MASK_NONE};
    inputs in = make_inputs(&c, 7);
    nn_ctx ctx = cpu(2);
    nn_attention_shape s = shape_of(&c);
    float *scratch = malloc(nn_attention_scratch_floats(&ctx, &s) * sizeof(float));
    size_t nl = (size_t)c.B * c.H * c.Lq;
    float *out = malloc(in.nq * sizeof *out), *lse = malloc(nl * sizeof *lse);
    float *grad[3] = {calloc(in.nq, sizeof(float)), calloc(in.nk, sizeof(float)),
                      calloc(in.nk, sizeof(float))};
    nn_attention_forward(&ctx, out, lse, in.q, in.k, in.v, NULL, &s, scratch);
    nn_attention_backward(&ctx, grad[0], grad[1], grad[2], in.w, in.q, in.k, in.v, out, lse,
                          NULL, &s, scratch);
    float *x[3] = {in.q, in.k, in.v};
    sdpo_rng r;
    sdpo_rng_init(&r, 3, SDPO_STREAM_DATA);
    for (int which = 0; which < 3; which++) {
        for (int t = 0; t < 12; t++) {
            size_t e = sdpo_rng_below(&r, (uint32_t)(which ? in.nk : in.nq));
            const float h = 1e-2f, x0 = x[which][e];
            double l[2];
            for (int side = 0; side < 2; side++) {
                x[which][e] = side ? x0 - h : x0 + h;
                nn_attention_forward(&ctx, out, lse, in.q, in.k, in.v, NULL, &s, scratch);
                l[side] = 0.0;
                for (size_t i = 0; i < in.nq; i++) l[side] += (double)in.w[i] * out[i];
            }
            x[which][e] = x0;
            /* float32 forward noise in the loss: ~√(1120 outputs)·1e-7 ≈ 4e-6, divided by
             * 2h = 0.02 → 2e-4; truncation h²/6·f''' ≲ 1e-4. Tolerance 2e-3. */
            double fd = (l[0] - l[1]) / ((double)(x0 + h) - (double)(x0 - h));
            CK_CLOSE(grad[which][e], fd, 2e-3, 2e-3);
        }
    }
    for (int i = 0; i < 3; i++) free(grad[i]);
    free(scratch), free(out), free(lse);
    free_inputs(&in);
}
END_TEST

/* Runs forward + backward of c at n threads into fresh buffers; returns one buffer with
 * out | lse | dq | dk | dv concatenated. */
static float *run_all(const acase *c, const inputs *in, int n_threads) {
    nn_ctx ctx = cpu(n_threads);
    nn_attention_shape s = shape_of(c);
    size_t nl = (size_t)c->B * c->H * c->Lq;
    float *scratch = malloc(nn_attention_scratch_floats(&ctx, &s) * sizeof(float));
    float *all = calloc(2 * in->nq + nl + 2 * in->nk, sizeof *all);
    float *out = all, *lse = out + in->nq, *dq = lse + nl, *dk = dq + in->nq, *dv = dk + in->nk;
    nn_attention_forward(&ctx, out, lse, in->q, in->k, in->v, in->mask, &s, scratch);
    nn_attention_backward(&ctx, dq, dk, dv, in->w, in->q, in->k, in->v, out, lse, in->mask, &s,
                          scratch);
    free(scratch);
    return all;
}

START_TEST(bitwise_deterministic) {
    static const acase cases[] = {
        {"self", 3, 5, 150, 150, 64, 0, NN_ATTN_MASK_NONE},
        {"cross", 3, 5, 150, 77, 64, 0, NN_ATTN_MASK_BK},
    };
    for (int t = 0; t < 2; t++) {
        const acase *c = &cases[t];
        inputs in = make_inputs(c, 300 + (uint64_t)t);
        size_t n = 2 * in.nq + (size_t)c->B * c->H * c->Lq + 2 * in.nk;
        float *a = run_all(c, &in, 2), *b = run_all(c, &in, 2), *one = run_all(c, &in, 1);
        ck_assert_mem_eq(a, b, n * sizeof *a);    /* reruns at 2 threads */
        ck_assert_mem_eq(a, one, n * sizeof *a);  /* tasks never share work: 1 thread too */
        free(a), free(b), free(one);
        free_inputs(&in);
    }
}
END_TEST

START_TEST(large_logits_stay_finite) {
    /* dh 64, scale 1/8: q = 8·a·e0 and k = ±10·e0 give scores exactly ±10a; a = 8 → ±80
     * (exp(80) ≈ 5.5e34 and exp(160) overflow float32 without the max subtraction),
     * a = 1000 → ±1e4. */
    const acase c = {"logits", 1, 2, 40, 50, 64, 0, NN_ATTN_MASK_NONE};
    nn_attention_shape s = shape_of(&c);
    nn_ctx ctx = cpu(2);
    for (int trial = 0; trial < 2; trial++) {
        const float a = trial ? 1000.0f : 8.0f;
        inputs in = make_inputs(&c, 400);
        const int HD = c.H * c.dh;
        memset(in.q, 0, in.nq * sizeof(float));
        memset(in.k, 0, in.nk * sizeof(float));
        int n_plus = 0;
        for (int i = 0; i < c.Lq; i++)
            for (int h = 0; h < c.H; h++) in.q[(size_t)i * HD + h * c.dh] = 8.0f * a;
        for (int j = 0; j < c.Lk; j++) {
            int plus = (j * 7) % 3 == 0;
            n_plus += plus;
            for (int h = 0; h < c.H; h++) in.k[(size_t)j * HD + h * c.dh] = plus ? 10.0f : -10.0f;
        }
        float *scratch = malloc(nn_attention_scratch_floats(&ctx, &s) * sizeof(float));
        size_t nl = (size_t)c.H * c.Lq;
        float *out = malloc(in.nq * sizeof *out), *lse = malloc(nl * sizeof *lse);
        float *dq = calloc(in.nq, sizeof *dq), *dk = calloc(in.nk, sizeof *dk),
              *dv = calloc(in.nk, sizeof *dv);
        nn_attention_forward(&ctx, out, lse, in.q, in.k, in.v, NULL, &s, scratch);
        nn_attention_backward(&ctx, dq, dk, dv, in.w, in.q, in.k, in.v, out, lse, NULL, &s,
                              scratch);
        /* softmax is uniform over the +10a keys (the −10a ones get e^(−20a) ≈ 0):
         * lse = 10a + log(n_plus), out = mean of v over the + keys */
        for (size_t i = 0; i < nl; i++) CK_CLOSE(lse[i], 10.0 * a + log(n_plus), 0, 1e-6);
        for (int d = 0; d < c.dh; d++) {
            double mean = 0;
            for (int j = 0; j < c.Lk; j++)
                if ((j * 7) % 3 == 0) mean += in.v[(size_t)j * HD + d];
            CK_CLOSE(out[d], mean / n_plus, 1e-5, 1e-5);
        }
        for (size_t i = 0; i < in.nq; i++) ck_assert(isfinite(out[i]) && isfinite(dq[i]));
        for (size_t i = 0; i < in.nk; i++) ck_assert(isfinite(dk[i]) && isfinite(dv[i]));
        free(scratch), free(out), free(lse), free(dq), free(dk), free(dv);
        free_inputs(&in);
    }
}
END_TEST

START_TEST(softmax_exp_accuracy_sweep) {
    /* Two keys with scores (0, −d) set exactly through a [Lq, Lk] mask (q = 0): then
     * out = P_1 = 1/(1 + e^d) with v = (0, 1), and lse = log(1 + e^−d). This pins the
     * vectorised exp of the softmax to the double-precision value over d ∈ [0, 100]: e^−d is
     * within 1 ulp, 1/sum and the product add ½ ulp each, so 3 ulp (rtol 3.6e-7) bounds out;
     * for d > 87.34, e^−d < FLT_MIN is flushed to 0 (an absolute error below 1.2e-38). */
    enum { N = 2001 };
    const acase c = {"sweep", 1, 1, N, 2, 1, 0, NN_ATTN_MASK_QK};
    nn_attention_shape s = shape_of(&c);
    nn_ctx ctx = cpu(2);
    float *mask = malloc(2 * N * sizeof *mask), q[N] = {0}, k[2] = {0, 0}, v[2] = {0, 1};
    float *out = malloc(N * sizeof *out), *lse = malloc(N * sizeof *lse);
    float *scratch = malloc(nn_attention_scratch_floats(&ctx, &s) * sizeof(float));
    for (int i = 0; i < N; i++) {
        mask[2 * i] = 0.0f;
        mask[2 * i + 1] = -(float)(0.05 * i);
    }
    q[7] = NAN;   /* and NaN in, NaN out, for that query row only */
    nn_attention_forward(&ctx, out, lse, q, k, v, mask, &s, scratch);
    for (int i = 0; i < N; i++) {
        if (i == 7) {
            ck_assert(isnan(out[i]) && isnan(lse[i]));
            continue;
        }
        const double d = -(double)mask[2 * i + 1];
        CK_CLOSE(out[i], 1.0 / (1.0 + exp(d)), 1.2e-38, 3.6e-7);
        CK_CLOSE(lse[i], log1p(exp(-d)), 1e-9, 2.4e-7);
    }
    free(mask), free(out), free(lse), free(scratch);
}
END_TEST

START_TEST(fully_masked_row_gives_zeros) {
    /* torch ≥ 2.5 SDPA (math path, _safe_softmax) returns 0 for a row whose keys are all −inf;
     * the naive softmax would give NaN and poison every gradient. */
    const acase c = {"masked", 1, 2, 3, 4, 4, 0, NN_ATTN_MASK_QK};
    inputs in = make_inputs(&c, 500);
    for (int j = 0; j < c.Lk; j++) in.mask[1 * c.Lk + j] = -INFINITY;   /* query row 1 */
    nn_attention_shape s = shape_of(&c);
    nn_ctx ctx = cpu(1);
    float scratch[2 * NN_ATTN_BLOCK_Q * 4 + 16], out[24], lse[6];
    ck_assert_uint_le(nn_attention_scratch_floats(&ctx, &s), sizeof scratch / sizeof *scratch);
    float dq[24] = {0}, dk[32] = {0}, dv[32] = {0};
    nn_attention_forward(&ctx, out, lse, in.q, in.k, in.v, in.mask, &s, scratch);
    nn_attention_backward(&ctx, dq, dk, dv, in.w, in.q, in.k, in.v, out, lse, in.mask, &s,
                          scratch);
    for (int h = 0; h < 2; h++) {
        ck_assert(isinf(lse[h * 3 + 1]) && lse[h * 3 + 1] < 0);
        for (int d = 0; d < 4; d++) ck_assert_float_eq(out[1 * 8 + h * 4 + d], 0.0f);
        ck_assert(isfinite(lse[h * 3]));
    }
    for (int i = 0; i < 24; i++) ck_assert(isfinite(out[i]) && isfinite(dq[i]));
    for (int i = 0; i < 8; i++) ck_assert_float_eq(dq[8 + i], 0.0f);
    for (int i = 0; i < 32; i++) ck_assert(isfinite(dk[i]) && isfinite(dv[i]));
    free_inputs(&in);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("nn_attention");
    TCase *tf = tcase_create("forward");
    tcase_add_loop_test(tf, forward_matches_double_reference, 0,
                        (int)(sizeof fwd_cases / sizeof fwd_cases[0]));
    tcase_add_test(tf, large_logits_stay_finite);
    tcase_add_test(tf, softmax_exp_accuracy_sweep);
    tcase_add_test(tf, fully_masked_row_gives_zeros);
    suite_add_tcase(s, tf);
    TCase *tb = tcase_create("backward");
    tcase_set_timeout(tb, 300);   /* full finite differences; slow under the sanitizers */
    tcase_add_loop_test(tb, backward_matches_finite_differences, 0,
                        (int)(sizeof bwd_cases / sizeof bwd_cases[0]));
    tcase_add_test(tb, backward_matches_op_finite_differences);
    tcase_add_test(tb, bitwise_deterministic);
    suite_add_tcase(s, tb);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

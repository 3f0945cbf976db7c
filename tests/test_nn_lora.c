/* tests/test_nn_lora.c — LoRA linear: the initial model is the base model bit for bit, the
 * init distribution, forward vs double, gradients vs central finite differences, and the
 * frozen base weight never having a gradient buffer. */
#include "nn/lora.h"
#include "nn/ops.h"
#include "nn/params.h"
#include "tests/check_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static nn_ctx cpu(int n_threads) {
    return (nn_ctx){.backend = NN_BACKEND_CPU, .n_threads = n_threads};
}

static void fill(sdpo_rng *r, float *x, size_t n, float sd) {
    sdpo_rng_normal_fill(r, x, n);
    for (size_t i = 0; i < n; i++) x[i] *= sd;
}

START_TEST(initial_output_is_the_base_linear_bitwise) {
    /* UNet-like to_q at level 0: 320 → 320, rank 4, 2 images × 64 tokens */
    enum { N = 128, CI = 320, CO = 320, R = 4 };
    nn_ctx ctx = cpu(2);
    sdpo_rng data, init;
    sdpo_rng_init(&data, 1, SDPO_STREAM_DATA);
    sdpo_rng_init(&init, 1, SDPO_STREAM_PARAM_INIT);
    float *x = malloc(N * CI * sizeof *x), *w = malloc(CO * CI * sizeof *w), b[CO];
    float *down = malloc(R * CI * sizeof *down), *up = malloc(CO * R * sizeof *up);
    float *base = malloc(N * CO * sizeof *base), *out = malloc(N * CO * sizeof *out), h[N * R];
    fill(&data, x, N * CI, 1.0f);
    fill(&data, w, CO * CI, 0.05f);
    fill(&data, b, CO, 0.1f);
    memset(up, 0x7f, CO * R * sizeof *up);   /* init must overwrite whatever was there */
    nn_lora_init(&init, down, up, CI, CO, R);
    for (int i = 0; i < CO * R; i++) ck_assert_float_eq(up[i], 0.0f);
    nn_linear_forward(&ctx, base, x, w, b, N, CI, CO);
    for (int t = 0; t < 3; t++) {   /* scale 1 (diffusers), 2 and 0.5 (peft alpha/r) */
        const float scale = nn_lora_scale(t == 0 ? 4.0 : t == 1 ? 8.0 : 2.0, R);
        nn_lora_linear_forward(&ctx, out, h, x, w, b, down, up, scale, N, CI, CO, R);
        ck_assert_mem_eq(out, base, N * CO * sizeof *out);
    }
    /* h = x downᵀ is really computed (the gradient of up depends on it at step 1) */
    double hn = 0;
    for (int i = 0; i < N * R; i++) hn += (double)h[i] * h[i];
    ck_assert(hn > 0);
    free(x), free(w), free(down), free(up), free(base), free(out);
}
END_TEST

START_TEST(init_distribution_and_reproducibility) {
    enum { CI = 1280, CO = 8, R = 4 };
    float *d1 = malloc(R * CI * sizeof *d1), *d2 = malloc(R * CI * sizeof *d2), up[CO * R];
    sdpo_rng a, b;
    sdpo_rng_init(&a, 42, SDPO_STREAM_PARAM_INIT);
    sdpo_rng_init(&b, 42, SDPO_STREAM_PARAM_INIT);
    nn_lora_init(&a, d1, up, CI, CO, R);
    nn_lora_init(&b, d2, up, CI, CO, R);
    ck_assert_mem_eq(d1, d2, R * CI * sizeof *d1);
    /* element k is normal number k of the stream, times 1/rank */
    ck_assert_float_eq(d1[777], sdpo_rng_normal_at(42, SDPO_STREAM_PARAM_INIT, 0, 777) * 0.25f);
    double s1 = 0, s2 = 0;
    for (int i = 0; i < R * CI; i++) s1 += d1[i], s2 += (double)d1[i] * d1[i];
    const double n = R * CI, mean = s1 / n, sd = sqrt(s2 / n - mean * mean);
    /* std = 1/rank = 0.25 (diffusers/peft), not 1/√rank = 0.5. With n = 5120 samples the
     * standard errors are 0.25/√n = 0.0035 (mean) and 0.25/√(2n) = 0.0025 (sd): 5σ bounds. */
    CK_CLOSE(mean, 0.0, 0.0175, 0);
    CK_CLOSE(sd, 0.25, 0.0125, 0);
    /* the next layer continues the stream: different values */
    nn_lora_init(&a, d2, up, CI, CO, R);
    ck_assert(memcmp(d1, d2, R * CI * sizeof *d1) != 0);
    free(d1), free(d2);
}
END_TEST

/* Small layer for exhaustive finite differences. */
enum { FN = 5, FCI = 7, FCO = 6, FR = 3 };

typedef struct {
    double x[FN * FCI], w[FCO * FCI], b[FCO], down[FR * FCI], up[FCO * FR], wout[FN * FCO];
    double scale;
} lora_ref;

/* Σ wout ∘ (x Wᵀ + b + scale · (x downᵀ) upᵀ) in double; y receives the output if not NULL. */
static double ref_loss(const lora_ref *r, double *y) {
    double loss = 0;
    for (int n = 0; n < FN; n++) {
        double hh[FR];
        for (int k = 0; k < FR; k++) {
            hh[k] = 0;
            for (int i = 0; i < FCI; i++) hh[k] += r->x[n * FCI + i] * r->down[k * FCI + i];
        }
        for (int o = 0; o < FCO; o++) {
            double v = r->b[o], lo = 0;
            for (int i = 0; i < FCI; i++) v += r->x[n * FCI + i] * r->w[o * FCI + i];
            for (int k = 0; k < FR; k++) lo += hh[k] * r->up[o * FR + k];
            v += r->scale * lo;
            if (y) y[n * FCO + o] = v;
            loss += r->wout[n * FCO + o] * v;
        }
    }
    return loss;
}

static void fd(lora_ref *r, double *x, int n, double *grad) {
    const double h = 1e-4;
    for (int i = 0; i < n; i++) {
        double x0 = x[i];
        x[i] = x0 + h;
        double lp = ref_loss(r, NULL);
        x[i] = x0 - h;
        double lm = ref_loss(r, NULL);
        x[i] = x0;
        grad[i] = (lp - lm) / (2 * h);
    }
}

static void to_f(float *out, const double *in, int n) {
    for (int i = 0; i < n; i++) out[i] = (float)in[i];
}

START_TEST(gradients_match_finite_differences) {
    /* A trained-looking layer: up ≠ 0; scale 2 (peft alpha 6, r 3) so a missing or doubled
     * scale in any path shows. The base weight and bias are registered frozen in a params
     * registry, as the model does: they have no gradient buffer to receive anything. */
    nn_ctx ctx = cpu(2);
    nn_params p;
    nn_params_init(&p);
    ck_assert_int_eq(nn_params_add(&p, "to_k.weight", 2, (int64_t[]){FCO, FCI}, 0), SDPO_OK);
    ck_assert_int_eq(nn_params_add(&p, "to_k.bias", 1, (int64_t[]){FCO}, 0), SDPO_OK);
    ck_assert_int_eq(nn_params_add(&p, "to_k_lora.down.weight", 2, (int64_t[]){FR, FCI}, 1),
                     SDPO_OK);
    ck_assert_int_eq(nn_params_add(&p, "to_k_lora.up.weight", 2, (int64_t[]){FCO, FR}, 1),
                     SDPO_OK);
    ck_assert_int_eq(nn_params_finalize(&p), SDPO_OK);
    nn_param_view W, B, D, U;
    ck_assert_int_eq(nn_params_get(&p, "to_k.weight", &W), SDPO_OK);
    ck_assert_int_eq(nn_params_get(&p, "to_k.bias", &B), SDPO_OK);
    ck_assert_int_eq(nn_params_get(&p, "to_k_lora.down.weight", &D), SDPO_OK);
    ck_assert_int_eq(nn_params_get(&p, "to_k_lora.up.weight", &U), SDPO_OK);
    ck_assert_ptr_null(W.grad);   /* frozen: no gradient, no AdamW moments */
    ck_assert_ptr_null(B.grad);
    ck_assert_ptr_null(W.m);
    ck_assert_uint_eq(p.n_trainable_elems, FR * FCI + FCO * FR);

    lora_ref r;
    sdpo_rng rng;
    sdpo_rng_init(&rng, 9, SDPO_STREAM_DATA);
    float tmp[64];
    double *all[] = {r.x, r.w, r.b, r.down, r.up, r.wout};
    const int sizes[] = {FN * FCI, FCO * FCI, FCO, FR * FCI, FCO * FR, FN * FCO};
    for (int a = 0; a < 6; a++) {
        fill(&rng, tmp, (size_t)sizes[a], 1.0f);
        for (int i = 0; i < sizes[a]; i++) all[a][i] = tmp[i];   /* float-representable */
    }
    r.scale = nn_lora_scale(6.0, FR);
    ck_assert_float_eq((float)r.scale, 2.0f);
    float x[FN * FCI], wout[FN * FCO], out[FN * FCO], h[FN * FR];
    to_f(x, r.x, FN * FCI);
    to_f(wout, r.wout, FN * FCO);
    to_f(W.value.data, r.w, FCO * FCI);
    to_f(B.value.data, r.b, FCO);
    to_f(D.value.data, r.down, FR * FCI);
    to_f(U.value.data, r.up, FCO * FR);
    float w_before[FCO * FCI];
    memcpy(w_before, W.value.data, sizeof w_before);

    nn_lora_linear_forward(&ctx, out, h, x, W.value.data, B.value.data, D.value.data,
                           U.value.data, (float)r.scale, FN, FCI, FCO, FR);
    double y[FN * FCO];
    ref_loss(&r, y);
    /* 7 + 3·(7 + 3)-term float sums of O(1) products: ≤ 1e-5 absolute. */
    ck_assert_array_close("out", out, y, FN * FCO, 1e-5, 1e-6);

    /* gradients accumulate: dinp starts at 1, the slab's grads at 0.5 */
    float dx[FN * FCI], scratch[FN * FR];
    ck_assert_uint_eq(nn_lora_scratch_floats(FN, FR), FN * FR);
    for (int i = 0; i < FN * FCI; i++) dx[i] = 1.0f;
    for (size_t i = 0; i < p.n_trainable; i++) p.grads[i] = 0.5f;
    nn_lora_linear_backward(&ctx, dx, D.grad, U.grad, wout, x, h, W.value.data, D.value.data,
                            U.value.data, (float)r.scale, FN, FCI, FCO, FR, scratch);
    for (int i = 0; i < FN * FCI; i++) dx[i] -= 1.0f;
    for (size_t i = 0; i < p.n_trainable; i++) p.grads[i] -= 0.5f;
    /* Central differences of the double reference: the loss is linear in x and bilinear in
     * (down, up), so the central difference has no truncation error and only ~1e-12 rounding.
     * The float32 gradients are ≤ 10-term sums of O(1)·scale products (and the ±1/±0.5
     * offsets cost ≤ 6e-8): 2e-5 absolute is a ≥ 10× margin. */
    double g[FN * FCI];
    fd(&r, r.x, FN * FCI, g);
    ck_assert_array_close("dinp", dx, g, FN * FCI, 2e-5, 1e-6);
    fd(&r, r.down, FR * FCI, g);
    ck_assert_array_close("ddown", D.grad, g, FR * FCI, 2e-5, 1e-6);
    fd(&r, r.up, FCO * FR, g);
    ck_assert_array_close("dup", U.grad, g, FCO * FR, 2e-5, 1e-6);
    /* the frozen base weight is untouched and nothing outside the LoRA tensors was written */
    ck_assert_mem_eq(W.value.data, w_before, sizeof w_before);
    for (size_t i = 0; i < p.n_trainable; i++) {
        int in_d = p.grads + i >= D.grad && p.grads + i < D.grad + FR * FCI;
        int in_u = p.grads + i >= U.grad && p.grads + i < U.grad + FCO * FR;
        if (!in_d && !in_u) ck_assert_float_eq(p.grads[i], 0.0f);   /* alignment padding */
    }

    /* NULL gradients: each requested one is the same as in the full call (up to the rounding
     * of the offsets added and removed above) */
    float dup_only[FCO * FR] = {0}, dx_only[FN * FCI] = {0};
    nn_lora_linear_backward(&ctx, NULL, NULL, dup_only, wout, x, h, W.value.data, D.value.data,
                            U.value.data, (float)r.scale, FN, FCI, FCO, FR, scratch);
    for (int i = 0; i < FCO * FR; i++) CK_CLOSE(dup_only[i], U.grad[i], 1e-6, 1e-6);
    nn_lora_linear_backward(&ctx, dx_only, NULL, NULL, wout, x, h, W.value.data, D.value.data,
                            U.value.data, (float)r.scale, FN, FCI, FCO, FR, scratch);
    for (int i = 0; i < FN * FCI; i++) CK_CLOSE(dx_only[i], dx[i], 1e-6, 1e-6);
    nn_params_free(&p);
}
END_TEST

START_TEST(first_step_gradient_flows_to_up_only) {
    /* At init (up = 0) dL/ddown = scale·(dout up)ᵀ x = 0 and dL/dx is the base linear's, but
     * dL/dup = scale·doutᵀ (x downᵀ) ≠ 0: training starts by moving up, as in PyTorch. */
    enum { N = 4, CI = 6, CO = 5, R = 2 };
    nn_ctx ctx = cpu(1);
    sdpo_rng rng, init;
    sdpo_rng_init(&rng, 3, SDPO_STREAM_DATA);
    sdpo_rng_init(&init, 3, SDPO_STREAM_PARAM_INIT);
    float x[N * CI], w[CO * CI], down[R * CI], up[CO * R], out[N * CO], h[N * R];
    float dout[N * CO], dx[N * CI] = {0}, dx_base[N * CI] = {0}, dd[R * CI] = {0},
                        du[CO * R] = {0}, scratch[N * R];
    fill(&rng, x, N * CI, 1.0f);
    fill(&rng, w, CO * CI, 1.0f);
    fill(&rng, dout, N * CO, 1.0f);
    nn_lora_init(&init, down, up, CI, CO, R);
    nn_lora_linear_forward(&ctx, out, h, x, w, NULL, down, up, 1.0f, N, CI, CO, R);
    nn_lora_linear_backward(&ctx, dx, dd, du, dout, x, h, w, down, up, 1.0f, N, CI, CO, R,
                            scratch);
    nn_linear_backward(&ctx, dx_base, NULL, NULL, dout, x, w, N, CI, CO);
    ck_assert_mem_eq(dx, dx_base, sizeof dx);
    for (int i = 0; i < R * CI; i++) ck_assert_float_eq(dd[i], 0.0f);
    double s = 0;
    for (int i = 0; i < CO * R; i++) s += fabs(du[i]);
    ck_assert(s > 0);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("nn_lora");
    TCase *tc = tcase_create("lora");
    tcase_add_test(tc, initial_output_is_the_base_linear_bitwise);
    tcase_add_test(tc, init_distribution_and_reproducibility);
    tcase_add_test(tc, gradients_match_finite_differences);
    tcase_add_test(tc, first_step_gradient_flows_to_up_only);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

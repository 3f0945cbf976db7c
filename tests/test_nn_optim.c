/* tests/test_nn_optim.c — AdamW against hand-derived steps, a double-precision re-derivation
 * and torch.optim.AdamW's own numbers; clip_grad_norm_ semantics; zero_grad and resume. */
#include "nn/optim.h"
#include "core/rng.h"
#include "tests/check_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static nn_ctx cpu(int n_threads) {
    return (nn_ctx){.backend = NN_BACKEND_CPU, .n_threads = n_threads};
}

/* The same update written in double, straight from the formula in optim.h. */
static void adamw_ref(const nn_adamw_config *c, int t, double *p, const double *g, double *m,
                      double *v, int n) {
    double bc1 = 1 - pow(c->beta1, t), bc2 = 1 - pow(c->beta2, t);
    for (int i = 0; i < n; i++) {
        p[i] *= 1 - c->lr * c->weight_decay;
        m[i] = c->beta1 * m[i] + (1 - c->beta1) * g[i];
        v[i] = c->beta2 * v[i] + (1 - c->beta2) * g[i] * g[i];
        p[i] -= c->lr / bc1 * m[i] / (sqrt(v[i]) / sqrt(bc2) + c->eps);
    }
}

enum { NP = 6, NSTEP = 3 };
static const float P0[NP] = {1.0f, -0.5f, 0.25f, 2.0f, -3.0f, 0.0f};
static const float G[NSTEP][NP] = {{0.5f, -0.25f, 1e-3f, -2.0f, 0.0f, 4.0f},
                                   {-0.125f, 0.75f, 2e-3f, -1.0f, 1e-9f, 0.5f},
                                   {0.25f, 0.25f, -3e-3f, 0.5f, 0.0f, -8.0f}};
static const nn_adamw_config CFG = {
    .lr = 0.05, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.1};

START_TEST(first_two_steps_by_hand) {
    nn_ctx ctx = cpu(1);
    nn_adamw opt;
    nn_adamw_init(&opt, &CFG);
    float p[NP], m[NP] = {0}, v[NP] = {0};
    memcpy(p, P0, sizeof p);
    nn_adamw_step(&ctx, &opt, p, G[0], m, v, NP);
    ck_assert_int_eq(opt.t, 1);
    /* Step 1: bc1 = 0.1, bc2 = 0.001, m = 0.1 g, v = 0.001 g², so m/bc1 = g and
     * √v/√bc2 = |g|: p1 = p0·(1 − lr·wd) − lr·g/(|g| + eps) = 0.995·p0 − 0.05·g/(|g| + 1e-8).
     *   p[0] = 0.995 − 0.05·0.5/0.50000001 = 0.945000001
     *   p[2] = 0.24875 − 0.05·1e-3/(1e-3 + 1e-8) = 0.19875049995   (eps visible at 1e-5 rel.)
     *   p[4] = −2.985 (g = 0: decay only, no update)
     *   p[5] = 0 − 0.05·4/4.00000001 = −0.0499999999
     * Tolerance: ~10 float32 roundings of O(1) values per step, each ≤ 6e-8 relative. */
    CK_CLOSE(p[0], 0.945000001, 1e-6, 0);
    CK_CLOSE(p[1], -0.4975 + 0.05 * 0.25 / 0.25000001, 1e-6, 0);
    CK_CLOSE(p[2], 0.19875049995, 1e-6, 0);
    CK_CLOSE(p[3], 1.99 + 0.05 * 2 / 2.00000001, 1e-6, 0);
    CK_CLOSE(p[4], -2.985, 1e-6, 0);
    CK_CLOSE(p[5], -0.0499999999, 1e-6, 0);
    CK_CLOSE(m[0], 0.05, 1e-9, 1e-7);
    CK_CLOSE(v[0], 0.001 * 0.25, 1e-12, 1e-6);

    nn_adamw_step(&ctx, &opt, p, G[1], m, v, NP);
    ck_assert_int_eq(opt.t, 2);
    /* Step 2, element 0 (g1 = 0.5, g2 = −0.125):
     *   m2 = 0.9·0.05 + 0.1·(−0.125) = 0.0325
     *   v2 = 0.999·0.00025 + 0.001·0.015625 = 0.000265375
     *   bc1 = 0.19, bc2 = 0.001999
     *   p2 = 0.995·0.945000001 − (0.05/0.19)·0.0325/(√0.000265375/√0.001999 + 1e-8)
     *      = 0.940275001 − 0.263157895·0.0325/0.364354… = 0.916801… */
    double bc2 = 1 - 0.999 * 0.999;
    double want0 = 0.995 * 0.945000001 -
                   (0.05 / 0.19) * 0.0325 / (sqrt(0.000265375) / sqrt(bc2) + 1e-8);
    CK_CLOSE(m[0], 0.0325, 1e-9, 1e-6);
    CK_CLOSE(v[0], 0.000265375, 1e-12, 1e-6);
    CK_CLOSE(p[0], want0, 2e-6, 0);
}
END_TEST

START_TEST(three_steps_match_double_and_torch) {
    nn_ctx ctx = cpu(2);
    nn_adamw opt;
    nn_adamw_init(&opt, &CFG);
    float p[NP], m[NP] = {0}, v[NP] = {0};
    double pd[NP], md[NP] = {0}, vd[NP] = {0}, gd[NP];
    memcpy(p, P0, sizeof p);
    for (int i = 0; i < NP; i++) pd[i] = P0[i];
    for (int t = 1; t <= NSTEP; t++) {
        nn_adamw_step(&ctx, &opt, p, G[t - 1], m, v, NP);
        for (int i = 0; i < NP; i++) gd[i] = G[t - 1][i];
        adamw_ref(&CFG, t, pd, gd, md, vd, NP);
        /* float32 arithmetic vs the exact formula: ≤ ~10 roundings per step of O(1) values,
         * accumulated over t steps → 2e-6 absolute is a safe bound on O(1) parameters. */
        ck_assert_array_close("p vs double", p, pd, NP, 2e-6, 0);
    }
    /* torch 2.15.0 CPU, torch.optim.AdamW([p], lr=0.05, betas=(0.9, 0.999), eps=1e-8,
     * weight_decay=0.1, foreach=False), the same P0 and G, torch.set_num_threads(1):
     *   p.grad = torch.tensor(G[t]); opt.step(); print([float(x).hex() for x in p]) */
    static const float torch_p[NP] = {0x1.c38e28p-1f,  -0x1.fb5c02p-2f, 0x1.3775eep-3f,
                                      0x1.0c0f12p+1f,  -0x1.7ac864p+1f, -0x1.261a8cp-4f};
    static const float torch_m[NP] = {0x1.bc6a80p-5f,  0x1.27ef9ep-4f,  -0x1.4727dcp-15f,
                                      -0x1.9db22ep-3f, 0x1.8bd2fep-34f, -0x1.b95810p-2f};
    static const float torch_v[NP] = {0x1.57860cp-12f, 0x1.68166ep-11f, 0x1.e0d48cp-27f,
                                      0x1.577976p-8f,  0x1.2dede2p-70f, 0x1.48926ep-4f};
    /* Same operation order as torch, so the results agree to the last bit or two (torch's
     * build may fuse the lerp into an FMA): 1 ulp-scale relative tolerance (2⁻²²). */
    for (int i = 0; i < NP; i++) {
        CK_CLOSE(p[i], torch_p[i], 0, 2.4e-7);
        CK_CLOSE(m[i], torch_m[i], 0, 2.4e-7);
        CK_CLOSE(v[i], torch_v[i], 0, 2.4e-7);
    }
}
END_TEST

START_TEST(weight_decay_is_decoupled) {
    nn_ctx ctx = cpu(1);
    nn_adamw_config c = CFG;
    c.lr = 0.01;
    c.weight_decay = 0.5;
    nn_adamw opt;
    nn_adamw_init(&opt, &c);
    float p[2] = {3.0f, -1.5f}, g[2] = {0.0f, 0.0f}, m[2] = {0}, v[2] = {0};
    nn_adamw_step(&ctx, &opt, p, g, m, v, 2);
    /* Zero gradient: p·(1 − lr·wd) exactly, and the decay never enters the moments (Adam with
     * L2 regularisation would have m = (1−β1)·wd·p ≠ 0 and move p by ≈ lr instead). */
    ck_assert_float_eq(p[0], 3.0f * (float)(1.0 - 0.01 * 0.5));
    ck_assert_float_eq(p[1], -1.5f * (float)(1.0 - 0.01 * 0.5));
    ck_assert_float_eq(m[0], 0.0f);
    ck_assert_float_eq(v[0], 0.0f);
    /* wd = 0 and g = 0 leave p unchanged */
    c.weight_decay = 0;
    nn_adamw_init(&opt, &c);
    float q = 3.0f, gq = 0.0f, mq = 0.0f, vq = 0.0f;
    nn_adamw_step(&ctx, &opt, &q, &gq, &mq, &vq, 1);
    ck_assert_float_eq(q, 3.0f);
}
END_TEST

START_TEST(resume_from_saved_state_is_bitwise) {
    nn_ctx ctx = cpu(2);
    nn_adamw a, b;
    nn_adamw_init(&a, &CFG);
    float pa[NP], ma[NP] = {0}, va[NP] = {0};
    memcpy(pa, P0, sizeof pa);
    for (int t = 0; t < NSTEP; t++) nn_adamw_step(&ctx, &a, pa, G[t], ma, va, NP);
    /* 2 steps, "checkpoint" (t, p, m, v), a fresh optimizer resumes for the third */
    nn_adamw_init(&a, &CFG);
    float pb[NP], mb[NP] = {0}, vb[NP] = {0};
    memcpy(pb, P0, sizeof pb);
    for (int t = 0; t < 2; t++) nn_adamw_step(&ctx, &a, pb, G[t], mb, vb, NP);
    nn_adamw_init(&b, &CFG);
    b.t = a.t;
    nn_adamw_step(&ctx, &b, pb, G[2], mb, vb, NP);
    ck_assert_int_eq(b.t, 3);
    ck_assert_mem_eq(pa, pb, sizeof pa);
    ck_assert_mem_eq(ma, mb, sizeof ma);
    ck_assert_mem_eq(va, vb, sizeof va);
}
END_TEST

START_TEST(clip_grad_norm_semantics) {
    nn_ctx ctx = cpu(2);
    float norm;
    /* Above max_norm: ‖(3, −4, 12)‖ = 13, coef = 1/(13 + 1e-6); the scaled values and the
     * norm are torch.nn.utils.clip_grad_norm_([q], 1.0, foreach=False)'s (torch 2.15.0). */
    float g[3] = {3.0f, -4.0f, 12.0f};
    ck_assert_int_eq(nn_clip_grad_norm(&ctx, g, 3, 1.0f, &norm), SDPO_OK);
    ck_assert_float_eq(norm, 13.0f);
    ck_assert_float_eq(g[0], 0x1.d89d88p-3f);
    ck_assert_float_eq(g[1], -0x1.3b13b0p-2f);
    ck_assert_float_eq(g[2], 0x1.d89d88p-1f);
    CK_CLOSE(sqrt((double)g[0] * g[0] + (double)g[1] * g[1] + (double)g[2] * g[2]), 1.0, 1e-6, 0);

    /* Below max_norm: coef clamps to 1 and the gradients keep every bit. */
    float h[3] = {0.3f, -0.4f, 1.2f}, h0[3];
    memcpy(h0, h, sizeof h);
    ck_assert_int_eq(nn_clip_grad_norm(&ctx, h, 3, 2.0f, &norm), SDPO_OK);
    CK_CLOSE(norm, 1.3, 0, 1e-7);
    ck_assert_mem_eq(h, h0, sizeof h);

    /* Exactly at max_norm the +1e-6 still scales: ‖(0.75, 1)‖ = 1.25 exactly, and
     * coef = 1.25/(1.25 + 1e-6) = 1 − 8e-7 < 1, so the gradients shrink by that factor. */
    float e[2] = {0.75f, 1.0f};
    ck_assert_int_eq(nn_clip_grad_norm(&ctx, e, 2, 1.25f, &norm), SDPO_OK);
    ck_assert_float_eq(norm, 1.25f);
    const float coef = (1.0f / (1.25f + 1e-6f)) * 1.25f;
    ck_assert_float_lt(coef, 1.0f);
    ck_assert_float_eq(e[0], 0.75f * coef);
    ck_assert_float_eq(e[1], 1.0f * coef);
    ck_assert_float_lt(e[1], 1.0f);

    /* All-zero gradients: norm 0, coef = max/1e-6 clamps to 1, nothing changes. */
    float z[4] = {0};
    ck_assert_int_eq(nn_clip_grad_norm(&ctx, z, 4, 1.0f, &norm), SDPO_OK);
    ck_assert_float_eq(norm, 0.0f);
    ck_assert_float_eq(z[0], 0.0f);
}
END_TEST

START_TEST(clip_grad_norm_reports_nonfinite) {
    nn_ctx ctx = cpu(2);
    float norm;
    float g[4] = {1.0f, NAN, 2.0f, 3.0f};
    sdpo_clear_error();
    ck_assert_int_eq(nn_clip_grad_norm(&ctx, g, 4, 1.0f, &norm), SDPO_ERR_NONFINITE);
    ck_assert(isnan(norm));
    ck_assert_float_eq(g[0], 1.0f);   /* untouched: the trainer skips the step */
    ck_assert_float_eq(g[3], 3.0f);
    ck_assert_ptr_nonnull(strstr(sdpo_last_error(), "gradient norm is nan"));
    float h[2] = {INFINITY, 1.0f};
    ck_assert_int_eq(nn_clip_grad_norm(&ctx, h, 2, 1.0f, &norm), SDPO_ERR_NONFINITE);
    ck_assert(isinf(norm));
    ck_assert_float_eq(h[1], 1.0f);
    /* finite values whose norm overflows float32 (torch's float32 norm is inf too) */
    float big[2] = {3e38f, 3e38f};
    ck_assert_int_eq(nn_clip_grad_norm(&ctx, big, 2, 1.0f, &norm), SDPO_ERR_NONFINITE);
    ck_assert(isinf(norm));
}
END_TEST

START_TEST(clip_norm_is_thread_count_independent) {
    enum { N = 1000003 };
    float *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    sdpo_rng r;
    sdpo_rng_init(&r, 5, SDPO_STREAM_DATA);
    sdpo_rng_normal_fill(&r, a, N);
    memcpy(b, a, N * sizeof *a);
    double ss = 0;
    for (size_t i = 0; i < N; i++) ss += (double)a[i] * a[i];
    float na, nb;
    nn_ctx c1 = cpu(1), c2 = cpu(2);
    ck_assert_int_eq(nn_clip_grad_norm(&c1, a, N, 1.0f, &na), SDPO_OK);
    ck_assert_int_eq(nn_clip_grad_norm(&c2, b, N, 1.0f, &nb), SDPO_OK);
    ck_assert_float_eq(na, nb);
    ck_assert_mem_eq(a, b, N * sizeof *a);
    /* double accumulation: the float32 norm is the correctly rounded one (≤ ½ ulp ≈ 6e-8) */
    CK_CLOSE(na, sqrt(ss), 0, 6e-8);
    free(a);
    free(b);
}
END_TEST

START_TEST(params_slab_step_zero_grad_and_accumulation) {
    nn_ctx ctx = cpu(2);
    nn_params p;
    nn_params_init(&p);
    ck_assert_int_eq(nn_params_add(&p, "frozen", 1, (int64_t[]){5}, 0), SDPO_OK);
    ck_assert_int_eq(nn_params_add(&p, "lora", 1, (int64_t[]){NP}, 1), SDPO_OK);
    ck_assert_int_eq(nn_params_finalize(&p), SDPO_OK);
    nn_param_view fz, lo;
    ck_assert_int_eq(nn_params_get(&p, "frozen", &fz), SDPO_OK);
    ck_assert_int_eq(nn_params_get(&p, "lora", &lo), SDPO_OK);
    for (int i = 0; i < 5; i++) fz.value.data[i] = 1.0f + i;
    memcpy(lo.value.data, P0, sizeof P0);
    /* Gradient accumulation: two "backward passes" add into the slab; the step then equals one
     * step on the summed gradient. */
    for (int i = 0; i < NP; i++) lo.grad[i] += 0.5f * G[0][i];
    for (int i = 0; i < NP; i++) lo.grad[i] += 0.5f * G[0][i];
    nn_adamw opt;
    nn_adamw_init(&opt, &CFG);
    nn_adamw_step_params(&ctx, &opt, &p);
    float q[NP], m[NP] = {0}, v[NP] = {0};
    memcpy(q, P0, sizeof q);
    nn_adamw o2;
    nn_adamw_init(&o2, &CFG);
    nn_adamw_step(&ctx, &o2, q, G[0], m, v, NP);
    ck_assert_mem_eq(lo.value.data, q, sizeof q);
    ck_assert_mem_eq(lo.m, m, sizeof m);
    /* frozen values are outside the optimizer's reach, padding stays zero */
    for (int i = 0; i < 5; i++) ck_assert_float_eq(fz.value.data[i], 1.0f + i);
    for (size_t i = NP; i < p.n_trainable; i++) {
        ck_assert_float_eq(p.params[i], 0.0f);
        ck_assert_float_eq(p.m[i], 0.0f);
    }
    nn_zero_grad(&ctx, p.grads, p.n_trainable);
    for (size_t i = 0; i < p.n_trainable; i++) ck_assert_float_eq(p.grads[i], 0.0f);
    nn_params_free(&p);
}
END_TEST

START_TEST(defaults_are_torch_defaults) {
    nn_adamw_config d = nn_adamw_defaults();
    ck_assert(d.lr == 1e-3 && d.beta1 == 0.9 && d.beta2 == 0.999 && d.eps == 1e-8 &&
              d.weight_decay == 1e-2);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("nn_optim");
    TCase *tc = tcase_create("adamw");
    tcase_add_test(tc, first_two_steps_by_hand);
    tcase_add_test(tc, three_steps_match_double_and_torch);
    tcase_add_test(tc, weight_decay_is_decoupled);
    tcase_add_test(tc, resume_from_saved_state_is_bitwise);
    tcase_add_test(tc, params_slab_step_zero_grad_and_accumulation);
    tcase_add_test(tc, defaults_are_torch_defaults);
    suite_add_tcase(s, tc);
    TCase *tn = tcase_create("clip");
    tcase_add_test(tn, clip_grad_norm_semantics);
    tcase_add_test(tn, clip_grad_norm_reports_nonfinite);
    tcase_add_test(tn, clip_norm_is_thread_count_independent);
    suite_add_tcase(s, tn);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

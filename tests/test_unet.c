/* tests/test_unet.c — the tiny SD-2-family UNet against diffusers: ε at timesteps 999/499/19
 * (and one per-sample mix) without and with LoRA, ε of the fp16 weight file, gradients of
 * L = Σ ε·R w.r.t. the LoRA tensors, every base tensor, the sample and the text; bitwise
 * determinism at 2 threads; recomputation equal to no recomputation; the arena size function.
 *
 * Tolerances. PyTorch and this engine both compute in float32 but sum in different orders
 * (OpenBLAS sgemm/im2col vs mkldnn convolutions, our blocked flash attention vs SDPA's math
 * path, double-accumulated norms vs torch's Welford), so bit equality is impossible; each
 * float32 op contributes a relative error of a few ulp (~1e-7) and the ~60 ops on the path of
 * the tiny UNet compound that. We require max|ours − torch| ≤ TOL_EPS · rms(torch) with
 * TOL_EPS = 2e-5 for ε (measured 2.6e-6 … 4.7e-6 over the 12 ε cases) — a wrong op, weight or
 * layout gives errors of order 1e-1..1. Gradients pass through twice as many ops and through
 * sums over all pixels, so TOL_GRAD = 1e-4 per tensor, relative to that tensor's rms with a
 * 1e-6 floor for tensors whose gradient is ~0 (measured: worst 2.6e-5 over the 208 base and 64
 * LoRA tensors, 2.2e-5 for d encoder_hidden_states). */
#include "tests/unet_test_util.h"

#define TOL_EPS 2e-5
#define TOL_GRAD 1e-4

static const char *const cases[4] = {"t999", "t499", "t19", "mixed"};

static void check_eps(sdpo_unet *u, const char *eps_prefix, int case_i) {
    size_t n;
    float *sample = ut_read(GOLDEN_UNET, "sample", &n);
    float *ehs = ut_read(GOLDEN_UNET, "encoder_hidden_states", NULL);
    char name[64];
    snprintf(name, sizeof name, "timestep.%s", cases[case_i]);
    float *t = ut_read(GOLDEN_UNET, name, NULL);
    snprintf(name, sizeof name, "%s.%s", eps_prefix, cases[case_i]);
    float *want = ut_read(GOLDEN_UNET, name, NULL);
    float *eps = malloc(n * sizeof *eps);
    /* 1 and 2 threads alternate: both partitions of every op must meet the tolerance */
    ut_run(u, 1 + case_i % 2, SDPO_UNET_INFER, sample, t, ehs, eps, NULL, NULL, NULL);
    double err = ut_rel_err(eps, want, n, 1e-3);
    printf("%-22s max|diff|/rms = %.3e\n", name, err);
    ck_assert_msg(err <= TOL_EPS, "%s: max|diff|/rms %.3e > %.1e", name, err, TOL_EPS);
    free(sample), free(ehs), free(t), free(want), free(eps);
}

START_TEST(eps_base) {
    sdpo_unet u;
    ut_build(&u, 0, 0, TINY_WEIGHTS);
    check_eps(&u, "eps", _i);
    sdpo_unet_free(&u);
}
END_TEST

START_TEST(eps_lora) {
    sdpo_unet u;
    ut_build(&u, 4, 0, TINY_WEIGHTS);
    ck_assert_msg(sdpo_unet_lora_load(&u, GOLDEN_LORA) == SDPO_OK, "%s", sdpo_last_error());
    check_eps(&u, "eps_lora", _i);
    sdpo_unet_free(&u);
}
END_TEST

/* The fp16 file holds every weight rounded to F16; loaded (converted exactly to F32) it must
 * give diffusers' ε of the same rounded weights in F32 compute (eps_fp16w) to the fp32
 * tolerance, and differ from the fp32 model's ε by far more than that tolerance (otherwise the
 * test could not tell which file was loaded). */
START_TEST(eps_fp16_weights) {
    sdpo_unet u;
    ut_build(&u, 0, 0, TINY_WEIGHTS_FP16);
    check_eps(&u, "eps_fp16w", _i);
    char a[32], b[32];
    snprintf(a, sizeof a, "eps_fp16w.%s", cases[_i]);
    snprintf(b, sizeof b, "eps.%s", cases[_i]);
    size_t n;
    float *x = ut_read(GOLDEN_UNET, a, &n), *y = ut_read(GOLDEN_UNET, b, NULL);
    double gap = ut_rel_err(x, y, n, 1e-3);
    ck_assert_msg(gap > 10 * TOL_EPS, "fp16 and fp32 goldens differ by only %.3e", gap);
    free(x), free(y);
    sdpo_unet_free(&u);
}
END_TEST

/* Every trainable tensor's gradient against the fixture file, whose names are the registry
 * names with `prefix` in front. */
static void check_param_grads(const sdpo_unet *u, const char *file, const char *prefix) {
    int checked = 0;
    double worst = 0;
    const char *worst_name = "";
    for (int i = 0; i < u->params.count; i++) {
        nn_param_view v = nn_params_at(&u->params, i);
        if (!v.trainable) continue;
        char name[256];
        snprintf(name, sizeof name, "%s%s", prefix, v.name);
        size_t n;
        float *want = ut_read(file, name, &n);
        ck_assert_uint_eq(n, (size_t)nn_tensor_numel(&v.value));
        /* floor: gradients below 1e-6 rms are round-off of a true zero */
        double err = ut_rel_err(v.grad, want, n, 1e-6);
        ck_assert_msg(err <= TOL_GRAD, "%s: max|diff|/rms %.3e > %.1e", name, err, TOL_GRAD);
        if (err > worst) worst = err, worst_name = v.name;
        checked++;
        free(want);
    }
    printf("%s: %d tensors, worst max|diff|/rms %.3e (%s)\n", file, checked, worst, worst_name);
}

/* L = Σ ε·R at t499 with the fixture's R: gradients of every trainable tensor, the sample and
 * the text against diffusers' autograd. */
static void check_grads(int lora, const char *tag) {
    sdpo_unet u;
    ut_build(&u, lora ? 4 : 0, !lora, TINY_WEIGHTS);
    if (lora) ck_assert_msg(sdpo_unet_lora_load(&u, GOLDEN_LORA) == SDPO_OK, "%s", sdpo_last_error());
    size_t n;
    float *sample = ut_read(GOLDEN_UNET, "sample", &n);
    float *ehs = ut_read(GOLDEN_UNET, "encoder_hidden_states", NULL);
    float *t = ut_read(GOLDEN_UNET, "timestep.t499", NULL);
    float *R = ut_read(GOLDEN_UNET, "grad_R", NULL);
    char name[64];
    snprintf(name, sizeof name, "loss.%s", tag);
    float *loss = ut_read(GOLDEN_UNET, name, NULL);
    snprintf(name, sizeof name, "grad_sample.%s", tag);
    float *want_ds = ut_read(GOLDEN_UNET, name, NULL);
    snprintf(name, sizeof name, "grad_encoder_hidden_states.%s", tag);
    float *want_dehs = ut_read(GOLDEN_UNET, name, NULL);
    float *eps = malloc(n * sizeof *eps);
    float *ds = calloc(n, sizeof *ds), *dehs = calloc(TINY_EHS_N, sizeof *dehs);
    ut_run(&u, lora ? 2 : 1, SDPO_UNET_TRAIN, sample, t, ehs, eps, R, ds, dehs);
    double L = 0;
    for (size_t i = 0; i < n; i++) L += (double)eps[i] * R[i];
    CK_CLOSE(L, loss[0], 0, TOL_EPS);
    double e1 = ut_rel_err(ds, want_ds, n, 1e-6), e2 = ut_rel_err(dehs, want_dehs, TINY_EHS_N, 1e-6);
    printf("grad_sample.%s %.3e, grad_encoder_hidden_states.%s %.3e\n", tag, e1, tag, e2);
    ck_assert_msg(e1 <= TOL_GRAD, "grad_sample.%s: %.3e", tag, e1);
    ck_assert_msg(e2 <= TOL_GRAD, "grad_encoder_hidden_states.%s: %.3e", tag, e2);
    check_param_grads(&u, lora ? GOLDEN_LORA_GRADS : GOLDEN_FULL_GRADS, lora ? "unet." : "");
    free(sample), free(ehs), free(t), free(R), free(loss), free(want_ds), free(want_dehs);
    free(eps), free(ds), free(dehs);
    sdpo_unet_free(&u);
}

START_TEST(grads_lora) { check_grads(1, "lora"); }
END_TEST

START_TEST(grads_full) { check_grads(0, "base"); }
END_TEST

/* One forward + backward of the LoRA + full-parameter model at 2 threads; outputs copied. */
typedef struct {
    float eps[TINY_SAMPLE_N], ds[TINY_SAMPLE_N], dehs[TINY_EHS_N];
    float *grads;
    size_t n_grads, high_water;
} run_out;

static void run_all(sdpo_unet_mode mode, run_out *o) {
    sdpo_unet u;
    ut_build(&u, 4, 1, TINY_WEIGHTS);
    ck_assert(sdpo_unet_lora_load(&u, GOLDEN_LORA) == SDPO_OK);
    float *sample = ut_read(GOLDEN_UNET, "sample", NULL);
    float *ehs = ut_read(GOLDEN_UNET, "encoder_hidden_states", NULL);
    float *t = ut_read(GOLDEN_UNET, "timestep.mixed", NULL);
    float *R = ut_read(GOLDEN_UNET, "grad_R", NULL);
    memset(o->ds, 0, sizeof o->ds);
    memset(o->dehs, 0, sizeof o->dehs);
    o->high_water = ut_run(&u, 2, mode, sample, t, ehs, o->eps, R, o->ds, o->dehs);
    o->n_grads = u.params.n_trainable;
    o->grads = malloc(o->n_grads * sizeof *o->grads);
    memcpy(o->grads, u.params.grads, o->n_grads * sizeof *o->grads);
    free(sample), free(ehs), free(t), free(R);
    sdpo_unet_free(&u);
}

static void assert_same(const run_out *a, const run_out *b) {
    ck_assert(memcmp(a->eps, b->eps, sizeof a->eps) == 0);
    ck_assert(memcmp(a->ds, b->ds, sizeof a->ds) == 0);
    ck_assert(memcmp(a->dehs, b->dehs, sizeof a->dehs) == 0);
    ck_assert_uint_eq(a->n_grads, b->n_grads);
    ck_assert(memcmp(a->grads, b->grads, a->n_grads * sizeof *a->grads) == 0);
}

/* Bitwise reruns at 2 threads (every op writes disjoint outputs per thread). */
START_TEST(deterministic_2_threads) {
    run_out a, b;
    run_all(SDPO_UNET_TRAIN, &a);
    run_all(SDPO_UNET_TRAIN, &b);
    assert_same(&a, &b);
    free(a.grads), free(b.grads);
}
END_TEST

/* Recomputing each unit's activations in backward replays the same ops on the same inputs, so
 * every gradient is bitwise the one of the stored-activation backward, in less memory. */
START_TEST(recompute_bitwise) {
    run_out a, b;
    run_all(SDPO_UNET_TRAIN, &a);
    run_all(SDPO_UNET_TRAIN_RECOMPUTE, &b);
    assert_same(&a, &b);
    ck_assert_uint_lt(b.high_water, a.high_water);
    free(a.grads), free(b.grads);
}
END_TEST

/* The size function is the exact high water of a real forward + backward (all input gradients
 * wanted), for every mode, LoRA-only and full-parameter; asking for fewer gradients needs no
 * more; a too small arena is refused up front, naming the need. */
START_TEST(arena_size_exact) {
    float *sample = ut_read(GOLDEN_UNET, "sample", NULL);
    float *ehs = ut_read(GOLDEN_UNET, "encoder_hidden_states", NULL);
    float *t = ut_read(GOLDEN_UNET, "timestep.t19", NULL);
    float *R = ut_read(GOLDEN_UNET, "grad_R", NULL);
    float eps[TINY_SAMPLE_N], ds[TINY_SAMPLE_N], dehs[TINY_EHS_N];
    nn_ctx ctx = {.backend = NN_BACKEND_CPU, .n_threads = 2};
    for (int train_base = 0; train_base < 2; train_base++) {
        sdpo_unet u;
        ut_build(&u, 4, train_base, TINY_WEIGHTS);
        for (int mode = SDPO_UNET_INFER; mode <= SDPO_UNET_TRAIN_RECOMPUTE; mode++) {
            size_t bytes;
            ck_assert(sdpo_unet_arena_bytes(&u, &ctx, mode, &tiny_shape, &bytes) == SDPO_OK);
            const float *d = mode == SDPO_UNET_INFER ? NULL : R;
            size_t hw = ut_run(&u, 2, mode, sample, t, ehs, eps, d, ds, dehs);
            ck_assert_uint_eq(hw, bytes);
            if (d) ck_assert_uint_le(ut_run(&u, 2, mode, sample, t, ehs, eps, d, NULL, NULL), bytes);
        }
        nn_arena small;
        size_t bytes;
        ck_assert(sdpo_unet_arena_bytes(&u, &ctx, SDPO_UNET_TRAIN, &tiny_shape, &bytes) == SDPO_OK);
        ck_assert(nn_arena_init(&small, bytes - 64) == SDPO_OK);
        ck_assert(sdpo_unet_forward(&u, &ctx, &small, SDPO_UNET_TRAIN, &tiny_shape, sample, t, ehs,
                                    eps) == SDPO_ERR_NOMEM);
        ck_assert_msg(strstr(sdpo_last_error(), "sdpo_unet_arena_bytes"), "%s", sdpo_last_error());
        ck_assert(sdpo_unet_backward(&u, &ctx, R, NULL, NULL) == SDPO_ERR_ARG);
        nn_arena_free(&small);
        sdpo_unet_free(&u);
    }
    free(sample), free(ehs), free(t), free(R);
}
END_TEST

/* Suite */

static Suite *suite(void) {
    Suite *s = suite_create("unet");
    TCase *tc = tcase_create("fixtures");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, eps_base, 0, 4);
    tcase_add_loop_test(tc, eps_lora, 0, 4);
    tcase_add_test(tc, grads_lora);
    tcase_add_test(tc, grads_full);
    tcase_add_loop_test(tc, eps_fp16_weights, 0, 4);
    suite_add_tcase(s, tc);
    TCase *td = tcase_create("engine");
    tcase_set_timeout(td, 120);
    tcase_add_test(td, deterministic_2_threads);
    tcase_add_test(td, recompute_bitwise);
    tcase_add_test(td, arena_size_exact);
    suite_add_tcase(s, td);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

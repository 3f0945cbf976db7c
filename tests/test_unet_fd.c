/* tests/test_unet_fd.c — the UNet backward against central finite differences of its own
 * forward, on the tiny model with a non-zero LoRA and every base tensor trainable: the
 * gradient check that does not depend on PyTorch (style.md §6.3c).
 *
 * L(θ) = Σ ε(θ)·R in double from the float32 ε; dL/dθ ≈ (L(θ + h) − L(θ − h)) / 2h.
 * Error budget: the truncation error is O(h²·L'''); the float32 round-off of ε (relative
 * ~1e-6 after ~60 ops, measured in test_unet.c) makes L noisy by ~1e-6·Σ|ε·R| ≈ 1e-4 here,
 * so the difference quotient carries ~1e-4/h. h = 1e-2 balances the two (perturbing a weight
 * of size ~0.1–1 by 1 %). We require |fd − analytic| ≤ 2e-3 + 2e-2·|analytic| — a sign, index
 * or missing-term bug is off by 100 % of the gradient. */
#include "tests/unet_test_util.h"

#define FD_H 1e-2
#define FD_ATOL 2e-3
#define FD_RTOL 2e-2

typedef struct {
    sdpo_unet u;
    float *sample, *ehs, *t, *R;
} fd_model;

static void fd_setup(fd_model *m) {
    ut_build(&m->u, 4, 1, TINY_WEIGHTS);
    ck_assert(sdpo_unet_lora_load(&m->u, GOLDEN_LORA) == SDPO_OK);
    m->sample = ut_read(GOLDEN_UNET, "sample", NULL);
    m->ehs = ut_read(GOLDEN_UNET, "encoder_hidden_states", NULL);
    m->t = ut_read(GOLDEN_UNET, "timestep.mixed", NULL);
    m->R = ut_read(GOLDEN_UNET, "grad_R", NULL);
}

static void fd_free(fd_model *m) {
    free(m->sample), free(m->ehs), free(m->t), free(m->R);
    sdpo_unet_free(&m->u);
}

static double loss(fd_model *m) {
    float eps[TINY_SAMPLE_N];
    ut_run(&m->u, 1, SDPO_UNET_INFER, m->sample, m->t, m->ehs, eps, NULL, NULL, NULL);
    double L = 0;
    for (int i = 0; i < TINY_SAMPLE_N; i++) L += (double)eps[i] * m->R[i];
    return L;
}

static double central_difference(fd_model *m, float *x) {
    const float x0 = *x;
    *x = x0 + (float)FD_H;
    double lp = loss(m);
    *x = x0 - (float)FD_H;
    double lm = loss(m);
    *x = x0;
    return (lp - lm) / (2 * FD_H);
}

static void check(const char *what, double analytic, double fd) {
    printf("%-78s analytic %+.6e fd %+.6e\n", what, analytic, fd);
    ck_assert_msg(fabs(fd - analytic) <= FD_ATOL + FD_RTOL * fabs(analytic),
                  "%s: analytic %.6e vs finite difference %.6e", what, analytic, fd);
}

/* One element of a tensor of every kind of layer on the path: conv_in, a resnet GroupNorm and
 * 1×1 shortcut, the time embedding, an attention's q/k/v/out and both LoRA factors, LayerNorm,
 * GEGLU, proj_in/out, the upsampler and the output head. */
static const struct {
    const char *name;
    int index;
} params[] = {
    {"conv_in.weight", 17},
    {"time_embedding.linear_1.weight", 100},
    {"down_blocks.0.resnets.0.norm1.weight", 3},
    {"down_blocks.0.attentions.0.proj_in.bias", 5},
    {"down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_k.weight", 40},
    {"down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_A.weight", 9},
    {"down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_v.lora_B.weight", 6},
    {"mid_block.attentions.0.transformer_blocks.0.norm2.bias", 11},
    {"mid_block.attentions.0.transformer_blocks.0.ff.net.0.proj.weight", 300},
    {"up_blocks.0.upsamplers.0.conv.weight", 1000},
    {"up_blocks.1.resnets.1.conv_shortcut.weight", 21},
    {"up_blocks.1.attentions.1.transformer_blocks.0.attn2.to_out.0.lora_A.weight", 2},
    {"up_blocks.1.attentions.1.proj_out.weight", 33},
    {"conv_norm_out.bias", 7},
    {"conv_out.weight", 50},
};

START_TEST(param_gradients) {
    fd_model m;
    fd_setup(&m);
    float eps[TINY_SAMPLE_N];
    ut_run(&m.u, 1, SDPO_UNET_TRAIN, m.sample, m.t, m.ehs, eps, m.R, NULL, NULL);
    nn_param_view v;
    ck_assert_msg(nn_params_get(&m.u.params, params[_i].name, &v) == SDPO_OK, "%s",
                  sdpo_last_error());
    ck_assert(v.trainable && params[_i].index < nn_tensor_numel(&v.value));
    const double analytic = v.grad[params[_i].index];
    char what[160];
    snprintf(what, sizeof what, "%s[%d]", params[_i].name, params[_i].index);
    check(what, analytic, central_difference(&m, &v.value.data[params[_i].index]));
    fd_free(&m);
}
END_TEST

/* d sample and d encoder_hidden_states (the latter reaches every attn2 to_k/to_v). */
START_TEST(input_gradients) {
    fd_model m;
    fd_setup(&m);
    float eps[TINY_SAMPLE_N];
    float *ds = calloc(TINY_SAMPLE_N, sizeof *ds), *dehs = calloc(TINY_EHS_N, sizeof *dehs);
    ut_run(&m.u, 1, SDPO_UNET_TRAIN, m.sample, m.t, m.ehs, eps, m.R, ds, dehs);
    const int si[3] = {0, 77, 500}, ei[3] = {3, 1000, 4900};
    char what[64];
    for (int k = 0; k < 3; k++) {
        snprintf(what, sizeof what, "sample[%d]", si[k]);
        check(what, ds[si[k]], central_difference(&m, &m.sample[si[k]]));
        snprintf(what, sizeof what, "encoder_hidden_states[%d]", ei[k]);
        check(what, dehs[ei[k]], central_difference(&m, &m.ehs[ei[k]]));
    }
    free(ds), free(dehs);
    fd_free(&m);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("unet_fd");
    TCase *tc = tcase_create("finite_differences");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, param_gradients, 0, (int)(sizeof params / sizeof params[0]));
    tcase_add_test(tc, input_gradients);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

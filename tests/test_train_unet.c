/* tests/test_train_unet.c — the UNet policy (trainers/policy_unet.h) on the tiny fixture
 * (tests/data/sd_fixtures/tiny_sd: 4×8×8 latents, 16×16 images, CLIP text width 32):
 *   - shapes, and stored transitions re-evaluate to their sampling-time log-probs (|ρ| tiny:
 *     the same float32 UNet on a different batch size, GEMM blocking aside);
 *   - the reference model (D3PO's π_ref, LoRA scale 0) is bit-identical to the untrained
 *     policy, and differs from a trained one;
 *   - the gradient the SDPO trainer accumulates for one minibatch matches central finite
 *     differences of the loss with respect to LoRA parameters, end to end through the UNet.
 *
 * FD tolerance |analytic − FD| <= 1e−2·|FD| + 1e−7 at h = 8e−3. The log-probs reach the loss
 * as float32 means over 256 elements, so the difference quotient carries rounding error that
 * falls as 1/h (measured worst relative error over the six checked parameters: 1.4e−2 at
 * h = 5e−4, 1.0e−2 at 1e−3, 4.5e−3 at 4e−3, 1.1e−3 at 8e−3); the O(h²) truncation of the
 * non-polynomial UNet stays below that up to h = 8e−3 (the error is still falling there). 1e−2
 * leaves 9× margin; a wrong scale, sign, CFG factor or missing member is off by 50 % or more. */
#include "tests/check_util.h"
#include "core/atomic_file.h"
#include "trainers/train_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Frees a trainer made here and deletes its run directory. */
static void free_run(sdpo_trainer *t) {
    char dir[SDPO_CFG_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", t->out_dir);
    *strrchr(dir, '/') = '\0';
    sdpo_trainer_free(t);
    sdpo_remove_tree(dir);
}

static sdpo_trainer *make(const char *const *sets, int n) {
    sdpo_train_config c;
    sdpo_train_config_defaults(&c);
    ck_assert_msg(sdpo_train_config_load_file(&c, "configs/tiny/sdpo.json") == SDPO_OK, "%s",
                  sdpo_last_error());
    for (int i = 0; i < n; i++)
        ck_assert_msg(sdpo_train_config_set(&c, sets[i]) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert_msg(sdpo_train_config_finalize(&c) == SDPO_OK, "%s", sdpo_last_error());
    char dir[64] = "/tmp/sdpo_test_unet_XXXXXX";
    ck_assert(mkdtemp(dir) != NULL);
    strcat(dir, "/run");
    sdpo_trainer *t;
    ck_assert_msg(sdpo_trainer_create(&c, dir, &t) == SDPO_OK, "%s", sdpo_last_error());
    return t;
}

static void sample(sdpo_trainer *t) {
    ck_assert_msg(sdpo_trainer_begin_epoch(t) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert_msg(sdpo_trainer_sample_epoch(t) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert_msg(sdpo_method_sdpo_advantages(t) == SDPO_OK, "%s", sdpo_last_error());
}

/* LoRA B (up) tensors are zero at init; give every trainable float a small value. */
static void perturb(sdpo_trainer *t) {
    nn_params *p = t->policy->params;
    sdpo_rng r;
    sdpo_rng_init(&r, 3, SDPO_STREAM_DATA);
    float *z = malloc(p->n_trainable * sizeof(float));
    sdpo_rng_normal_fill(&r, z, p->n_trainable);
    for (size_t k = 0; k < p->n_trainable; k++)
        if (p->params[k] == 0.0f) p->params[k] = 0.05f * z[k];
    free(z);
}

START_TEST(shapes_and_stored_logprobs) {
    sdpo_trainer *t = make(NULL, 0);
    ck_assert_int_eq((int)t->D, 4 * 8 * 8);
    ck_assert_int_eq(t->policy->img_h, 16);
    ck_assert_int_eq(t->policy->img_w, 16);
    perturb(t);
    sample(t);
    ck_assert_int_eq(t->step->timesteps[0], 999);
    const int g[1] = {1}, step[1] = {4};
    sdpo_minibatch_result r;
    ck_assert(sdpo_method_sdpo_minibatch(t, 1, g, step, 1.0, 0, &r) == SDPO_OK);
    for (int k = 0; k < 2; k++) {
        const double rho = (double)t->mb_logp[k] - t->mb_old[k];
        ck_assert_msg(fabs(rho) < 1e-5, "member %d: log-ratio %.3g on the sampling policy", k, rho);
    }
    free_run(t);
}
END_TEST

START_TEST(reference_is_the_base_model) {
    sdpo_trainer *fresh = make(NULL, 0), *trained = make(NULL, 0);
    perturb(trained);
    sample(fresh);
    const size_t D = fresh->D;
    int traj[2] = {0, 2}, step[2] = {0, 7};
    sdpo_trainer_gather(fresh, 0, 2, traj, step);
    float *a = malloc(2 * D * sizeof(float)), *b = malloc(2 * D * sizeof(float)),
          *c = malloc(2 * D * sizeof(float));
    int ts[2] = {fresh->step->timesteps[0], fresh->step->timesteps[7]};
    sdpo_policy *pf = fresh->policy, *pt = trained->policy;
    ck_assert(pf->forward(pf, 2, fresh->mb_x, ts, fresh->mb_cond, SDPO_FWD_EVAL, a) == SDPO_OK);
    ck_assert(pt->forward(pt, 2, fresh->mb_x, ts, fresh->mb_cond, SDPO_FWD_REFERENCE, b) == SDPO_OK);
    ck_assert(pt->forward(pt, 2, fresh->mb_x, ts, fresh->mb_cond, SDPO_FWD_EVAL, c) == SDPO_OK);
    ck_assert_msg(!memcmp(a, b, 2 * D * sizeof(float)), "reference != untrained policy");
    ck_assert_msg(memcmp(a, c, 2 * D * sizeof(float)), "the perturbed LoRA changes nothing");
    free(a), free(b), free(c);
    free_run(fresh);
    free_run(trained);
}
END_TEST

START_TEST(minibatch_gradient_matches_fd) {
    const char *sets[] = {"train.clip_range=0", "sample.guidance_scale=2"};
    sdpo_trainer *t = make(sets, _i ? 2 : 1);
    perturb(t);
    sample(t);
    nn_params *p = t->policy->params;
    const int g[1] = {0}, step[1] = {_i ? 8 : 2};
    sdpo_minibatch_result r;
    nn_zero_grad(&t->nn, p->grads, p->n_trainable);
    ck_assert(sdpo_method_sdpo_minibatch(t, 1, g, step, 1.0, 1, &r) == SDPO_OK);
    float *grad = malloc(p->n_trainable * sizeof(float));
    memcpy(grad, p->grads, p->n_trainable * sizeof(float));
    const float h = 8e-3f;
    for (int pick = 0; pick < 3; pick++) {
        size_t k = 0;
        for (size_t i = 1; i < p->n_trainable; i++)
            if (fabsf(grad[i]) > fabsf(grad[k])) k = i;
        ck_assert(grad[k] != 0.0f);
        const float orig = p->params[k];
        p->params[k] = orig + h;
        const float hi = p->params[k];
        ck_assert(sdpo_method_sdpo_minibatch(t, 1, g, step, 1.0, 0, &r) == SDPO_OK);
        const double lp = r.loss;
        p->params[k] = orig - h;
        const float lo = p->params[k];
        ck_assert(sdpo_method_sdpo_minibatch(t, 1, g, step, 1.0, 0, &r) == SDPO_OK);
        p->params[k] = orig;
        const double fd = (lp - r.loss) / ((double)hi - (double)lo);
        CK_CLOSE(grad[k], fd, 1e-7, 1e-2);
        grad[k] = 0.0f;
    }
    free(grad);
    free_run(t);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("train_unet");
    TCase *tc = tcase_create("tiny_unet_policy");
    tcase_add_test(tc, shapes_and_stored_logprobs);
    tcase_add_test(tc, reference_is_the_base_model);
    tcase_add_loop_test(tc, minibatch_gradient_matches_fd, 0, 2);
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

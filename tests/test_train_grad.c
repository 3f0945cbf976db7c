/* tests/test_train_grad.c — the gradient the SDPO trainer accumulates for one minibatch equals
 * a central finite difference of the SDPO loss (Eq. 14–16) with respect to single trainable
 * parameters, end to end: real sampled trajectories of the toy policy, dense rewards, returns,
 * per-step-prompt advantages, the DDIM log-prob re-evaluation and the policy backward. The same
 * for REBEL's trajectory-level loss, whose backward runs step by step (train_rebel.c).
 *
 * Tolerance |analytic − FD| <= 2e−3·|FD| + 1e−9, justified: the toy loss is a polynomial of
 * degree 4 in any one parameter (the output is linear in it, the log-density quadratic in the
 * output, the loss quadratic in the log-ratio), so central differences have truncation error
 * h²·|L'''|/6, < 1e−5 relative at the h used; the dominant error is that log-probs reach the
 * loss as float32 (per-element means near −1, rounding 6e−8 absolute), i.e. relative error
 * 6e−8 / |Δρ| with Δρ ≈ 1e−3 … 1e−2 at these h: ≤ 1e−4. A wrong 1/B, a dropped member, the
 * wrong sign of ∂logp/∂out or a missing CFG factor is off by 50 % or more.
 * The official clip ε = 1e−4 is checked through the torch.maximum tie rule (grad_clipped_official). */
#include "tests/check_util.h"
#include "trainers/train_internal.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Removes a test's temporary directory tree. */
static void rm_tree(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) != 0) return;
    DIR *d = S_ISDIR(sb.st_mode) ? opendir(path) : NULL;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char sub[512];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        rm_tree(sub);
    }
    if (d) closedir(d);
    remove(path);
}

/* Frees a trainer made here and deletes its run directory. */
static void free_run(sdpo_trainer *t) {
    char dir[SDPO_CFG_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", t->out_dir);
    *strrchr(dir, '/') = '\0';
    sdpo_trainer_free(t);
    rm_tree(dir);
}

static sdpo_trainer *make_method(const char *dir, const char *method, double clip,
                                 double guidance) {
    sdpo_train_config c;
    sdpo_train_config_defaults(&c);
    char set[128];
    snprintf(set, sizeof set, "train.method=%s", method);
    ck_assert(sdpo_train_config_set(&c, set) == SDPO_OK);
    const char *sets[] = {"sample.num_steps=10", "sample.batch_size=4",
                          "sample.num_batches_per_epoch=1", "train.batch_size=2",
                          "run.num_epochs=1", "toy.height=2", "toy.width=2"};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        ck_assert_msg(sdpo_train_config_set(&c, sets[i]) == SDPO_OK, "%s", sdpo_last_error());
    if (clip >= 0) {
        snprintf(set, sizeof set, "train.clip_range=%.17g", clip);
        ck_assert(sdpo_train_config_set(&c, set) == SDPO_OK);
    }
    snprintf(set, sizeof set, "sample.guidance_scale=%.17g", guidance);
    ck_assert(sdpo_train_config_set(&c, set) == SDPO_OK);
    ck_assert_msg(sdpo_train_config_finalize(&c) == SDPO_OK, "%s", sdpo_last_error());
    sdpo_trainer *t;
    ck_assert_msg(sdpo_trainer_create(&c, dir, &t) == SDPO_OK, "%s", sdpo_last_error());
    return t;
}

static sdpo_trainer *make_trainer(const char *dir, double clip, double guidance) {
    return make_method(dir, "sdpo", clip, guidance);
}

static double minibatch_loss(sdpo_trainer *t, const int *g, const int *step, int backward) {
    sdpo_minibatch_result r;
    sdpo_status rc = t->cfg.method == SDPO_METHOD_REBEL
                         ? sdpo_method_rebel_minibatch(t, 2, g, 1.0, backward, &r)
                         : sdpo_method_sdpo_minibatch(t, 2, g, step, 1.0, backward, &r);
    ck_assert_msg(rc == SDPO_OK, "%s", sdpo_last_error());
    return r.loss;
}

/* Largest |ρ| of the minibatch's four members at the current parameters. */
static double max_abs_rho(sdpo_trainer *t, const int *g, const int *step) {
    minibatch_loss(t, g, step, 0);
    double m = 0.0;
    for (int r = 0; r < 4; r++) {
        double rho = fabs((double)t->mb_logp[r] - t->mb_old[r]);
        if (rho > m) m = rho;
    }
    return m;
}

/* Checks dL/dθ_k for the n parameters with the largest analytic gradient. */
static void check_fd(sdpo_trainer *t, const int *g, const int *step, float h) {
    nn_params *p = t->policy->params;
    nn_zero_grad(&t->nn, p->grads, p->n_trainable);
    minibatch_loss(t, g, step, 1);
    float *grad = malloc(p->n_trainable * sizeof(float));
    memcpy(grad, p->grads, p->n_trainable * sizeof(float));
    for (int pick = 0; pick < 4; pick++) {
        size_t k = 0;
        for (size_t i = 1; i < p->n_trainable; i++)
            if (fabsf(grad[i]) > fabsf(grad[k])) k = i;
        ck_assert_msg(grad[k] != 0.0f, "no gradient left at pick %d", pick);
        const float orig = p->params[k];
        p->params[k] = orig + h;
        const float hi = p->params[k];
        const double lp = minibatch_loss(t, g, step, 0);
        p->params[k] = orig - h;
        const float lo = p->params[k];
        const double lm = minibatch_loss(t, g, step, 0);
        p->params[k] = orig;
        const double fd = (lp - lm) / ((double)hi - (double)lo);
        CK_CLOSE(grad[k], fd, 1e-9, 2e-3);
        grad[k] = 0.0f;
    }
    free(grad);
}

/* Moves the LoRA up-projection off zero so every parameter has a gradient, then samples. */
static void perturb_and_sample(sdpo_trainer *t) {
    nn_params *p = t->policy->params;
    sdpo_rng r;
    sdpo_rng_init(&r, 7, SDPO_STREAM_DATA);
    float z[1];
    for (size_t i = 0; i < p->n_trainable; i++) {
        sdpo_rng_normal_fill(&r, z, 1);
        if (p->params[i] == 0.0f) p->params[i] = 0.05f * z[0];
    }
    ck_assert_msg(sdpo_trainer_begin_epoch(t) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert_msg(sdpo_trainer_sample_epoch(t) == SDPO_OK, "%s", sdpo_last_error());
    sdpo_status rc = t->cfg.method == SDPO_METHOD_REBEL ? sdpo_method_rebel_advantages(t)
                                                         : sdpo_method_sdpo_advantages(t);
    ck_assert_msg(rc == SDPO_OK, "%s", sdpo_last_error());
}

static void tmpdir(char *buf) {
    strcpy(buf, "/tmp/sdpo_test_grad_XXXXXX");
    ck_assert(mkdtemp(buf) != NULL);
    strcat(buf, "/run");
}

START_TEST(grad_unclipped) {
    char dir[64];
    tmpdir(dir);
    sdpo_trainer *t = make_trainer(dir, 0.0, 1.0);
    perturb_and_sample(t);
    const int g[2] = {0, 3}, step[2] = {2, 7};
    check_fd(t, g, step, 1e-2f);
    free_run(t);
}
END_TEST

/* With the official ε = 1e−4 every log-ratio is exactly 0 on the sampling policy, so the
 * clipped and unclipped terms of Eq. 16 tie and torch.maximum splits the gradient between two
 * equal branches: the total must equal the unclipped (finite-difference checked) gradient. An
 * FD check is not possible here: a perturbation small enough to stay inside |ρ| < 1e−4 moves ρ
 * by less than the float32 spacing of log-probs near −2 (2.4e−7) allows to resolve. */
START_TEST(grad_clipped_official) {
    char d1[64], d2[64];
    tmpdir(d1);
    tmpdir(d2);
    sdpo_trainer *a = make_trainer(d1, 1e-4, 1.0), *b = make_trainer(d2, 0.0, 1.0);
    perturb_and_sample(a);
    perturb_and_sample(b);
    const int g[2] = {1, 2}, step[2] = {0, 9};
    ck_assert_msg(max_abs_rho(a, g, step) == 0.0, "ρ must be exactly 0 on the sampling policy");
    nn_params *pa = a->policy->params, *pb = b->policy->params;
    nn_zero_grad(&a->nn, pa->grads, pa->n_trainable);
    nn_zero_grad(&b->nn, pb->grads, pb->n_trainable);
    minibatch_loss(a, g, step, 1);
    minibatch_loss(b, g, step, 1);
    double norm = 0.0;
    for (size_t i = 0; i < pa->n_trainable; i++) {
        CK_CLOSE(pa->grads[i], pb->grads[i], 1e-12, 1e-6);
        norm += (double)pb->grads[i] * pb->grads[i];
    }
    ck_assert_msg(norm > 0.0, "the unclipped gradient is zero: the check is vacuous");
    free_run(a);
    free_run(b);
}
END_TEST

START_TEST(grad_with_cfg) {
    char dir[64];
    tmpdir(dir);
    sdpo_trainer *t = make_trainer(dir, 0.0, 3.0);
    perturb_and_sample(t);
    const int g[2] = {2, 0}, step[2] = {5, 5};
    check_fd(t, g, step, 1e-2f);
    free_run(t);
}
END_TEST

/* REBEL backpropagates its trajectory-level loss step by step (a first pass for every step's
 * log-prob, then each step re-run with activations): the sum must be the loss's gradient. */
START_TEST(grad_rebel_two_pass) {
    char dir[64];
    tmpdir(dir);
    sdpo_trainer *t = make_method(dir, "rebel", -1.0, _i ? 3.0 : 1.0);
    perturb_and_sample(t);
    const int g[2] = {1, 3}, step[2] = {0, 0};
    check_fd(t, g, step, 1e-2f);
    free_run(t);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("train_grad");
    TCase *tc = tcase_create("sdpo_minibatch");
    tcase_add_test(tc, grad_unclipped);
    tcase_add_test(tc, grad_clipped_official);
    tcase_add_test(tc, grad_with_cfg);
    tcase_add_loop_test(tc, grad_rebel_two_pass, 0, 2);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

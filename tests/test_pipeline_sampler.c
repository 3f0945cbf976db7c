/* tests/test_pipeline_sampler.c — the sampling pipeline of an epoch (trainers/rollout.c) on the
 * toy policy: trailing timesteps, shared or independent x_T of pair members, prompts shared by
 * a pair, stored transitions whose re-evaluated log-prob equals the sampling-time one bit for
 * bit, DDIM consistency (x_{i+1} − μ is σ times the stream's normal), reward queries made only at
 * the steps the strategy names (a recording reward checks which samples were scored), dense
 * rewards equal to core/dense_reward.h's prediction, and independence of the samples from
 * training-only settings. Exact comparisons throughout: everything here is deterministic. */
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

static sdpo_trainer *make(const char *const *sets, int n) {
    sdpo_train_config c;
    sdpo_train_config_defaults(&c);
    const char *base[] = {"sample.num_steps=10", "sample.batch_size=4",
                          "sample.num_batches_per_epoch=1", "train.batch_size=2",
                          "toy.height=2", "toy.width=2", "run.num_epochs=1"};
    for (int i = 0; i < 7; i++) ck_assert(sdpo_train_config_set(&c, base[i]) == SDPO_OK);
    for (int i = 0; i < n; i++)
        ck_assert_msg(sdpo_train_config_set(&c, sets[i]) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert_msg(sdpo_train_config_finalize(&c) == SDPO_OK, "%s", sdpo_last_error());
    char dir[64] = "/tmp/sdpo_test_pipe_XXXXXX";
    ck_assert(mkdtemp(dir) != NULL);
    strcat(dir, "/run");
    sdpo_trainer *t;
    ck_assert_msg(sdpo_trainer_create(&c, dir, &t) == SDPO_OK, "%s", sdpo_last_error());
    return t;
}

static void sample(sdpo_trainer *t) {
    ck_assert_msg(sdpo_trainer_begin_epoch(t) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert_msg(sdpo_trainer_sample_epoch(t) == SDPO_OK, "%s", sdpo_last_error());
}

static const float *lat(const sdpo_trainer *t, int n, int i) {
    return t->lat + ((size_t)n * (t->T_max + 1) + (size_t)i) * t->D;
}

START_TEST(trailing_timesteps_and_pairs) {
    sdpo_trainer *t = make(NULL, 0);
    sample(t);
    const int want[10] = {999, 899, 799, 699, 599, 499, 399, 299, 199, 99};
    for (int i = 0; i < 10; i++) ck_assert_int_eq(t->step->timesteps[i], want[i]);
    ck_assert_int_eq(t->n_traj, 8);
    for (int g = 0; g < 4; g++) {
        const int a = g, b = 4 + g;
        ck_assert_int_eq(t->prompt[a], t->prompt[b]);
        ck_assert(t->prompt[a] >= 0 && t->prompt[a] < t->prompts.n);
        ck_assert(!memcmp(lat(t, a, 0), lat(t, b, 0), t->D * sizeof(float)));  /* shared x_T */
        ck_assert(memcmp(lat(t, a, 1), lat(t, b, 1), t->D * sizeof(float)));   /* then diverge */
    }
    free_run(t);
    const char *indep[] = {"sample.shared_init_noise=false"};
    t = make(indep, 1);
    sample(t);
    for (int g = 0; g < 4; g++)
        ck_assert(memcmp(lat(t, g, 0), lat(t, 4 + g, 0), t->D * sizeof(float)));
    free_run(t);
}
END_TEST

/* Re-evaluating every stored transition reproduces its log-prob exactly, and the sample is
 * μ + σ·z with z the stream's normals: x_{i+1} recomputed from the stored x_i and the same
 * Philox draws matches bit for bit. */
START_TEST(transitions_reproduce) {
    /* train.batch_size 4 pairs: the minibatch buffers hold all 8 trajectories */
    const char *sets[] = {"train.batch_size=4", "sample.guidance_scale=2"};
    for (int cfg = 0; cfg < 2; cfg++) {
        sdpo_trainer *t = make(sets, 1 + cfg);
        ck_assert_int_ge(t->cap, 8);
        /* move the LoRA off zero so the trainable path is exercised too */
        nn_params *p = t->policy->params;
        for (size_t k = 0; k < p->n_trainable; k++) p->params[k] += 0.01f * (float)(k % 7);
        sample(t);
        sdpo_rng noise;
        sdpo_rng_init(&noise, 42, SDPO_STREAM_SAMPLER_NOISE);
        float *z = malloc(8 * t->D * sizeof(float)), *xn = malloc(8 * t->D * sizeof(float));
        float *xh = malloc(8 * t->D * sizeof(float)), lp[8], lp2[8];
        int traj[8], step[8];
        for (int i = 0; i < 10; i++) {
            for (int n = 0; n < 8; n++) traj[n] = n, step[n] = i;
            sdpo_trainer_gather(t, 0, 8, traj, step);
            ck_assert(sdpo_policy_step_logprob(t->step, 8, t->mb_x, t->mb_xn, t->mb_step,
                                               t->mb_cond, SDPO_FWD_EVAL, lp, NULL) == SDPO_OK);
            sdpo_rng_normal_fill(&noise, z, 8 * t->D);
            ck_assert(sdpo_policy_step_sample(t->step, 8, t->mb_x, t->mb_step, t->mb_cond, z, xn,
                                              xh, lp2) == SDPO_OK);
            for (int n = 0; n < 8; n++) {
                ck_assert_msg(lp[n] == t->logp[n * t->T_max + i], "logp of traj %d step %d: %.9g vs %.9g", n, i, lp[n], t->logp[n * t->T_max + i]);
                ck_assert(lp2[n] == lp[n]);
            }
            ck_assert(!memcmp(xn, t->mb_xn, 8 * t->D * sizeof(float)));
        }
        free(z), free(xn), free(xh);
        free_run(t);
    }
}
END_TEST

/* A reward that scores an image by its first pixel and records how many images it saw. */
static int n_scored;
static sdpo_status first_pixel(sdpo_reward *r, int B, int H, int W, const float *images,
                               const char *const *prompts, float *scores) {
    (void)r, (void)prompts;
    for (int b = 0; b < B; b++) scores[b] = images[(size_t)b * 3 * H * W];
    n_scored += B;
    return SDPO_OK;
}

START_TEST(only_queried_steps_are_scored) {
    const char *strategies[] = {"reward.dense_strategy=copy", "reward.dense_strategy=sim2",
                                "reward.dense_strategy=sim3-adaptive",
                                "reward.dense_strategy=full", "train.method=ddpo",
                                "train.method=rebel"};
    const int per_traj[] = {2, 2, 3, 10, 2, 2}; /* copy and baselines: + the first-step log query */
    for (int s = 0; s < 6; s++) {
        sdpo_trainer *t = make(&strategies[s], 1);
        sdpo_reward fake = {"first-pixel", "test", first_pixel, NULL, NULL};
        t->rq.reward = &fake;
        n_scored = 0;
        sample(t);
        ck_assert_msg(n_scored == per_traj[s] * t->n_traj, "%s: %d images scored for %d "
                      "trajectories", strategies[s], n_scored, t->n_traj);
        ck_assert_int_eq(t->rq.train_queries + t->rq.log_queries, n_scored);
        for (int n = 0; n < t->n_traj; n++) {
            /* the final reward is the image of x̂ at the last step (SDPO) or of x_0 (baselines),
             * the first-step reward that of x̂ at step 0 */
            float img[12];
            const float *final = t->cfg.method == SDPO_METHOD_SDPO ? NULL : lat(t, n, 10);
            if (final) {
                ck_assert(t->policy->decode(t->policy, 1, final, img) == SDPO_OK);
                ck_assert(t->final_reward[n] == img[0]);
            }
            ck_assert(!isnan(t->first_reward[n]));
        }
        if (t->cfg.method == SDPO_METHOD_SDPO) {
            /* one batch: t->xhat holds every trajectory's x̂ [T, D] in batch order */
            for (int b = 0; b < t->batch_traj; b++) {
                const int n = t->bt_traj[b];
                const float *xh = t->xhat + (size_t)b * t->T_max * t->D;
                float img[12], pred[10];
                ck_assert(t->policy->decode(t->policy, 1, xh + 9 * t->D, img) == SDPO_OK);
                ck_assert(t->final_reward[n] == img[0]);
                ck_assert(t->policy->decode(t->policy, 1, xh, img) == SDPO_OK);
                ck_assert(t->first_reward[n] == img[0]);
                ck_assert(sdpo_dense_predict(&t->dense, 10, t->D, xh, t->qsteps + b * t->T_max,
                                             t->nq[b], t->qrew + b * t->T_max, pred) == SDPO_OK);
                ck_assert(!memcmp(pred, t->dense_r + (size_t)n * t->T_max, sizeof pred));
            }
        }
        t->rq.reward = t->reward;
        free_run(t);
    }
}
END_TEST

/* Sampling consumes only the sampling streams: the epoch-1 trajectories do not depend on
 * training settings, and do depend on the seed. */
START_TEST(samples_independent_of_training_settings) {
    const char *a[] = {"train.learning_rate=0.5", "train.batch_size=4",
                       "train.update_schedule=sequential"};
    const char *seed[] = {"run.seed=7"};
    sdpo_trainer *t1 = make(NULL, 0), *t2 = make(a, 3), *t3 = make(seed, 1);
    sample(t1);
    sample(t2);
    sample(t3);
    const size_t bytes = (size_t)t1->n_traj * (t1->T_max + 1) * t1->D * sizeof(float);
    ck_assert(!memcmp(t1->lat, t2->lat, bytes));
    ck_assert(memcmp(t1->lat, t3->lat, bytes));
    free_run(t1);
    free_run(t2);
    free_run(t3);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("pipeline_sampler");
    TCase *tc = tcase_create("sampler");
    tcase_add_test(tc, trailing_timesteps_and_pairs);
    tcase_add_test(tc, transitions_reproduce);
    tcase_add_test(tc, only_queried_steps_are_scored);
    tcase_add_test(tc, samples_independent_of_training_settings);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

/* tests/test_train_learns.c — each of SDPO, DDPO, REBEL and D3PO raises a simple reward on the
 * tiny fixture UNet (tests/data/sd_fixtures/tiny_sd: random weights, 4×8×8 latents, 16×16
 * images, LoRA rank 4) in a short seeded run of configs/tiny/learn_<method>.json (T = 10,
 * reward `brightness`, trainers/analytic_reward.h).
 *
 * Measurement. The training curve (train.csv's reward per epoch) is too noisy to show a gain of
 * this size: every epoch draws new x_T and sampler noise, and a random tiny UNet's images barely
 * differ in brightness (sd 0.005 across samples). So the policy is evaluated before and after
 * training on one fixed set of EVAL_N trajectories — x_T, every step's sampler noise and the
 * prompts drawn from streams of EVAL_SEED, not the run's seed — sampled exactly as the trainer
 * samples (DDIM, η and spacing of the config), and the mean brightness of the decoded x_0 is
 * compared. Common random numbers make the difference a function of the parameter change only:
 * an unchanged policy gives exactly 0, and re-drawing the evaluation set (seed 107 instead of 7)
 * moved a trained run's gain by at most 0.0014 (two runs checked).
 *
 * What can fake a gain is not evaluation noise but a parameter change that brightness did not
 * drive. The null is a run of the same config whose reward carries no information (a hash of
 * the image bytes, uniform in [0, 1)): any large change of this random UNet's adapter moves its
 * brightness by up to ±0.018. The test also checks the adapter's odd part: B → −B negates the
 * adapter's output exactly, and ODD = (R(A, B) − R(A, −B)) / 2 keeps what flips sign with the
 * adapter (its directed, first-order effect) while effects even in it cancel, so a gain made of
 * the even part alone fails.
 *
 * Why these configs (configs/tiny/learn_<method>.json). On this random UNet the latent grows to
 * rms ~22 and the image is fixed by step 2 (later sampler noise changes no brightness), so the
 * brightness signal sits in steps 0–2 while step 9 (σ = 0.029) has a 9× larger, pure-noise
 * log-prob gradient. lr 1e-2 (on 4-pair runs, 5e-3 halved the gains against the same null and
 * 2e-2 widened the null to sd 0.013). One AdamW step per epoch over all its samples
 * (update_schedule accumulated; REBEL: one minibatch of all 8 pairs): per-minibatch steps make
 * AdamW's sign-like steps a random walk.
 * SDPO λ = 0.7 down-weights the late steps (Eq. 14). D3PO ratio clamp 0.5: at the official 0.1
 * half the ratios are clamped by epoch 10 and the run stalls. REBEL with shared x_T, so a pair's
 * reward difference comes from the sampler noise the policy controls. 8 pairs (DDPO: 8 samples,
 * 20 epochs) per epoch: with 4 pairs D3PO's gain fell to −0.001 on some seeds; DDPO with 16
 * samples × 10 epochs was erratic. recompute off: exact, and faster.
 *
 * Measured with the tiny fixture; the brightness gain on the fixed set, run seeds 1, 2, 4, 7,
 * 9, 42:
 *   SDPO  10 epochs × 8 pairs, lr 1e-2, λ 0.7, one update/epoch  +0.022 … +0.034 (mean 0.028)
 *   DDPO  20 epochs × 8 samples, lr 1e-2, one update/epoch       +0.013 … +0.034 (mean 0.024)
 *   REBEL 10 epochs × 8 pairs (shared x_T), lr 1e-2               +0.020 … +0.032 (mean 0.027)
 *   D3PO  10 epochs × 8 pairs, lr 1e-2, ratio clamp 0.5           +0.018 … +0.030 (mean 0.026)
 * and the odd part was positive in all 24 runs (smallest +0.0012, DDPO seed 9). The null
 * (seeds 4, 7, 9, 42): SDPO −0.000 … +0.006, D3PO −0.009 … +0.000, REBEL −0.012 … +0.014,
 * DDPO −0.011 … +0.018 (sd 0.002, 0.004, 0.010, 0.013).
 * MARGIN_GAIN = 0.01 is below every trained run's gain (the smallest, 0.0125, is 1.25× it; the
 * others ≥ 1.8×) and ≥ 3.7 null sd above the SDPO and D3PO null means; for REBEL and DDPO, whose
 * estimators carry step 9's pure-noise log-prob gradient (σ = 0.029) unfiltered, the null is as
 * wide as the margin: this test then catches a method that does not learn or learns the wrong
 * sign (SDPO trained on −brightness lowered it in all 8 4-pair runs tried), not one whose
 * gradient is replaced by noise. MARGIN_ODD = 0 is a sign check. */
#include "tests/check_util.h"
#include "core/atomic_file.h"
#include "trainers/train_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MARGIN_GAIN 0.01
#define MARGIN_ODD 0.0
#define EVAL_N 32
#define EVAL_SEED 7u

static const char *const methods[] = {"sdpo", "ddpo", "rebel", "d3po"};

/* Mean reward of EVAL_N trajectories of the current policy from fixed noise (see the top). */
static double eval_reward(sdpo_trainer *t) {
    sdpo_policy *p = t->policy;
    const size_t D = p->D, npx = (size_t)3 * p->img_h * p->img_w;
    const int T = t->cfg.num_steps;
    sdpo_policy_step st;
    ck_assert_msg(sdpo_policy_step_init(&st, p, t->cfg.guidance_scale, EVAL_N) == SDPO_OK, "%s",
                  sdpo_last_error());
    ck_assert_msg(sdpo_policy_step_set_steps(&st, T, t->spacing, t->cfg.eta) == SDPO_OK, "%s",
                  sdpo_last_error());
    float *x = malloc(EVAL_N * D * sizeof(float)), *xn = malloc(EVAL_N * D * sizeof(float));
    float *xh = malloc(EVAL_N * D * sizeof(float)), *z = malloc(EVAL_N * D * sizeof(float));
    float *img = malloc(EVAL_N * npx * sizeof(float)), logp[EVAL_N], score[EVAL_N];
    ck_assert(x && xn && xh && z && img);
    int step[EVAL_N], cond[EVAL_N];
    sdpo_rng r_init, r_noise, r_prompt;
    sdpo_rng_init(&r_init, EVAL_SEED, SDPO_STREAM_INIT_NOISE);
    sdpo_rng_init(&r_noise, EVAL_SEED, SDPO_STREAM_SAMPLER_NOISE);
    sdpo_rng_init(&r_prompt, EVAL_SEED, SDPO_STREAM_PROMPT_CHOICE);
    sdpo_rng_normal_fill(&r_init, x, EVAL_N * D);
    for (int b = 0; b < EVAL_N; b++)
        cond[b] = (int)sdpo_rng_below(&r_prompt, (uint32_t)t->prompts.n);
    for (int i = 0; i < T; i++) {
        for (int b = 0; b < EVAL_N; b++) step[b] = i;
        sdpo_rng_normal_fill(&r_noise, z, EVAL_N * D);
        ck_assert_msg(sdpo_policy_step_sample(&st, EVAL_N, x, step, cond, z, xn, xh, logp) ==
                          SDPO_OK, "%s", sdpo_last_error());
        memcpy(x, xn, EVAL_N * D * sizeof(float));
    }
    for (int b0 = 0; b0 < EVAL_N; b0 += p->max_batch) {
        const int nb = EVAL_N - b0 < p->max_batch ? EVAL_N - b0 : p->max_batch;
        ck_assert_msg(p->decode(p, nb, x + (size_t)b0 * D, img + (size_t)b0 * npx) == SDPO_OK,
                      "%s", sdpo_last_error());
    }
    const char *prompts[EVAL_N];
    for (int b = 0; b < EVAL_N; b++) prompts[b] = t->prompts.text[cond[b]];
    ck_assert_msg(t->reward->score(t->reward, EVAL_N, p->img_h, p->img_w, img, prompts, score) ==
                      SDPO_OK, "%s", sdpo_last_error());
    double mean = 0.0;
    for (int b = 0; b < EVAL_N; b++) mean += score[b] / (double)EVAL_N;
    sdpo_policy_step_free(&st);
    free(x), free(xn), free(xh), free(z), free(img);
    return mean;
}

/* Multiplies every LoRA up-projection (lora_B) by s: s = −1 negates the adapter's output. */
static void scale_lora_up(sdpo_trainer *t, float s) {
    nn_params *p = t->policy->params;
    int found = 0;
    for (int k = 0; k < p->count; k++) {
        const nn_param_info *in = &p->info[k];
        if (!in->trainable || !strstr(in->name, ".lora_B.weight")) continue;
        for (size_t j = 0; j < in->numel; j++) p->params[in->offset + j] *= s;
        found++;
    }
    ck_assert_msg(found > 0, "no lora_B tensor among the trainable parameters");
}

START_TEST(raises_brightness) {
    const char *m = methods[_i];
    char path[128];
    snprintf(path, sizeof path, "configs/tiny/learn_%s.json", m);
    sdpo_train_config c;
    sdpo_train_config_defaults(&c);
    ck_assert_msg(sdpo_train_config_load_file(&c, path) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert_msg(sdpo_train_config_finalize(&c) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert_str_eq(c.reward_name, "brightness");
    ck_assert_int_eq(c.num_steps, 10);
    char dir[64] = "/tmp/sdpo_test_learns_XXXXXX", run[80];
    ck_assert(mkdtemp(dir) != NULL);
    snprintf(run, sizeof run, "%s/run", dir);
    sdpo_trainer *t;
    ck_assert_msg(sdpo_trainer_create(&c, run, &t) == SDPO_OK, "%s", sdpo_last_error());

    const double before = eval_reward(t);
    ck_assert_msg(sdpo_trainer_run(t, NULL, NULL) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert_int_eq(sdpo_trainer_epochs_done(t), c.num_epochs);
    const double after = eval_reward(t);
    scale_lora_up(t, -1.0f);
    const double negated = eval_reward(t);
    scale_lora_up(t, -1.0f);
    const double gain = after - before, odd = (after - negated) / 2.0;
    fprintf(stderr, "%s: brightness %.4f -> %.4f (gain %+.4f, odd part %+.4f)\n", m, before,
            after, gain, odd);
    ck_assert_msg(gain >= MARGIN_GAIN, "%s: brightness %.4f -> %.4f, gain %.4f < %.4f", m, before,
                  after, gain, MARGIN_GAIN);
    ck_assert_msg(odd > MARGIN_ODD, "%s: odd part of the adapter's effect %.4f <= %.4f", m, odd,
                  MARGIN_ODD);
    sdpo_trainer_free(t);
    sdpo_remove_tree(dir);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("train_learns");
    TCase *tc = tcase_create("tiny_unet");
    tcase_add_loop_test(tc, raises_brightness, 0, 4);
    tcase_set_timeout(tc, 600);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

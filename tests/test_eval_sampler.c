/* tests/test_eval_sampler.c — the evaluator (eval/sample_eval.h, eval/evaluate.h; paper Sec.
 * 4.2 Fig. 4, 8–11, Table 1; App. C Table 3):
 *   (a) the same (seed, prompt, image) starts from the same x_T for every step count and run:
 *       x_T is the documented Philox position, the first step's x̂ of a 2-step trajectory is
 *       bitwise the 1-step image's x̂ (toy and tiny UNet), and a rerun is bitwise identical;
 *   (b) a run's epoch-0 checkpoint gives bitwise the base model's rows;
 *   (c) results do not depend on the batch size (toy: bitwise; UNet: within a stated tolerance)
 *       or, for the UNet, on the thread count (tolerance);
 *   (d) every images.csv score equals the reward recomputed by hand from the sampler's images,
 *       and summary.csv's mean/std/sem/n equal those recomputed from images.csv;
 *   (e) toy end to end: a short training run, every checkpoint evaluated, base written once,
 *       the trained policy scoring above the base; the trajectory recorder agrees with the
 *       evaluator and its per-step rewards are the decoded x̂'s. */
#include "core/rng.h"
#include "eval/csv_table.h"
#include "eval/evaluate.h"
#include "eval/sample_eval.h"
#include "nn/safetensors.h"
#include "tests/check_util.h"
#include "core/atomic_file.h"
#include "trainers/policy_toy.h"
#include "trainers/policy_unet.h"
#include "trainers/trainer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TINY "tests/data/sd_fixtures/tiny_sd"

static const char *const kPrompts[] = {"a cat", "a dog, sitting", "a \"quoted\" fox"};

static sdpo_policy *toy_policy(int max_batch) {
    const sdpo_toy_config tc = {2, 3, SDPO_PRED_V, 4, 0.5, 0.05, 1.0, 7, 42, 4, 0.0, 3,
                                max_batch};
    sdpo_policy *p;
    ck_assert_msg(sdpo_policy_toy_create(&tc, &p) == SDPO_OK, "%s", sdpo_last_error());
    return p;
}

static sdpo_policy *tiny_policy(int max_batch, int threads) {
    const sdpo_unet_policy_config uc = {TINY, 0, 0.0, 0, 3, kPrompts, max_batch, 1, threads, 1};
    sdpo_policy *p;
    ck_assert_msg(sdpo_policy_unet_create(&uc, &p) == SDPO_OK, "%s", sdpo_last_error());
    return p;
}

/* images [n, 3, H, W] of samples (prompt[j], image[j]) at T steps. */
static float *sample(sdpo_policy *p, int batch, double eta, int T, int n, const int *prompt,
                     const int *image, float *xhat_steps) {
    sdpo_eval_sampler s;
    const sdpo_eval_sampler_config c = {11, eta, SDPO_FINAL_XHAT, batch};
    ck_assert(sdpo_eval_sampler_init(&s, p, &c) == SDPO_OK);
    ck_assert(sdpo_eval_sampler_set_steps(&s, T) == SDPO_OK);
    float *im = malloc((size_t)n * 3 * p->img_h * p->img_w * sizeof(float));
    ck_assert(im != NULL);
    ck_assert_msg(sdpo_eval_sample(&s, n, prompt, image, im, xhat_steps, NULL, NULL) == SDPO_OK,
                  "%s", sdpo_last_error());
    sdpo_eval_sampler_free(&s);
    return im;
}

static size_t img_elems(const sdpo_policy *p, int n) {
    return (size_t)n * 3 * p->img_h * p->img_w;
}

/* ---- (a) the same x_T everywhere ------------------------------------------------------- */

START_TEST(initial_noise_is_the_documented_philox_position) {
    /* sample (2, 5) of a D = 10 model: ⌈10/4⌉ = 3 blocks each, id 2·2^16 + 5 */
    float x[10];
    sdpo_eval_initial_noise(99, 2, 5, 10, x);
    const uint64_t block = ((uint64_t)2 << 16 | 5) * 3;
    ck_assert_uint_eq(sdpo_eval_init_block(2, 5, 10), block);
    for (int d = 0; d < 10; d++)
        ck_assert_float_eq(x[d], sdpo_rng_normal_at(99, SDPO_STREAM_INIT_NOISE, block, (uint64_t)d));
    /* neighbouring samples and the step noise own disjoint block ranges */
    ck_assert_uint_eq(sdpo_eval_init_block(2, 6, 10), block + 3);
    ck_assert_uint_eq(sdpo_eval_step_block(2, 5, 1, 10), (((uint64_t)2 << 16 | 5) * 4096 + 1) * 3);
}
END_TEST

/* The first step of every trajectory sits at timestep 999 (trailing spacing) and depends on x_T
 * alone, so T = 1's final x̂ must be bitwise T = 2's step-0 x̂ if both start from one x_T. */
static void check_first_step_shared(sdpo_policy *p) {
    const int n = 5, prompt[] = {0, 0, 1, 2, 2}, image[] = {0, 1, 0, 3, 4};
    const size_t D = p->D;
    float *x1 = malloc((size_t)n * D * sizeof(float)), *x2 = malloc((size_t)n * 2 * D * sizeof(float));
    ck_assert(x1 && x2);
    float *im1 = sample(p, 8, 1.0, 1, n, prompt, image, x1);
    float *im2 = sample(p, 8, 1.0, 2, n, prompt, image, x2);
    for (int j = 0; j < n; j++)
        ck_assert_msg(!memcmp(x1 + (size_t)j * D, x2 + (size_t)j * 2 * D, D * sizeof(float)),
                      "%s: sample %d: 1-step x-hat differs from the 2-step run's first x-hat",
                      p->name, j);
    /* a rerun is bitwise identical */
    float *im1b = sample(p, 8, 1.0, 1, n, prompt, image, NULL);
    ck_assert(!memcmp(im1, im1b, img_elems(p, n) * sizeof(float)));
    /* and the samples are not all alike (the noise really is per sample) */
    ck_assert(memcmp(x1, x1 + D, D * sizeof(float)) != 0);
    free(x1);
    free(x2);
    free(im1);
    free(im2);
    free(im1b);
}

START_TEST(same_x_T_for_every_step_count_toy) {
    sdpo_policy *p = toy_policy(8);
    check_first_step_shared(p);
    sdpo_policy_free(p);
}
END_TEST

START_TEST(same_x_T_for_every_step_count_unet) {
    sdpo_policy *p = tiny_policy(8, 1);
    check_first_step_shared(p);
    sdpo_policy_free(p);
}
END_TEST

/* ---- (c) batch size and threads -------------------------------------------------------- */

START_TEST(toy_images_are_bitwise_independent_of_batch_size) {
    /* the toy policy computes every sample on its own (policy_toy.h), and the sampler draws
     * every sample's noise from its own position: any batch size gives the same bits */
    const int n = 7, prompt[] = {0, 1, 2, 0, 1, 2, 0}, image[] = {0, 0, 0, 1, 1, 1, 2};
    sdpo_policy *p = toy_policy(8);
    float *ref = sample(p, 7, 1.0, 4, n, prompt, image, NULL);
    for (int b = 1; b <= 3; b++) {
        float *im = sample(p, b, 1.0, 4, n, prompt, image, NULL);
        ck_assert_msg(!memcmp(ref, im, img_elems(p, n) * sizeof(float)), "batch %d differs", b);
        free(im);
    }
    /* one sample alone, out of its batch, is the same too */
    float *one = sample(p, 1, 1.0, 4, 1, prompt + 5, image + 5, NULL);
    ck_assert(!memcmp(ref + img_elems(p, 5), one, img_elems(p, 1) * sizeof(float)));
    free(one);
    free(ref);
    sdpo_policy_free(p);
}
END_TEST

static double max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t k = 0; k < n; k++) m = fmax(m, fabs((double)a[k] - (double)b[k]));
    return m;
}

START_TEST(unet_images_match_across_batch_sizes_and_threads) {
    /* The UNet's GEMMs block differently per batch size and thread count, so a sample's ε may
     * change in the last float bits (policy_unet.h). Through 4 DDIM steps and the VAE such
     * differences stay near float32 rounding of O(1) values; images are in [0, 1] and rewards
     * see them through 8-bit rounding, so 1e-4 (0.026 of an 8-bit level) is far below any
     * effect on a score, and far above the rounding noise measured here (≤ 1e-6). */
    const int n = 5, prompt[] = {0, 1, 2, 0, 1}, image[] = {0, 0, 0, 1, 1};
    sdpo_policy *p = tiny_policy(8, 1);
    float *ref = sample(p, 5, 1.0, 4, n, prompt, image, NULL);
    float *b2 = sample(p, 2, 1.0, 4, n, prompt, image, NULL);
    const double d_batch = max_abs_diff(ref, b2, img_elems(p, n));
    sdpo_policy_free(p);
    p = tiny_policy(8, 2);
    float *t2 = sample(p, 5, 1.0, 4, n, prompt, image, NULL);
    const double d_threads = max_abs_diff(ref, t2, img_elems(p, n));
    ck_assert_msg(d_batch <= 1e-4 && d_threads <= 1e-4, "max |diff|: batch %g, threads %g",
                  d_batch, d_threads);
    free(ref);
    free(b2);
    free(t2);
    sdpo_policy_free(p);
}
END_TEST

START_TEST(eta_zero_is_deterministic_ddim) {
    /* η = 0 takes the deterministic DDIM branch: at 3 steps its images differ from η = 1's;
     * a 1-step image is x̂ of the first step, the same for every η */
    const int n = 2, prompt[] = {0, 1}, image[] = {0, 0};
    sdpo_policy *p = toy_policy(4);
    float *e0 = sample(p, 4, 0.0, 3, n, prompt, image, NULL);
    float *e1 = sample(p, 4, 1.0, 3, n, prompt, image, NULL);
    ck_assert(memcmp(e0, e1, img_elems(p, n) * sizeof(float)) != 0);
    float *s0 = sample(p, 4, 0.0, 1, n, prompt, image, NULL);
    float *s1 = sample(p, 4, 1.0, 1, n, prompt, image, NULL);
    ck_assert(!memcmp(s0, s1, img_elems(p, n) * sizeof(float)));
    free(e0);
    free(e1);
    free(s0);
    free(s1);
    sdpo_policy_free(p);
}
END_TEST

/* ---- helpers for the evaluator tests --------------------------------------------------- */

static char g_tmp[64];

static void setup(void) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/sdpo_test_XXXXXX");
    ck_assert(mkdtemp(g_tmp) != NULL);
}

static void teardown(void) { sdpo_remove_tree(g_tmp); }

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    ck_assert(f != NULL);
    fputs(text, f);
    fclose(f);
}

/* A toy training config: 2×3 images, 4 modes, one of the prompt files of the test. */
static void toy_config(const char *path, const char *prompts) {
    char json[1024];
    snprintf(json, sizeof json,
             "{\"run\": {\"seed\": 42, \"num_epochs\": 6, \"save_freq\": 3, "
             "\"keep_checkpoints\": 10},\n"
             " \"model\": {\"type\": \"toy\", \"lora_rank\": 4},\n"
             " \"toy\": {\"height\": 2, \"width\": 3, \"modes\": 4, \"seed\": 7, \"prediction\": \"v\"},\n"
             " \"sample\": {\"prompt_file\": \"%s\", \"num_steps\": 4, \"batch_size\": 16, "
             "\"num_batches_per_epoch\": 2},\n"
             " \"reward\": {\"name\": \"toy-mode\", \"dense_strategy\": \"sim3-adaptive\"},\n"
             " \"train\": {\"method\": \"sdpo\", \"batch_size\": 2, \"gradient_accumulation_steps\": 4,\n"
             "   \"learning_rate\": 0.003, \"clip_range\": 0.01}}\n", prompts);
    write_file(path, json);
}

static sdpo_eval_config eval_config(const char *out, const char *prompts, const int *steps,
                                    int n_steps, const char *const *rewards, int n_rewards) {
    sdpo_eval_config c;
    memset(&c, 0, sizeof c);
    c.out_dir = out;
    c.prompts_file = prompts;
    c.images_per_prompt = 3;
    c.n_steps = n_steps;
    memcpy(c.steps, steps, (size_t)n_steps * sizeof(int));
    c.sampler = (sdpo_eval_sampler_config){5, 1.0, SDPO_FINAL_XHAT, 4};
    c.threads = 1;
    c.n_rewards = n_rewards;
    c.rewards = rewards;
    return c;
}

static double cell(const sdpo_csv_table *t, size_t r, const char *col) {
    int c;
    ck_assert_msg(sdpo_csv_table_col(t, col, &c) == SDPO_OK, "%s", sdpo_last_error());
    double v;
    ck_assert_msg(sdpo_csv_table_double(t, r, c, &v) == SDPO_OK, "%s", sdpo_last_error());
    return v;
}

static const char *text(const sdpo_csv_table *t, size_t r, const char *col) {
    int c;
    ck_assert(sdpo_csv_table_col(t, col, &c) == SDPO_OK);
    return sdpo_csv_table_get(t, r, c);
}

/* ---- (d) scores and summary by hand ------------------------------------------------------ */

START_TEST(rows_and_summary_by_hand) {
    char prompts[128], cfg[128], out[128];
    snprintf(prompts, sizeof prompts, "%s/prompts.txt", g_tmp);
    snprintf(cfg, sizeof cfg, "%s/toy.json", g_tmp);
    snprintf(out, sizeof out, "%s/eval", g_tmp);
    write_file(prompts, "a cat\na dog, sitting\n");
    toy_config(cfg, prompts);
    sdpo_eval_targets tg = {NULL, 0, 0};
    ck_assert_msg(sdpo_eval_targets_add_model(&tg, cfg, NULL, NULL, -1) == SDPO_OK, "%s",
                  sdpo_last_error());
    const int steps[] = {1, 3};
    const char *rewards[] = {"brightness", "toy-mode"};
    sdpo_eval_config c = eval_config(out, prompts, steps, 2, rewards, 2);
    ck_assert_msg(sdpo_eval_run(&c, &tg) == SDPO_OK, "%s", sdpo_last_error());
    /* a second evaluation into the same dir is refused, naming images.csv */
    ck_assert(sdpo_eval_run(&c, &tg) != SDPO_OK);
    ck_assert_msg(strstr(sdpo_last_error(), "images.csv") != NULL, "%s", sdpo_last_error());

    /* brightness by hand: the mean pixel of the sampler's own images */
    const sdpo_toy_config tc = {2, 3, SDPO_PRED_V, 4, 0.5, 0.05, 1.0, 7, 42, 4, 0.0, 2, 4};
    sdpo_policy *p;
    ck_assert(sdpo_policy_toy_create(&tc, &p) == SDPO_OK);
    const int prompt[] = {0, 0, 0, 1, 1, 1}, image[] = {0, 1, 2, 0, 1, 2};
    float *im[2];
    for (int s = 0; s < 2; s++) {
        sdpo_eval_sampler smp;
        ck_assert(sdpo_eval_sampler_init(&smp, p, &c.sampler) == SDPO_OK);
        ck_assert(sdpo_eval_sampler_set_steps(&smp, steps[s]) == SDPO_OK);
        im[s] = malloc(img_elems(p, 6) * sizeof(float));
        ck_assert(sdpo_eval_sample(&smp, 6, prompt, image, im[s], NULL, NULL, NULL) == SDPO_OK);
        sdpo_eval_sampler_free(&smp);
    }
    char path[160];
    snprintf(path, sizeof path, "%s/images.csv", out);
    sdpo_csv_table t;
    ck_assert_msg(sdpo_csv_table_read(path, &t) == SDPO_OK, "%s", sdpo_last_error());
    /* 1 model × 2 step counts × 2 prompts × 3 images × 2 rewards, in that nesting order */
    ck_assert_uint_eq(t.nrows, 24);
    const size_t per = img_elems(p, 1);
    for (size_t r = 0; r < t.nrows; r++) {
        const int s = (int)(r / 12), j = (int)(r % 12) / 2;
        ck_assert_str_eq(text(&t, r, "method"), "base");
        ck_assert_int_eq((int)cell(&t, r, "epoch"), 0);
        ck_assert_int_eq((int)cell(&t, r, "steps"), steps[s]);
        ck_assert_int_eq((int)cell(&t, r, "prompt_index"), prompt[j]);
        ck_assert_int_eq((int)cell(&t, r, "image_index"), image[j]);
        ck_assert_str_eq(text(&t, r, "prompt"), prompt[j] ? "a dog, sitting" : "a cat");
        ck_assert_str_eq(text(&t, r, "reward"), rewards[r % 2]);
        if (r % 2) continue;
        double sum = 0;
        for (size_t k = 0; k < per; k++) sum += im[s][(size_t)j * per + k];
        /* brightness is a float32 mean, written with 9 significant digits */
        CK_CLOSE(cell(&t, r, "score"), sum / (double)per, 1e-6, 0);
    }
    /* summary: mean, sample std, sem, n of each (method, epoch, reward, steps) group */
    sdpo_csv_table sm;
    snprintf(path, sizeof path, "%s/summary.csv", out);
    ck_assert(sdpo_csv_table_read(path, &sm) == SDPO_OK);
    ck_assert_uint_eq(sm.nrows, 4);
    for (size_t g = 0; g < sm.nrows; g++) {
        const int st = (int)cell(&sm, g, "steps");
        const char *rw = text(&sm, g, "reward");
        double v[6];
        int n = 0;
        for (size_t r = 0; r < t.nrows; r++)
            if ((int)cell(&t, r, "steps") == st && !strcmp(text(&t, r, "reward"), rw))
                v[n++] = cell(&t, r, "score");
        ck_assert_int_eq(n, 6);
        double mean = 0, ss = 0;
        for (int k = 0; k < n; k++) mean += v[k] / n;
        for (int k = 0; k < n; k++) ss += (v[k] - mean) * (v[k] - mean);
        const double sd = sqrt(ss / (n - 1));
        /* summary values are printed with 9 significant digits */
        CK_CLOSE(cell(&sm, g, "mean"), mean, 1e-8, 1e-8);
        CK_CLOSE(cell(&sm, g, "std"), sd, 1e-8, 1e-7);
        CK_CLOSE(cell(&sm, g, "sem"), sd / sqrt(n), 1e-8, 1e-7);
        ck_assert_int_eq((int)cell(&sm, g, "n"), 6);
        ck_assert(sd > 0);
    }
    sdpo_csv_table_free(&t);
    sdpo_csv_table_free(&sm);
    free(im[0]);
    free(im[1]);
    sdpo_policy_free(p);
    sdpo_eval_targets_free(&tg);
}
END_TEST

/* ---- (b) and (e) toy end to end ------------------------------------------------------------ */

static void train_toy(const char *cfg, const char *run) {
    sdpo_train_config *c = malloc(sizeof *c);
    ck_assert(c != NULL);
    sdpo_train_config_defaults(c);
    ck_assert_msg(sdpo_train_config_load_file(c, cfg) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert(sdpo_train_config_finalize(c) == SDPO_OK);
    sdpo_trainer *t;
    ck_assert_msg(sdpo_trainer_create(c, run, &t) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert_msg(sdpo_trainer_run(t, NULL, NULL) == SDPO_OK, "%s", sdpo_last_error());
    sdpo_trainer_free(t);
    free(c);
}

/* mean of summary rows (method, epoch, reward, steps); fails if absent */
static double summary_mean(const sdpo_csv_table *t, const char *method, int epoch,
                           const char *reward, int steps) {
    for (size_t r = 0; r < t->nrows; r++)
        if (!strcmp(text(t, r, "method"), method) && (int)cell(t, r, "epoch") == epoch &&
            !strcmp(text(t, r, "reward"), reward) && (int)cell(t, r, "steps") == steps)
            return cell(t, r, "mean");
    ck_abort_msg("summary lacks %s epoch %d %s %d steps", method, epoch, reward, steps);
    return NAN;
}

START_TEST(toy_run_end_to_end) {
    char prompts[128], cfg[128], run[128], out[128], out2[128], path[192];
    snprintf(prompts, sizeof prompts, "%s/prompts.txt", g_tmp);
    snprintf(cfg, sizeof cfg, "%s/toy.json", g_tmp);
    snprintf(run, sizeof run, "%s/run", g_tmp);
    snprintf(out, sizeof out, "%s/eval", g_tmp);
    snprintf(out2, sizeof out2, "%s/eval_base", g_tmp);
    write_file(prompts, "cat\ndog\nhorse\n");
    toy_config(cfg, prompts);
    train_toy(cfg, run);

    sdpo_eval_targets tg = {NULL, 0, 0};
    ck_assert_msg(sdpo_eval_targets_add_run(&tg, run, NULL, NULL, SDPO_EVAL_ALL_CHECKPOINTS) ==
                      SDPO_OK, "%s", sdpo_last_error());
    /* base (epoch 0) once, then epochs 3 and 6 */
    ck_assert_int_eq(tg.n, 3);
    ck_assert_str_eq(tg.items[0].method, "base");
    ck_assert_str_eq(tg.items[2].method, "sdpo");
    ck_assert_int_eq(tg.items[2].epoch, 6);
    /* the same run again under another name adds no second base; the same name is refused */
    ck_assert(sdpo_eval_targets_add_run(&tg, run, NULL, NULL, 0) != SDPO_OK);
    ck_assert_msg(strstr(sdpo_last_error(), "already used") != NULL, "%s", sdpo_last_error());
    ck_assert(sdpo_eval_targets_add_run(&tg, run, "again", NULL, 0) == SDPO_OK);
    ck_assert_int_eq(tg.n, 4);
    ck_assert_str_eq(tg.items[3].method, "again");
    /* a list of epochs: those, in the order given; epoch 0 is the base already there; an epoch
     * without a checkpoint is refused naming the ones the run has */
    {
        sdpo_eval_targets sel = {NULL, 0, 0};
        const int want[] = {6, 0, 3}, missing[] = {3, 4};
        ck_assert_msg(sdpo_eval_targets_add_run(&sel, run, NULL, want, 3) == SDPO_OK, "%s",
                      sdpo_last_error());
        ck_assert_int_eq(sel.n, 3);
        ck_assert_str_eq(sel.items[0].method, "base");
        ck_assert_int_eq(sel.items[1].epoch, 6);
        ck_assert_int_eq(sel.items[2].epoch, 3);
        ck_assert(sdpo_eval_targets_add_run(&sel, run, "other", missing, 2) != SDPO_OK);
        ck_assert_msg(strstr(sdpo_last_error(), "no checkpoint of epoch 4 (it has 0,3,6)"), "%s",
                      sdpo_last_error());
        sdpo_eval_targets_free(&sel);
    }

    const int steps[] = {1, 2, 4};
    const char *rewards[] = {"toy-mode"};
    sdpo_eval_config c = eval_config(out, prompts, steps, 3, rewards, 1);
    c.save_images = 1;
    ck_assert_msg(sdpo_eval_run(&c, &tg) == SDPO_OK, "%s", sdpo_last_error());
    sdpo_csv_table sm;
    snprintf(path, sizeof path, "%s/summary.csv", out);
    ck_assert(sdpo_csv_table_read(path, &sm) == SDPO_OK);
    /* (base 0, sdpo 3, sdpo 6, again 6) × 3 step counts */
    ck_assert_uint_eq(sm.nrows, 12);
    for (int s = 0; s < 3; s++) {
        /* the run's final checkpoint is loaded and used: 6 epochs of SDPO on toy-mode move the
         * policy toward the target mode, and the evaluation sees it on the same samples as the
         * base (measured gains at seed 42: ≥ 0.003 per step count; they are paired, so their
         * sign is not at the mercy of the 0.007 sem between images) */
        const double base = summary_mean(&sm, "base", 0, "toy-mode", steps[s]);
        const double last = summary_mean(&sm, "sdpo", 6, "toy-mode", steps[s]);
        ck_assert_msg(last > base, "%d steps: trained %g <= base %g", steps[s], last, base);
        ck_assert_float_eq(summary_mean(&sm, "again", 6, "toy-mode", steps[s]), last);
    }
    sdpo_csv_table_free(&sm);
    /* PNGs of the first prompt only, at the grid's path pattern */
    struct stat sb;
    snprintf(path, sizeof path, "%s/images/sdpo/epoch-000006/steps-4/p0_i2.png", out);
    ck_assert_msg(stat(path, &sb) == 0, "missing %s", path);
    snprintf(path, sizeof path, "%s/images/base/epoch-000000/steps-1/p1_i0.png", out);
    ck_assert_msg(stat(path, &sb) != 0, "%s saved beyond --save-images 1", path);

    /* (b) the epoch-0 checkpoint's rows are the base model's, given as the config alone */
    sdpo_eval_targets base = {NULL, 0, 0};
    ck_assert(sdpo_eval_targets_add_model(&base, cfg, NULL, NULL, -1) == SDPO_OK);
    ck_assert_int_eq(base.items[0].weights, SDPO_EVAL_WEIGHTS_NONE);
    c.out_dir = out2;
    ck_assert_msg(sdpo_eval_run(&c, &base) == SDPO_OK, "%s", sdpo_last_error());
    sdpo_csv_table a, b;
    snprintf(path, sizeof path, "%s/images.csv", out);
    ck_assert(sdpo_csv_table_read(path, &a) == SDPO_OK);
    snprintf(path, sizeof path, "%s/images.csv", out2);
    ck_assert(sdpo_csv_table_read(path, &b) == SDPO_OK);
    ck_assert_uint_eq(b.nrows, 27);
    for (size_t r = 0; r < b.nrows; r++) {
        ck_assert_str_eq(text(&a, r, "method"), "base");
        ck_assert_str_eq(text(&a, r, "score"), text(&b, r, "score"));
    }
    sdpo_csv_table_free(&a);
    sdpo_csv_table_free(&b);

    /* (e) the recorder: trajectory j is (prompt j mod 3, image j div 3); its last step's
     * reward is the evaluator's 4-step score of that sample, and every step's reward is the
     * brightness of decode(x̂) = clamp(x̂/2 + 0.5, 0, 1) (the toy decode) recomputed here;
     * D = 3·2·3 = 18 */
    sdpo_record_config rc;
    memset(&rc, 0, sizeof rc);
    snprintf(path, sizeof path, "%s/traj.safetensors", g_tmp);
    rc.out_path = path;
    rc.prompts_file = prompts;
    rc.T = 4;
    rc.N = 7;
    rc.sampler = c.sampler;
    rc.sampler.batch = 3;
    rc.threads = 1;
    rc.reward = "brightness";
    ck_assert_msg(sdpo_eval_record_trajectories(&rc, &tg.items[2]) == SDPO_OK, "%s",
                  sdpo_last_error());
    sdpo_safetensors st;
    ck_assert(sdpo_st_open(path, &st) == SDPO_OK);
    const sdpo_st_tensor *tx, *tr, *tf, *tp;
    ck_assert(sdpo_st_expect(&st, "xhat", 3, (const int64_t[]){7, 4, 18}, &tx) ==
              SDPO_OK);
    ck_assert(sdpo_st_expect(&st, "reward", 2, (const int64_t[]){7, 4}, &tr) == SDPO_OK);
    ck_assert(sdpo_st_expect(&st, "final_reward", 1, (const int64_t[]){7}, &tf) == SDPO_OK);
    ck_assert(sdpo_st_expect(&st, "logp", 2, (const int64_t[]){7, 4}, &tp) == SDPO_OK);
    float xhat[7 * 4 * 18], rew[28];
    ck_assert(sdpo_st_read_f32(&st, tx, xhat, 1) == SDPO_OK);
    ck_assert(sdpo_st_read_f32(&st, tr, rew, 1) == SDPO_OK);
    ck_assert_str_eq(sdpo_st_metadata(&st, "reward"), "brightness");
    sdpo_st_close(&st);
    for (int k = 0; k < 28; k++) {
        double sum = 0;
        for (int d = 0; d < 18; d++) sum += fmin(1.0, fmax(0.0, xhat[k * 18 + d] / 2.0 + 0.5));
        CK_CLOSE(rew[k], sum / 18, 1e-6, 0);
    }
    /* the evaluator with brightness at 4 steps, same seed: the same final x̂ → same score */
    const char *bright[] = {"brightness"};
    snprintf(out2, sizeof out2, "%s/eval_b", g_tmp);
    sdpo_eval_config cb = eval_config(out2, prompts, (const int[]){4}, 1, bright, 1);
    sdpo_eval_targets one = {NULL, 0, 0};
    ck_assert(sdpo_eval_targets_add_model(&one, cfg, tg.items[2].path, "sdpo", -1) == SDPO_OK);
    ck_assert_int_eq(one.items[0].epoch, 6);
    ck_assert_msg(sdpo_eval_run(&cb, &one) == SDPO_OK, "%s", sdpo_last_error());
    snprintf(path, sizeof path, "%s/images.csv", out2);
    ck_assert(sdpo_csv_table_read(path, &a) == SDPO_OK);
    for (int j = 0; j < 7; j++) {
        const size_t r = (size_t)(j % 3) * 3 + (size_t)(j / 3); /* prompt-major, then image */
        ck_assert_int_eq((int)cell(&a, r, "prompt_index"), j % 3);
        ck_assert_int_eq((int)cell(&a, r, "image_index"), j / 3);
        CK_CLOSE(cell(&a, r, "score"), rew[j * 4 + 3], 1e-8, 1e-7);
    }
    sdpo_csv_table_free(&a);
    sdpo_eval_targets_free(&one);
    sdpo_eval_targets_free(&base);
    sdpo_eval_targets_free(&tg);
}
END_TEST

START_TEST(bad_inputs_name_the_thing) {
    sdpo_eval_targets tg = {NULL, 0, 0};
    char missing[128];
    snprintf(missing, sizeof missing, "%s/no-such-run", g_tmp);
    ck_assert(sdpo_eval_targets_add_run(&tg, missing, NULL, NULL, 0) != SDPO_OK);
    ck_assert_msg(strstr(sdpo_last_error(), missing) != NULL, "%s", sdpo_last_error());
    ck_assert(sdpo_eval_targets_add_model(&tg, TINY, NULL, NULL, -1) == SDPO_OK);
    ck_assert(sdpo_eval_targets_add_model(&tg, TINY, NULL, NULL, -1) != SDPO_OK);
    ck_assert_msg(strstr(sdpo_last_error(), "twice") != NULL, "%s", sdpo_last_error());
    const int steps[] = {1};
    const char *rewards[] = {"toy-mode"};
    char out[128];
    snprintf(out, sizeof out, "%s/e", g_tmp);
    sdpo_eval_config c = eval_config(out, "data/prompts/dpok_unseen_prompts_4.txt", steps, 1,
                                     rewards, 1);
    /* toy-mode on the unet policy */
    ck_assert(sdpo_eval_run(&c, &tg) != SDPO_OK);
    ck_assert_msg(strstr(sdpo_last_error(), "toy-mode") != NULL, "%s", sdpo_last_error());
    const char *unknown[] = {"aesthetics"};
    c.rewards = unknown;
    ck_assert(sdpo_eval_run(&c, &tg) != SDPO_OK);
    ck_assert_msg(strstr(sdpo_last_error(), "'aesthetics'") != NULL, "%s", sdpo_last_error());
    c.rewards = (const char *[]){"brightness"};
    c.steps[0] = 1001;
    ck_assert(sdpo_eval_run(&c, &tg) != SDPO_OK);
    ck_assert_msg(strstr(sdpo_last_error(), "1001") != NULL, "%s", sdpo_last_error());
    struct stat sb;
    ck_assert_msg(stat(out, &sb) != 0, "a refused evaluation created %s", out);
    sdpo_eval_targets_free(&tg);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("eval_sampler");
    TCase *tc = tcase_create("sampler");
    tcase_set_timeout(tc, 120); /* the tiny UNet is slow under the sanitizers */
    tcase_add_test(tc, initial_noise_is_the_documented_philox_position);
    tcase_add_test(tc, same_x_T_for_every_step_count_toy);
    tcase_add_test(tc, same_x_T_for_every_step_count_unet);
    tcase_add_test(tc, toy_images_are_bitwise_independent_of_batch_size);
    tcase_add_test(tc, unet_images_match_across_batch_sizes_and_threads);
    tcase_add_test(tc, eta_zero_is_deterministic_ddim);
    suite_add_tcase(s, tc);
    TCase *te = tcase_create("evaluator");
    tcase_add_checked_fixture(te, setup, teardown);
    tcase_set_timeout(te, 120);
    tcase_add_test(te, rows_and_summary_by_hand);
    tcase_add_test(te, toy_run_end_to_end);
    tcase_add_test(te, bad_inputs_name_the_thing);
    suite_add_tcase(s, te);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

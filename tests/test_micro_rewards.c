/* tests/test_micro_rewards.c — the shipped micro reward models (data/micro/clip,
 * data/micro/quality; issue #8) through the reward registry, exactly as trainers and the
 * evaluator use them, on scenes no training stage ever drew; training's determinism; and
 * `sdpo train-micro-rewards` end to end on a tiny budget.
 *
 * Held-out data: the shipped weights record their training seed S (< 2^32, checked here); the
 * CLIP trained on world stream S and validated on S + 1000003, the quality head on S + 2000003
 * and S + 3000003. These tests draw from SDPO_MICRO_TEST_SEED = 0x7e57…, a stream none of them
 * can be, so every test scene is new to both models.
 *
 * Done-when criteria of issue #8, as thresholds:
 *   - micro-clip names the right animal (top-1 of exp(logit_scale)·cos against the 45 bare
 *     names, the RL prompts) for ≥ 90% of N_SCENES single-animal scenes;
 *   - micro-quality ranks the clean render above its sdpo_world_degrade'd copy for ≥ 90% of
 *     N_PAIRS pairs (default scene mix).
 * Both are measured numbers of a finished training run, not tolerances: the report states the
 * values measured (SDPO_TEST_VERBOSE=1 prints them). */
#include "micro/clip_train.h"
#include "micro/quality_train.h"
#include "nn/safetensors.h"
#include "rewards/reward.h"
#include "tests/check_util.h"
#include "world/world.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define N_SCENES 200
#define N_PAIRS 400
#define MIN_TOP1 0.90
#define MIN_PAIR_ACC 0.90

static sdpo_world *world;

static void open_world(void) { ck_assert_int_eq(sdpo_world_open(NULL, &world), SDPO_OK); }
static void close_world(void) { sdpo_world_close(world); }

/* [0, 1] images of scenes 0..n−1 of (seed, mix), as rewards take them. */
static float *images01(uint64_t seed, int n, const sdpo_world_mix *mix, sdpo_scene *scenes,
                       int degrade) {
    float *img = malloc((size_t)n * SDPO_WORLD_PIXELS * sizeof *img);
    ck_assert_ptr_nonnull(img);
    for (int k = 0; k < n; k++) {
        float *x = img + (size_t)k * SDPO_WORLD_PIXELS;
        ck_assert_int_eq(sdpo_world_sample(world, seed, (uint64_t)k, mix, &scenes[k], x), SDPO_OK);
        if (degrade) sdpo_world_degrade(x, seed, (uint64_t)k);
        for (int i = 0; i < SDPO_WORLD_PIXELS; i++) x[i] = x[i] * 0.5f + 0.5f;
    }
    return img;
}

/* The training seed recorded in a shipped weights file; it must keep every derived training
 * stream away from the test stream. */
static void check_held_out(const char *path) {
    sdpo_safetensors st;
    ck_assert_msg(sdpo_st_open(path, &st) == SDPO_OK, "%s: %s", path, sdpo_last_error());
    const char *seed = sdpo_st_metadata(&st, "sdpo_train_seed");
    ck_assert_msg(seed != NULL, "%s: no sdpo_train_seed metadata", path);
    unsigned long long s = strtoull(seed, NULL, 10);
    ck_assert_uint_lt(s, 1ull << 32);
    ck_assert_uint_lt(s + SDPO_MICRO_QUALITY_VAL_SEED_OFFSET, SDPO_MICRO_TEST_SEED);
    sdpo_st_close(&st);
}

START_TEST(test_micro_clip_names_the_animal) {
    check_held_out("data/micro/clip/model.safetensors");
    sdpo_reward *r;
    ck_assert_msg(sdpo_reward_create("micro-clip", NULL, &r) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert_ptr_nonnull(strstr(r->scale, "micro CLIP"));
    const int A = SDPO_WORLD_N_ANIMALS;
    const sdpo_world_mix singles = {{1.f, 0.f, 0.f, 0.f, 0.f}};
    sdpo_scene scenes[N_SCENES];
    float *img = images01(SDPO_MICRO_TEST_SEED, N_SCENES, &singles, scenes, 0);
    float *batch = malloc((size_t)A * SDPO_WORLD_PIXELS * sizeof *batch);
    const char *names[SDPO_WORLD_N_ANIMALS];
    for (int a = 0; a < A; a++) names[a] = sdpo_world_animal_name(a);
    int right = 0, seen[SDPO_WORLD_N_ANIMALS] = {0};
    for (int k = 0; k < N_SCENES; k++) {
        ck_assert_int_eq(scenes[k].kind, SDPO_SCENE_SINGLE);
        seen[scenes[k].animal[0]] = 1;
        /* the image against each of the 45 prompts: one reward call of 45 (image, prompt) pairs */
        for (int a = 0; a < A; a++)
            memcpy(batch + (size_t)a * SDPO_WORLD_PIXELS, img + (size_t)k * SDPO_WORLD_PIXELS,
                   SDPO_WORLD_PIXELS * sizeof *batch);
        float s[SDPO_WORLD_N_ANIMALS];
        ck_assert_int_eq(r->score(r, A, SDPO_WORLD_SIZE, SDPO_WORLD_SIZE, batch, names, s),
                         SDPO_OK);
        int best = 0;
        for (int a = 1; a < A; a++)
            if (s[a] > s[best]) best = a;
        right += best == scenes[k].animal[0];
        ck_assert(s[best] <= 100.0f + 1e-3f);   /* exp(logit_scale) ≤ 100, |cos| ≤ 1 */
    }
    int animals = 0;
    for (int a = 0; a < A; a++) animals += seen[a];
    ck_assert_int_ge(animals, 40);   /* the scenes cover (nearly) every animal */
    const double top1 = (double)right / N_SCENES;
    if (getenv("SDPO_TEST_VERBOSE"))
        printf("micro-clip: top-1 %.4f on %d held-out single-animal scenes (%d animals)\n", top1,
               N_SCENES, animals);
    ck_assert_msg(top1 >= MIN_TOP1, "micro-clip top-1 %.4f < %.2f", top1, MIN_TOP1);
    free(batch);
    free(img);
    sdpo_reward_free(r);
}
END_TEST

START_TEST(test_micro_quality_ranks_clean_first) {
    check_held_out("data/micro/quality/model.safetensors");
    check_held_out("data/micro/quality/aesthetic_head.safetensors");
    sdpo_reward *r;
    ck_assert_msg(sdpo_reward_create("micro-quality", NULL, &r) == SDPO_OK, "%s",
                  sdpo_last_error());
    ck_assert_ptr_nonnull(strstr(r->scale, "micro quality"));
    sdpo_scene scenes[N_PAIRS];
    float *clean = images01(SDPO_MICRO_TEST_SEED, N_PAIRS, NULL, scenes, 0);
    float *deg = images01(SDPO_MICRO_TEST_SEED, N_PAIRS, NULL, scenes, 1);
    float *sc = malloc(sizeof(float) * N_PAIRS), *sd = malloc(sizeof(float) * N_PAIRS);
    ck_assert_int_eq(r->score(r, N_PAIRS, SDPO_WORLD_SIZE, SDPO_WORLD_SIZE, clean, NULL, sc),
                     SDPO_OK);
    ck_assert_int_eq(r->score(r, N_PAIRS, SDPO_WORLD_SIZE, SDPO_WORLD_SIZE, deg, NULL, sd),
                     SDPO_OK);
    int right = 0, kinds[SDPO_SCENE_N_KINDS] = {0};
    for (int k = 0; k < N_PAIRS; k++) {
        right += sc[k] > sd[k];
        kinds[scenes[k].kind]++;
    }
    for (int kd = 0; kd < SDPO_SCENE_N_KINDS; kd++) ck_assert_int_gt(kinds[kd], 0);
    const double acc = (double)right / N_PAIRS;
    if (getenv("SDPO_TEST_VERBOSE"))
        printf("micro-quality: clean ranked first in %.4f of %d held-out pairs\n", acc, N_PAIRS);
    ck_assert_msg(acc >= MIN_PAIR_ACC, "micro-quality pair accuracy %.4f < %.2f", acc,
                  MIN_PAIR_ACC);
    free(clean), free(deg), free(sc), free(sd);
    sdpo_reward_free(r);
}
END_TEST

/* The registry: both names listed, default folders, an explicit folder, the PickScore scorer
 * reading the same folder (the micro CLIP is a CLIPModel folder, nothing more). */
START_TEST(test_registry) {
    ck_assert_ptr_nonnull(strstr(sdpo_reward_names(), "micro-clip"));
    ck_assert_ptr_nonnull(strstr(sdpo_reward_names(), "micro-quality"));
    sdpo_reward *a, *b;
    ck_assert_int_eq(sdpo_reward_create("micro-clip", "data/micro/clip", &a), SDPO_OK);
    ck_assert_int_eq(sdpo_reward_create("pickscore", "data/micro/clip", &b), SDPO_OK);
    sdpo_scene sc[2];
    float *img = images01(SDPO_MICRO_TEST_SEED + 1, 2, NULL, sc, 0);
    const char *prompts[2] = {"cat", "a photo of a dog"};
    float sa[2], sb[2];
    ck_assert_int_eq(a->score(a, 2, SDPO_WORLD_SIZE, SDPO_WORLD_SIZE, img, prompts, sa), SDPO_OK);
    ck_assert_int_eq(b->score(b, 2, SDPO_WORLD_SIZE, SDPO_WORLD_SIZE, img, prompts, sb), SDPO_OK);
    ck_assert(sa[0] == sb[0] && sa[1] == sb[1]);
    sdpo_reward_free(a);
    sdpo_reward_free(b);
    /* --official-scale: the raw cosine */
    sdpo_reward_options o = {.official_scale = 1};
    ck_assert_int_eq(sdpo_reward_create_with("micro-clip", NULL, &o, &a), SDPO_OK);
    ck_assert_int_eq(a->score(a, 2, SDPO_WORLD_SIZE, SDPO_WORLD_SIZE, img, prompts, sb), SDPO_OK);
    ck_assert(sb[0] >= -1.0f && sb[0] <= 1.0f && sa[0] != sb[0]);
    sdpo_reward_free(a);
    ck_assert_int_ne(sdpo_reward_create("micro-quality", "/nonexistent", &a), SDPO_OK);
    ck_assert_ptr_nonnull(strstr(sdpo_last_error(), "/nonexistent/config.json"));
    free(img);
}
END_TEST

/* Training is a function of its settings: two in-process runs of both stages on a tiny budget
 * give bit-identical weights (same seed, same thread count), and another seed other weights. */
static void tiny_training(uint64_t seed, nn_params *clip_out, nn_params *tower_out,
                          nn_params *head_out) {
    sdpo_micro_clip_config cc = sdpo_micro_clip_defaults();
    cc.seed = seed;
    cc.steps = 3;
    cc.warmup = 1;
    cc.batch = 16;
    cc.val_scenes = 10;
    cc.threads = 1;
    sdpo_micro_clip m;
    ck_assert_msg(sdpo_micro_clip_init(&m, &cc, "data/micro/clip") == SDPO_OK, "%s",
                  sdpo_last_error());
    sdpo_micro_clip_result cr;
    ck_assert_int_eq(sdpo_micro_clip_train(&m, world, NULL, NULL, NULL, &cr), SDPO_OK);
    ck_assert_int_eq(cr.steps, 3);
    sdpo_micro_quality_config qc = sdpo_micro_quality_defaults(m.vc.embed_dim);
    qc.seed = seed;
    qc.steps = 2;
    qc.warmup = 1;
    qc.batch = 8;
    qc.val_pairs = 8;
    sdpo_micro_quality q;
    ck_assert_int_eq(sdpo_micro_quality_init(&q, &qc, &m.vc, &m.params), SDPO_OK);
    sdpo_micro_quality_result qr;
    ck_assert_int_eq(sdpo_micro_quality_train(&q, world, NULL, NULL, NULL, &qr), SDPO_OK);
    /* keep copies of the three slabs (registries hold them; move them out) */
    *clip_out = m.params;
    *tower_out = q.tower;
    *head_out = q.head_params;
    nn_params_init(&m.params);
    nn_params_init(&q.tower);
    nn_params_init(&q.head_params);
    sdpo_micro_quality_free(&q);
    sdpo_micro_clip_free(&m);
}

START_TEST(test_training_deterministic) {
    nn_params a[3], b[3], c[3];
    tiny_training(5, &a[0], &a[1], &a[2]);
    tiny_training(5, &b[0], &b[1], &b[2]);
    tiny_training(6, &c[0], &c[1], &c[2]);
    for (int k = 0; k < 3; k++) {
        ck_assert_uint_eq(a[k].n_floats, b[k].n_floats);
        ck_assert_msg(!memcmp(a[k].params, b[k].params, a[k].n_floats * sizeof(float)),
                      "registry %d differs between identical runs", k);
        ck_assert_msg(memcmp(a[k].params, c[k].params, a[k].n_floats * sizeof(float)),
                      "registry %d does not depend on the seed", k);
        nn_params_free(&a[k]);
        nn_params_free(&b[k]);
        nn_params_free(&c[k]);
    }
}
END_TEST

/* A time budget: the step count is fixed after the timed warmup steps (here the budget is
 * spent by then, so exactly those) and reported. */
START_TEST(test_time_budget) {
    sdpo_micro_clip_config cc = sdpo_micro_clip_defaults();
    cc.steps = 0;
    cc.minutes = 1e-6;
    cc.warmup = 10;
    cc.batch = 8;
    cc.val_scenes = 5;
    cc.threads = 1;
    sdpo_micro_clip m;
    ck_assert_int_eq(sdpo_micro_clip_init(&m, &cc, "data/micro/clip"), SDPO_OK);
    sdpo_micro_clip_result cr;
    ck_assert_int_eq(sdpo_micro_clip_train(&m, world, NULL, NULL, NULL, &cr), SDPO_OK);
    ck_assert_int_eq(cr.steps, 10);
    sdpo_micro_clip_free(&m);
    cc.warmup = 9;   /* the budget is timed inside the warmup: fewer warmup steps are refused */
    ck_assert_int_eq(sdpo_micro_clip_init(&m, &cc, "data/micro/clip"), SDPO_ERR_ARG);
}
END_TEST

/* `sdpo train-micro-rewards` on a tiny budget: both folders written and loadable through the
 * registry, logs with metadata, no temporary folder left, usage errors. */
static int run(const char *cmd) {
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void read_file(const char *path, char **data, size_t *n) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s missing", path);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    *data = malloc(*n + 1);
    ck_assert_uint_eq(fread(*data, 1, *n, f), *n);
    (*data)[*n] = 0;
    fclose(f);
}

START_TEST(test_cli_tiny_run) {
    const char *bin = getenv("SDPO_BIN");
    ck_assert_msg(bin != NULL, "SDPO_BIN is not set (run through ctest)");
    char dir[] = "/tmp/sdpo_micro_rewards_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char cmd[1024], path[512];
    const char *tiny = "--steps 2 --threads 1 --quality-steps 2 --quiet";
    snprintf(cmd, sizeof cmd, "%s train-micro-rewards --out %s/a --seed 3 %s > /dev/null", bin, dir,
             tiny);
    ck_assert_int_eq(run(cmd), 0);
    static const char *const files[] = {"clip/model.safetensors", "clip/config.json",
                                        "clip/vocab.json", "clip/merges.txt",
                                        "clip/tokenizer_config.json", "clip/train_log.csv",
                                        "quality/model.safetensors", "quality/config.json",
                                        "quality/aesthetic_head.safetensors",
                                        "quality/train_log.csv"};
    struct stat sb;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/a/%s", dir, files[i]);
        ck_assert_msg(stat(path, &sb) == 0 && sb.st_size > 0, "%s missing", path);
    }
    /* nothing but the two folders: the temporary ones were renamed away */
    snprintf(cmd, sizeof cmd, "test $(ls -A %s/a | wc -l) -eq 2", dir);
    ck_assert_int_eq(run(cmd), 0);
    snprintf(path, sizeof path, "%s/a/clip/train_log.csv", dir);
    char *log;
    size_t n;
    read_file(path, &log, &n);
    ck_assert_ptr_nonnull(strstr(log, "# command: sdpo train-micro-rewards --out"));
    ck_assert_ptr_nonnull(strstr(log, "\nstep,loss,lr,logit_scale,val_top1,elapsed_s\n2,"));
    ck_assert_ptr_nonnull(strstr(log, "# result: 2 steps"));
    free(log);
    snprintf(path, sizeof path, "%s/a/quality/train_log.csv", dir);
    read_file(path, &log, &n);
    ck_assert_ptr_nonnull(strstr(log, "\nstep,loss,lr_tower,val_pair_acc,elapsed_s\n"));
    free(log);
    /* the folders load through the registry */
    sdpo_reward *r;
    snprintf(path, sizeof path, "%s/a/clip", dir);
    ck_assert_msg(sdpo_reward_create("micro-clip", path, &r) == SDPO_OK, "%s", sdpo_last_error());
    sdpo_reward_free(r);
    snprintf(path, sizeof path, "%s/a/quality", dir);
    ck_assert_msg(sdpo_reward_create("micro-quality", path, &r) == SDPO_OK, "%s",
                  sdpo_last_error());
    sdpo_reward_free(r);
    /* usage errors */
    snprintf(cmd, sizeof cmd, "%s train-micro-rewards --steps 2 2> /dev/null", bin);
    ck_assert_int_eq(run(cmd), 2);
    snprintf(cmd, sizeof cmd, "%s train-micro-rewards --out %s/c --steps 2 --minutes 1 2> /dev/null",
             bin, dir);
    ck_assert_int_eq(run(cmd), 2);
    snprintf(cmd, sizeof cmd, "%s train-micro-rewards --out %s/c --seed -1 2> /dev/null", bin, dir);
    ck_assert_int_eq(run(cmd), 2);
    snprintf(cmd, sizeof cmd, "%s train-micro-rewards --out %s/c --steps 2 --tokenizer /nonexistent "
             "--quiet > /dev/null 2> /dev/null", bin, dir);
    ck_assert_int_eq(run(cmd), 1);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(run(cmd), 0);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("micro_rewards");
    TCase *tc = tcase_create("shipped");
    tcase_add_unchecked_fixture(tc, open_world, close_world);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_micro_clip_names_the_animal);
    tcase_add_test(tc, test_micro_quality_ranks_clean_first);
    tcase_add_test(tc, test_registry);
    tcase_add_test(tc, test_training_deterministic);
    tcase_add_test(tc, test_time_budget);
    tcase_add_test(tc, test_cli_tiny_run);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

/* tests/test_train_config.c — the training config: defaults, JSON files and --set overrides,
 * refusal of unknown keys and bad values with messages naming the key (and file), per-method
 * defaults and key applicability, cross-key checks, the canonical JSON round trip, the
 * generated documentation of every key, and that every shipped config under configs/
 * validates. */
#include "tests/check_util.h"
#include "trainers/train_config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    ck_assert(f != NULL);
    fputs(text, f);
    fclose(f);
}

/* Loads `json` from a temp file into defaults; returns the status and the path used. */
static sdpo_status load_json(sdpo_train_config *c, const char *json, char path[64]) {
    ck_write_temp(path, json, strlen(json));
    sdpo_train_config_defaults(c);
    return sdpo_train_config_load_file(c, path);
}

/* The last error contains every fragment. */
static void expect_error(const char *frag1, const char *frag2) {
    const char *e = sdpo_last_error();
    ck_assert_msg(strstr(e, frag1) != NULL, "error '%s' lacks '%s'", e, frag1);
    if (frag2) ck_assert_msg(strstr(e, frag2) != NULL, "error '%s' lacks '%s'", e, frag2);
}

START_TEST(defaults_are_the_official_values) {
    sdpo_train_config c;
    sdpo_train_config_defaults(&c);
    ck_assert_int_eq(sdpo_train_config_finalize(&c), SDPO_OK);
    ck_assert_int_eq(c.method, SDPO_METHOD_SDPO);
    ck_assert_int_eq(c.seed, 42);
    ck_assert_int_eq(c.num_steps, 50);
    ck_assert(c.learning_rate == 1e-4 && c.adam_beta1 == 0.9 && c.adam_beta2 == 0.999);
    ck_assert(c.adam_epsilon == 1e-8 && c.adam_weight_decay == 1e-4 && c.max_grad_norm == 1.0);
    ck_assert(c.clip_range == 1e-4 && c.adv_clip_max == 5 && c.log_scale == 1 && c.lam == 0.99);
    ck_assert(c.gamma == 0.99 && c.eta == 1.0 && c.guidance_scale == 1.0);
    ck_assert_int_eq(c.buffer_size, 32);
    ck_assert_int_eq(c.min_count, 16);
    ck_assert_int_eq(c.norm_mode, SDPO_NORM_PER_STEP_PROMPT);
    ck_assert_int_eq(c.dense_strategy, SDPO_DENSE_SIM3_ADAPTIVE);
    ck_assert_int_eq(c.anchor_all_steps, 1); /* official anchor range */
    ck_assert_int_eq(c.update_schedule, SDPO_UPDATE_SHUFFLED);
    ck_assert_int_eq(c.shared_init_noise, 1);
}
END_TEST

START_TEST(method_defaults) {
    sdpo_train_config c;
    sdpo_train_config_defaults(&c);
    ck_assert_int_eq(sdpo_train_config_set(&c, "train.method=rebel"), SDPO_OK);
    ck_assert_int_eq(sdpo_train_config_finalize(&c), SDPO_OK);
    ck_assert(c.max_grad_norm == 0.0);          /* RLCM never clips */
    ck_assert_int_eq(c.shared_init_noise, 0);   /* RLCM samples independent pairs */
    ck_assert_int_eq(c.norm_mode, SDPO_NORM_PER_PROMPT);
    ck_assert(c.learning_rate == 3e-4);
    sdpo_train_config_defaults(&c);
    ck_assert_int_eq(sdpo_train_config_set(&c, "train.method=rebel"), SDPO_OK);
    ck_assert_int_eq(sdpo_train_config_set(&c, "train.max_grad_norm=2"), SDPO_OK);
    ck_assert_int_eq(sdpo_train_config_finalize(&c), SDPO_OK);
    ck_assert(c.max_grad_norm == 2.0);          /* explicit values win over method defaults */
}
END_TEST

START_TEST(unknown_keys_name_key_and_file) {
    sdpo_train_config c;
    char path[64];
    ck_assert_int_eq(load_json(&c, "{\"train\": {\"lr\": 1e-4}}", path), SDPO_ERR_ARG);
    expect_error("unknown key 'train.lr'", path);
    ck_assert_int_eq(load_json(&c, "{\"trian\": {\"method\": \"sdpo\"}}", path), SDPO_ERR_ARG);
    expect_error("unknown key 'trian'", path);
    ck_assert_int_eq(load_json(&c, "{\"train\": 3}", path), SDPO_ERR_ARG);
    expect_error("key 'train' must be an object", path);
    ck_assert_int_eq(load_json(&c, "{\"train\": {\"method\": {\"x\": 1}}}", path), SDPO_ERR_ARG);
    expect_error("'train.method'", path);
    ck_assert_int_eq(load_json(&c, "{\"train\": ", path), SDPO_ERR_ARG);
    expect_error(path, NULL);
    sdpo_train_config_defaults(&c);
    ck_assert_int_eq(sdpo_train_config_set(&c, "sample.num_stepz=3"), SDPO_ERR_ARG);
    expect_error("unknown key 'sample.num_stepz'", "--set");
    ck_assert_int_eq(sdpo_train_config_set(&c, "sample.num_steps"), SDPO_ERR_ARG);
    expect_error("--set", "key=value");
}
END_TEST

START_TEST(bad_values_name_key) {
    sdpo_train_config c;
    char path[64];
    ck_assert_int_eq(load_json(&c, "{\"sample\": {\"num_steps\": 0}}", path), SDPO_ERR_ARG);
    expect_error("key 'sample.num_steps' = 0 is out of range", path);
    ck_assert_int_eq(load_json(&c, "{\"sample\": {\"num_steps\": 2.5}}", path), SDPO_ERR_ARG);
    expect_error("'sample.num_steps'", "integer");
    ck_assert_int_eq(load_json(&c, "{\"train\": {\"learning_rate\": \"fast\"}}", path), SDPO_ERR_ARG);
    expect_error("'train.learning_rate': expected a number, got a string", path);
    ck_assert_int_eq(load_json(&c, "{\"train\": {\"method\": \"ppo\"}}", path), SDPO_ERR_ARG);
    expect_error("key 'train.method' = 'ppo' is not one of: sdpo, ddpo, rebel, d3po", path);
    ck_assert_int_eq(load_json(&c, "{\"sample\": {\"shared_init_noise\": 1}}", path), SDPO_ERR_ARG);
    expect_error("'sample.shared_init_noise': expected true or false", path);
    ck_assert_int_eq(load_json(&c, "{\"reward\": {\"name\": \"beauty\"}}", path), SDPO_ERR_ARG);
    expect_error("key 'reward.name' = 'beauty' is not a known reward", path);
    ck_assert_int_eq(load_json(&c, "{\"sample\": {\"num_steps_cycle\": [1, 0]}}", path), SDPO_ERR_ARG);
    expect_error("'sample.num_steps_cycle': entry 1", path);
    sdpo_train_config_defaults(&c);
    ck_assert_int_eq(sdpo_train_config_set(&c, "sample.eta=0"), SDPO_ERR_ARG);
    expect_error("key 'sample.eta' = 0 is out of range (0, 10]", "--set");
    ck_assert_int_eq(sdpo_train_config_set(&c, "train.lam=1.5"), SDPO_ERR_ARG);
    expect_error("'train.lam'", NULL);
    ck_assert_int_eq(sdpo_train_config_set(&c, "train.gamma=nan"), SDPO_ERR_ARG);
    expect_error("'train.gamma'", NULL);
    ck_assert_int_eq(sdpo_train_config_set(&c, "train.learning_rate=1e-4x"), SDPO_ERR_ARG);
    expect_error("'train.learning_rate': '1e-4x' is not a number", NULL);
    ck_assert_int_eq(sdpo_train_config_set(&c, "train.shuffle_batch=yes"), SDPO_ERR_ARG);
    expect_error("'train.shuffle_batch'", "true or false");
    ck_assert_int_eq(sdpo_train_config_set(&c, "reward.dense_strategy=sim4"), SDPO_ERR_ARG);
    expect_error("'reward.dense_strategy' = 'sim4' is not one of", "sim3-adaptive");
    ck_assert_int_eq(sdpo_train_config_set(&c, "sample.num_steps_cycle=1,x"), SDPO_ERR_ARG);
    expect_error("'sample.num_steps_cycle'", NULL);
}
END_TEST

START_TEST(keys_a_method_does_not_use) {
    sdpo_train_config c;
    char path[64];
    ck_assert_int_eq(load_json(&c, "{\"train\": {\"method\": \"ddpo\", \"lam\": 0.9}}", path),
                     SDPO_OK);
    ck_assert_int_eq(sdpo_train_config_finalize(&c), SDPO_ERR_ARG);
    expect_error("key 'train.lam' is not used by method ddpo (only by: sdpo)", path);
    sdpo_train_config_defaults(&c);
    ck_assert_int_eq(sdpo_train_config_set(&c, "train.d3po_beta=0.2"), SDPO_OK);
    ck_assert_int_eq(sdpo_train_config_finalize(&c), SDPO_ERR_ARG);
    expect_error("--set: key 'train.d3po_beta' is not used by method sdpo", NULL);
    sdpo_train_config_defaults(&c);
    ck_assert_int_eq(sdpo_train_config_set(&c, "model.dir=x"), SDPO_OK);
    ck_assert_int_eq(sdpo_train_config_finalize(&c), SDPO_ERR_ARG);
    expect_error("key 'model.dir' does not apply to model.type toy", NULL);
    sdpo_train_config_defaults(&c);
    ck_assert_int_eq(sdpo_train_config_set(&c, "sample.num_steps_cycle=1,2"), SDPO_OK);
    ck_assert_int_eq(sdpo_train_config_finalize(&c), SDPO_ERR_ARG);
    expect_error("'sample.num_steps_cycle' is not used by method sdpo", NULL);
}
END_TEST

START_TEST(cross_key_checks) {
    sdpo_train_config c;
    sdpo_train_config_defaults(&c);
    sdpo_train_config_set(&c, "train.batch_size=3");
    ck_assert_int_eq(sdpo_train_config_finalize(&c), SDPO_ERR_ARG);
    expect_error("key 'train.batch_size' = 3 does not divide the 32 prompts per epoch", NULL);
    sdpo_train_config_defaults(&c);
    sdpo_train_config_set(&c, "sample.num_steps=10");
    sdpo_train_config_set(&c, "train.gradient_accumulation_steps=7");
    ck_assert_int_eq(sdpo_train_config_finalize(&c), SDPO_ERR_ARG);
    expect_error("'train.gradient_accumulation_steps' = 7 does not divide the 320", NULL);
    sdpo_train_config_defaults(&c);
    sdpo_train_config_set(&c, "sample.num_steps=4");
    sdpo_train_config_set(&c, "train.timestep_fraction=0.2");
    ck_assert_int_eq(sdpo_train_config_finalize(&c), SDPO_ERR_ARG);
    expect_error("'train.timestep_fraction'", "trains no step");
    sdpo_train_config_defaults(&c);
    sdpo_train_config_set(&c, "model.type=unet");
    ck_assert_int_eq(sdpo_train_config_finalize(&c), SDPO_ERR_ARG);
    expect_error("'model.dir' is required", NULL);
    sdpo_train_config_defaults(&c);
    sdpo_train_config_set(&c, "toy.target_mode=9");
    ck_assert_int_eq(sdpo_train_config_finalize(&c), SDPO_ERR_ARG);
    expect_error("'toy.target_mode' = 9 must be below toy.modes", NULL);
}
END_TEST

START_TEST(json_round_trip_and_hash) {
    sdpo_train_config a, b;
    sdpo_train_config_defaults(&a);
    const char *sets[] = {"train.method=ddpo", "train.learning_rate=0.1234567890123",
                          "sample.num_steps_cycle=1,2,50", "reward.final_image=xhat",
                          "run.num_epochs=7"};
    for (int i = 0; i < 5; i++) ck_assert_int_eq(sdpo_train_config_set(&a, sets[i]), SDPO_OK);
    ck_assert_int_eq(sdpo_train_config_finalize(&a), SDPO_OK);
    char *ja, *jb, path[64];
    ck_assert_int_eq(sdpo_train_config_to_json(&a, &ja), SDPO_OK);
    ck_assert_msg(!strstr(ja, "lam"), "an SDPO-only key is serialised for DDPO");
    ck_assert_int_eq(load_json(&b, ja, path), SDPO_OK);
    ck_assert_int_eq(sdpo_train_config_finalize(&b), SDPO_OK);
    ck_assert_int_eq(sdpo_train_config_to_json(&b, &jb), SDPO_OK);
    ck_assert_str_eq(ja, jb);
    ck_assert(b.learning_rate == 0.1234567890123);
    ck_assert_int_eq(b.n_num_steps_cycle, 3);
    ck_assert_int_eq(b.num_steps_cycle[2], 50);
    /* the hash ignores the keys a resume may change, and nothing else */
    const uint64_t h = sdpo_train_config_hash(&a);
    ck_assert_int_eq(sdpo_train_config_set(&b, "run.num_epochs=70"), SDPO_OK);
    ck_assert(sdpo_train_config_hash(&b) == h);
    ck_assert_int_eq(sdpo_train_config_set(&b, "run.seed=43"), SDPO_OK);
    ck_assert(sdpo_train_config_hash(&b) != h);
    ck_assert(sdpo_train_config_key_is_resumable("run.num_epochs"));
    ck_assert(!sdpo_train_config_key_is_resumable("run.seed"));
    free(ja);
    free(jb);
}
END_TEST

/* Every key is documented, and every documented key is accepted with its default value and
 * listed in the serialised defaults of a method/model it applies to. */
START_TEST(every_key_documented_and_settable) {
    char buf[1024];
    const int n = sdpo_train_config_num_keys();
    ck_assert_int_ge(n, 50);
    for (int k = 0; k < n; k++) {
        sdpo_train_key_doc d;
        sdpo_train_config_key_doc(k, &d, buf, sizeof buf);
        ck_assert_msg(strlen(d.doc) > 20, "key %s has no documentation", d.name);
        ck_assert_msg(d.type[0] && d.defaults[0] && d.applies[0], "key %s: incomplete doc", d.name);
        sdpo_train_config c;
        sdpo_train_config_defaults(&c);
        char set[512];
        snprintf(set, sizeof set, "%s=%s", d.name,
                 strcmp(d.defaults, "\"\"") ? d.defaults : "");
        set[strcspn(set, " ")] = '\0'; /* "1 (rebel: 0)" → "1" */
        ck_assert_msg(sdpo_train_config_set(&c, set) == SDPO_OK, "%s: %s", set, sdpo_last_error());
    }
}
END_TEST

START_TEST(ablation_values_are_accepted) {
    const char *values[] = {
        "reward.dense_strategy=copy", "reward.dense_strategy=interp2", "reward.dense_strategy=sim2",
        "reward.dense_strategy=sim3-fixed", "reward.dense_strategy=sim3-random",
        "reward.dense_strategy=sim3-adaptive", "reward.dense_strategy=full",
        "reward.anchor_range=paper", "train.gamma=0.9", "train.gamma=1", "train.returns=none",
        "stats.mode=per-prompt", "stats.mode=global", "train.lam=0.9", "train.lam=1",
        "train.weighting=reverse", "train.weighting=uniform", "train.update_schedule=sequential",
        "train.update_schedule=accumulated"};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        sdpo_train_config c;
        sdpo_train_config_defaults(&c);
        ck_assert_msg(sdpo_train_config_set(&c, values[i]) == SDPO_OK, "%s", sdpo_last_error());
        ck_assert_msg(sdpo_train_config_finalize(&c) == SDPO_OK, "%s: %s", values[i],
                      sdpo_last_error());
    }
    const char *methods[] = {"ddpo", "rebel", "d3po"};
    const char *steps[] = {"sample.num_steps=1", "sample.num_steps=2",
                           "sample.num_steps_cycle=1,2,4,8,16,50"};
    for (int m = 0; m < 3; m++)
        for (int s = 0; s < 3; s++) {
            sdpo_train_config c;
            char set[64];
            sdpo_train_config_defaults(&c);
            snprintf(set, sizeof set, "train.method=%s", methods[m]);
            ck_assert_int_eq(sdpo_train_config_set(&c, set), SDPO_OK);
            ck_assert_int_eq(sdpo_train_config_set(&c, steps[s]), SDPO_OK);
            ck_assert_msg(sdpo_train_config_finalize(&c) == SDPO_OK, "%s %s: %s", set, steps[s],
                          sdpo_last_error());
        }
}
END_TEST

/* Every configs/{toy,tiny,full} JSON file validates (the full ones name models and rewards that
 * need weights; validation must not need them). */
START_TEST(shipped_configs_validate) {
    const char *dirs[] = {"configs/toy", "configs/tiny", "configs/full"};
    int count = 0;
    for (int i = 0; i < 3; i++) {
        DIR *d = opendir(dirs[i]);
        ck_assert_msg(d != NULL, "%s missing (tests run from the repo root)", dirs[i]);
        for (struct dirent *e; (e = readdir(d));) {
            const size_t len = strlen(e->d_name);
            if (len < 5 || strcmp(e->d_name + len - 5, ".json")) continue;
            char path[512];
            snprintf(path, sizeof path, "%s/%s", dirs[i], e->d_name);
            sdpo_train_config c;
            sdpo_train_config_defaults(&c);
            ck_assert_msg(sdpo_train_config_load_file(&c, path) == SDPO_OK &&
                              sdpo_train_config_finalize(&c) == SDPO_OK,
                          "%s", sdpo_last_error());
            count++;
        }
        closedir(d);
    }
    ck_assert_int_ge(count, 4 + 4 + 16);
}
END_TEST

START_TEST(later_sources_override) {
    char p1[64], p2[64];
    ck_write_temp(p1, "{\"train\": {\"learning_rate\": 0.5}}", 33);
    ck_write_temp(p2, "{\"train\": {\"learning_rate\": 0.25}}", 34);
    sdpo_train_config c;
    sdpo_train_config_defaults(&c);
    ck_assert_int_eq(sdpo_train_config_load_file(&c, p1), SDPO_OK);
    ck_assert_int_eq(sdpo_train_config_load_file(&c, p2), SDPO_OK);
    ck_assert(c.learning_rate == 0.25);
    ck_assert_int_eq(sdpo_train_config_set(&c, "train.learning_rate=0.125"), SDPO_OK);
    ck_assert(c.learning_rate == 0.125);
    write_file(p1, "{\"train\": {\"learning_rate\": 1}, \"train\": {\"learning_rate\": 2}}");
    sdpo_train_config_defaults(&c);
    ck_assert_int_eq(sdpo_train_config_load_file(&c, p1), SDPO_ERR_ARG); /* duplicate key */
    expect_error(p1, NULL);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("train_config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, defaults_are_the_official_values);
    tcase_add_test(tc, method_defaults);
    tcase_add_test(tc, unknown_keys_name_key_and_file);
    tcase_add_test(tc, bad_values_name_key);
    tcase_add_test(tc, keys_a_method_does_not_use);
    tcase_add_test(tc, cross_key_checks);
    tcase_add_test(tc, json_round_trip_and_hash);
    tcase_add_test(tc, every_key_documented_and_settable);
    tcase_add_test(tc, ablation_values_are_accepted);
    tcase_add_test(tc, shipped_configs_validate);
    tcase_add_test(tc, later_sources_override);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

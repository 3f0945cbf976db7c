/* tests/test_claims.c — eval/claims.h on hand-written tables (tests/data/eval_fixtures): a pass
 * case, a fail case and missing data ('not run', never pass) for every claim type
 * (Table 1, Fig. 4/8–11 summary, Table 3, Fig. 5/6 ablations). */
#include "eval/claims.h"
#include "tests/check_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FX "tests/data/eval_fixtures/"

static const sdpo_claim *find(const sdpo_claim_list *l, const char *needle) {
    for (size_t i = 0; i < l->n; i++)
        if (strstr(l->items[i].claim, needle)) return &l->items[i];
    ck_abort_msg("no claim containing '%s'", needle);
    return NULL;
}

static int count(const sdpo_claim_list *l, const char *evidence, sdpo_verdict v) {
    int n = 0;
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->items[i].evidence, evidence) && l->items[i].verdict == v) n++;
    return n;
}

START_TEST(pass_case) {
    const char *sums[] = {FX "summary.csv"};
    sdpo_claims_inputs in = {FX "table1_pass.csv", sums, 1, FX "table3_pass.csv", NULL, 0};
    sdpo_claim_list l;
    ck_assert_msg(sdpo_claims_check(&in, &l) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert_int_eq(count(&l, "Table 1", SDPO_VERDICT_PASS), 16); /* 4 rewards x 4 step counts */
    ck_assert_int_eq(count(&l, "Table 3", SDPO_VERDICT_PASS), 3);
    ck_assert_int_eq(find(&l, "at 1 step ")->verdict, SDPO_VERDICT_PASS);
    ck_assert_int_eq(find(&l, "at 16 steps")->verdict, SDPO_VERDICT_PASS);
    /* the fixture's DDPO beats SDPO at 8 steps on the final checkpoint (epoch 20) */
    ck_assert_int_eq(find(&l, "at 8 steps")->verdict, SDPO_VERDICT_FAIL);
    ck_assert(strstr(find(&l, "at 8 steps")->ours, "ddpo@20 -0.01"));
    char dir[] = "/tmp/sdpo_claims_XXXXXX", path[128];
    ck_assert(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/claims.csv", dir);
    ck_assert(sdpo_claims_write_csv(path, &l) == SDPO_OK);
    FILE *fp = fopen(path, "r");
    char line[256];
    ck_assert(fgets(line, sizeof line, fp));
    ck_assert_str_eq(line, "claim,evidence,ours,verdict\n");
    fclose(fp);
    unlink(path);
    rmdir(dir);
    sdpo_claim_list_free(&l);
}
END_TEST

START_TEST(fail_case) {
    sdpo_claims_inputs in = {FX "table1_fail.csv", NULL, 0, FX "table3_fail.csv", NULL, 0};
    sdpo_claim_list l;
    ck_assert_msg(sdpo_claims_check(&in, &l) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert_int_eq(find(&l, "Table 1 HPSv2 16-step")->verdict, SDPO_VERDICT_FAIL);
    ck_assert_int_eq(count(&l, "Table 1", SDPO_VERDICT_PASS), 15);
    ck_assert_int_eq(find(&l, "lowest L1")->verdict, SDPO_VERDICT_FAIL);
    ck_assert_int_eq(find(&l, "highest cosine")->verdict, SDPO_VERDICT_PASS);
    sdpo_claim_list_free(&l);
}
END_TEST

START_TEST(no_data_is_not_run_for_every_claim) {
    sdpo_claims_inputs in = {0};
    sdpo_claim_list l;
    ck_assert(sdpo_claims_check(&in, &l) == SDPO_OK);
    ck_assert_uint_eq(l.n, 1 + 5 + 3 + 5);
    for (size_t i = 0; i < l.n; i++)
        ck_assert_msg(l.items[i].verdict == SDPO_VERDICT_NOT_RUN, "%s: %s", l.items[i].claim,
                      sdpo_verdict_name(l.items[i].verdict));
    sdpo_claim_list_free(&l);
}
END_TEST

START_TEST(partial_data_is_not_run) {
    /* a Table 1 column without SDPO, a summary without 2-step rows or without baselines,
     * a Table 3 without sim3-adaptive: each such claim is 'not run' */
    static const char t1[] = "method,reward,steps,score\nDDPO,ImageReward,1,1.0\nSDPO,ImageReward,4,2.0\n";
    static const char sm[] = "# x\nmethod,epoch,reward,steps,mean,std,sem,n\nsdpo,5,r,1,0.5,0,0,1\nddpo,5,r,1,0.4,0,0,1\n"
                             "sdpo,5,r,4,0.5,0,0,1\nbase,0,r,4,0.9,0,0,1\n";
    static const char t3[] = "strategy,cosine_similarity,l1_distance,l2_distance\ncopy,0,1,1\nfull,1,0,0\n";
    char p1[64], p2[64], p3[64];
    ck_write_temp(p1, t1, strlen(t1));
    ck_write_temp(p2, sm, strlen(sm));
    ck_write_temp(p3, t3, strlen(t3));
    const char *sums[] = {p2};
    sdpo_claims_inputs in = {p1, sums, 1, p3, NULL, 0};
    sdpo_claim_list l;
    ck_assert_msg(sdpo_claims_check(&in, &l) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert_int_eq(find(&l, "Table 1 ImageReward 1-step")->verdict, SDPO_VERDICT_NOT_RUN);
    ck_assert_int_eq(find(&l, "Table 1 ImageReward 4-step")->verdict, SDPO_VERDICT_NOT_RUN); /* SDPO alone */
    ck_assert_int_eq(find(&l, "r: SDPO above every baseline at 1 step ")->verdict, SDPO_VERDICT_PASS);
    ck_assert_int_eq(find(&l, "at 2 steps")->verdict, SDPO_VERDICT_NOT_RUN);
    ck_assert_int_eq(find(&l, "at 4 steps")->verdict, SDPO_VERDICT_NOT_RUN); /* base is no baseline */
    ck_assert_int_eq(count(&l, "Table 3", SDPO_VERDICT_NOT_RUN), 3);
    sdpo_claim_list_free(&l);
    unlink(p1);
    unlink(p2);
    unlink(p3);
}
END_TEST

static void write_file(const char *dir, const char *name, const char *text) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *fp = fopen(p, "w");
    ck_assert_msg(fp != NULL, "%s", p);
    fputs(text, fp);
    fclose(fp);
}

/* A run dir with a minimal config and a two-epoch train.csv whose final rewards are given. */
static void make_run(const char *root, const char *name, const char *method, const char *gamma, double last,
                     double first) {
    char dir[512], cfg[512], csv[1024];
    snprintf(dir, sizeof dir, "%s/%s", root, name);
    ck_assert(mkdir(dir, 0755) == 0);
    snprintf(cfg, sizeof cfg,
             "{\"train\": {\"method\": \"%s\", \"gamma\": %s, \"lam\": 0.99, \"weighting\": \"decay\","
             " \"update_schedule\": \"shuffled\"}, \"stats\": {\"mode\": \"per-step-prompt\"},"
             " \"reward\": {\"dense_strategy\": \"sim3-adaptive\"}, \"run\": {\"seed\": 42}}\n",
             method, gamma);
    write_file(dir, "config.json", cfg);
    snprintf(csv, sizeof csv,
             "# fixture\nepoch,num_steps,samples,reward_last_mean,reward_first_mean,wall_s\n"
             "1,10,128,0.0,0.0,1\n2,10,256,%g,%g,1\n", last, first);
    write_file(dir, "train.csv", csv);
}

static void rm_runs(const char *root, const char *const *names, int n) {
    char p[512];
    for (int i = 0; i < n; i++) {
        snprintf(p, sizeof p, "%s/%s/config.json", root, names[i]);
        unlink(p);
        snprintf(p, sizeof p, "%s/%s/train.csv", root, names[i]);
        unlink(p);
        snprintf(p, sizeof p, "%s/%s", root, names[i]);
        rmdir(p);
    }
    rmdir(root);
}

START_TEST(ablation_pass_fail_and_not_run) {
    char root[] = "/tmp/sdpo_abl_XXXXXX";
    ck_assert(mkdtemp(root));
    static const char *const names[] = {"a", "b", "c"};
    make_run(root, "a", "sdpo", "0.99", 0.5, 0.3);
    make_run(root, "b", "sdpo", "0.9", 0.4, 0.2);
    make_run(root, "c", "ddpo", "0.9", 0.9, 0.9); /* another method never joins an SDPO ablation */
    const char *runs[] = {root};
    sdpo_claims_inputs in = {NULL, NULL, 0, NULL, runs, 1};
    sdpo_claim_list l;
    ck_assert_msg(sdpo_claims_check(&in, &l) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert_int_eq(find(&l, "gamma = 0.99")->verdict, SDPO_VERDICT_PASS);
    ck_assert(strstr(find(&l, "gamma = 0.99")->ours, "epoch 2"));
    ck_assert_int_eq(find(&l, "per-step-prompt")->verdict, SDPO_VERDICT_NOT_RUN);
    ck_assert_int_eq(find(&l, "lambda = 0.99")->verdict, SDPO_VERDICT_NOT_RUN);
    ck_assert_int_eq(find(&l, "shuffled")->verdict, SDPO_VERDICT_NOT_RUN);
    ck_assert_int_eq(find(&l, "sim3-adaptive best")->verdict, SDPO_VERDICT_NOT_RUN);
    sdpo_claim_list_free(&l);
    rm_runs(root, names, 3);

    /* the paper's gamma loses on the first-step reward: fail */
    ck_assert(mkdtemp(strcpy(root, "/tmp/sdpo_abl_XXXXXX")));
    make_run(root, "a", "sdpo", "0.99", 0.5, 0.1);
    make_run(root, "b", "sdpo", "0.9", 0.4, 0.2);
    ck_assert(sdpo_claims_check(&in, &l) == SDPO_OK);
    ck_assert_int_eq(find(&l, "gamma = 0.99")->verdict, SDPO_VERDICT_FAIL);
    sdpo_claim_list_free(&l);
    rm_runs(root, names, 2);
}
END_TEST

START_TEST(ablations_on_real_toy_runs) {
    /* short toy runs written by `sdpo train` (tests/data/eval_fixtures/runs) */
    const char *runs[] = {FX "runs"};
    sdpo_claims_inputs in = {NULL, NULL, 0, NULL, runs, 1};
    sdpo_claim_list l;
    ck_assert_msg(sdpo_claims_check(&in, &l) == SDPO_OK, "%s", sdpo_last_error());
    for (size_t i = 0; i < l.n; i++)
        if (strstr(l.items[i].evidence, "Fig. 5") || strstr(l.items[i].evidence, "Fig. 6"))
            ck_assert_msg(l.items[i].verdict != SDPO_VERDICT_NOT_RUN, "%s: %s", l.items[i].claim, l.items[i].ours);
    ck_assert(strstr(find(&l, "gamma = 0.99")->ours, "gamma=0.9 (sdpo_gamma0.9)"));
    sdpo_claim_list_free(&l);
}
END_TEST

START_TEST(unreadable_inputs_fail) {
    sdpo_claims_inputs in = {"/nonexistent/table1.csv", NULL, 0, NULL, NULL, 0};
    sdpo_claim_list l;
    ck_assert(sdpo_claims_check(&in, &l) == SDPO_ERR_IO);
    ck_assert(strstr(sdpo_last_error(), "/nonexistent/table1.csv"));
    in.table1 = FX "summary.csv"; /* no 'score' column */
    ck_assert(sdpo_claims_check(&in, &l) == SDPO_ERR_FORMAT);
    ck_assert_msg(strstr(sdpo_last_error(), "'score'"), "%s", sdpo_last_error());
    const char *runs[] = {"/nonexistent/runs"};
    sdpo_claims_inputs in2 = {NULL, NULL, 0, NULL, runs, 1};
    ck_assert(sdpo_claims_check(&in2, &l) != SDPO_OK);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("claims");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, pass_case);
    tcase_add_test(tc, fail_case);
    tcase_add_test(tc, no_data_is_not_run_for_every_claim);
    tcase_add_test(tc, partial_data_is_not_run);
    tcase_add_test(tc, ablation_pass_fail_and_not_run);
    tcase_add_test(tc, ablations_on_real_toy_runs);
    tcase_add_test(tc, unreadable_inputs_fail);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

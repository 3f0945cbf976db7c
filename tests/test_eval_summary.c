/* tests/test_eval_summary.c — eval/eval_summary.h (paper Sec. 4.2): summary.csv aggregates
 * from a hand-written images.csv, checked against hand-computed mean, sample std and sem. */
#include "eval/eval_summary.h"
#include "eval/csv_table.h"
#include "tests/check_util.h"

#include <string.h>
#include <unistd.h>

START_TEST(mean_sample_std_sem_by_hand) {
    /* group (sdpo,3,toy,1): scores 1,2,4 → mean 7/3; deviations −4/3,−1/3,5/3; ss = 42/9;
     * sample var = 42/9/2 = 7/3; std = √(7/3) = 1.5275252; sem = std/√3 = 0.8819171.
     * group (base,0,toy,1): single score 0.5 → std 0, sem 0, n 1. */
    static const char in[] =
        "method,epoch,prompt_index,prompt,image_index,steps,reward,score\n"
        "sdpo,3,0,\"a cat, sitting\",0,1,toy,1\nbase,0,0,a cat,0,1,toy,0.5\n"
        "sdpo,3,1,a dog,0,1,toy,2\nsdpo,3,1,a dog,1,1,toy,4\n";
    char p[64], o[64];
    ck_write_temp(p, in, strlen(in));
    ck_write_temp(o, "", 0);
    ck_assert_msg(sdpo_eval_summarize(p, o, "seed=1\nprompts=x.txt") == SDPO_OK, "%s",
                  sdpo_last_error());
    sdpo_csv_table t;
    ck_assert(sdpo_csv_table_read(o, &t) == SDPO_OK);
    ck_assert_uint_eq(t.nrows, 2);
    int cm, cmean, cstd, csem, cn;
    ck_assert(sdpo_csv_table_col(&t, "method", &cm) == SDPO_OK);
    ck_assert(sdpo_csv_table_col(&t, "mean", &cmean) == SDPO_OK);
    ck_assert(sdpo_csv_table_col(&t, "std", &cstd) == SDPO_OK);
    ck_assert(sdpo_csv_table_col(&t, "sem", &csem) == SDPO_OK);
    ck_assert(sdpo_csv_table_col(&t, "n", &cn) == SDPO_OK);
    ck_assert_str_eq(sdpo_csv_table_get(&t, 0, cm), "sdpo");
    double v;
    sdpo_csv_table_double(&t, 0, cmean, &v); CK_CLOSE(v, 7.0 / 3.0, 1e-8, 0);
    sdpo_csv_table_double(&t, 0, cstd, &v); CK_CLOSE(v, 1.5275252, 1e-7, 0);
    sdpo_csv_table_double(&t, 0, csem, &v); CK_CLOSE(v, 0.8819171, 1e-7, 0);
    ck_assert_str_eq(sdpo_csv_table_get(&t, 0, cn), "3");
    sdpo_csv_table_double(&t, 1, cstd, &v); CK_CLOSE(v, 0, 0, 0);
    ck_assert_str_eq(sdpo_csv_table_get(&t, 1, cn), "1");
    sdpo_csv_table_free(&t);
    unlink(p);
    unlink(o);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("eval_summary");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, mean_sample_std_sem_by_hand);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

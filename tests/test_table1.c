/* tests/test_table1.c — eval/table1.h (paper Table 1, Sec. 4.2): final epoch per method from
 * hand-written summary.csv inputs, base as its own row, table1.csv rows and the bold best cell
 * of table1.md, and errors naming the file and column. */
#include "eval/table1.h"
#include "eval/compare.h"
#include "eval/csv_table.h"
#include "tests/check_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "open %s", path);
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

START_TEST(final_epoch_per_method_and_base_row) {
    /* eval 1: base (epoch 0) and sdpo epochs 0 (=base duplicate, dropped) 5 and 10 */
    static const char s1[] = "# seed=1\nmethod,epoch,reward,steps,mean,std,sem,n\n"
                             "base,0,toy,1,0.5,0.1,0.05,4\nbase,0,toy,4,0.6,0.1,0.05,4\n"
                             "sdpo,5,toy,1,0.7,0.1,0.05,4\nsdpo,10,toy,1,0.9,0.1,0.05,4\n"
                             "sdpo,10,toy,4,0.55,0.1,0.05,4\n";
    /* eval 2: ddpo epochs 10 only, and a stale sdpo epoch 3 row that must not win */
    static const char s2[] = "method,epoch,reward,steps,mean,std,sem,n\n"
                             "ddpo,10,toy,1,0.8,0.1,0.05,4\nddpo,10,toy,4,0.65,0.1,0.05,4\n"
                             "sdpo,3,toy,1,0.1,0.1,0.05,4\n";
    char p1[64], p2[64];
    ck_write_temp(p1, s1, strlen(s1));
    ck_write_temp(p2, s2, strlen(s2));
    sdpo_table1 t = {0};
    ck_assert_msg(sdpo_table1_add_summary(&t, p1) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert_msg(sdpo_table1_add_summary(&t, p2) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert_uint_eq(t.n, 6);
    char dir[] = "/tmp/sdpo_t1_XXXXXX";
    ck_assert(mkdtemp(dir));
    char csv[128], md[128];
    snprintf(csv, sizeof csv, "%s/table1.csv", dir);
    snprintf(md, sizeof md, "%s/table1.md", dir);
    ck_assert_msg(sdpo_table1_write_csv(&t, csv) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert_msg(sdpo_table1_write_md(&t, md) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert_str_eq(slurp(csv), "method,reward,steps,score\n"
                                 "base,toy,1,0.5\nbase,toy,4,0.6\n"
                                 "ddpo,toy,1,0.8\nddpo,toy,4,0.65\n"
                                 "sdpo,toy,1,0.9\nsdpo,toy,4,0.55\n");
    /* best of steps-1 column: sdpo 0.9; of steps-4: ddpo 0.65 */
    ck_assert_str_eq(slurp(md), "| Method | toy 1 | toy 4 |\n|---|---:|---:|\n"
                                "| base | 0.500 | 0.600 |\n"
                                "| ddpo | 0.800 | **0.650** |\n"
                                "| sdpo | **0.900** | 0.550 |\n");
    /* table1.csv reads back with the paper file's columns */
    sdpo_csv_table r;
    ck_assert(sdpo_csv_table_read(csv, &r) == SDPO_OK);
    ck_assert_int_eq(r.ncols, 4);
    sdpo_csv_table_free(&r);
    sdpo_table1_free(&t);
    unlink(csv);
    unlink(md);
    rmdir(dir);
    unlink(p1);
    unlink(p2);
}
END_TEST

START_TEST(missing_column_names_file_and_column) {
    static const char s[] = "method,epoch,reward,steps,std\nbase,0,toy,1,0.1\n";
    char p[64];
    ck_write_temp(p, s, strlen(s));
    sdpo_table1 t = {0};
    ck_assert(sdpo_table1_add_summary(&t, p) == SDPO_ERR_FORMAT);
    ck_assert_msg(strstr(sdpo_last_error(), p) && strstr(sdpo_last_error(), "mean"), "%s",
                  sdpo_last_error());
    sdpo_table1_free(&t);
    unlink(p);
}
END_TEST

START_TEST(compare_names_map_to_ours) {
    static const char *const pairs[][2] = {
        {"SD-Turbo", "base"}, {"SDPO", "sdpo"}, {"AestheticScore", "aesthetic"},
        {"ImageReward", "imagereward"}, {"HPSv2", "hpsv2"}, {"1 query & copy", "copy"},
        {"2 queries & interpolation", "interp2"}, {"2 queries & similarity", "sim2"},
        {"3 queries & similarity & fixed anchor", "sim3-fixed"},
        {"3 queries & similarity & random anchor", "sim3-random"},
        {"3 queries & similarity & adaptive anchor", "sim3-adaptive"}};
    char out[64];
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        sdpo_compare_norm(pairs[i][0], out, sizeof out);
        ck_assert_str_eq(out, pairs[i][1]);
    }
    /* ours 0.9 vs paper SD-Turbo ImageReward 1-step 0.985: diff -0.085 */
    static const char ours[] = "method,reward,steps,score\nbase,imagereward,1,0.9\n";
    char p[64];
    ck_write_temp(p, ours, strlen(ours));
    sdpo_compare c;
    ck_assert_msg(sdpo_compare_tables(SDPO_COMPARE_TABLE1, p,
                                      "paper_tables/table1_unseen_prompts.csv", &c) == SDPO_OK,
                  "%s", sdpo_last_error());
    ck_assert_uint_eq(c.n, 80);
    ck_assert_str_eq(c.rows[0].key, "base,imagereward,1");
    ck_assert(c.rows[0].has_ours && c.rows[0].has_paper);
    CK_CLOSE(c.rows[0].ours - c.rows[0].paper, -0.085, 1e-12, 0);
    sdpo_compare_free(&c);
    unlink(p);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("table1");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, final_epoch_per_method_and_base_row);
    tcase_add_test(tc, missing_column_names_file_and_column);
    tcase_add_test(tc, compare_names_map_to_ours);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

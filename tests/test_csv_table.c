/* tests/test_csv_table.c — eval/csv_table.h: columns by header name, '#' metadata lines skipped,
 * quoting, and errors that name the file and column. */
#include "eval/csv_table.h"
#include "tests/check_util.h"

#include <string.h>
#include <unistd.h>

START_TEST(reads_by_header_skipping_comments) {
    static const char text[] = "# sdpo train: method=sdpo\n# another line\n"
                               "epoch,samples,prompt\n1,128,\"a cat, sitting\"\n\n# mid comment\n2,256,\"say \"\"hi\"\"\"\n";
    char path[64];
    ck_write_temp(path, text, strlen(text));
    sdpo_csv_table t;
    ck_assert_msg(sdpo_csv_table_read(path, &t) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert_int_eq(t.ncols, 3);
    ck_assert_uint_eq(t.nrows, 2);
    int cs, cp;
    ck_assert(sdpo_csv_table_col(&t, "samples", &cs) == SDPO_OK);
    ck_assert(sdpo_csv_table_col(&t, "prompt", &cp) == SDPO_OK);
    double v;
    ck_assert(sdpo_csv_table_double(&t, 1, cs, &v) == SDPO_OK);
    CK_CLOSE(v, 256, 0, 0);
    ck_assert_str_eq(sdpo_csv_table_get(&t, 0, cp), "a cat, sitting");
    ck_assert_str_eq(sdpo_csv_table_get(&t, 1, cp), "say \"hi\"");
    ck_assert_int_eq(sdpo_csv_table_find(&t, "nope"), -1);
    sdpo_csv_table_free(&t);
    unlink(path);
}
END_TEST

START_TEST(missing_column_names_file_and_column) {
    static const char text[] = "method,reward\nsdpo,x\n";
    char path[64];
    ck_write_temp(path, text, strlen(text));
    sdpo_csv_table t;
    ck_assert(sdpo_csv_table_read(path, &t) == SDPO_OK);
    int c;
    ck_assert(sdpo_csv_table_col(&t, "score", &c) == SDPO_ERR_FORMAT);
    ck_assert_msg(strstr(sdpo_last_error(), path) && strstr(sdpo_last_error(), "'score'"), "%s", sdpo_last_error());
    double v;
    ck_assert(sdpo_csv_table_double(&t, 0, 1, &v) == SDPO_ERR_FORMAT);
    ck_assert_msg(strstr(sdpo_last_error(), "'reward'") && strstr(sdpo_last_error(), "row 1"), "%s", sdpo_last_error());
    sdpo_csv_table_free(&t);
    unlink(path);
}
END_TEST

START_TEST(empty_and_missing_files_fail) {
    static const char text[] = "# only comments\n";
    char path[64];
    ck_write_temp(path, text, strlen(text));
    sdpo_csv_table t;
    ck_assert(sdpo_csv_table_read(path, &t) == SDPO_ERR_FORMAT);
    ck_assert(strstr(sdpo_last_error(), "no header"));
    unlink(path);
    ck_assert(sdpo_csv_table_read("/nonexistent/x.csv", &t) == SDPO_ERR_IO);
    ck_assert(strstr(sdpo_last_error(), "/nonexistent/x.csv"));
}
END_TEST

START_TEST(short_rows_read_as_empty_cells) {
    static const char text[] = "a,b,c\n1\n";
    char path[64];
    ck_write_temp(path, text, strlen(text));
    sdpo_csv_table t;
    ck_assert(sdpo_csv_table_read(path, &t) == SDPO_OK);
    ck_assert_uint_eq(t.nrows, 1);
    ck_assert_str_eq(sdpo_csv_table_get(&t, 0, 2), "");
    sdpo_csv_table_free(&t);
    unlink(path);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("csv_table");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, reads_by_header_skipping_comments);
    tcase_add_test(tc, missing_column_names_file_and_column);
    tcase_add_test(tc, empty_and_missing_files_fail);
    tcase_add_test(tc, short_rows_read_as_empty_cells);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

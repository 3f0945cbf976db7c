/* tests/test_unet_cli.c — `sdpo run-unet` end to end (the binary in $SDPO_BIN, which CTest
 * sets): ε of the tiny model folder against diffusers, with a LoRA in the diffusers 0.17 names,
 * one timestep broadcast to the batch, and the exit-code contract (2 usage, 1 failure with a
 * message naming the file and tensor). Tolerance as test_unet.c (same code path). */
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unet_test_util.h"

#define TOL_EPS 2e-5

static char dir[64];

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/sdpo_run_unet_XXXXXX");
    ck_assert(mkdtemp(dir) != NULL);
}

static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert(system(cmd) == 0);
}

/* Writes the golden sample/text with timestep.<case> (only its first value when `one`). */
static void write_input(const char *path, const char *t_case, int one, int ehs_width) {
    float *s = ut_read(GOLDEN_UNET, "sample", NULL);
    float *e = ut_read(GOLDEN_UNET, "encoder_hidden_states", NULL);
    char name[32];
    snprintf(name, sizeof name, "timestep.%s", t_case);
    float *t = ut_read(GOLDEN_UNET, name, NULL);
    const int64_t ss[4] = {2, 4, 8, 8}, st[1] = {one ? 1 : 2}, se[3] = {2, 77 * 32 / ehs_width,
                                                                       ehs_width};
    sdpo_st_entry en[3] = {{"sample", SDPO_ST_F32, 4, ss, s},
                           {"timestep", SDPO_ST_F32, 1, st, t},
                           {"encoder_hidden_states", SDPO_ST_F32, 3, se, e}};
    ck_assert(sdpo_st_write(path, en, 3, NULL, NULL, 0) == SDPO_OK);
    free(s), free(e), free(t);
}

/* Runs `sdpo run-unet <args>` with stderr into dir/err.txt; returns the exit status. */
static int run(const char *args) {
    const char *bin = getenv("SDPO_BIN");
    ck_assert_msg(bin != NULL, "SDPO_BIN is not set (ctest sets it to the built sdpo binary)");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s run-unet %s 2>%s/err.txt >/dev/null", bin, args, dir);
    int rc = system(cmd);
    ck_assert(rc != -1 && WIFEXITED(rc));
    return WEXITSTATUS(rc);
}

static void read_err(char *buf, size_t n) {
    char path[96];
    snprintf(path, sizeof path, "%s/err.txt", dir);
    FILE *f = fopen(path, "r");
    ck_assert(f != NULL);
    size_t k = fread(buf, 1, n - 1, f);
    buf[k] = 0;
    fclose(f);
}

static void check_out(const char *out, const char *golden) {
    size_t n;
    float *got = ut_read(out, "eps", &n), *want = ut_read(GOLDEN_UNET, golden, NULL);
    ck_assert_uint_eq(n, TINY_SAMPLE_N);
    double err = ut_rel_err(got, want, n, 1e-3);
    ck_assert_msg(err <= TOL_EPS, "%s: %.3e", golden, err);
    free(got), free(want);
}

START_TEST(eps_from_model_folder) {
    char in[96], out[96], args[512];
    snprintf(in, sizeof in, "%s/in.safetensors", dir);
    snprintf(out, sizeof out, "%s/out.safetensors", dir);
    write_input(in, "mixed", 0, 32);
    snprintf(args, sizeof args, "--model tests/data/sd_fixtures/tiny_sd --input %s --out %s "
             "--threads 2", in, out);
    ck_assert_int_eq(run(args), 0);
    check_out(out, "eps.mixed");
    snprintf(args, sizeof args, "--model tests/data/sd_fixtures/tiny_sd --input %s --out %s "
             "--lora %s", in, out, GOLDEN_LORA_LEGACY);
    ck_assert_int_eq(run(args), 0);
    check_out(out, "eps_lora.mixed");
    write_input(in, "t19", 1, 32);   /* one timestep for the batch */
    snprintf(args, sizeof args, "--model tests/data/sd_fixtures/tiny_sd --input %s --out %s "
             "--weights %s", in, out, TINY_WEIGHTS_FP16);
    ck_assert_int_eq(run(args), 0);
    check_out(out, "eps_fp16w.t19");
}
END_TEST

START_TEST(exit_codes) {
    char in[96], args[512], err[1024];
    snprintf(in, sizeof in, "%s/in.safetensors", dir);
    write_input(in, "t999", 0, 16);   /* text of width 16: the config says 32 */
    snprintf(args, sizeof args, "--model tests/data/sd_fixtures/tiny_sd --input %s", in);
    ck_assert_int_eq(run(args), 2);
    read_err(err, sizeof err);
    ck_assert_msg(strstr(err, "--out is required"), "%s", err);
    ck_assert_int_eq(run("--model tests/data/sd_fixtures/tiny_sd --bogus"), 2);
    snprintf(args, sizeof args, "--model tests/data/sd_fixtures/tiny_sd --input %s --out %s/o",
             in, dir);
    ck_assert_int_eq(run(args), 1);
    read_err(err, sizeof err);
    ck_assert_msg(strstr(err, in) && strstr(err, "encoder_hidden_states"), "%s", err);
    snprintf(args, sizeof args, "--model %s --input %s --out %s/o", dir, in, dir);
    ck_assert_int_eq(run(args), 1);
    read_err(err, sizeof err);
    ck_assert_msg(strstr(err, "no weights found"), "%s", err);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("unet_cli");
    TCase *tc = tcase_create("run_unet");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, eps_from_model_folder);
    tcase_add_test(tc, exit_codes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

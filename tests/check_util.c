/* tests/check_util.c — see check_util.h. */
#include "tests/check_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int sdpo_check_main(Suite *s) {
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

void ck_assert_array_close(const char *what, const float *got, const double *want, size_t n,
                           double atol, double rtol) {
    size_t worst = 0;
    double worst_excess = -1.0;
    for (size_t i = 0; i < n; i++) {
        double g = got[i], w = want[i];
        if (isfinite(g) != isfinite(w)) {
            ck_abort_msg("%s[%zu]: got %.10g, want %.10g (finiteness differs)", what, i, g, w);
        }
        double excess = fabs(g - w) - (atol + rtol * fabs(w));
        if (excess > worst_excess) {
            worst_excess = excess;
            worst = i;
        }
    }
    if (n > 0 && worst_excess > 0) {
        ck_abort_msg("%s[%zu]: got %.10g, want %.10g (atol %.3g, rtol %.3g)", what, worst,
                     (double)got[worst], want[worst], atol, rtol);
    }
}

/* Temporary files made by this process (Check runs each test in a forked child: a child
 * removes its own at exit, never those of the parent it was forked from). */
#define MAX_TEMPS 256
static char temps[MAX_TEMPS][64];
static pid_t temp_owner[MAX_TEMPS];
static int n_temps;

static void remove_temps(void) {
    for (int i = 0; i < n_temps; i++)
        if (temp_owner[i] == getpid()) unlink(temps[i]);
}

void ck_write_temp(char path[64], const void *data, size_t len) {
    snprintf(path, 64, "/tmp/sdpo_test_XXXXXX");
    int fd = mkstemp(path);
    ck_assert_msg(fd >= 0, "mkstemp failed");
    static int registered;
    if (!registered) registered = atexit(remove_temps) == 0;
    if (n_temps < MAX_TEMPS) {
        snprintf(temps[n_temps], sizeof temps[n_temps], "%s", path);
        temp_owner[n_temps++] = getpid();
    }
    ck_assert_msg(write(fd, data, len) == (ssize_t)len, "short write to %s", path);
    close(fd);
}

void ck_load_block(const char *path, const char *name, size_t n, double *out) {
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s (tests run from the repo root)", path);
    char line[256], want[80];
    snprintf(want, sizeof want, "[%s]", name);
    size_t wl = strlen(want);
    int found = 0;
    while (!found && fgets(line, sizeof line, f))
        found = strncmp(line, want, wl) == 0 && (line[wl] == ' ' || line[wl] == '\n');
    ck_assert_msg(found, "%s: no block %s", path, want);
    size_t count = 1;
    for (char *p = line + wl, *end;; p = end) {
        long d = strtol(p, &end, 10);
        if (end == p) break;
        count *= (size_t)d;
    }
    ck_assert_msg(count == n, "%s: block %s holds %zu values, want %zu", path, want, count, n);
    for (size_t k = 0; k < n; k++) {
        ck_assert_msg(fgets(line, sizeof line, f) != NULL, "%s: block %s truncated", path, want);
        char *end;
        out[k] = strtod(line, &end);
        ck_assert_msg(end != line && (*end == '\n' || *end == '\0'), "%s: %s[%zu]: bad number",
                      path, want, k);
    }
    fclose(f);
}

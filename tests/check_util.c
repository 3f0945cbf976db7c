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

void ck_write_temp(char path[64], const void *data, size_t len) {
    snprintf(path, 64, "/tmp/sdpo_test_XXXXXX");
    int fd = mkstemp(path);
    ck_assert_msg(fd >= 0, "mkstemp failed");
    ck_assert_msg(write(fd, data, len) == (ssize_t)len, "short write to %s", path);
    close(fd);
}

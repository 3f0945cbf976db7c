/* tests/check_util.h — shared helpers for the Check suites.
 *
 * Every suite's main() is `return sdpo_check_main(suite());`, which runs all tests and returns
 * a failing exit code when any test failed (a suite can never "pass" by printing). */
#ifndef SDPO_TESTS_CHECK_UTIL_H
#define SDPO_TESTS_CHECK_UTIL_H

#include <check.h>
#include <math.h>
#include <stddef.h>

int sdpo_check_main(Suite *s);

/* |got − want| <= atol + rtol·|want|, failing on NaN/Inf mismatch; prints both values. */
#define CK_CLOSE(got, want, atol, rtol)                                                        \
    do {                                                                                       \
        double ck_g_ = (double)(got), ck_w_ = (double)(want);                                  \
        double ck_tol_ = (atol) + (rtol) * fabs(ck_w_);                                        \
        ck_assert_msg(isfinite(ck_g_) == isfinite(ck_w_) &&                                   \
                          (!isfinite(ck_w_) || fabs(ck_g_ - ck_w_) <= ck_tol_),                \
                      "%s = %.10g, want %.10g (tol %.3g)", #got, ck_g_, ck_w_, ck_tol_);       \
    } while (0)

/* Elementwise CK_CLOSE over n values; reports the worst element and its index. */
void ck_assert_array_close(const char *what, const float *got, const double *want, size_t n,
                           double atol, double rtol);

/* Writes `len` bytes to a fresh temporary file and returns its path (static buffer per call
 * site is the caller's: the path is copied into `path`, which must hold 64 bytes). The file is
 * removed when the process that made it exits normally. */
void ck_write_temp(char path[64], const void *data, size_t len);

/* Reads block "[name] d0 d1 …" of a reference/derive_*.py fixture (one %.17g number per line
 * after the header) into out[n]; fails the test if the block is missing, has another size, or
 * holds a malformed number. */
void ck_load_block(const char *path, const char *name, size_t n, double *out);

#endif

/* tests/test_safetensors.c — safetensors round trips, dtype conversion, and every corrupt-header
 * case the reader must reject with a message naming the file and the field. */
#include "nn/safetensors.h"
#include "tests/check_util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Builds a raw file: u64 header length, the header text, then `data_len` bytes of data. */
static void write_raw(char path[64], const char *header, const void *data, size_t data_len) {
    size_t hlen = strlen(header), total = 8 + hlen + data_len;
    unsigned char *buf = malloc(total);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    memcpy(buf + 8, header, hlen);
    if (data_len) memcpy(buf + 8 + hlen, data, data_len);
    ck_write_temp(path, buf, total);
    free(buf);
}

/* Opens `header`+data and requires failure with `want` and a message containing the path and
 * each of the (up to two) fragments. */
static void expect_reject(const char *header, size_t data_len, sdpo_status want, const char *frag1,
                          const char *frag2) {
    char path[64];
    unsigned char zeros[256] = {0};
    ck_assert(data_len <= sizeof zeros);
    write_raw(path, header, zeros, data_len);
    sdpo_safetensors st;
    sdpo_status rc = sdpo_st_open(path, &st);
    const char *msg = sdpo_last_error();
    ck_assert_msg(rc == want, "header %s: status %d (%s), want %d", header, rc, msg, want);
    ck_assert_msg(strstr(msg, path) != NULL, "message does not name the file: %s", msg);
    ck_assert_msg(!frag1 || strstr(msg, frag1), "message lacks '%s': %s", frag1, msg);
    ck_assert_msg(!frag2 || strstr(msg, frag2), "message lacks '%s': %s", frag2, msg);
    unlink(path);
}

START_TEST(half_conversions_exact) {
    CK_CLOSE(sdpo_f16_to_f32(0x3c00), 1.0, 0, 0);
    CK_CLOSE(sdpo_f16_to_f32(0xc000), -2.0, 0, 0);
    CK_CLOSE(sdpo_f16_to_f32(0x7bff), 65504.0, 0, 0);
    CK_CLOSE(sdpo_f16_to_f32(0x3555), 0.333251953125, 0, 0);
    CK_CLOSE(sdpo_f16_to_f32(0x0001), 5.9604644775390625e-8, 0, 0); /* smallest subnormal 2^-24 */
    CK_CLOSE(sdpo_f16_to_f32(0x03ff), 6.097555160522461e-5, 0, 0);  /* largest subnormal */
    ck_assert(isinf(sdpo_f16_to_f32(0x7c00)) && sdpo_f16_to_f32(0x7c00) > 0);
    ck_assert(isnan(sdpo_f16_to_f32(0x7e00)));
    ck_assert(signbit(sdpo_f16_to_f32(0x8000)) && sdpo_f16_to_f32(0x8000) == 0.0f);
    CK_CLOSE(sdpo_bf16_to_f32(0x3f80), 1.0, 0, 0);
    CK_CLOSE(sdpo_bf16_to_f32(0x4049), 3.140625, 0, 0);
    CK_CLOSE(sdpo_bf16_to_f32(0xc2f7), -123.5, 0, 0);
}
END_TEST

START_TEST(round_trip_all_float_dtypes_and_metadata) {
    char dir[] = "/tmp/sdpo_st_XXXXXX";
    ck_assert(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/rt.safetensors", dir);
    const float a[6] = {1, -2, 3.5f, 0.25f, -0.125f, 1e-3f};
    const uint16_t h[3] = {0x3c00, 0xc000, 0x3555};
    const uint16_t bf[2] = {0x3f80, 0x4049};
    const int64_t ids[2] = {999, 19};
    const int64_t sa[2] = {2, 3}, sh[1] = {3}, sb[2] = {1, 2}, si[1] = {2};
    const sdpo_st_entry e[] = {{"a", SDPO_ST_F32, 2, sa, a}, {"h", SDPO_ST_F16, 1, sh, h},
                               {"bf", SDPO_ST_BF16, 2, sb, bf}, {"t", SDPO_ST_I64, 1, si, ids}};
    const char *mk[] = {"format", "note"}, *mv[] = {"pt", "round trip"};
    ck_assert_msg(sdpo_st_write(path, e, 4, mk, mv, 2) == SDPO_OK, "%s", sdpo_last_error());
    /* No temporary file left behind. */
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    ck_assert(access(tmp, F_OK) != 0);

    sdpo_safetensors st;
    ck_assert_msg(sdpo_st_open(path, &st) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert_int_eq(st.n_tensors, 4);
    ck_assert_str_eq(sdpo_st_metadata(&st, "note"), "round trip");
    ck_assert_ptr_null(sdpo_st_metadata(&st, "absent"));
    /* The header is padded to 8 bytes so the data buffer is aligned, as the reference writer. */
    ck_assert_uint_eq((size_t)(st.data - (const uint8_t *)st.map) % 8, 0);
    const sdpo_st_tensor *t;
    float out[6];
    const int64_t want_a[2] = {2, 3};
    ck_assert(sdpo_st_expect(&st, "a", 2, want_a, &t) == SDPO_OK);
    ck_assert(sdpo_st_read_f32(&st, t, out, 1) == SDPO_OK);
    for (int i = 0; i < 6; i++) ck_assert_float_eq(out[i], a[i]);
    ck_assert(sdpo_st_expect(&st, "h", 1, (const int64_t[]){-1}, &t) == SDPO_OK);
    ck_assert(sdpo_st_read_f32(&st, t, out, 1) == SDPO_OK);
    ck_assert_float_eq(out[0], 1.0f);
    ck_assert_float_eq(out[1], -2.0f);
    ck_assert_float_eq(out[2], 0.333251953125f);
    t = sdpo_st_find(&st, "bf");
    ck_assert(sdpo_st_read_f32(&st, t, out, 1) == SDPO_OK);
    ck_assert_float_eq(out[1], 3.140625f);
    t = sdpo_st_find(&st, "t");
    ck_assert(sdpo_st_read_f32(&st, t, out, 1) == SDPO_OK);
    ck_assert_float_eq(out[0], 999.0f);
    ck_assert_float_eq(out[1], 19.0f);

    /* Shape mismatch and missing tensors are named. */
    ck_assert(sdpo_st_expect(&st, "a", 2, (const int64_t[]){3, 2}, NULL) == SDPO_ERR_SHAPE);
    ck_assert_msg(strstr(sdpo_last_error(), "'a' has shape [2, 3], expected [3, 2]"), "%s",
                  sdpo_last_error());
    ck_assert(sdpo_st_expect(&st, "zzz", 1, (const int64_t[]){1}, NULL) == SDPO_ERR_SHAPE);
    ck_assert_msg(strstr(sdpo_last_error(), "missing tensor 'zzz'"), "%s", sdpo_last_error());
    sdpo_st_close(&st);
    unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(nonfinite_values_are_named) {
    char path[64];
    float v[3] = {1.0f, NAN, 2.0f};
    write_raw(path, "{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}", v, sizeof v);
    sdpo_safetensors st;
    ck_assert(sdpo_st_open(path, &st) == SDPO_OK);
    float out[3];
    ck_assert(sdpo_st_read_f32(&st, sdpo_st_find(&st, "x"), out, 1) == SDPO_ERR_NONFINITE);
    ck_assert_msg(strstr(sdpo_last_error(), "'x' element 1 is NaN"), "%s", sdpo_last_error());
    ck_assert(sdpo_st_read_f32(&st, sdpo_st_find(&st, "x"), out, 0) == SDPO_OK);
    sdpo_st_close(&st);
    unlink(path);
}
END_TEST

START_TEST(corrupt_headers_rejected_with_named_field) {
    const sdpo_status F = SDPO_ERR_FORMAT;
    expect_reject("not json", 0, F, "not valid JSON", NULL);
    expect_reject("[1,2]", 0, F, "not a JSON object", NULL);
    expect_reject("{\"x\":{\"dtype\":\"Q8\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, F, "'x'", "dtype 'Q8'");
    expect_reject("{\"x\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, F, "'x'", "'dtype'");
    expect_reject("{\"x\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, F, "'x'", "shape[0]");
    expect_reject("{\"x\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, F, "'x'", "shape[0]");
    expect_reject("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, F, "'x'", "begin 4 > end 0");
    expect_reject("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, F, "'x'", "data_offsets");
    expect_reject("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, F, "'x'", "past the data buffer");
    expect_reject("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, F, "'x'", "needs 8");
    expect_reject("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                  "\"y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]}}", 8, F, "overlaps", NULL);
    expect_reject("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                  "\"y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12, F, "hole of 4 bytes", "'y'");
    expect_reject("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, F, "4 bytes after", NULL);
    expect_reject("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                  "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, F, "not valid JSON", "duplicate");
    expect_reject("{\"__metadata__\":{\"k\":1}}", 0, F, "__metadata__", "'k'");
}
END_TEST

START_TEST(short_and_truncated_files_never_crash) {
    /* Fewer than 8 bytes; header length past the end. */
    char path[64];
    ck_write_temp(path, "abc", 3);
    sdpo_safetensors st;
    ck_assert(sdpo_st_open(path, &st) == SDPO_ERR_FORMAT);
    ck_assert_msg(strstr(sdpo_last_error(), "shorter than the 8-byte"), "%s", sdpo_last_error());
    unlink(path);
    ck_assert(sdpo_st_open("/nonexistent/x.safetensors", &st) == SDPO_ERR_IO);
    ck_assert_msg(strstr(sdpo_last_error(), "/nonexistent/x.safetensors: cannot open"), "%s",
                  sdpo_last_error());

    /* Every proper prefix of a valid file is rejected cleanly (run under ASan in CI). */
    char good[64];
    float v[4] = {1, 2, 3, 4};
    write_raw(good, "{\"v\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", v, sizeof v);
    FILE *f = fopen(good, "rb");
    unsigned char buf[512];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    ck_assert(sdpo_st_open(good, &st) == SDPO_OK);
    sdpo_st_close(&st);
    for (size_t len = 0; len < n; len++) {
        char p2[64];
        ck_write_temp(p2, buf, len);
        ck_assert_msg(sdpo_st_open(p2, &st) != SDPO_OK, "prefix of %zu bytes accepted", len);
        unlink(p2);
    }
    /* Every single-byte corruption either parses to a consistent file or is rejected. */
    for (size_t i = 0; i < n; i++) {
        unsigned char c[512];
        memcpy(c, buf, n);
        c[i] ^= 0x5a;
        char p2[64];
        ck_write_temp(p2, c, n);
        if (sdpo_st_open(p2, &st) == SDPO_OK) {
            for (int k = 0; k < st.n_tensors; k++)
                ck_assert(st.tensors[k].offset + st.tensors[k].nbytes <= st.data_size);
            sdpo_st_close(&st);
        }
        unlink(p2);
    }
    unlink(good);
}
END_TEST

START_TEST(write_failure_leaves_nothing) {
    const float a[1] = {1};
    const int64_t s[1] = {1};
    const sdpo_st_entry e[] = {{"a", SDPO_ST_F32, 1, s, a}};
    ck_assert(sdpo_st_write("/dev/null/sub/out.safetensors", e, 1, NULL, NULL, 0) == SDPO_ERR_IO);
    ck_assert_msg(strstr(sdpo_last_error(), "/dev/null/sub/out.safetensors"), "%s", sdpo_last_error());
    const sdpo_st_entry dup[] = {{"a", SDPO_ST_F32, 1, s, a}, {"a", SDPO_ST_F32, 1, s, a}};
    char dir[] = "/tmp/sdpo_st_XXXXXX";
    ck_assert(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/dup.safetensors", dir);
    ck_assert(sdpo_st_write(path, dup, 2, NULL, NULL, 0) == SDPO_ERR_ARG);
    ck_assert(access(path, F_OK) != 0);
    ck_assert(rmdir(dir) == 0); /* directory empty: no temp file either */
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("io");
    tcase_add_test(tc, half_conversions_exact);
    tcase_add_test(tc, round_trip_all_float_dtypes_and_metadata);
    tcase_add_test(tc, nonfinite_values_are_named);
    tcase_add_test(tc, corrupt_headers_rejected_with_named_field);
    tcase_add_test(tc, short_and_truncated_files_never_crash);
    tcase_add_test(tc, write_failure_leaves_nothing);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

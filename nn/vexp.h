/* nn/vexp.h — e^x in float that GCC vectorises inside `#pragma omp simd` loops, for the ops
 * whose time glibc's scalar expf dominated (attention's softmax, SiLU).
 *
 * Cephes' expf (S. Moshier, Cephes Math Library, expf.c): Cody–Waite reduction x = n·ln2 + r
 * with ln2 split in two, a degree-6 polynomial for e^r on |r| ≤ ln2/2, 2^n built in the
 * exponent bits, written as straight-line float and bit operations, selects included, so the
 * loop vectorises (a float `?:` is a branch to GCC's vectoriser under -ftrapping-math).
 * Measured error < 1 ulp against double exp on [−87.3, 0.5]; only IEEE
 * add/mul (no FMA contraction under -std=c11), so the bits are the same on every x86-64.
 * x < −87.3365 (e^x below FLT_MIN) gives 0, −∞ gives 0, NaN gives NaN; x is clamped to ≤ 88 so
 * 2^n stays finite (e^88 = 1.65e38). */
#ifndef SDPO_NN_VEXP_H
#define SDPO_NN_VEXP_H

#include <stdint.h>
#include <string.h>

#define NN_VEXP_LO (-87.33654f)
#define NN_VEXP_HI 88.0f

static inline uint32_t nn_f2u(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float nn_u2f(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* mask ? a : b for an all-ones/all-zeros mask, in bit operations. */
static inline float nn_select_f(uint32_t mask, float a, float b) {
    return nn_u2f((nn_f2u(a) & mask) | (nn_f2u(b) & ~mask));
}

static inline float nn_vexp(float v) {
    const float log2e = 1.44269504088896341f;
    /* ln2 = ln2_hi + ln2_lo; ln2_hi has 10 significant bits, so n·ln2_hi is exact */
    const float ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f;
    const float round_magic = 12582912.0f;   /* 1.5·2^23: (t + magic) − magic rounds t */
    const uint32_t under = 0u - (uint32_t)(v < NN_VEXP_LO), over = 0u - (uint32_t)(v > NN_VEXP_HI);
    const float xc = nn_select_f(under, NN_VEXP_LO, nn_select_f(over, NN_VEXP_HI, v));
    const float t = xc * log2e + round_magic;   /* n = round(xc/ln2) sits in t's low bits */
    const float nf = t - round_magic;
    const float r = (xc - nf * ln2_hi) - nf * ln2_lo;
    float p = 1.9875691500E-4f;
    p = p * r + 1.3981999507E-3f;
    p = p * r + 8.3334519073E-3f;
    p = p * r + 4.1665795894E-2f;
    p = p * r + 1.6666665459E-1f;
    p = p * r + 5.0000001201E-1f;
    p = p * r * r + r + 1.0f;
    /* 2^n from n's bits in t (unsigned: a NaN's bits wrap instead of overflowing) */
    const float scale = nn_u2f((nn_f2u(t) - 0x4B400000u + 127u) << 23);
    return nn_select_f(under, 0.0f, p * scale);
}

#endif

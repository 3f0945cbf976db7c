/* core/rng.c — Philox4x32-10 and the draws built on it (see rng.h). */
#include "core/rng.h"

#include <math.h>

/* Constants from Random123 (philox.h): multipliers and Weyl key increments. */
#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void sdpo_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

static void block_at(uint64_t seed, uint32_t stream, uint64_t block, uint32_t out[4]) {
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    const uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), stream, 0u};
    sdpo_philox4x32_10(ctr, key, out);
}

void sdpo_rng_init(sdpo_rng *r, uint64_t seed, uint32_t stream) {
    r->seed = seed;
    r->stream = stream;
    r->block = 0;
    r->avail = 0;
    for (int i = 0; i < 4; i++) r->buf[i] = 0;
}

uint32_t sdpo_rng_u32(sdpo_rng *r) {
    if (r->avail == 0) {
        block_at(r->seed, r->stream, r->block++, r->buf);
        r->avail = 4;
    }
    return r->buf[4 - r->avail--];
}

float sdpo_rng_uniform(sdpo_rng *r) {
    return (float)(sdpo_rng_u32(r) >> 8) * (1.0f / 16777216.0f);
}

uint32_t sdpo_rng_below(sdpo_rng *r, uint32_t n) {
    /* Lemire, "Fast random integer generation in an interval" (2019). */
    uint64_t m = (uint64_t)sdpo_rng_u32(r) * n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t threshold = (uint32_t)(-n) % n;
        while (low < threshold) {
            m = (uint64_t)sdpo_rng_u32(r) * n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

/* Uniform in the open interval (0, 1) with 32 bits, so log() is always finite. */
static double open_uniform(uint32_t u) { return ((double)u + 0.5) * (1.0 / 4294967296.0); }

/* Box–Muller on one block: (u0,u1) -> normals 0,1 and (u2,u3) -> normals 2,3. */
static void block_normals(const uint32_t w[4], float out[4]) {
    const double two_pi = 6.283185307179586476925286766559;
    for (int p = 0; p < 2; p++) {
        double rad = sqrt(-2.0 * log(open_uniform(w[2 * p])));
        double ang = two_pi * open_uniform(w[2 * p + 1]);
        out[2 * p] = (float)(rad * cos(ang));
        out[2 * p + 1] = (float)(rad * sin(ang));
    }
}

float sdpo_rng_normal_at(uint64_t seed, uint32_t stream, uint64_t block0, uint64_t k) {
    uint32_t w[4];
    float z[4];
    block_at(seed, stream, block0 + k / 4, w);
    block_normals(w, z);
    return z[k % 4];
}

void sdpo_rng_normal_fill(sdpo_rng *r, float *out, size_t n) {
    r->avail = 0; /* start on a fresh block: see rng.h */
    size_t nblocks = (n + 3) / 4;
    for (size_t b = 0; b < nblocks; b++) {
        uint32_t w[4];
        float z[4];
        block_at(r->seed, r->stream, r->block + b, w);
        block_normals(w, z);
        for (size_t j = 0; j < 4 && 4 * b + j < n; j++) out[4 * b + j] = z[j];
    }
    r->block += nblocks;
}

void sdpo_rng_permutation(sdpo_rng *r, int *perm, int n) {
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)sdpo_rng_below(r, (uint32_t)(i + 1));
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

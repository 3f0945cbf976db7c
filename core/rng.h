/* core/rng.h — counter-based random numbers: Philox4x32-10 with one stream per purpose.
 *
 * Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11;
 * Random123) maps a 128-bit counter and a 64-bit key to 128 random bits. Nothing is stateful
 * but the counter, so any element of any stream can be computed independently: a CUDA kernel
 * and the CPU reference produce the same numbers, and a checkpoint need only store counters.
 *
 * Layout of a draw: key = (seed low 32 bits, seed high 32 bits);
 * counter = (block low 32, block high 32, stream id, 0). Block b of a stream yields 4 uint32.
 *
 * Gaussians use Box–Muller on pairs of uniforms in (0,1): block b gives normals 4b … 4b+3, so
 * normal number k depends only on (seed, stream, k) — the property a GPU fill relies on. */
#ifndef SDPO_CORE_RNG_H
#define SDPO_CORE_RNG_H

#include <stddef.h>
#include <stdint.h>

/* One stream per purpose, so that e.g. changing the number of reward queries never shifts the
 * initial noise. Values are part of the checkpoint format: append, never renumber. */
typedef enum {
    SDPO_STREAM_INIT_NOISE = 1,   /* x_T of each trajectory */
    SDPO_STREAM_SAMPLER_NOISE,    /* DDIM η·σ·z noise at each step */
    SDPO_STREAM_PROMPT_CHOICE,    /* which prompt each sample gets */
    SDPO_STREAM_STEP_SHUFFLE,     /* per-pair permutations of the T steps */
    SDPO_STREAM_RANDOM_ANCHOR,    /* sim3-random anchor */
    SDPO_STREAM_MINIBATCH_ORDER,  /* order of samples / pairs in the update loop */
    SDPO_STREAM_PARAM_INIT,       /* LoRA down-projection and other weight init */
    SDPO_STREAM_DATA,             /* micro-world scene generation, pretraining batches */
    SDPO_STREAM_COUNT
} sdpo_stream_id;

/* The raw block function: out = Philox4x32-10(ctr, key). */
void sdpo_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* A position in one stream. `block` counts 128-bit blocks already consumed; `buf`/`avail`
 * hold the unconsumed words of the current block so scalar draws waste nothing. */
typedef struct {
    uint64_t seed;
    uint32_t stream;
    uint64_t block;
    uint32_t buf[4];
    int avail;          /* words left in buf, 0..4 (taken from buf[4-avail]) */
} sdpo_rng;

void sdpo_rng_init(sdpo_rng *r, uint64_t seed, uint32_t stream);

uint32_t sdpo_rng_u32(sdpo_rng *r);

/* Uniform in [0, 1) with 24 random bits (exactly representable in float). */
float sdpo_rng_uniform(sdpo_rng *r);

/* Uniform integer in [0, n) without modulo bias (Lemire's multiply-and-reject); n >= 1. */
uint32_t sdpo_rng_below(sdpo_rng *r, uint32_t n);

/* Fills out[0..n) with standard normals. Each call starts at a fresh block boundary (any
 * partially used block is discarded), so out[k] is normal number k of blocks starting at the
 * stream's current block: reproducible, and splittable across threads or GPU threads. */
void sdpo_rng_normal_fill(sdpo_rng *r, float *out, size_t n);

/* Stateless element access: normal number k of stream (seed, stream) starting at block
 * `block0`. sdpo_rng_normal_fill(r at block0) writes exactly these values. */
float sdpo_rng_normal_at(uint64_t seed, uint32_t stream, uint64_t block0, uint64_t k);

/* Uniform permutation of 0..n-1 (Fisher–Yates with sdpo_rng_below). */
void sdpo_rng_permutation(sdpo_rng *r, int *perm, int n);

#endif

/* nn/arena.h — bump allocator for activations saved for backward (and other per-step buffers).
 *
 * One allocation, sized once from the model config (as llm.c sizes its activation slab with
 * fill_in_activation_sizes), then carved into 64-byte-aligned pieces with no malloc in the
 * training loop. Pieces are released only in LIFO order, by resetting to a mark:
 *
 *     size_t m = nn_arena_mark(a);           // before a checkpointed block's re-run
 *     ... re-run the block's forward into the arena, run its backward ...
 *     nn_arena_reset(a, m);                  // its recomputed activations are gone
 *
 * which is what activation recomputation (torch.utils.checkpoint style) needs. When a request
 * does not fit, nn_arena_alloc returns SDPO_ERR_NOMEM naming the request, its size and the
 * arena's capacity and use, so a mis-sized config is diagnosed at the first step. */
#ifndef SDPO_NN_ARENA_H
#define SDPO_NN_ARENA_H

#include <stddef.h>

#include "core/error.h"

/* Every piece starts on a cache line (and a 16-float SIMD/CUDA vector) boundary. */
#define NN_ARENA_ALIGN 64

typedef struct {
    unsigned char *base;
    size_t cap;         /* bytes */
    size_t used;        /* bytes, a multiple of NN_ARENA_ALIGN */
    size_t high_water;  /* largest `used` seen since init: what the config should size for */
} nn_arena;

/* One allocation of `bytes` (rounded up to NN_ARENA_ALIGN); SDPO_ERR_NOMEM if it fails. */
sdpo_status nn_arena_init(nn_arena *a, size_t bytes);
void nn_arena_free(nn_arena *a);

/* *out = `bytes` (rounded up to NN_ARENA_ALIGN) of uninitialised memory. `what` names the
 * request in the error message ("unet.down.0.attn1.lse"). On failure *out is NULL and the
 * arena is unchanged. */
sdpo_status nn_arena_alloc(nn_arena *a, size_t bytes, const char *what, void **out);
sdpo_status nn_arena_alloc_f32(nn_arena *a, size_t n, const char *what, float **out);

/* Bytes one piece of n floats takes in the arena, alignment padding included: summing this
 * over a config's pieces gives the nn_arena_init size exactly. */
size_t nn_arena_bytes_f32(size_t n);

size_t nn_arena_mark(const nn_arena *a);
/* Frees everything allocated after `mark` (a value returned by nn_arena_mark on this arena
 * and not invalidated by an earlier reset below it; asserted). nn_arena_reset(a, 0) empties. */
void nn_arena_reset(nn_arena *a, size_t mark);

#endif

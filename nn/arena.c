/* nn/arena.c — bump allocator with mark/reset (see arena.h). */
#include "nn/arena.h"

#include <stdint.h>
#include <stdlib.h>

#include "nn/tensor.h"

static size_t round_up(size_t bytes) {
    return (bytes + NN_ARENA_ALIGN - 1) / NN_ARENA_ALIGN * NN_ARENA_ALIGN;
}

sdpo_status nn_arena_init(nn_arena *a, size_t bytes) {
    *a = (nn_arena){0};
    size_t cap = round_up(bytes);
    if (cap < bytes) return sdpo_fail(SDPO_ERR_NOMEM, "arena: size %zu bytes overflows", bytes);
    if (cap == 0) return SDPO_OK;
    a->base = aligned_alloc(NN_ARENA_ALIGN, cap);
    if (!a->base)
        return sdpo_fail(SDPO_ERR_NOMEM, "arena: cannot allocate %zu bytes (%.2f GiB)", cap,
                         (double)cap / (1u << 30));
    a->cap = cap;
    return SDPO_OK;
}

void nn_arena_free(nn_arena *a) {
    free(a->base);
    *a = (nn_arena){0};
}

sdpo_status nn_arena_alloc(nn_arena *a, size_t bytes, const char *what, void **out) {
    *out = NULL;
    size_t need = round_up(bytes);
    if (need < bytes || need > a->cap - a->used)
        return sdpo_fail(SDPO_ERR_NOMEM,
                         "arena full: '%s' requests %zu bytes but only %zu of %zu are free "
                         "(%zu in use); size the arena for the config's peak (high water %zu)",
                         what, bytes, a->cap - a->used, a->cap, a->used, a->high_water);
    *out = a->base ? a->base + a->used : NULL;   /* empty arena: NULL + 0 would be UB */
    a->used += need;
    if (a->used > a->high_water) a->high_water = a->used;
    return SDPO_OK;
}

sdpo_status nn_arena_alloc_f32(nn_arena *a, size_t n, const char *what, float **out) {
    void *p;
    if (n > SIZE_MAX / sizeof(float)) {
        *out = NULL;
        return sdpo_fail(SDPO_ERR_NOMEM, "arena: '%s' requests %zu floats (overflow)", what, n);
    }
    sdpo_status st = nn_arena_alloc(a, n * sizeof(float), what, &p);
    *out = p;
    return st;
}

size_t nn_arena_bytes_f32(size_t n) { return round_up(n * sizeof(float)); }

size_t nn_arena_mark(const nn_arena *a) { return a->used; }

void nn_arena_reset(nn_arena *a, size_t mark) {
    NN_ASSERT(mark <= a->used && mark % NN_ARENA_ALIGN == 0);
    a->used = mark;
}

/* nn/params.h — registry of named parameter tensors laid out in one slab per category.
 *
 * llm.c keeps parameters, gradients and AdamW moments in one allocation each, with named
 * views into them; that makes the optimizer one loop (one kernel), a checkpoint a walk over
 * the registry, host↔device one copy, and a parity test one comparison. This is the same
 * pattern with names looked up at run time, because the SD-Turbo / reward-model tensor lists
 * come from the checkpoint key names (nn/safetensors.h) rather than a fixed C struct:
 *
 *     nn_params_add(&p, "…to_q.weight", 2, (int64_t[]){320, 320}, 0);   // frozen
 *     nn_params_add(&p, "…to_q_lora.down.weight", 2, (int64_t[]){4, 320}, 1);
 *     nn_params_finalize(&p);          // sizes fixed, slabs allocated and zeroed
 *     nn_params_get(&p, "…to_q.weight", &view);
 *
 * Slabs (floats):
 *   params [n_floats]            every tensor, trainable ones first, then frozen ones;
 *   grads, m, v [n_trainable]    trainable tensors only, at the SAME offsets as in params,
 *                                so params[i] ↔ grads[i] ↔ m[i] ↔ v[i] for i < n_trainable
 *                                and AdamW / grad-norm clipping are flat loops (nn/optim.h).
 * Frozen tensors never get a gradient or moment buffer (view.grad == NULL), as in PyTorch
 * with requires_grad=False. Within each group tensors are placed in registration order; each
 * starts on a 16-float (64-byte) boundary, and the padding floats are zero in every slab and
 * stay zero under AdamW (zero gradient → zero moments → zero update), so flat loops over the
 * slab are exact. Iteration (nn_params_at) is in registration order: the checkpoint format
 * and optimizer state are defined by it. */
#ifndef SDPO_NN_PARAMS_H
#define SDPO_NN_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "nn/tensor.h"

/* Alignment of every tensor inside the slabs, in floats (64 bytes). */
#define NN_PARAMS_ALIGN_FLOATS 16

typedef struct {
    char *name;        /* owned copy */
    int ndim;
    int64_t shape[NN_MAX_DIMS];
    size_t numel;
    int trainable;
    size_t offset;     /* floats into params (and, when trainable, into grads/m/v) */
} nn_param_info;

typedef struct {
    nn_param_info *info;   /* [count], registration order */
    int count, cap;
    int finalized;
    size_t n_floats;             /* params slab length, padding included */
    size_t n_trainable;          /* grads/m/v slab length = trainable prefix of params */
    size_t n_elems;              /* parameter count, all tensors, padding excluded */
    size_t n_trainable_elems;    /* parameter count of trainable tensors */
    float *params, *grads, *m, *v;
} nn_params;

/* A named view of one registered tensor. */
typedef struct {
    const char *name;
    nn_tensor value;           /* into the params slab */
    float *grad, *m, *v;       /* [numel] each; NULL when frozen */
    int trainable;
} nn_param_view;

void nn_params_init(nn_params *p);

/* Registers a tensor (before finalize; asserted). SDPO_ERR_ARG for a duplicate or empty name,
 * a rank outside 1…NN_MAX_DIMS or a negative extent; SDPO_ERR_NOMEM if the registry cannot
 * grow. */
sdpo_status nn_params_add(nn_params *p, const char *name, int ndim, const int64_t *shape,
                          int trainable);

/* Fixes the layout and allocates the four slabs, zero-filled (grads/m/v are NULL when nothing
 * is trainable). SDPO_ERR_NOMEM naming the slab and its size. Call once. */
sdpo_status nn_params_finalize(nn_params *p);

/* Lookup by name (after finalize; a linear scan, meant for model building, not inner loops).
 * SDPO_ERR_SHAPE "unknown parameter '<name>'" when absent, as error.h files missing tensors. */
sdpo_status nn_params_get(const nn_params *p, const char *name, nn_param_view *out);

/* nn_params_get plus a rank/shape check (expected extent < 0 = any), for binding model code
 * to registry entries: SDPO_ERR_SHAPE naming the tensor and both shapes. */
sdpo_status nn_params_expect(const nn_params *p, const char *name, int ndim,
                             const int64_t *shape, nn_param_view *out);

/* The i-th tensor in registration order, 0 ≤ i < p->count (after finalize; asserted). */
nn_param_view nn_params_at(const nn_params *p, int i);

void nn_params_free(nn_params *p);

#endif

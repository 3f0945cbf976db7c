/* nn/context.h — the execution context every nn op takes as its first argument.
 *
 * Ops are called as nn_<op>_forward(ctx, out, inputs…, params…, dims…) and
 * nn_<op>_backward(ctx, d_inputs…, d_params…, dout, saved inputs…, dims…). Pointers are
 * device pointers of ctx->backend (host memory for the CPU reference). Backward ops ACCUMULATE
 * (+=) into gradient buffers, as llm.c does, so shared inputs and gradient accumulation need no
 * extra code; a NULL gradient pointer means "not needed" (frozen weights have no buffer).
 * Model code never loops over elements on the host: everything goes through an op, so a CUDA
 * backend slots in behind the same calls (ctx->backend = NN_BACKEND_CUDA, ctx->stream). */
#ifndef SDPO_NN_CONTEXT_H
#define SDPO_NN_CONTEXT_H

typedef enum { NN_BACKEND_CPU = 0, NN_BACKEND_CUDA } nn_backend;

typedef struct {
    nn_backend backend;
    int n_threads;   /* OpenMP threads for the CPU backend; results are bit-identical across
                        reruns at a fixed count (each thread writes disjoint outputs) */
    void *stream;    /* cudaStream_t for the CUDA backend; NULL on the CPU */
} nn_ctx;

#endif

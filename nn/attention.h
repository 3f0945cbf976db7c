/* nn/attention.h — multi-head scaled-dot-product attention (forward and backward) on the CPU.
 *
 * The attention core of SD-Turbo's UNet (self-attention over h·w tokens, cross-attention to
 * the 77 text tokens; heads of 64), of the VAE mid block (one head of 512), of the CLIP text
 * encoder (causal) and of the reward models' ViT/BERT towers (BERT: key-padding mask).
 * Projections are separate linear ops; this op sees them already projected:
 *
 *   q [B, Lq, H·dh], k and v [B, Lk, H·dh], out [B, Lq, H·dh]   (row-major)
 *
 * with the heads interleaved in the last dim as PyTorch's `x.view(B, L, H, dh)` (diffusers
 * Attention.head_to_batch_dim, HF CLIP/BERT's _shape), so head h of token i is the slice
 * x[b, i, h·dh : (h+1)·dh] and no transpose is ever materialised. Per (b, h):
 *
 *   S = scale · q kᵀ + mask,  S_ij = −∞ where causal and j > i,
 *   P = softmax_j(S),  out = P v,  lse_i = log Σ_j exp(S_ij)
 *
 * scale 0 selects 1/√dh (PyTorch scaled_dot_product_attention's default and diffusers'
 * dim_head**-0.5). The causal mask is the top-left aligned tril of torch's is_causal and of
 * CLIP's text model (key j > query i masked). Additive masks are float [B, Lq, Lk] or
 * [Lq, Lk] (broadcast over the batch) or [B, Lk] (key padding, BERT's extended mask
 * (1 − m)·−10000 of shape [B, 1, 1, Lk]); all are broadcast over heads. A query row whose
 * every key is −∞ gets out = 0 and lse = −∞ (torch ≥ 2.5's _safe_softmax in the SDPA math
 * path) instead of NaN; NaN inputs still give NaN.
 *
 * Memory is flash-attention style (Dao et al. 2022; FlashAttention-2 backward): forward keeps
 * only lse [B, H, Lq]; backward recomputes P block by block from (q, k, lse) and uses
 * D_i = Σ_d dout_id·out_id, so no [Lq, Lk] matrix is ever stored. Both directions work on
 * blocks of NN_ATTN_BLOCK_Q query rows against all Lk keys with OpenBLAS sgemm, in a caller
 * scratch buffer of nn_attention_scratch_floats() floats; nothing is allocated inside.
 *
 * Threading: forward splits (b, h, query block) tasks across ctx->n_threads OpenMP threads;
 * backward splits (b, h) tasks, so each thread owns the dq/dk/dv slices of its heads and no
 * reduction crosses threads. Each task's arithmetic is fixed, so reruns are bit-identical
 * (at any thread count, in fact). sgemm runs single-threaded inside the parallel region
 * (OpenBLAS's thread count is set to 1 for the call and restored afterwards). */
#ifndef SDPO_NN_ATTENTION_H
#define SDPO_NN_ATTENTION_H

#include <stddef.h>

#include "nn/context.h"

/* Query rows per block: a block's score tile is NN_ATTN_BLOCK_Q × Lk floats. */
#define NN_ATTN_BLOCK_Q 64

typedef enum {
    NN_ATTN_MASK_NONE = 0,
    NN_ATTN_MASK_QK,    /* [Lq, Lk], the same for every batch element */
    NN_ATTN_MASK_BQK,   /* [B, Lq, Lk] */
    NN_ATTN_MASK_BK,    /* [B, Lk], the same for every query (key padding) */
} nn_attn_mask_kind;

typedef struct {
    int B, H;        /* batch, heads */
    int Lq, Lk;      /* query and key/value lengths (Lk ≠ Lq for cross-attention) */
    int dh;          /* head dim; the channel dim of q/k/v/out is H·dh */
    float scale;     /* 0 → 1/√dh */
    int causal;      /* 1: mask key j > query i */
    nn_attn_mask_kind mask_kind;
} nn_attention_shape;

/* Floats of scratch that forward and backward need at ctx->n_threads threads. */
size_t nn_attention_scratch_floats(const nn_ctx *ctx, const nn_attention_shape *s);

/* out [B, Lq, H·dh] and lse [B, H, Lq] are written. mask: NULL iff s->mask_kind is NONE. */
void nn_attention_forward(nn_ctx *ctx, float *out, float *lse, const float *q, const float *k,
                          const float *v, const float *mask, const nn_attention_shape *s,
                          float *scratch);

/* Accumulates (+=) dq [B, Lq, H·dh], dk and dv [B, Lk, H·dh]; any may be NULL (not needed).
 * out and lse are the forward's results for the same q, k, v, mask. */
void nn_attention_backward(nn_ctx *ctx, float *dq, float *dk, float *dv, const float *dout,
                           const float *q, const float *k, const float *v, const float *out,
                           const float *lse, const float *mask, const nn_attention_shape *s,
                           float *scratch);

#endif

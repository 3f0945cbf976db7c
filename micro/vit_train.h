/* micro/vit_train.h — training for the CLIP image tower of models/vit.h: a forward that saves
 * its activations and the backward that turns d(image_embeds) into parameter gradients, plus
 * the pre-LN transformer block both micro-CLIP towers share (the text tower's trainer,
 * micro/clip_text_train.h, runs the same block with a causal mask).
 *
 * Scope: the HF-CLIP layout (SDPO_VIT_HF_CLIP: CLIPVisionTransformer + visual_projection) only,
 * the layout the micro CLIP ships in, so that the shipped folder loads through the very code
 * PickScore and the aesthetic predictor use (rewards/pickscore.c, rewards/aesthetic.c).
 *
 * The training forward runs the same nn ops in the same order as sdpo_vit_forward (models/vit.c),
 * so with the same weights and thread count it produces the same image_embeds (tests/
 * test_vit_grad.c checks this); it differs only in keeping every intermediate for the backward:
 *
 *   conv_patch → tokens → x0 = [cls | tokens] + pos → x = ln_pre(x0)
 *   per layer (sdpo_tblock): x_mid = x + out(MHA(LN1 x)); x' = x_mid + fc2(act(fc1(LN2 x_mid)))
 *   c = x'[:, 0] → ln_post → image_embeds = c_ln · visual_projectionᵀ
 *
 * Gradients follow nn/ops.h: every backward ACCUMULATES into the registry's grads slab (call
 * nn_zero_grad between steps), frozen tensors get none. Activations live in a caller nn_arena of
 * sdpo_vit_train_arena_bytes(); nothing is allocated per step. */
#ifndef SDPO_MICRO_VIT_TRAIN_H
#define SDPO_MICRO_VIT_TRAIN_H

#include <stddef.h>

#include "core/error.h"
#include "models/vit.h"
#include "nn/arena.h"
#include "nn/context.h"
#include "nn/params.h"

/* ---------------------------------------------------------------------------------------------
 * the pre-LN transformer block (CLIPEncoderLayer; the same in the vision and text towers) */

typedef struct {
    int D, M, heads;      /* width, MLP width, heads (D % heads == 0) */
    int causal;           /* 1: text tower (key j > query i masked) */
    int quick_gelu;       /* 1: x·σ(1.702x); 0: erf GELU */
    float eps;            /* LayerNorm eps */
} sdpo_tblock_config;

typedef struct {
    const float *ln1_w, *ln1_b, *q_w, *q_b, *k_w, *k_b, *v_w, *v_b, *o_w, *o_b;
    const float *ln2_w, *ln2_b, *fc1_w, *fc1_b, *fc2_w, *fc2_b;
} sdpo_tblock_weights;

/* Gradient buffers at the same positions (NULL = frozen tensor, no gradient). */
typedef struct {
    float *ln1_w, *ln1_b, *q_w, *q_b, *k_w, *k_b, *v_w, *v_b, *o_w, *o_b;
    float *ln2_w, *ln2_b, *fc1_w, *fc1_b, *fc2_w, *fc2_b;
} sdpo_tblock_grads;

/* What one block keeps for its backward (N = B·L rows). */
typedef struct {
    const float *x_in;                     /* [N, D] the block input (owned by the caller) */
    float *h1, *mean1, *rstd1;             /* LN1 output [N, D], stats [N] */
    float *q, *k, *v, *a, *lse;            /* [N, D] ×4, [B, heads, L] */
    float *x_mid;                          /* [N, D] after the attention residual */
    float *h2, *mean2, *rstd2;             /* LN2 output and stats */
    float *f_pre, *f_act;                  /* [N, M] fc1 output before / after the activation */
    float *x_out;                          /* [N, D] the block output */
} sdpo_tblock_saved;

/* Backward workspace shared by every block of a tower (one per tower, reused layer by layer). */
typedef struct {
    float *dh, *dq, *dk, *dv, *da;         /* [N, D] */
    float *df_act, *df_pre;                /* [N, M] */
    float *attn_scratch;                   /* nn_attention_scratch_floats */
} sdpo_tblock_work;

/* Arena bytes of one block's saved activations / of the shared workspace, B sequences of L. */
size_t sdpo_tblock_saved_bytes(const sdpo_tblock_config *c, int B, int L);
size_t sdpo_tblock_work_bytes(const nn_ctx *ctx, const sdpo_tblock_config *c, int B, int L);
sdpo_status sdpo_tblock_work_alloc(const nn_ctx *ctx, const sdpo_tblock_config *c, int B, int L,
                                   nn_arena *arena, sdpo_tblock_work *w);

/* x_in [B, L, D] → s->x_out, allocating s's buffers from the arena. x_in must stay valid until
 * the backward. SDPO_ERR_NOMEM when the arena is too small. */
sdpo_status sdpo_tblock_forward(nn_ctx *ctx, const sdpo_tblock_config *c,
                                const sdpo_tblock_weights *w, int B, int L, const float *x_in,
                                nn_arena *arena, const sdpo_tblock_work *work,
                                sdpo_tblock_saved *s);

/* dx [B, L, D]: on entry d(loss)/d(x_out), on return d(loss)/d(x_in) (updated in place).
 * Accumulates into every non-NULL gradient of g. */
void sdpo_tblock_backward(nn_ctx *ctx, const sdpo_tblock_config *c, const sdpo_tblock_weights *w,
                          const sdpo_tblock_grads *g, int B, int L, const sdpo_tblock_saved *s,
                          const sdpo_tblock_work *work, float *dx);

/* The gradient buffer of a tensor bound from p (a pointer into p->params), or NULL when the
 * tensor is frozen (params[i] ↔ grads[i] for the trainable prefix, nn/params.h). */
float *sdpo_params_grad_of(const nn_params *p, const float *value);

/* Registers every tensor `src` holds (names, shapes, registration order) into dst as trainable:
 * how the trainers register a tower with its checkpoint names (models/vit.h, clip_text.h
 * register frozen). src need not be finalized. */
sdpo_status sdpo_params_add_trainable(nn_params *dst, const nn_params *src);

/* ---------------------------------------------------------------------------------------------
 * the image tower */

typedef struct {
    sdpo_vit vit;                          /* views of the tower's weights in the registry */
    const float *proj;                     /* visual_projection.weight [E, D] (live view) */
    sdpo_tblock_config block;
    sdpo_tblock_weights *w;                /* [layers] */
    sdpo_tblock_grads *g;                  /* [layers] */
    float *g_patch_w, *g_cls, *g_pos, *g_ln_pre_w, *g_ln_pre_b, *g_ln_post_w, *g_ln_post_b,
        *g_proj;
    /* saved by the last forward (into its arena) */
    int B;
    const float *pixels;
    float *x0, *x_pre, *mean_pre, *rstd_pre, *cls, *c_ln, *mean_post, *rstd_post, *conv_scratch;
    sdpo_tblock_saved *saved;              /* [layers] */
    sdpo_tblock_work work;
} sdpo_vit_train;

/* Registers the tower and its projection (sdpo_vit_register's names) as trainable. */
sdpo_status sdpo_vit_train_register(const sdpo_vit_config *c, nn_params *p);

/* Binds t to a finalized registry holding the tower (trainable or not; frozen tensors get no
 * gradient). SDPO_ERR_ARG for a layout other than SDPO_VIT_HF_CLIP. */
sdpo_status sdpo_vit_train_bind(sdpo_vit_train *t, const sdpo_vit_config *c, const nn_params *p);
void sdpo_vit_train_free(sdpo_vit_train *t);

/* Arena bytes of one training forward of B images (saved activations + backward workspace). */
size_t sdpo_vit_train_arena_bytes(const nn_ctx *ctx, const sdpo_vit_config *c, int B);

/* pixels [B, 3, S, S] (preprocessed as rewards/preprocess.h; must stay valid until the
 * backward) → out [B, E] image_embeds, keeping the activations in the arena. */
sdpo_status sdpo_vit_train_forward(nn_ctx *ctx, sdpo_vit_train *t, nn_arena *arena, int B,
                                   const float *pixels, float *out);

/* dout [B, E] = d(loss)/d(image_embeds) of the last forward → gradients accumulated. */
sdpo_status sdpo_vit_train_backward(nn_ctx *ctx, sdpo_vit_train *t, nn_arena *arena,
                                    const float *dout);

#endif

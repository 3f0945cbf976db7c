/* micro/clip_text_train.h — training for the CLIP text tower of models/clip_text.h (HF
 * CLIPTextTransformer + CLIPModel.text_projection): a forward that keeps its activations and the
 * backward to every parameter, the micro CLIP's text side.
 *
 *   x0 = token_embedding[ids] + position_embedding[0:L]
 *   per layer: the pre-LN block of micro/vit_train.h with the causal mask
 *   p = x[b, eos_b] → final_layer_norm → text_embeds = p_ln · text_projectionᵀ
 *
 * Same ops in the same order as sdpo_clip_text_forward (which layer-norms every row before the
 * eos gather; LayerNorm is per row, so normalising only the pooled rows gives the same numbers),
 * pooled at argmax(ids) or at the first eos as the config says. Padding after eos is invisible to
 * the pooled row under the causal mask, so a batch is padded to its longest caption with any id.
 * Gradients accumulate into the registry's grads slab; the token-embedding gradient is a host
 * scatter-add over ids in order (deterministic). */
#ifndef SDPO_MICRO_CLIP_TEXT_TRAIN_H
#define SDPO_MICRO_CLIP_TEXT_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "micro/vit_train.h"
#include "models/clip_text.h"
#include "nn/arena.h"
#include "nn/context.h"
#include "nn/params.h"

typedef struct {
    sdpo_clip_text text;                   /* views of the tower's weights in the registry */
    sdpo_tblock_config block;
    sdpo_tblock_weights *w;                /* [layers] */
    sdpo_tblock_grads *g;                  /* [layers] */
    float *g_tok, *g_pos, *g_ln_w, *g_ln_b, *g_proj;
    /* saved by the last forward */
    int B, L;
    const int64_t *ids;
    int *eos;                              /* [B] pooled positions */
    float *x0, *pooled, *p_ln, *mean, *rstd;
    sdpo_tblock_saved *saved;              /* [layers] */
    sdpo_tblock_work work;
} sdpo_clip_text_train;

/* Registers the tower and its projection (sdpo_clip_text_register's names) as trainable. */
sdpo_status sdpo_clip_text_train_register(nn_params *p, const sdpo_clip_text_config *cfg,
                                          const sdpo_clip_text_layout *layout);

/* Binds t to a finalized registry; the layout must be SDPO_CLIP_TEXT_HF with a projection. */
sdpo_status sdpo_clip_text_train_bind(sdpo_clip_text_train *t, const nn_params *p,
                                      const sdpo_clip_text_config *cfg,
                                      const sdpo_clip_text_layout *layout);
void sdpo_clip_text_train_free(sdpo_clip_text_train *t);

/* Arena bytes of one training forward + backward of B sequences of length L. */
size_t sdpo_clip_text_train_arena_bytes(const nn_ctx *ctx, const sdpo_clip_text_config *cfg,
                                        int B, int L);

/* ids [B, L] (valid until the backward; 1 ≤ L ≤ max_positions) → out [B, P] text_embeds.
 * SDPO_ERR_ARG for an id outside the vocabulary. */
sdpo_status sdpo_clip_text_train_forward(nn_ctx *ctx, sdpo_clip_text_train *t, nn_arena *arena,
                                         const int64_t *ids, int B, int L, float *out);

/* dout [B, P] = d(loss)/d(text_embeds) of the last forward → gradients accumulated. */
sdpo_status sdpo_clip_text_train_backward(nn_ctx *ctx, sdpo_clip_text_train *t, nn_arena *arena,
                                          const float *dout);

#endif

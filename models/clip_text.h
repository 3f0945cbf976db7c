/* models/clip_text.h — the CLIP text transformer (transformers CLIPTextModel /
 * CLIPTextTransformer, and open_clip's text tower), forward only.
 *
 * One implementation for every CLIP text tower in the harness: SD-Turbo's text encoder (the
 * OpenCLIP ViT-H/14 text tower saved as a 23-layer CLIPTextModel, GELU), PickScore (HF names) and
 * HPSv2 (open_clip names; both ViT-H/14, 24 layers, GELU) and OpenAI CLIP L/14 (QuickGELU). From
 * transformers' modeling_clip.py:
 *
 *   x = token_embedding[ids] + position_embedding[0:L]                   x [B, L, D]
 *   for each layer (pre-LN):
 *       x = x + out_proj(MHA(q_proj(LN1 x), k_proj(LN1 x), v_proj(LN1 x)))  causal, H heads
 *       x = x + fc2(act(fc1(LN2 x)))                                     act = hidden_act
 *   last_hidden_state = final_layer_norm(x)                              [B, L, D]
 *   pooler_output = last_hidden_state[b, eos position]                   [B, D]
 *   text_embeds = text_projection(pooler_output)   (CLIPModel, CLIPTextModelWithProjection)
 *
 * The eos position is argmax(ids) when the config's eos_token_id is 2 (legacy CLIP configs such
 * as SD-Turbo's, where eos 49407 is the largest id; open_clip always) and the first position
 * holding eos_token_id otherwise, as CLIPTextTransformer.forward does. There is no attention mask
 * besides the causal one (SD pipelines pass none): the pad positions after eos attend to the
 * whole prompt, so the pad id (0 for SD-2, 49407 for SD-1) changes their states, and the UNet's
 * cross-attention sees all 77.
 *
 * Hidden-state selection (sdpo_clip_text_select): SD-2 / SD-Turbo condition on
 * last_hidden_state (diffusers encode_prompt with clip_skip None: text_encoder(ids)[0]); that is
 * OpenCLIP's "penultimate" layer because the 24-layer tower was saved with 23 layers. diffusers'
 * clip_skip = k instead runs num_layers − k layers and applies final_layer_norm (skip_layers = k);
 * the raw hidden_states[i] of output_hidden_states is skip_layers = num_layers − i without the
 * final norm.
 *
 * Weights are F32 in an nn_params registry (inference only: registered frozen). Activations live
 * in a caller nn_arena of sdpo_clip_text_arena_bytes(); the forward allocates nothing else. */
#ifndef SDPO_MODELS_CLIP_TEXT_H
#define SDPO_MODELS_CLIP_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "models/config.h"
#include "models/model_dir.h"
#include "nn/arena.h"
#include "nn/context.h"
#include "nn/params.h"

typedef enum { SDPO_CLIP_ACT_GELU = 0, SDPO_CLIP_ACT_QUICK_GELU } sdpo_clip_act;

typedef struct {
    int vocab_size;          /* V */
    int hidden_size;         /* D */
    int intermediate_size;   /* I, the MLP width */
    int num_layers;          /* num_hidden_layers */
    int num_heads;           /* H; D % H == 0, head dim D/H */
    int max_positions;       /* max_position_embeddings: longest L */
    float layer_norm_eps;
    sdpo_clip_act act;       /* hidden_act "gelu" (erf) or "quick_gelu" */
    int pool_argmax;         /* 1: pool at argmax(ids); 0: at the first eos_token_id */
    int eos_token_id;
    int projection_dim;      /* P, text_projection's output width */
} sdpo_clip_text_config;

/* From a CLIPTextConfig config.json (CLIPTextModel's own file, e.g. text_encoder/config.json,
 * or the "text_config" section of a CLIPModel's, see models/subconfig.h). The vocabulary and
 * layer sizes are required; hidden_act, layer_norm_eps, eos_token_id and projection_dim default
 * as in CLIPTextConfig (quick_gelu, 1e-5, 49407, 512). eos_token_id 2 selects argmax pooling.
 * Errors name the file and key; an unknown hidden_act is SDPO_ERR_FORMAT. */
sdpo_status sdpo_clip_text_config_load(const sdpo_config *cfg, sdpo_clip_text_config *out);

/* From an open_clip model config's "text_cfg" section (context_length, vocab_size, width, heads,
 * layers, mlp_ratio; open_clip's CLIPTextCfg defaults) plus the model's embed_dim and quick_gelu
 * flag: argmax pooling, LayerNorm eps 1e-5. Options this port lacks (ls_init_value, embed_cls,
 * pool_type other than argmax, no_causal_mask, proj_bias) are SDPO_ERR_FORMAT naming the key. */
sdpo_status sdpo_clip_text_config_open_clip(const sdpo_config *text_cfg, int embed_dim,
                                            int quick_gelu, sdpo_clip_text_config *out);

/* Checkpoint naming.
 *   SDPO_CLIP_TEXT_HF:        transformers CLIPTextModel / CLIPModel: "<prefix>embeddings.
 *                             token_embedding.weight", "<prefix>encoder.layers.N.self_attn.q_proj",
 *                             …, "<prefix>final_layer_norm"; projection a Linear weight [P, D].
 *   SDPO_CLIP_TEXT_OPEN_CLIP: open_clip CLIP (HPSv2): "<prefix>token_embedding.weight",
 *                             "<prefix>positional_embedding", "<prefix>transformer.resblocks.N.
 *                             {ln_1, attn.in_proj_weight [3D, D] (rows q | k | v), attn.in_proj_bias,
 *                             attn.out_proj, ln_2, mlp.c_fc, mlp.c_proj}", "<prefix>ln_final";
 *                             projection [D, P] used as x @ P (bound as a transposed copy). */
typedef enum { SDPO_CLIP_TEXT_HF = 0, SDPO_CLIP_TEXT_OPEN_CLIP } sdpo_clip_text_naming;

typedef struct {
    sdpo_clip_text_naming naming;
    const char *prefix;            /* HF: "text_model."; open_clip: "" (top-level keys) */
    const char *projection_name;   /* HF "text_projection.weight", open_clip "text_projection";
                                      NULL: no projection */
} sdpo_clip_text_layout;

/* SD-Turbo's text_encoder/model.safetensors: HF names, prefix "text_model.", no projection. */
extern const sdpo_clip_text_layout sdpo_clip_text_layout_sd;

/* Registers every tensor the config implies into p (frozen), with checkpoint names and shapes
 * (HF: [V, D] token embedding, [max_positions, D] positions, per layer layer_norm1/2 [D],
 * q/k/v/out_proj [D, D] + [D], fc1 [I, D] + [I], fc2 [D, I] + [D], final_layer_norm [D]), in
 * the order of the checkpoint's state_dict. */
sdpo_status sdpo_clip_text_register(nn_params *p, const sdpo_clip_text_config *cfg,
                                    const sdpo_clip_text_layout *layout);

typedef struct {
    const float *ln1_w, *ln1_b;       /* [D] */
    const float *q_w, *q_b, *k_w, *k_b, *v_w, *v_b, *o_w, *o_b;   /* [D, D], [D] (views into
                                                                     a fused in_proj) */
    const float *ln2_w, *ln2_b;       /* [D] */
    const float *fc1_w, *fc1_b;       /* [I, D], [I] */
    const float *fc2_w, *fc2_b;       /* [D, I], [D] */
} sdpo_clip_text_layer;

/* Views of the weights of one text tower in a finalized registry. */
typedef struct {
    sdpo_clip_text_config cfg;
    const float *token_embedding;      /* [V, D] */
    const float *position_embedding;   /* [max_positions, D] */
    sdpo_clip_text_layer *layers;      /* [num_layers], owned */
    const float *final_ln_w, *final_ln_b;   /* [D] */
    const float *projection;           /* [P, D] Linear weight, NULL without one */
    float *projection_owned;           /* the transposed copy behind projection (open_clip) */
} sdpo_clip_text;

/* Binds m to the tensors registered by sdpo_clip_text_register in the finalized (and loaded) p;
 * an open_clip projection is copied transposed, so load the weights first. */
sdpo_status sdpo_clip_text_bind(sdpo_clip_text *m, const nn_params *p,
                                const sdpo_clip_text_config *cfg,
                                const sdpo_clip_text_layout *layout);
void sdpo_clip_text_unbind(sdpo_clip_text *m);

/* The layout of the weights file at path: *want, or *want without its prefix when the file holds
 * the tower's tensors unprefixed (transformers ≥ 5 save_pretrained writes CLIPTextModel keys
 * without "text_model."; real SD-Turbo files and transformers 4.x have it). The prefix string of
 * *out points into *want. */
sdpo_status sdpo_clip_text_file_layout(const char *path, const sdpo_clip_text_layout *want,
                                       sdpo_clip_text_layout *out);

/* A diffusers component folder (text_encoder/): config, registry (owned by *p, initialised
 * here), strict load of its model[.fp16].safetensors with or without the prefix (see
 * sdpo_clip_text_file_layout; the optional position_ids buffer is ignored), bind. On failure
 * nothing is left allocated. */
sdpo_status sdpo_clip_text_load(const sdpo_model_component *c,
                                const sdpo_clip_text_layout *layout, nn_params *p,
                                sdpo_clip_text *m);

/* Which hidden state `hidden` receives. */
typedef struct {
    int skip_layers;        /* run num_layers − skip_layers layers (0: all) */
    int final_layer_norm;   /* apply final_layer_norm to that output */
} sdpo_clip_text_select;

/* last_hidden_state: {0, 1}; what SD-2 / SD-Turbo pipelines condition on. */
extern const sdpo_clip_text_select sdpo_clip_text_last_hidden;

/* Arena bytes for one forward of B sequences of length L at ctx->n_threads. */
size_t sdpo_clip_text_arena_bytes(const nn_ctx *ctx, const sdpo_clip_text_config *cfg, int B,
                                  int L);

/* ids [B, L] (1 ≤ L ≤ max_positions, 0 ≤ id < V), hidden [B, L, D] per `sel` (NULL: not
 * wanted), pooled [B, D] (pooler_output) and text_embeds [B, P] (needs a projection) from
 * last_hidden_state, each NULL when not wanted; pooled/text_embeds need sel == last_hidden or
 * hidden == NULL. SDPO_ERR_ARG for an id outside the vocabulary (naming it and its position),
 * SDPO_ERR_NOMEM when the arena is too small. The arena is reset to its entry mark on return. */
sdpo_status sdpo_clip_text_forward(nn_ctx *ctx, const sdpo_clip_text *m, nn_arena *arena,
                                   const int64_t *ids, int B, int L,
                                   const sdpo_clip_text_select *sel, float *hidden, float *pooled,
                                   float *text_embeds);

#endif

/* models/bert.h — BLIP's "MED" BERT text encoder with cross-attention (forward only, fp32):
 * salesforce/BLIP models/med.py BertModel(config, add_pooling_layer=False) in mode='multimodal',
 * as ImageReward's vendored copy runs it (ImageReward.score: text_encoder(ids, attention_mask,
 * encoder_hidden_states=image_embeds, encoder_attention_mask=ones)). Post-LN:
 *
 *   h = LN(word_embeddings[ids] + position_embeddings[0:L])        (no token-type embeddings)
 *   per layer:
 *     h1 = LN(dense(SelfAttn(h; mask)) + h)          mask: (1 − attention_mask)·(−10000) on keys
 *     h2 = LN(dense(CrossAttn(q = h1; k, v = image_embeds)) + h1)   key/value: Linear(Ew → D)
 *     h  = LN(dense(GELU(dense(h2))) + h2)           D → I → D, erf GELU
 *   last_hidden_state = h                                          [B, L, D]
 *
 * Attention: heads of D/heads, scale 1/√dh, softmax in fp32. Config: med_config.json (BERT
 * keys vocab_size, hidden_size, num_hidden_layers, num_attention_heads, intermediate_size,
 * max_position_embeddings, layer_norm_eps, hidden_act "gelu", add_cross_attention true) with
 * encoder_width set to the vision tower's width, as BLIP_Pretrain does. Tensor names are the
 * checkpoint's, under a prefix ("blip.text_encoder." in ImageReward.pt):
 *   embeddings.{word_embeddings, position_embeddings, LayerNorm}
 *   encoder.layer.N.attention.self.{query, key, value}, .attention.output.{dense, LayerNorm}
 *   encoder.layer.N.crossattention.self.{query [D, D], key [D, Ew], value [D, Ew]},
 *       .crossattention.output.{dense, LayerNorm}
 *   encoder.layer.N.intermediate.dense [I, D], .output.{dense [D, I], LayerNorm} */
#ifndef SDPO_MODELS_BERT_H
#define SDPO_MODELS_BERT_H

#include <stdint.h>

#include "core/error.h"
#include "models/config.h"
#include "nn/context.h"
#include "nn/params.h"

#define SDPO_BERT_PREFIX_MAX 48

typedef struct {
    char prefix[SDPO_BERT_PREFIX_MAX];
    int vocab_size, hidden_size, layers, heads, intermediate_size, max_positions;
    int encoder_width;   /* Ew, the image_embeds width the cross-attention reads */
    float ln_eps;
} sdpo_bert_config;

/* From med_config.json; encoder_width is the caller's (the vision width). Requires
 * add_cross_attention true and hidden_act "gelu"; errors name the file and key. */
sdpo_status sdpo_bert_config_load(const sdpo_config *c, const char *prefix, int encoder_width,
                                  sdpo_bert_config *out);

typedef struct {
    const float *q_w, *q_b, *k_w, *k_b, *v_w, *v_b, *o_w, *o_b, *ln1_w, *ln1_b;
    const float *cq_w, *cq_b, *ck_w, *ck_b, *cv_w, *cv_b, *co_w, *co_b, *ln2_w, *ln2_b;
    const float *fc1_w, *fc1_b, *fc2_w, *fc2_b, *ln3_w, *ln3_b;
} sdpo_bert_layer;

typedef struct {
    sdpo_bert_config cfg;
    const float *word, *pos, *emb_ln_w, *emb_ln_b;
    sdpo_bert_layer *layer;   /* [layers], owned */
} sdpo_bert;

sdpo_status sdpo_bert_register(const sdpo_bert_config *c, nn_params *p);
sdpo_status sdpo_bert_bind(sdpo_bert *m, const sdpo_bert_config *c, const nn_params *p);
void sdpo_bert_free(sdpo_bert *m);

/* ids, mask [B, L] (mask 1 = real token), image_embeds [B, Li, Ew]; out [B, L, D] =
 * last_hidden_state. SDPO_ERR_ARG for an id outside the vocabulary or L > max_positions,
 * SDPO_ERR_NOMEM. */
sdpo_status sdpo_bert_forward(nn_ctx *ctx, const sdpo_bert *m, int B, int L, const int64_t *ids,
                              const int64_t *mask, int Li, const float *image_embeds, float *out);

#endif

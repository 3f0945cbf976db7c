/* rewards/mlp_head.h — the affine MLP head shared by the LAION aesthetic predictor and
 * ImageReward: nn.Sequential(Linear(in, 1024), Dropout, Linear(1024, 128), Dropout,
 * Linear(128, 64), Dropout, Linear(64, 16), Linear(16, 1)) with every ReLU commented out
 * upstream (improved-aesthetic-predictor simple_inference.py MLP; ImageReward.py MLP), so in
 * eval mode it is five chained Linear layers, keys "<prefix>{0,2,4,6,7}.{weight,bias}".
 * The widths are read from the checkpoint (sdpo_mlp_head_dims), so tiny test heads load through
 * the same code; the real ones are 768 → 1024 → 128 → 64 → 16 → 1. */
#ifndef SDPO_REWARDS_MLP_HEAD_H
#define SDPO_REWARDS_MLP_HEAD_H

#include "core/error.h"
#include "nn/context.h"
#include "nn/params.h"
#include "nn/safetensors.h"

#define SDPO_MLP_HEAD_LAYERS 5

/* The real heads' widths (architectures.md §3.a, §3.d). */
extern const int sdpo_mlp_head_real_dims[SDPO_MLP_HEAD_LAYERS + 1];

typedef struct {
    int dims[SDPO_MLP_HEAD_LAYERS + 1];               /* in, …, out (= 1) */
    const float *w[SDPO_MLP_HEAD_LAYERS], *b[SDPO_MLP_HEAD_LAYERS];
} sdpo_mlp_head;

/* Reads the widths from the shapes of "<prefix>{0,2,4,6,7}.weight" in st and checks the chain
 * (input in_dim, each layer's input = previous output, last output 1, biases present):
 * SDPO_ERR_SHAPE naming the file and tensor otherwise. */
sdpo_status sdpo_mlp_head_dims(const sdpo_safetensors *st, const char *prefix, int in_dim,
                               int dims[SDPO_MLP_HEAD_LAYERS + 1]);

sdpo_status sdpo_mlp_head_register(nn_params *p, const char *prefix,
                                   const int dims[SDPO_MLP_HEAD_LAYERS + 1]);
sdpo_status sdpo_mlp_head_bind(sdpo_mlp_head *h, const nn_params *p, const char *prefix,
                               const int dims[SDPO_MLP_HEAD_LAYERS + 1]);

/* in [B, dims[0]] → out [B] (the single output column). Allocates two [B, max width] buffers. */
sdpo_status sdpo_mlp_head_forward(nn_ctx *ctx, const sdpo_mlp_head *h, int B, const float *in,
                                  float *out);

#endif

/* nn/ops_embed.c — diffusers' sinusoidal timestep embedding (forward only).
 *
 * CPU reference: clean, minimal, no intrinsics, no fast-math.
 * Mirrors diffusers.models.embeddings.get_timestep_embedding operation by operation in float32,
 * as PyTorch evaluates it (Python scalars are applied as float32 operands):
 *   exponent = -math.log(max_period) * torch.arange(half, dtype=float32)
 *   exponent = exponent / (half - downscale_freq_shift)
 *   emb = timesteps[:, None].float() * torch.exp(exponent)[None, :];  emb = scale * emb
 *   emb = cat([sin(emb), cos(emb)], -1), halves swapped if flip_sin_to_cos, zero-padded if odd. */
#include <math.h>

#include "nn/ops.h"
#include "nn/ops_internal.h"

void nn_timestep_embedding_forward(nn_ctx *ctx, float *out, const float *t, int N, int dim,
                                   int flip_sin_to_cos, float downscale_freq_shift, float scale,
                                   float max_period) {
    // t is (N), out is (N, dim)
    NN_OPS_CHECK_CTX(ctx);
    NN_ASSERT(out && t && N >= 1 && dim >= 2 && max_period > 0.0f);
    int half = dim / 2;
    float denom = (float)half - downscale_freq_shift;
    NN_ASSERT(denom != 0.0f);
    float neg_log_period = (float)-log((double)max_period);
    for (int n = 0; n < N; n++) {
        float *row = out + (size_t)n * dim;
        float *sin_half = row + (flip_sin_to_cos ? half : 0);
        float *cos_half = row + (flip_sin_to_cos ? 0 : half);
        for (int i = 0; i < half; i++) {
            float exponent = neg_log_period * (float)i / denom;
            float arg = scale * (t[n] * expf(exponent));
            sin_half[i] = sinf(arg);
            cos_half[i] = cosf(arg);
        }
        if (dim % 2) row[dim - 1] = 0.0f;
    }
}

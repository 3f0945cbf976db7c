/* nn/ops.h — the elementwise, normalisation, convolution and linear ops, forward and backward.
 *
 * These are the CPU reference (nn/ops_*.c): plain F32 C11, contiguous row-major tensors in
 * PyTorch layouts, so diffusers/transformers weights load without transposes. A CUDA twin comes
 * later behind the same names (each op asserts ctx->backend == NN_BACKEND_CPU today; a dispatcher
 * will switch on ctx->backend at that point).
 *
 * Calling convention (nn/context.h): ctx first, then outputs, inputs, parameters, dims.
 * Backward ops ACCUMULATE (+=) into every gradient buffer; a NULL gradient pointer means "not
 * needed". Shapes are written outermost first: [B, C, H, W] is NCHW, [N, C] is N rows of C.
 * B = batch, C = channels (or features), H, W = spatial extents, HW = H·W, N = rows (tokens),
 * G = groups.
 *
 * Aliasing: the elementwise forwards (silu, gelu, quick_gelu, add, add_broadcast, scale) allow
 * out == inp (in place); no other output may alias an input, and gradient buffers never alias
 * dout or each other.
 *
 * Threading and determinism: loops run on ctx->n_threads OpenMP threads, each writing disjoint
 * outputs, and every reduction has a fixed order, so at a fixed ctx->n_threads every op is
 * bit-identical across reruns. Elementwise, norm, shape and reduction ops do not even depend on
 * the thread count. The GEMM-based ops (linear, conv2d) cut each GEMM into ctx->n_threads fixed
 * blocks of rows or columns, each one single-threaded OpenBLAS sgemm over the full reduction, so
 * they are reproducible at a given thread count but not across counts. OpenBLAS's own thread pool
 * is not used: these ops set openblas_set_num_threads(1) (process-global state), because its
 * pthreads and OpenMP's spin-waiting against each other made 2 threads slower than 1.
 * Statistics and parameter-gradient reductions (norm mean/var, dbias, dgamma, sums) accumulate in
 * double: a plain two-pass (mean, then Σ(x − μ)²) in double keeps the error far below one float
 * ulp for every size we use, with no compensated-summation tricks.
 *
 * Preconditions that indicate programmer error (dims < 1, NULL required buffer, wrong backend)
 * abort through NN_ASSERT (nn/tensor.h); ops never allocate, print or return errors. */
#ifndef SDPO_NN_OPS_H
#define SDPO_NN_OPS_H

#include <stddef.h>

#include "nn/context.h"

/* ---------------------------------------------------------------------------------------------
 * linear (torch.nn.Linear: y = x·Wᵀ + b), OpenBLAS sgemm
 * (a [B, L, C] activation is N = B·L rows) */

/* inp [N, C_in], weight [C_out, C_in] (PyTorch layout), bias [C_out] or NULL, out [N, C_out]. */
void nn_linear_forward(nn_ctx *ctx, float *out, const float *inp, const float *weight,
                       const float *bias, int N, int C_in, int C_out);
/* dinp [N, C_in] += dout·W; dweight [C_out, C_in] += doutᵀ·inp; dbias [C_out] += Σ_n dout. */
void nn_linear_backward(nn_ctx *ctx, float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, int N, int C_in, int C_out);

/* ---------------------------------------------------------------------------------------------
 * conv2d (torch.nn.Conv2d, dilation 1, groups 1), im2col + sgemm
 *
 * NCHW: inp [B, C_in, H, W], weight [C_out, C_in, kh, kw], bias [C_out] or NULL,
 * out [B, C_out, H_out, W_out] with H_out = (H + pad_top + pad_bottom − kh)/stride + 1 (likewise
 * W_out). Padding is zero padding and may be asymmetric: the VAE encoder's downsample
 * F.pad(x, (0,1,0,1)) then conv(stride 2, pad 0) is pad_top = pad_left = 0,
 * pad_bottom = pad_right = 1. A symmetric torch padding p is all four pads = p.
 * Computed as out_b [C_out, HW_out] = W [C_out, C_in·kh·kw] × col [C_in·kh·kw, HW_out] per image,
 * with the batch's columns walked in chunks that bound the scratch; a 1×1 stride-1 unpadded conv
 * skips im2col. */
typedef struct {
    int B, C_in, H, W, C_out, kh, kw, stride, pad_top, pad_bottom, pad_left, pad_right;
} nn_conv2d_shape;

int nn_conv2d_out_h(const nn_conv2d_shape *s);
int nn_conv2d_out_w(const nn_conv2d_shape *s);
/* Floats of workspace that forward and backward need, at any thread count (the caller allocates
 * once, sized for the largest conv it runs: at most 2²³ floats = 32 MiB; 0 for a 1×1 stride-1
 * unpadded conv, which may then pass NULL). */
size_t nn_conv2d_scratch_floats(const nn_conv2d_shape *s);
void nn_conv2d_forward(nn_ctx *ctx, float *out, const float *inp, const float *weight,
                       const float *bias, const nn_conv2d_shape *s, float *scratch);
/* dout [B, C_out, H_out, W_out] → dinp [B, C_in, H, W], dweight [C_out, C_in, kh, kw],
 * dbias [C_out]; inp is needed for dweight, weight for dinp. */
void nn_conv2d_backward(nn_ctx *ctx, float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, const nn_conv2d_shape *s,
                        float *scratch);

/* ---------------------------------------------------------------------------------------------
 * normalisation (biased variance, as torch.nn.GroupNorm / torch.nn.LayerNorm) */

/* torch.nn.GroupNorm(G, C, eps, affine): inp, out [B, C, HW] (NCHW with H·W flattened; HW = 1
 * for [B, C]); each sample's C/G consecutive channels × HW form one group;
 * out = (x − μ)·rstd·weight_c + bias_c with rstd = 1/√(var + eps).
 * weight, bias [C], both NULL for affine=False. mean, rstd [B, G] receive the statistics for
 * backward (both NULL when no backward follows). C % G == 0. */
void nn_group_norm_forward(nn_ctx *ctx, float *out, float *mean, float *rstd, const float *inp,
                           const float *weight, const float *bias, int B, int C, int HW, int G,
                           float eps);
/* dinp [B, C, HW]; dweight, dbias [C]; mean, rstd as saved by the forward. */
void nn_group_norm_backward(nn_ctx *ctx, float *dinp, float *dweight, float *dbias,
                            const float *dout, const float *inp, const float *weight,
                            const float *mean, const float *rstd, int B, int C, int HW, int G);

/* torch.nn.LayerNorm(C, eps) over the last dim: inp, out [N, C]; weight, bias [C] (both NULL for
 * elementwise_affine=False); mean, rstd [N] saved for backward (NULL when none follows). */
void nn_layer_norm_forward(nn_ctx *ctx, float *out, float *mean, float *rstd, const float *inp,
                           const float *weight, const float *bias, int N, int C, float eps);
void nn_layer_norm_backward(nn_ctx *ctx, float *dinp, float *dweight, float *dbias,
                            const float *dout, const float *inp, const float *weight,
                            const float *mean, const float *rstd, int N, int C);

/* ---------------------------------------------------------------------------------------------
 * activations, n elements of any shape (out may alias inp) */

/* torch.nn.SiLU: x·σ(x). */
void nn_silu_forward(nn_ctx *ctx, float *out, const float *inp, size_t n);
void nn_silu_backward(nn_ctx *ctx, float *dinp, const float *dout, const float *inp, size_t n);
/* torch.nn.GELU(approximate='none'): ½x(1 + erf(x/√2)) (CLIP-H, BERT, ViT-H, GEGLU). */
void nn_gelu_forward(nn_ctx *ctx, float *out, const float *inp, size_t n);
void nn_gelu_backward(nn_ctx *ctx, float *dinp, const float *dout, const float *inp, size_t n);
/* OpenAI CLIP QuickGELU: x·σ(1.702x). */
void nn_quick_gelu_forward(nn_ctx *ctx, float *out, const float *inp, size_t n);
void nn_quick_gelu_backward(nn_ctx *ctx, float *dinp, const float *dout, const float *inp,
                            size_t n);
/* diffusers GEGLU after its proj: inp [N, 2C] = [a | gate] (hidden_states.chunk(2, dim=-1)),
 * out [N, C] = a · gelu(gate) (exact GELU). dinp [N, 2C]. */
void nn_geglu_forward(nn_ctx *ctx, float *out, const float *inp, int N, int C);
void nn_geglu_backward(nn_ctx *ctx, float *dinp, const float *dout, const float *inp, int N, int C);

/* ---------------------------------------------------------------------------------------------
 * shape ops */

/* F.interpolate(scale_factor=2, mode="nearest"): inp [B, C, H, W], out [B, C, 2H, 2W],
 * out[y, x] = inp[y/2, x/2]. Backward sums each 2×2 block of dout into dinp. */
void nn_upsample_nearest2x_forward(nn_ctx *ctx, float *out, const float *inp, int B, int C, int H,
                                   int W);
void nn_upsample_nearest2x_backward(nn_ctx *ctx, float *dinp, const float *dout, int B, int C,
                                    int H, int W);

/* torch.cat([a, b], dim=1) on [B, C, inner] views: a [B, Ca, inner], b [B, Cb, inner],
 * out [B, Ca+Cb, inner]. NCHW channel concat is inner = H·W (the UNet's cat([h, skip]));
 * token concat [B, L, D] along L is inner = D. */
void nn_concat_channels_forward(nn_ctx *ctx, float *out, const float *a, const float *b, int B,
                                int Ca, int Cb, int inner);
void nn_concat_channels_backward(nn_ctx *ctx, float *da, float *db, const float *dout, int B,
                                 int Ca, int Cb, int inner);
/* The inverse, torch.split(x, [Ca, Cb], dim=1): inp [B, Ca+Cb, inner] → a, b. Backward
 * accumulates da, db (either NULL = zero gradient from that part) into dinp. */
void nn_split_channels_forward(nn_ctx *ctx, float *a, float *b, const float *inp, int B, int Ca,
                               int Cb, int inner);
void nn_split_channels_backward(nn_ctx *ctx, float *dinp, const float *da, const float *db, int B,
                                int Ca, int Cb, int inner);

/* x.permute(0, 2, 3, 1).reshape(B, H·W, C): inp [B, C, HW] → out [B, HW, C] (token = y·W + x),
 * as diffusers Transformer2DModel before proj_in; and the reverse after proj_out. */
void nn_nchw_to_tokens_forward(nn_ctx *ctx, float *out, const float *inp, int B, int C, int HW);
void nn_nchw_to_tokens_backward(nn_ctx *ctx, float *dinp, const float *dout, int B, int C,
                                int HW);
void nn_tokens_to_nchw_forward(nn_ctx *ctx, float *out, const float *inp, int B, int C, int HW);
void nn_tokens_to_nchw_backward(nn_ctx *ctx, float *dinp, const float *dout, int B, int C,
                                int HW);

/* ---------------------------------------------------------------------------------------------
 * arithmetic and reductions */

/* out = a + b, n elements (out may alias a or b). */
void nn_add_forward(nn_ctx *ctx, float *out, const float *a, const float *b, size_t n);
void nn_add_backward(nn_ctx *ctx, float *da, float *db, const float *dout, size_t n);
/* out[b, c, i] = a[b, c, i] + v[VB == 1 ? 0 : b, c]: a, out [B, C, inner], v [VB, C] with
 * VB = B (the UNet's h + time_emb_proj(temb)[:, :, None, None], inner = H·W) or VB = 1 (one
 * vector shared by the batch, e.g. a position embedding [L·D] on [B, L·D] is C = L·D, inner = 1).
 * Backward: da += dout, dv[vb, c] += Σ over the broadcast b and i of dout. */
void nn_add_broadcast_forward(nn_ctx *ctx, float *out, const float *a, const float *v, int B,
                              int C, int inner, int VB);
void nn_add_broadcast_backward(nn_ctx *ctx, float *da, float *dv, const float *dout, int B, int C,
                               int inner, int VB);
/* out = s·inp (a constant factor, e.g. the VAE's 1/0.18215). */
void nn_scale_forward(nn_ctx *ctx, float *out, const float *inp, float s, size_t n);
void nn_scale_backward(nn_ctx *ctx, float *dinp, const float *dout, float s, size_t n);

/* out[0] = Σ inp (sum) or Σ inp / n (mean) over all n elements; dinp += dout[0] (or dout[0]/n).
 * The double accumulation runs over a fixed number of blocks combined in order, so the result
 * is independent of the thread count. */
void nn_sum_forward(nn_ctx *ctx, float *out, const float *inp, size_t n);
void nn_sum_backward(nn_ctx *ctx, float *dinp, const float *dout, size_t n);
void nn_mean_forward(nn_ctx *ctx, float *out, const float *inp, size_t n);
void nn_mean_backward(nn_ctx *ctx, float *dinp, const float *dout, size_t n);
/* x.mean(dim=(2, 3)): inp [B, C, HW] → out [B, C]; dinp [B, C, HW] += dout[b, c]/HW. */
void nn_mean_hw_forward(nn_ctx *ctx, float *out, const float *inp, int B, int C, int HW);
void nn_mean_hw_backward(nn_ctx *ctx, float *dinp, const float *dout, int B, int C, int HW);

/* ---------------------------------------------------------------------------------------------
 * sinusoidal timestep embedding (forward only: timesteps are data, not parameters) */

/* diffusers get_timestep_embedding(t, dim, flip_sin_to_cos, downscale_freq_shift, scale,
 * max_period): half = dim/2, f_i = exp(−ln(max_period)·i/(half − downscale_freq_shift)),
 * arg_i = scale·t·f_i, out [N, dim] = [sin(arg) | cos(arg)], or [cos | sin] when
 * flip_sin_to_cos, plus one zero column when dim is odd. Computed in float32 in the same
 * operation order as diffusers. t [N]. SD-Turbo's UNet: dim 320, flip 1, shift 0, scale 1,
 * max_period 10000. */
void nn_timestep_embedding_forward(nn_ctx *ctx, float *out, const float *t, int N, int dim,
                                   int flip_sin_to_cos, float downscale_freq_shift, float scale,
                                   float max_period);

#endif

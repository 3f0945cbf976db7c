/* nn/ops_shape.c — data movement: nearest ×2 upsample, concat/split along dim 1, and the
 * NCHW ↔ token-major transposes around diffusers' Transformer2DModel.
 *
 * CPU reference: clean, minimal, no intrinsics, no fast-math. Forwards copy; backwards are the
 * adjoint copies and accumulate (+=). */
#include <string.h>

#include "nn/ops.h"
#include "nn/ops_internal.h"

/* Square tile of the blocked transpose: 32×32 floats read and written stay in L1. */
enum { TILE = 32 };

// ----------------------------------------------------------------------------
// nearest ×2 upsample

void nn_upsample_nearest2x_forward(nn_ctx *ctx, float *out, const float *inp, int B, int C, int H,
                                   int W) {
    // inp is (B, C, H, W), out is (B, C, 2H, 2W)
    NN_OPS_CHECK_CTX(ctx);
    NN_ASSERT(out && inp && B >= 1 && C >= 1 && H >= 1 && W >= 1);
    size_t plane = (size_t)H * W;
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static) \
    if ((size_t)B * C * plane * 4 >= NN_OPS_PAR_MIN)
    for (int bc = 0; bc < B * C; bc++) {
        const float *x = inp + (size_t)bc * plane;
        float *y = out + (size_t)bc * plane * 4;
        for (int h = 0; h < H; h++) {
            float *row = y + (size_t)2 * h * 2 * W;
            for (int w = 0; w < W; w++) row[2 * w] = row[2 * w + 1] = x[(size_t)h * W + w];
            memcpy(row + 2 * W, row, sizeof(float) * 2 * W);  // output row 2h+1 = row 2h
        }
    }
}

void nn_upsample_nearest2x_backward(nn_ctx *ctx, float *dinp, const float *dout, int B, int C,
                                    int H, int W) {
    // dout is (B, C, 2H, 2W), dinp is (B, C, H, W)
    NN_OPS_CHECK_CTX(ctx);
    NN_ASSERT(dinp && dout && B >= 1 && C >= 1 && H >= 1 && W >= 1);
    size_t plane = (size_t)H * W;
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static) \
    if ((size_t)B * C * plane * 4 >= NN_OPS_PAR_MIN)
    for (int bc = 0; bc < B * C; bc++) {
        const float *dy = dout + (size_t)bc * plane * 4;
        float *dx = dinp + (size_t)bc * plane;
        for (int h = 0; h < H; h++) {
            const float *r0 = dy + (size_t)2 * h * 2 * W, *r1 = r0 + 2 * W;
            for (int w = 0; w < W; w++)
                dx[(size_t)h * W + w] += (r0[2 * w] + r0[2 * w + 1]) + (r1[2 * w] + r1[2 * w + 1]);
        }
    }
}

// ----------------------------------------------------------------------------
// concat / split along dim 1 of [B, C, inner]

/* dst[k] (+)= src[k] for k < n. */
static void copy_or_add(float *dst, const float *src, size_t n, int accumulate) {
    if (!accumulate) {
        memcpy(dst, src, n * sizeof(float));
        return;
    }
    for (size_t k = 0; k < n; k++) dst[k] += src[k];
}

/* cat [B, Ca+Cb, inner] (+)= [a | b] per batch; a NULL part is skipped. */
static void pack(const nn_ctx *ctx, float *cat, const float *a, const float *b, int B, int Ca,
                 int Cb, int inner, int accumulate) {
    size_t na = (size_t)Ca * inner, nb = (size_t)Cb * inner;
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static) \
    if ((size_t)B * (na + nb) >= NN_OPS_PAR_MIN)
    for (int i = 0; i < B; i++) {
        float *ci = cat + (size_t)i * (na + nb);
        if (a) copy_or_add(ci, a + (size_t)i * na, na, accumulate);
        if (b) copy_or_add(ci + na, b + (size_t)i * nb, nb, accumulate);
    }
}

/* [a | b] (+)= cat [B, Ca+Cb, inner] per batch; a NULL part is skipped. */
static void unpack(const nn_ctx *ctx, float *a, float *b, const float *cat, int B, int Ca, int Cb,
                   int inner, int accumulate) {
    size_t na = (size_t)Ca * inner, nb = (size_t)Cb * inner;
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static) \
    if ((size_t)B * (na + nb) >= NN_OPS_PAR_MIN)
    for (int i = 0; i < B; i++) {
        const float *ci = cat + (size_t)i * (na + nb);
        if (a) copy_or_add(a + (size_t)i * na, ci, na, accumulate);
        if (b) copy_or_add(b + (size_t)i * nb, ci + na, nb, accumulate);
    }
}

static void check_cat_dims(int B, int Ca, int Cb, int inner) {
    NN_ASSERT(B >= 1 && Ca >= 0 && Cb >= 0 && Ca + Cb >= 1 && inner >= 1);
}

void nn_concat_channels_forward(nn_ctx *ctx, float *out, const float *a, const float *b, int B,
                                int Ca, int Cb, int inner) {
    // a is (B, Ca, inner), b is (B, Cb, inner), out is (B, Ca+Cb, inner)
    NN_OPS_CHECK_CTX(ctx);
    check_cat_dims(B, Ca, Cb, inner);
    NN_ASSERT(out && (a || Ca == 0) && (b || Cb == 0));
    pack(ctx, out, a, b, B, Ca, Cb, inner, 0);
}

void nn_concat_channels_backward(nn_ctx *ctx, float *da, float *db, const float *dout, int B,
                                 int Ca, int Cb, int inner) {
    // dout is (B, Ca+Cb, inner), da is (B, Ca, inner), db is (B, Cb, inner)
    NN_OPS_CHECK_CTX(ctx);
    check_cat_dims(B, Ca, Cb, inner);
    NN_ASSERT(dout);
    unpack(ctx, da, db, dout, B, Ca, Cb, inner, 1);
}

void nn_split_channels_forward(nn_ctx *ctx, float *a, float *b, const float *inp, int B, int Ca,
                               int Cb, int inner) {
    // inp is (B, Ca+Cb, inner), a is (B, Ca, inner), b is (B, Cb, inner)
    NN_OPS_CHECK_CTX(ctx);
    check_cat_dims(B, Ca, Cb, inner);
    NN_ASSERT(inp && (a || Ca == 0) && (b || Cb == 0));
    unpack(ctx, a, b, inp, B, Ca, Cb, inner, 0);
}

void nn_split_channels_backward(nn_ctx *ctx, float *dinp, const float *da, const float *db, int B,
                                int Ca, int Cb, int inner) {
    // da is (B, Ca, inner), db is (B, Cb, inner), dinp is (B, Ca+Cb, inner)
    NN_OPS_CHECK_CTX(ctx);
    check_cat_dims(B, Ca, Cb, inner);
    NN_ASSERT(dinp);
    pack(ctx, dinp, da, db, B, Ca, Cb, inner, 1);
}

// ----------------------------------------------------------------------------
// NCHW <-> tokens

/* dst [B, Cc, R] (+)= src [B, R, Cc] transposed per batch, in TILE × TILE blocks. Each thread owns
 * a band of TILE dst rows, so writes are disjoint. */
static void transpose(const nn_ctx *ctx, float *dst, const float *src, int B, int R, int Cc,
                      int accumulate) {
    int bands = (Cc + TILE - 1) / TILE;
    size_t mat = (size_t)R * Cc;
#pragma omp parallel for collapse(2) num_threads(ctx->n_threads) schedule(static) \
    if ((size_t)B * mat >= NN_OPS_PAR_MIN)
    for (int b = 0; b < B; b++) {
        for (int band = 0; band < bands; band++) {
            const float *s = src + (size_t)b * mat;
            float *d = dst + (size_t)b * mat;
            int j0 = band * TILE, j1 = j0 + TILE < Cc ? j0 + TILE : Cc;
            for (int i0 = 0; i0 < R; i0 += TILE) {
                int i1 = i0 + TILE < R ? i0 + TILE : R;
                for (int j = j0; j < j1; j++) {
                    float *drow = d + (size_t)j * R;
                    if (accumulate)
                        for (int i = i0; i < i1; i++) drow[i] += s[(size_t)i * Cc + j];
                    else
                        for (int i = i0; i < i1; i++) drow[i] = s[(size_t)i * Cc + j];
                }
            }
        }
    }
}

void nn_nchw_to_tokens_forward(nn_ctx *ctx, float *out, const float *inp, int B, int C, int HW) {
    // inp is (B, C, HW), out is (B, HW, C)
    NN_OPS_CHECK_CTX(ctx);
    NN_ASSERT(out && inp && B >= 1 && C >= 1 && HW >= 1);
    transpose(ctx, out, inp, B, C, HW, 0);
}

void nn_nchw_to_tokens_backward(nn_ctx *ctx, float *dinp, const float *dout, int B, int C,
                                int HW) {
    // dout is (B, HW, C), dinp is (B, C, HW)
    NN_OPS_CHECK_CTX(ctx);
    NN_ASSERT(dinp && dout && B >= 1 && C >= 1 && HW >= 1);
    transpose(ctx, dinp, dout, B, HW, C, 1);
}

void nn_tokens_to_nchw_forward(nn_ctx *ctx, float *out, const float *inp, int B, int C, int HW) {
    // inp is (B, HW, C), out is (B, C, HW)
    NN_OPS_CHECK_CTX(ctx);
    NN_ASSERT(out && inp && B >= 1 && C >= 1 && HW >= 1);
    transpose(ctx, out, inp, B, HW, C, 0);
}

void nn_tokens_to_nchw_backward(nn_ctx *ctx, float *dinp, const float *dout, int B, int C,
                                int HW) {
    // dout is (B, C, HW), dinp is (B, HW, C)
    NN_OPS_CHECK_CTX(ctx);
    NN_ASSERT(dinp && dout && B >= 1 && C >= 1 && HW >= 1);
    transpose(ctx, dinp, dout, B, C, HW, 1);
}

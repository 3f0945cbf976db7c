/* nn/ops_conv2d.c — torch.nn.Conv2d (dilation 1, groups 1) forward and backward, NCHW, as
 * im2col + OpenBLAS sgemm, with col2im for the input gradient.
 *
 * CPU reference: clean, minimal, no intrinsics, no fast-math.
 * K = C_in·kh·kw is the GEMM reduction and P = H_out·W_out the output pixels of one image. The
 * output pixels of the whole batch form one column axis q = b·P + p of length B·P, walked in
 * chunks of at most `chunk` columns so that the scratch col [K, chunk] stays bounded (a 512×512
 * VAE layer would otherwise need gigabytes). Within a chunk:
 *   forward:  out[:, q] = W [C_out, K] · col[:, q]          (each thread: its columns, im2col
 *                                                              then GEMM, no barrier between)
 *   backward: dW       += Σ_q dout[:, q] · col[:, q]ᵀ        (threads split dW's K columns)
 *             dcol      = Wᵀ · dout[:, chunk]  → col2im       (threads split columns, then planes)
 * A GEMM never crosses an image (out_b is [C_out, P] with leading dimension P), so each thread
 * issues one GEMM per image segment of its columns. Every output element is produced by exactly
 * one single-threaded sgemm over the full K, in a partition fixed by the shape and n_threads: no
 * cross-thread reduction, reproducible bits. A 1×1 stride-1 unpadded conv (resnet shortcuts,
 * post_quant_conv) reads the image itself as col and needs no scratch. */
#include <cblas.h>  // defines: cblas_sgemm, openblas_set_num_threads
#include <stddef.h>
#include <string.h>

#include "nn/ops.h"
#include "nn/ops_internal.h"

/* Upper bound on the im2col buffer, in floats (32 MiB); nn_conv2d_scratch_floats asks for
 * K·min(B·P, COL_CAP_FLOATS/K). */
#define COL_CAP_FLOATS ((size_t)1 << 23)

/* Columns of col per thread per chunk: about 1 MiB (a core's L2) of col, so that im2col's output
 * is still in cache when the GEMM packs it and col2im finds dcol there, but never fewer than
 * MIN_COLS_PER_THREAD, below which the GEMMs get inefficient. A chunk is n_threads such slices
 * (within the cap), so many threads still each get a GEMM hundreds of columns wide. */
#define COLS_PER_THREAD_FLOATS ((size_t)1 << 18)
#define MIN_COLS_PER_THREAD 256

int nn_conv2d_out_h(const nn_conv2d_shape *s) {
    return (s->H + s->pad_top + s->pad_bottom - s->kh) / s->stride + 1;
}

int nn_conv2d_out_w(const nn_conv2d_shape *s) {
    return (s->W + s->pad_left + s->pad_right - s->kw) / s->stride + 1;
}

static void check_shape(const nn_conv2d_shape *s) {
    NN_ASSERT(s != NULL);
    NN_ASSERT(s->B >= 1 && s->C_in >= 1 && s->H >= 1 && s->W >= 1 && s->C_out >= 1);
    NN_ASSERT(s->kh >= 1 && s->kw >= 1 && s->stride >= 1);
    NN_ASSERT(s->pad_top >= 0 && s->pad_bottom >= 0 && s->pad_left >= 0 && s->pad_right >= 0);
    NN_ASSERT(s->H + s->pad_top + s->pad_bottom >= s->kh);
    NN_ASSERT(s->W + s->pad_left + s->pad_right >= s->kw);
}

static int is_pointwise(const nn_conv2d_shape *s) {
    return s->kh == 1 && s->kw == 1 && s->stride == 1 && s->pad_top == 0 && s->pad_bottom == 0 &&
           s->pad_left == 0 && s->pad_right == 0;
}

/* Derived sizes of one conv. */
typedef struct {
    int H_out, W_out, K;
    size_t P, Q;              // pixels per image, columns of the batch (B·P)
    size_t in_img, out_img;   // floats per input / output image
    size_t chunk;             // columns per chunk at this thread count
    int pointwise;
} conv_dims;

/* Columns of the largest chunk: the scratch is sized for this, whatever the thread count. */
static size_t max_chunk(const conv_dims *d) {
    size_t c = COL_CAP_FLOATS / (size_t)d->K;
    if (c < 1) c = 1;
    return c < d->Q ? c : d->Q;
}

static conv_dims dims_of(const nn_conv2d_shape *s, int n_threads) {
    conv_dims d;
    d.H_out = nn_conv2d_out_h(s);
    d.W_out = nn_conv2d_out_w(s);
    d.K = s->C_in * s->kh * s->kw;
    d.P = (size_t)d.H_out * d.W_out;
    d.Q = (size_t)s->B * d.P;
    d.in_img = (size_t)s->C_in * s->H * s->W;
    d.out_img = (size_t)s->C_out * d.P;
    d.pointwise = is_pointwise(s);
    size_t per_thread = COLS_PER_THREAD_FLOATS / (size_t)d.K;
    if (per_thread < MIN_COLS_PER_THREAD) per_thread = MIN_COLS_PER_THREAD;
    size_t c = per_thread * (size_t)n_threads, cap = max_chunk(&d);
    d.chunk = d.pointwise ? d.Q : (c < cap ? c : cap);
    return d;
}

size_t nn_conv2d_scratch_floats(const nn_conv2d_shape *s) {
    check_shape(s);
    conv_dims d = dims_of(s, 1);
    return d.pointwise ? 0 : (size_t)d.K * max_chunk(&d);
}

/* Range of output columns ox whose input column ix = ox·stride − pad_left + kx lies in [0, W). */
static void valid_ox(const nn_conv2d_shape *s, int W_out, int kx, int *lo, int *hi) {
    int off = s->pad_left - kx;  // ix = ox·stride − off
    int a = off <= 0 ? 0 : (off + s->stride - 1) / s->stride;
    int last = s->W - 1 + off;   // ix ≤ W − 1  ⇔  ox·stride ≤ last
    int b = last < 0 ? 0 : last / s->stride + 1;
    *lo = a < W_out ? a : W_out;
    *hi = b < W_out ? b : W_out;
    if (*hi < *lo) *hi = *lo;
}

/* Columns [qa, qb) of the chunk starting at q0: col[k, q − q0] (row stride ld) = the input value
 * under tap k = (ci·kh + ky)·kw + kx of output pixel q, zero where the tap reads padding. */
static void im2col(float *col, size_t ld, size_t q0, size_t qa, size_t qb, const float *inp,
                   const nn_conv2d_shape *s, const conv_dims *d) {
    for (int k = 0; k < d->K; k++) {
        int kx = k % s->kw, ky = (k / s->kw) % s->kh, ci = k / (s->kw * s->kh);
        int lo, hi;
        valid_ox(s, d->W_out, kx, &lo, &hi);
        size_t q = qa;
        while (q < qb) {  // one output row (or the part of it in range) at a time
            size_t b = q / d->P, p = q % d->P;
            int oy = (int)(p / d->W_out), ox0 = (int)(p % d->W_out);
            int ox1 = (size_t)(d->W_out - ox0) < qb - q ? d->W_out : ox0 + (int)(qb - q);
            int iy = oy * s->stride - s->pad_top + ky;
            float *dst = col + (size_t)k * ld + (q - q0);  // dst[ox − ox0] is pixel (oy, ox)
            int a = ox0, e = ox0;  // [a, e): columns that read inside the image
            if (iy >= 0 && iy < s->H) {
                a = lo > ox0 ? lo : ox0;
                e = hi < ox1 ? hi : ox1;
                if (e < a) e = a;
            }
            // plane[base + ox·stride] is input (iy, ox·stride − pad_left + kx)
            const float *plane = inp + b * d->in_img + (size_t)ci * s->H * s->W;
            ptrdiff_t base = (ptrdiff_t)iy * s->W - s->pad_left + kx;
            for (int ox = ox0; ox < a; ox++) dst[ox - ox0] = 0.0f;
            if (s->stride == 1 && e > a)
                memcpy(dst + (a - ox0), plane + (base + a), (size_t)(e - a) * sizeof(float));
            else
                for (int ox = a; ox < e; ox++)
                    dst[ox - ox0] = plane[base + (ptrdiff_t)ox * s->stride];
            for (int ox = e; ox < ox1; ox++) dst[ox - ox0] = 0.0f;
            q += (size_t)(ox1 - ox0);
        }
    }
}

/* The adjoint of im2col for one input plane: dinp[b, ci] += the chunk's columns [qa, qb) (all
 * in image b) of the rows of channel ci, taps in (ky, kx) order. */
static void col2im_plane(float *dplane, const float *col, size_t ld, size_t q0, size_t qa,
                         size_t qb, int ci, const nn_conv2d_shape *s, const conv_dims *d) {
    for (int ky = 0; ky < s->kh; ky++) {
        for (int kx = 0; kx < s->kw; kx++) {
            const float *src = col + ((size_t)(ci * s->kh + ky) * s->kw + kx) * ld;
            int lo, hi;
            valid_ox(s, d->W_out, kx, &lo, &hi);
            size_t q = qa;
            while (q < qb) {
                size_t p = q % d->P;
                int oy = (int)(p / d->W_out), ox0 = (int)(p % d->W_out);
                int ox1 = (size_t)(d->W_out - ox0) < qb - q ? d->W_out : ox0 + (int)(qb - q);
                int iy = oy * s->stride - s->pad_top + ky;
                int a = lo > ox0 ? lo : ox0, e = hi < ox1 ? hi : ox1;
                if (iy >= 0 && iy < s->H && a < e) {
                    // c[j] is pixel (oy, a + j); its tap reads input (iy, ix_a + j·stride)
                    // with ix_a = a·stride − pad_left + kx ≥ 0, the start of drow
                    const float *c = src + (q - q0) + (a - ox0);
                    float *drow = dplane + (size_t)iy * s->W + (a * s->stride - s->pad_left + kx);
                    int len = e - a;
                    if (s->stride == 1) {
#pragma omp simd
                        for (int j = 0; j < len; j++) drow[j] += c[j];
                    } else {
                        for (int j = 0; j < len; j++) drow[(size_t)j * s->stride] += c[j];
                    }
                }
                q += (size_t)(ox1 - ox0);
            }
        }
    }
}

/* Columns of image b within [qa, qb): [max(qa, b·P), min(qb, (b+1)·P)). */
static size_t seg_lo(size_t qa, size_t b, size_t P) { return qa > b * P ? qa : b * P; }
static size_t seg_hi(size_t qb, size_t b, size_t P) { return qb < (b + 1) * P ? qb : (b + 1) * P; }

void nn_conv2d_forward(nn_ctx *ctx, float *out, const float *inp, const float *weight,
                       const float *bias, const nn_conv2d_shape *s, float *scratch) {
    // inp is (B, C_in, H, W), weight is (C_out, C_in, kh, kw), bias is (C_out) or NULL,
    // out is (B, C_out, H_out, W_out), scratch holds nn_conv2d_scratch_floats(s) floats
    NN_OPS_CHECK_CTX(ctx);
    check_shape(s);
    NN_ASSERT(out && inp && weight);
    conv_dims d = dims_of(s, ctx->n_threads);
    NN_ASSERT(d.pointwise || scratch);
    openblas_set_num_threads(1);  // threads come from OpenMP (see ops_gemm.c)

    float beta = 0.0f;
    if (bias) {
        int rows = s->B * s->C_out;
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static) \
    if (d.Q * s->C_out >= NN_OPS_PAR_MIN)
        for (int r = 0; r < rows; r++) {
            float bv = bias[r % s->C_out], *o = out + (size_t)r * d.P;
            for (size_t p = 0; p < d.P; p++) o[p] = bv;
        }
        beta = 1.0f;
    }
    for (size_t q0 = 0; q0 < d.Q; q0 += d.chunk) {
        size_t n = d.Q - q0 < d.chunk ? d.Q - q0 : d.chunk;
        int parts = nn_ops_parts(ctx, n, 2.0 * s->C_out * d.K * (double)n);
#pragma omp parallel for num_threads(parts) schedule(static)
        for (int t = 0; t < parts; t++) {
            size_t qa = q0 + nn_ops_part_start(n, parts, t);
            size_t qb = q0 + nn_ops_part_start(n, parts, t + 1);
            if (qa >= qb) continue;
            if (!d.pointwise) im2col(scratch, n, q0, qa, qb, inp, s, &d);
            for (size_t b = qa / d.P; b * d.P < qb; b++) {  // one GEMM per image segment
                size_t lo = seg_lo(qa, b, d.P), hi = seg_hi(qb, b, d.P), p = lo - b * d.P;
                const float *col = d.pointwise ? inp + b * d.in_img + p : scratch + (lo - q0);
                int ld = (int)(d.pointwise ? d.P : n);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->C_out, (int)(hi - lo),
                            d.K, 1.0f, weight, d.K, col, ld, beta, out + b * d.out_img + p,
                            (int)d.P);
            }
        }
    }
}

void nn_conv2d_backward(nn_ctx *ctx, float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, const nn_conv2d_shape *s,
                        float *scratch) {
    // dout is (B, C_out, H_out, W_out); dinp is (B, C_in, H, W), dweight is (C_out, C_in, kh, kw),
    // dbias is (C_out); inp and weight are the forward's
    NN_OPS_CHECK_CTX(ctx);
    check_shape(s);
    NN_ASSERT(dout);
    NN_ASSERT(!dinp || weight);
    NN_ASSERT(!dweight || inp);
    conv_dims d = dims_of(s, ctx->n_threads);
    NN_ASSERT(d.pointwise || !(dinp || dweight) || scratch);
    openblas_set_num_threads(1);  // threads come from OpenMP (see ops_gemm.c)

    if (dbias) {
        // one thread per output channel, summed over (b, p) in order
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static) \
    if (d.Q * s->C_out >= NN_OPS_PAR_MIN)
        for (int o = 0; o < s->C_out; o++) {
            double acc = 0.0;
            for (int b = 0; b < s->B; b++) {
                const float *g = dout + (size_t)b * d.out_img + (size_t)o * d.P;
                for (size_t p = 0; p < d.P; p++) acc += g[p];
            }
            dbias[o] += (float)acc;
        }
    }
    for (size_t q0 = 0; q0 < d.Q && (dinp || dweight); q0 += d.chunk) {
        size_t n = d.Q - q0 < d.chunk ? d.Q - q0 : d.chunk;
        double work = 2.0 * s->C_out * d.K * (double)n;
        size_t b_first = q0 / d.P, b_end = (q0 + n + d.P - 1) / d.P;
        if (dweight) {
            if (!d.pointwise) {
                int parts = nn_ops_parts(ctx, n, work);
#pragma omp parallel for num_threads(parts) schedule(static)
                for (int t = 0; t < parts; t++) {
                    size_t qa = q0 + nn_ops_part_start(n, parts, t);
                    size_t qb = q0 + nn_ops_part_start(n, parts, t + 1);
                    if (qa < qb) im2col(scratch, n, q0, qa, qb, inp, s, &d);
                }
            }
            // dW[:, k-part] += Σ over the chunk's images of dout_b[:, seg] · col[k-part, seg]ᵀ
            int parts = nn_ops_parts(ctx, (size_t)d.K, work);
#pragma omp parallel for num_threads(parts) schedule(static)
            for (int t = 0; t < parts; t++) {
                int ka = (int)nn_ops_part_start((size_t)d.K, parts, t);
                int kb = (int)nn_ops_part_start((size_t)d.K, parts, t + 1);
                if (ka >= kb) continue;
                for (size_t b = b_first; b < b_end; b++) {
                    size_t lo = seg_lo(q0, b, d.P), hi = seg_hi(q0 + n, b, d.P), p = lo - b * d.P;
                    const float *col = d.pointwise ? inp + b * d.in_img + (size_t)ka * d.P + p
                                                   : scratch + (size_t)ka * n + (lo - q0);
                    int ldb = (int)(d.pointwise ? d.P : n);
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->C_out, kb - ka,
                                (int)(hi - lo), 1.0f, dout + b * d.out_img + p, (int)d.P, col, ldb,
                                1.0f, dweight + ka, d.K);
                }
            }
        }
        if (dinp) {
            // dcol[:, cols] = Wᵀ · dout[:, cols] (straight into dinp when pointwise)
            int parts = nn_ops_parts(ctx, n, work);
#pragma omp parallel for num_threads(parts) schedule(static)
            for (int t = 0; t < parts; t++) {
                size_t qa = q0 + nn_ops_part_start(n, parts, t);
                size_t qb = q0 + nn_ops_part_start(n, parts, t + 1);
                for (size_t b = qa / d.P; qa < qb && b * d.P < qb; b++) {
                    size_t lo = seg_lo(qa, b, d.P), hi = seg_hi(qb, b, d.P), p = lo - b * d.P;
                    float *dcol = d.pointwise ? dinp + b * d.in_img + p : scratch + (lo - q0);
                    int ldc = (int)(d.pointwise ? d.P : n);
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d.K, (int)(hi - lo),
                                s->C_out, 1.0f, weight, d.K, dout + b * d.out_img + p, (int)d.P,
                                d.pointwise ? 1.0f : 0.0f, dcol, ldc);
                }
            }
            if (!d.pointwise) {
                // scatter-add: one thread per (image, input channel) plane
                int planes = (int)(b_end - b_first) * s->C_in;
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static) \
    if ((double)d.K * n >= NN_OPS_PAR_MIN)
                for (int u = 0; u < planes; u++) {
                    size_t b = b_first + (size_t)(u / s->C_in);
                    int ci = u % s->C_in;
                    float *dplane = dinp + b * d.in_img + (size_t)ci * s->H * s->W;
                    col2im_plane(dplane, scratch, n, q0, seg_lo(q0, b, d.P),
                                 seg_hi(q0 + n, b, d.P), ci, s, &d);
                }
            }
        }
    }
}

/* bench/bench_ops.c — throughput of the CPU ops that dominate the UNet, next to the OpenBLAS
 * sgemm ceiling measured in the same run, as CSV (bench/README.md; bench/run.sh puts it
 * beside the PyTorch peer bench/peer_torch.py, which prints the same rows).
 *
 *   bench_ops [--threads T] [--reps R] [--warmup W]
 *
 * Columns: impl,op,shape,threads,gflop,median_ms,min_ms,gflops — gflop is the work of one call
 * by the formula below, median_ms / min_ms the median / fastest wall time of R calls after W
 * warm-up calls, and gflops = gflop / median seconds (min_ms shows how much of the spread is
 * other load on the machine: interference only ever adds time).
 * FLOP formulas (one multiply-add = 2 FLOP):
 *   sgemm_ceiling   2·M·N·K  (M = N = K = 2048, one cblas_sgemm)
 *   conv3x3_fwd     2·B·C_out·H_out·W_out·C_in·9
 *   conv3x3_fwdbwd  3 × conv3x3_fwd (dinp and dweight each cost one forward)
 *   linear_fwdbwd   3 × 2·N·C_in·C_out (forward, dinp, dweight)
 *   attn_fwd        4·B·H·Lq·Lk·dh (q kᵀ and P v)
 *   attn_fwdbwd     3 × attn_fwd (dv, dP, dq, dk: 4 more products = 2 × forward); our
 *                   backward also recomputes q kᵀ (flash style), which is not counted, so the
 *                   rate compares the same useful work with PyTorch's.
 * Biases are included in the ops (as in the UNet) but not in the FLOP counts. */
#include <cblas.h>   /* defines: cblas_sgemm, openblas_set_num_threads, openblas_get_config */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/rng.h"
#include "nn/attention.h"
#include "nn/ops.h"

typedef void (*bench_fn)(void *state);

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int g_threads = 2, g_reps = 10, g_warmup = 3;

/* Median (and fastest) wall time of g_reps calls after g_warmup calls; prints one CSV row. */
static void run(const char *op, const char *shape, double flop, bench_fn fn, void *state) {
    double t[256];
    for (int i = 0; i < g_warmup; i++) fn(state);
    for (int i = 0; i < g_reps; i++) {
        double t0 = now_ms();
        fn(state);
        t[i] = now_ms() - t0;
    }
    qsort(t, (size_t)g_reps, sizeof t[0], cmp_double);
    double med = g_reps % 2 ? t[g_reps / 2] : 0.5 * (t[g_reps / 2 - 1] + t[g_reps / 2]);
    printf("ours,%s,%s,%d,%.4f,%.3f,%.3f,%.2f\n", op, shape, g_threads, flop * 1e-9, med, t[0],
           flop * 1e-9 / (med * 1e-3));
    fflush(stdout);
}

static float *randn(size_t n, uint64_t seed) {
    float *x = malloc(n * sizeof *x);
    if (!x) {
        fprintf(stderr, "bench_ops: out of memory (%zu floats)\n", n);
        exit(1);
    }
    sdpo_rng r;
    sdpo_rng_init(&r, seed, SDPO_STREAM_DATA);
    sdpo_rng_normal_fill(&r, x, n);
    return x;
}

/* ------------------------------------------------------------------------------------------ */
/* sgemm ceiling */

typedef struct { int n; float *a, *b, *c; } gemm_state;

static void gemm_call(void *p) {
    gemm_state *g = p;
    openblas_set_num_threads(g_threads);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->n, g->n, g->n, 1.0f, g->a, g->n,
                g->b, g->n, 0.0f, g->c, g->n);
}

/* ------------------------------------------------------------------------------------------ */
/* conv2d 3×3, stride 1, pad 1 */

typedef struct {
    nn_ctx ctx;
    nn_conv2d_shape s;
    float *inp, *w, *b, *out, *dout, *dinp, *dw, *db, *scratch;
} conv_state;

static void conv_fwd(void *p) {
    conv_state *c = p;
    nn_conv2d_forward(&c->ctx, c->out, c->inp, c->w, c->b, &c->s, c->scratch);
}

static void conv_fwdbwd(void *p) {
    conv_state *c = p;
    nn_conv2d_forward(&c->ctx, c->out, c->inp, c->w, c->b, &c->s, c->scratch);
    nn_conv2d_backward(&c->ctx, c->dinp, c->dw, c->db, c->dout, c->inp, c->w, &c->s, c->scratch);
}

static void bench_conv(int B, int C, int HW) {
    conv_state c = {.ctx = {.backend = NN_BACKEND_CPU, .n_threads = g_threads},
                    .s = {.B = B, .C_in = C, .H = HW, .W = HW, .C_out = C, .kh = 3, .kw = 3,
                          .stride = 1, .pad_top = 1, .pad_bottom = 1, .pad_left = 1,
                          .pad_right = 1}};
    size_t ni = (size_t)B * C * HW * HW, nw = (size_t)C * C * 9;
    c.inp = randn(ni, 1), c.w = randn(nw, 2), c.b = randn((size_t)C, 3);
    c.out = randn(ni, 4), c.dout = randn(ni, 5), c.dinp = randn(ni, 6);
    c.dw = randn(nw, 7), c.db = randn((size_t)C, 8);
    c.scratch = randn(nn_conv2d_scratch_floats(&c.s) + 1, 9);
    double flop = 2.0 * B * C * HW * HW * C * 9;
    char shape[64];
    snprintf(shape, sizeof shape, "B%d_C%d-%d_%dx%d", B, C, C, HW, HW);
    run("conv3x3_fwd", shape, flop, conv_fwd, &c);
    run("conv3x3_fwdbwd", shape, 3 * flop, conv_fwdbwd, &c);
    free(c.inp), free(c.w), free(c.b), free(c.out), free(c.dout), free(c.dinp), free(c.dw);
    free(c.db), free(c.scratch);
}

/* ------------------------------------------------------------------------------------------ */
/* linear */

typedef struct {
    nn_ctx ctx;
    int N, C_in, C_out;
    float *inp, *w, *b, *out, *dout, *dinp, *dw, *db;
} linear_state;

static void linear_fwdbwd(void *p) {
    linear_state *l = p;
    nn_linear_forward(&l->ctx, l->out, l->inp, l->w, l->b, l->N, l->C_in, l->C_out);
    nn_linear_backward(&l->ctx, l->dinp, l->dw, l->db, l->dout, l->inp, l->w, l->N, l->C_in,
                       l->C_out);
}

static void bench_linear(int N, int C_in, int C_out) {
    linear_state l = {.ctx = {.backend = NN_BACKEND_CPU, .n_threads = g_threads},
                      .N = N, .C_in = C_in, .C_out = C_out};
    size_t ni = (size_t)N * C_in, no = (size_t)N * C_out, nw = (size_t)C_in * C_out;
    l.inp = randn(ni, 1), l.w = randn(nw, 2), l.b = randn((size_t)C_out, 3);
    l.out = randn(no, 4), l.dout = randn(no, 5), l.dinp = randn(ni, 6), l.dw = randn(nw, 7);
    l.db = randn((size_t)C_out, 8);
    char shape[64];
    snprintf(shape, sizeof shape, "N%d_%d-%d", N, C_in, C_out);
    run("linear_fwdbwd", shape, 3 * 2.0 * N * C_in * C_out, linear_fwdbwd, &l);
    free(l.inp), free(l.w), free(l.b), free(l.out), free(l.dout), free(l.dinp), free(l.dw);
    free(l.db);
}

/* ------------------------------------------------------------------------------------------ */
/* attention */

typedef struct {
    nn_ctx ctx;
    nn_attention_shape s;
    float *q, *k, *v, *out, *lse, *dout, *dq, *dk, *dv, *scratch;
} attn_state;

static void attn_fwd(void *p) {
    attn_state *a = p;
    nn_attention_forward(&a->ctx, a->out, a->lse, a->q, a->k, a->v, NULL, &a->s, a->scratch);
}

static void attn_fwdbwd(void *p) {
    attn_state *a = p;
    nn_attention_forward(&a->ctx, a->out, a->lse, a->q, a->k, a->v, NULL, &a->s, a->scratch);
    nn_attention_backward(&a->ctx, a->dq, a->dk, a->dv, a->dout, a->q, a->k, a->v, a->out,
                          a->lse, NULL, &a->s, a->scratch);
}

static void bench_attention(int B, int H, int Lq, int Lk, int dh) {
    attn_state a = {.ctx = {.backend = NN_BACKEND_CPU, .n_threads = g_threads},
                    .s = {.B = B, .H = H, .Lq = Lq, .Lk = Lk, .dh = dh}};
    size_t nq = (size_t)B * Lq * H * dh, nk = (size_t)B * Lk * H * dh;
    a.q = randn(nq, 1), a.k = randn(nk, 2), a.v = randn(nk, 3), a.out = randn(nq, 4);
    a.lse = randn((size_t)B * H * Lq, 5), a.dout = randn(nq, 6), a.dq = randn(nq, 7);
    a.dk = randn(nk, 8), a.dv = randn(nk, 9);
    a.scratch = randn(nn_attention_scratch_floats(&a.ctx, &a.s), 10);
    double flop = 4.0 * B * H * Lq * Lk * dh;
    char shape[64];
    snprintf(shape, sizeof shape, "B%d_H%d_Lq%d_Lk%d_dh%d", B, H, Lq, Lk, dh);
    run("attn_fwd", shape, flop, attn_fwd, &a);
    run("attn_fwdbwd", shape, 3 * flop, attn_fwdbwd, &a);
    free(a.q), free(a.k), free(a.v), free(a.out), free(a.lse), free(a.dout), free(a.dq);
    free(a.dk), free(a.dv), free(a.scratch);
}

/* ------------------------------------------------------------------------------------------ */

static int parse_int(const char *flag, const char *s, int lo, int hi) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "bench_ops: %s wants an integer in [%d, %d], got '%s'\n", flag, lo, hi, s);
        exit(2);
    }
    return (int)v;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--threads") == 0)
            g_threads = parse_int(argv[i], argv[i + 1], 1, 1024), i++;
        else if (i + 1 < argc && strcmp(argv[i], "--reps") == 0)
            g_reps = parse_int(argv[i], argv[i + 1], 1, 256), i++;
        else if (i + 1 < argc && strcmp(argv[i], "--warmup") == 0)
            g_warmup = parse_int(argv[i], argv[i + 1], 0, 1000), i++;
        else {
            fprintf(stderr, "usage: bench_ops [--threads T] [--reps R] [--warmup W]\n");
            return 2;
        }
    }
    /* GOMP's spin-waiting threads and OpenBLAS's pthreads fight over the cores between
     * OpenMP loops and sgemm calls, so the wait policy changes the conv/linear rates a lot. */
    const char *wait = getenv("OMP_WAIT_POLICY");
    printf("# bench_ops: OpenBLAS %s; OMP_WAIT_POLICY=%s; median of %d reps after %d warm-up\n",
           openblas_get_config(), wait ? wait : "(unset)", g_reps, g_warmup);
    printf("impl,op,shape,threads,gflop,median_ms,min_ms,gflops\n");

    gemm_state g = {.n = 2048};
    size_t nn = (size_t)g.n * g.n;
    g.a = randn(nn, 1), g.b = randn(nn, 2), g.c = randn(nn, 3);
    char shape[64];
    snprintf(shape, sizeof shape, "M%d_N%d_K%d", g.n, g.n, g.n);
    run("sgemm_ceiling", shape, 2.0 * g.n * g.n * g.n, gemm_call, &g);
    free(g.a), free(g.b), free(g.c);

    /* UNet level-0/1-like convs at 256 px latents / 8 images */
    bench_conv(8, 64, 32);
    bench_conv(8, 128, 16);
    /* level-0 transformer: 8 images × 256 tokens, to_q (320→320) and the FF (320→1280) */
    bench_linear(8 * 256, 320, 320);
    bench_linear(8 * 256, 320, 1280);
    /* level-0 attention: 5 heads of 64, self over 256 tokens and cross to 77 text tokens */
    bench_attention(8, 5, 256, 256, 64);
    bench_attention(8, 5, 256, 77, 64);
    return 0;
}

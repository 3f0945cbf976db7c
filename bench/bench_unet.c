/* bench/bench_unet.c — wall time of a whole UNet forward, and forward + backward, on the CPU
 * reference, as CSV next to its PyTorch peer bench/peer_unet_torch.py (bench/README.md, "UNet";
 * bench/run_unet.sh joins the two into ours/torch ratios).
 *
 *   bench_unet [--threads T] [--reps R] [--warmup W]
 *
 * Run from the repository root. Configs (both SD-2.x family, diffusers UNet2DConditionModel):
 *   tiny   the fixture UNet tests/data/sd_fixtures/tiny_sd/unet with its weights: channels
 *          [16, 32], 2 levels, B = 2, 8×8 latents, 77 text tokens of width 32.
 *   small  configs/sd-turbo/unet/config.json with block_out_channels [64, 128, 256, 256] and
 *          attention_head_dim [1, 2, 4, 4] (heads of 64, as SD-Turbo), everything else SD-Turbo's
 *          (4 levels, 2 layers per block, 32 groups, text width 1024): 1/5 of SD-Turbo's width,
 *          B = 1, 32×32 latents, L = 77; random weights N(0, 1/fan_in), norms γ = 1, β = 0.
 * Modes: infer (SDPO_UNET_INFER), train_lora (rank-4 LoRA on every attention projection, base
 * frozen: the RL finetuning step, L = Σ ε·R backward), train_lora_recompute (the same with
 * per-unit recomputation; no torch peer), train_full (every parameter trainable, no LoRA).
 * Each row is the median (and min) of R calls after W warm-up calls; a training call includes
 * zeroing the gradients, as optimizer.zero_grad does. Columns:
 *   impl,config,mode,shape,threads,params,median_ms,min_ms   (params: base, without LoRA) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/rng.h"
#include "models/unet.h"
#include "nn/optim.h"

static int g_threads = 2, g_reps = 5, g_warmup = 2;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void die(const char *what) {
    fprintf(stderr, "bench_unet: %s: %s\n", what, sdpo_last_error());
    exit(1);
}

static float *randn(size_t n, uint64_t seed, float scale) {
    float *x = malloc(n * sizeof *x);
    if (!x) die("out of memory");
    sdpo_rng r;
    sdpo_rng_init(&r, seed, SDPO_STREAM_DATA);
    sdpo_rng_normal_fill(&r, x, n);
    for (size_t i = 0; i < n; i++) x[i] *= scale;
    return x;
}

/* Weights [C_out, fan_in…] ~ N(0, 1/fan_in); 1-D tensors: γ = 1 for norms, 0 for biases. */
static void random_weights(sdpo_unet *u) {
    sdpo_rng r;
    sdpo_rng_init(&r, 1, SDPO_STREAM_PARAM_INIT);
    for (int i = 0; i < u->params.count; i++) {
        nn_param_view v = nn_params_at(&u->params, i);
        const size_t n = (size_t)nn_tensor_numel(&v.value);
        if (strstr(v.name, ".lora_")) continue;
        if (v.value.ndim == 1) {
            const int gamma = strstr(v.name, "norm") && strstr(v.name, ".weight");
            for (size_t k = 0; k < n; k++) v.value.data[k] = gamma ? 1.0f : 0.0f;
            continue;
        }
        sdpo_rng_normal_fill(&r, v.value.data, n);
        const float s = 1.0f / sqrtf((float)(n / (size_t)v.value.shape[0]));
        for (size_t k = 0; k < n; k++) v.value.data[k] *= s;
    }
}

typedef struct {
    const char *name;
    sdpo_unet_config cfg;
    const char *weights;   /* NULL: random */
    sdpo_unet_shape shape;
} bench_config;

static void run(const bench_config *bc, const char *mode_name, sdpo_unet_mode mode, int lora,
                int train_base) {
    sdpo_unet u;
    sdpo_unet_options opt = sdpo_unet_options_default();
    opt.lora_rank = lora ? 4 : 0;
    opt.train_base = train_base;
    if (sdpo_unet_init(&u, &bc->cfg, &opt) || sdpo_unet_finalize(&u)) die(bc->name);
    if (bc->weights) {
        if (sdpo_unet_load_weights(&u, bc->weights)) die(bc->weights);
    } else {
        random_weights(&u);
    }
    if (lora) sdpo_unet_lora_init(&u, 42);
    const sdpo_unet_shape *s = &bc->shape;
    const size_t n_x = (size_t)s->B * bc->cfg.in_channels * s->H * s->W;
    const size_t n_eps = (size_t)s->B * bc->cfg.out_channels * s->H * s->W;
    float *x = randn(n_x, 10, 1.0f), *ehs = randn((size_t)s->B * s->L * bc->cfg.cross_attention_dim, 11, 1.0f);
    float *R = randn(n_eps, 12, 1.0f), *eps = malloc(n_eps * sizeof *eps);
    float t[64];
    for (int b = 0; b < s->B && b < 64; b++) t[b] = b % 2 ? 19.0f : 999.0f;
    nn_ctx ctx = {.backend = NN_BACKEND_CPU, .n_threads = g_threads};
    size_t bytes;
    nn_arena arena;
    if (sdpo_unet_arena_bytes(&u, &ctx, mode, s, &bytes) || nn_arena_init(&arena, bytes))
        die("arena");
    double ms[64];
    for (int i = 0; i < g_warmup + g_reps; i++) {
        double t0 = now_ms();
        if (sdpo_unet_forward(&u, &ctx, &arena, mode, s, x, t, ehs, eps)) die("forward");
        if (mode != SDPO_UNET_INFER) {
            nn_zero_grad(&ctx, u.params.grads, u.params.n_trainable);
            if (sdpo_unet_backward(&u, &ctx, R, NULL, NULL)) die("backward");
        }
        if (i >= g_warmup) ms[i - g_warmup] = now_ms() - t0;
    }
    qsort(ms, (size_t)g_reps, sizeof ms[0], cmp_double);
    const double med = g_reps % 2 ? ms[g_reps / 2] : 0.5 * (ms[g_reps / 2 - 1] + ms[g_reps / 2]);
    printf("ours,%s,%s,B%d_%dx%d_L%d,%d,%zu,%.2f,%.2f\n", bc->name, mode_name, s->B, s->H, s->W,
           s->L, g_threads, sdpo_unet_param_count(&u) - (lora ? sdpo_unet_trainable_count(&u) : 0),
           med, ms[0]);
    fflush(stdout);
    nn_arena_free(&arena);
    free(x), free(ehs), free(R), free(eps);
    sdpo_unet_free(&u);
}

int main(int argc, char **argv) {
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) g_threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) g_reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--warmup")) g_warmup = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: bench_unet [--threads T] [--reps R] [--warmup W]\n");
            return 2;
        }
    }
    if (g_threads < 1 || g_reps < 1 || g_reps > 64 || g_warmup < 0) {
        fprintf(stderr, "bench_unet: need threads >= 1, 1 <= reps <= 64, warmup >= 0\n");
        return 2;
    }
    bench_config bc[2];
    bc[0] = (bench_config){.name = "tiny",
                           .weights = "tests/data/sd_fixtures/tiny_sd/unet/diffusion_pytorch_model.safetensors",
                           .shape = {.B = 2, .H = 8, .W = 8, .L = 77}};
    if (sdpo_unet_config_load("tests/data/sd_fixtures/tiny_sd/unet/config.json", &bc[0].cfg))
        die("tiny config (run from the repository root)");
    bc[1] = (bench_config){.name = "small", .shape = {.B = 1, .H = 32, .W = 32, .L = 77}};
    if (sdpo_unet_config_load("configs/sd-turbo/unet/config.json", &bc[1].cfg))
        die("sd-turbo config (run from the repository root)");
    const int boc[4] = {64, 128, 256, 256}, heads[4] = {1, 2, 4, 4};
    for (int i = 0; i < 4; i++) {
        bc[1].cfg.block_out_channels[i] = boc[i];
        bc[1].cfg.heads[i] = heads[i];
    }
    bc[1].cfg.time_embed_dim = 4 * boc[0];
    printf("impl,config,mode,shape,threads,params,median_ms,min_ms\n");
    for (int c = 0; c < 2; c++) {
        run(&bc[c], "infer", SDPO_UNET_INFER, 0, 0);
        run(&bc[c], "train_lora", SDPO_UNET_TRAIN, 1, 0);
        run(&bc[c], "train_lora_recompute", SDPO_UNET_TRAIN_RECOMPUTE, 1, 0);
        run(&bc[c], "train_full", SDPO_UNET_TRAIN, 0, 1);
    }
    return 0;
}

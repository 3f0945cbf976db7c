/* micro/quality_train.c — the micro quality predictor: a micro-CLIP image tower fine-tuned with
 * an aesthetic-shaped head on clean vs degraded renders (quality_train.h). */
#include "micro/quality_train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/rng.h"
#include "nn/ops.h"
#include "nn/optim.h"
#include "nn/safetensors.h"
#include "rewards/learned.h"

sdpo_micro_quality_config sdpo_micro_quality_defaults(int E) {
    return (sdpo_micro_quality_config){
        .dims = {E, 128, 32, 16, 8, 1}, .seed = 1, .steps = 150, .batch = 64, .warmup = 15,
        .lr_tower = 3e-4, .lr_head = 1e-3, .weight_decay = 1e-4, .clip_grad = 1.0,
        .val_every = 50, .val_pairs = 500, .threads = 2};
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Per-step buffers for R = 2·batch images. */
struct sdpo_micro_quality_work {
    float *chw, *img01, *emb, *unit, *inv, *dunit, *demb, *s, *ds, *pair_s, *pair_ds;
    float *act[SDPO_MLP_HEAD_LAYERS + 1], *d[2];
    sdpo_scene *scenes;
};
typedef struct sdpo_micro_quality_work buffers;

static void buffers_free(buffers *b) {
    free(b->chw), free(b->img01), free(b->emb), free(b->unit), free(b->inv), free(b->dunit);
    free(b->demb), free(b->s), free(b->ds), free(b->pair_s), free(b->pair_ds), free(b->scenes);
    for (int l = 1; l <= SDPO_MLP_HEAD_LAYERS; l++) free(b->act[l]);
    free(b->d[0]), free(b->d[1]);
}

static sdpo_status buffers_alloc(buffers *b, const int *dims, int R) {
    memset(b, 0, sizeof *b);
    const size_t E = (size_t)dims[0], px = (size_t)R * SDPO_WORLD_PIXELS;
    int widest = 1, ok = 1;
    for (int l = 0; l <= SDPO_MLP_HEAD_LAYERS; l++) widest = dims[l] > widest ? dims[l] : widest;
    ok &= !!(b->chw = malloc(px * sizeof(float))) & !!(b->img01 = malloc(px * sizeof(float)));
    ok &= !!(b->emb = malloc(R * E * sizeof(float))) & !!(b->unit = malloc(R * E * sizeof(float)));
    ok &= !!(b->inv = malloc(R * sizeof(float))) & !!(b->dunit = malloc(R * E * sizeof(float)));
    ok &= !!(b->demb = malloc(R * E * sizeof(float))) & !!(b->s = malloc(R * sizeof(float)));
    ok &= !!(b->ds = malloc(R * sizeof(float))) & !!(b->pair_s = malloc(R * sizeof(float)));
    ok &= !!(b->pair_ds = malloc(R * sizeof(float)));
    ok &= !!(b->scenes = malloc((size_t)R * sizeof *b->scenes));
    for (int l = 1; l <= SDPO_MLP_HEAD_LAYERS; l++)
        ok &= !!(b->act[l] = malloc((size_t)R * dims[l] * sizeof(float)));
    ok &= !!(b->d[0] = malloc((size_t)R * widest * sizeof(float)));
    ok &= !!(b->d[1] = malloc((size_t)R * widest * sizeof(float)));
    if (!ok) {
        buffers_free(b);
        return sdpo_fail(SDPO_ERR_NOMEM, "micro quality: out of memory for %d images", R);
    }
    return SDPO_OK;
}

/* ---------------------------------------------------------------------------------------------
 * init */

sdpo_status sdpo_micro_quality_init(sdpo_micro_quality *q, const sdpo_micro_quality_config *cfg,
                                    const sdpo_vit_config *vc, const nn_params *src) {
    memset(q, 0, sizeof *q);
    q->cfg = *cfg;
    q->vc = *vc;
    nn_params_init(&q->tower);
    nn_params_init(&q->head_params);
    q->ctx = (nn_ctx){.backend = NN_BACKEND_CPU, .n_threads = cfg->threads, .stream = NULL};
    for (int l = 0; l <= SDPO_MLP_HEAD_LAYERS; l++)
        if (cfg->dims[l] < 1 || (l == SDPO_MLP_HEAD_LAYERS && cfg->dims[l] != 1))
            return sdpo_fail(SDPO_ERR_ARG, "micro quality: head width %d = %d (positive, the last "
                             "1)", l, cfg->dims[l]);
    if (cfg->dims[0] != vc->embed_dim)
        return sdpo_fail(SDPO_ERR_ARG, "micro quality: head input %d ≠ the tower's projection "
                         "width %d", cfg->dims[0], vc->embed_dim);
    if (cfg->steps < 1 || cfg->batch < 1 || cfg->warmup < 0 || cfg->val_every < 1 ||
        cfg->val_pairs < 1 || cfg->threads < 1 || !(cfg->lr_tower >= 0) || !(cfg->lr_head > 0))
        return sdpo_fail(SDPO_ERR_ARG, "micro quality: bad settings (steps %d, batch %d, warmup "
                         "%d, val_every %d, val_pairs %d, threads %d, lr %g/%g)", cfg->steps,
                         cfg->batch, cfg->warmup, cfg->val_every, cfg->val_pairs, cfg->threads,
                         cfg->lr_tower, cfg->lr_head);
    /* the tower: the CLIP's vision tensors, same names, its current values */
    sdpo_status rc = sdpo_vit_train_register(&q->vc, &q->tower);
    if (rc == SDPO_OK) rc = nn_params_finalize(&q->tower);
    for (int i = 0; i < q->tower.count && rc == SDPO_OK; i++) {
        nn_param_view dst = nn_params_at(&q->tower, i);
        nn_param_view from;
        rc = nn_params_expect(src, dst.name, dst.value.ndim, dst.value.shape, &from);
        if (rc == SDPO_OK)
            memcpy(dst.value.data, from.value.data,
                   (size_t)nn_tensor_numel(&dst.value) * sizeof(float));
    }
    if (rc == SDPO_OK) rc = sdpo_vit_train_bind(&q->vit, &q->vc, &q->tower);
    /* the head */
    nn_params frozen;
    nn_params_init(&frozen);
    if (rc == SDPO_OK) rc = sdpo_mlp_head_register(&frozen, "layers.", cfg->dims);
    if (rc == SDPO_OK) rc = sdpo_params_add_trainable(&q->head_params, &frozen);
    nn_params_free(&frozen);
    if (rc == SDPO_OK) rc = nn_params_finalize(&q->head_params);
    if (rc == SDPO_OK) rc = sdpo_mlp_head_bind(&q->head, &q->head_params, "layers.", cfg->dims);
    if (rc == SDPO_OK)
        rc = nn_arena_init(&q->arena, sdpo_vit_train_arena_bytes(&q->ctx, &q->vc, 2 * cfg->batch));
    if (rc == SDPO_OK && !(q->work = malloc(sizeof *q->work)))
        rc = sdpo_fail(SDPO_ERR_NOMEM, "micro quality: out of memory");
    if (rc == SDPO_OK && (rc = buffers_alloc(q->work, cfg->dims, 2 * cfg->batch)) != SDPO_OK) {
        free(q->work);
        q->work = NULL;
    }
    if (rc != SDPO_OK) {
        sdpo_micro_quality_free(q);
        return rc;
    }
    /* torch.nn.Linear.reset_parameters: weight and bias U(−1/√fan_in, 1/√fan_in) */
    sdpo_rng r;
    sdpo_rng_init(&r, cfg->seed + SDPO_MICRO_QUALITY_SEED_OFFSET, SDPO_STREAM_PARAM_INIT);
    for (int l = 0; l < SDPO_MLP_HEAD_LAYERS; l++) {
        const float bound = 1.0f / sqrtf((float)cfg->dims[l]);
        float *wt = (float *)q->head.w[l], *b = (float *)q->head.b[l];
        for (int k = 0; k < cfg->dims[l + 1] * cfg->dims[l]; k++)
            wt[k] = bound * (2.0f * sdpo_rng_uniform(&r) - 1.0f);
        for (int k = 0; k < cfg->dims[l + 1]; k++) b[k] = bound * (2.0f * sdpo_rng_uniform(&r) - 1.0f);
    }
    return SDPO_OK;
}

void sdpo_micro_quality_free(sdpo_micro_quality *q) {
    if (q->work) buffers_free(q->work);
    free(q->work);
    sdpo_vit_train_free(&q->vit);
    nn_params_free(&q->tower);
    nn_params_free(&q->head_params);
    nn_arena_free(&q->arena);
    memset(q, 0, sizeof *q);
}

/* ---------------------------------------------------------------------------------------------
 * loss, head, normalisation */

/* log(1 + eˣ) without overflow. */
static double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

double sdpo_micro_quality_loss(int B, const float *s_clean, const float *s_deg, float *ds_clean,
                               float *ds_deg) {
    double loss = 0;
    for (int b = 0; b < B; b++) {
        const double c = s_clean[b], d = s_deg[b];
        loss += softplus(-(c - d)) + 0.5 * (softplus(-c) + softplus(d));
        const double pair = sigmoid(-(c - d));
        ds_clean[b] = (float)((-pair - 0.5 * sigmoid(-c)) / B);
        ds_deg[b] = (float)((pair + 0.5 * sigmoid(d)) / B);
    }
    return loss / B;
}

/* unit = emb/‖emb‖₂ per row (zero norm → 1, rewards/aesthetic.c), inv = the factor applied. */
static void normalise(int R, int E, const float *emb, float *unit, float *inv) {
    for (int r = 0; r < R; r++) {
        double ss = 0;
        for (int i = 0; i < E; i++) ss += (double)emb[(size_t)r * E + i] * emb[(size_t)r * E + i];
        inv[r] = ss > 0 ? (float)(1.0 / sqrt(ss)) : 1.0f;
        for (int i = 0; i < E; i++) unit[(size_t)r * E + i] = emb[(size_t)r * E + i] * inv[r];
    }
}

/* demb = (dunit − unit·(unit·dunit))·inv, the Jacobian of x/‖x‖ applied to dunit. */
static void normalise_backward(int R, int E, const float *unit, const float *inv,
                               const float *dunit, float *demb) {
    for (int r = 0; r < R; r++) {
        double p = 0;
        for (int i = 0; i < E; i++) p += (double)unit[(size_t)r * E + i] * dunit[(size_t)r * E + i];
        for (int i = 0; i < E; i++)
            demb[(size_t)r * E + i] =
                (float)((dunit[(size_t)r * E + i] - unit[(size_t)r * E + i] * p) * inv[r]);
    }
}

/* head: act[0] = unit → … → act[5] = scores [R] (no activations), every input kept */
static void head_forward(sdpo_micro_quality *q, buffers *b, int R) {
    const int *dims = q->cfg.dims;
    b->act[0] = b->unit;
    for (int l = 0; l < SDPO_MLP_HEAD_LAYERS; l++)
        nn_linear_forward(&q->ctx, b->act[l + 1], b->act[l], q->head.w[l], q->head.b[l], R,
                          dims[l], dims[l + 1]);
}

/* dscore [R] → head parameter gradients and dunit [R, E]. */
static void head_backward(sdpo_micro_quality *q, buffers *b, int R, const float *dscore) {
    const int *dims = q->cfg.dims;
    const float *dout = dscore;
    for (int l = SDPO_MLP_HEAD_LAYERS - 1; l >= 0; l--) {
        float *dinp = l > 0 ? b->d[l % 2] : b->dunit;
        nn_zero_grad(&q->ctx, dinp, (size_t)R * dims[l]);
        nn_linear_backward(&q->ctx, dinp, sdpo_params_grad_of(&q->head_params, q->head.w[l]),
                           sdpo_params_grad_of(&q->head_params, q->head.b[l]), dout, b->act[l],
                           q->head.w[l], R, dims[l], dims[l + 1]);
        dout = dinp;
    }
}

/* World images [-1, 1] → reward pixels (x/2 + 0.5, uint8, CLIP preprocessing at 32). */
static sdpo_status to_pixels(int n, const float *chw, float *img01, float **pixels) {
    for (size_t k = 0; k < (size_t)n * SDPO_WORLD_PIXELS; k++) {
        float v = chw[k] * 0.5f + 0.5f;
        img01[k] = v < 0.f ? 0.f : v > 1.f ? 1.f : v;
    }
    return sdpo_reward_pixels(n, SDPO_WORLD_SIZE, SDPO_WORLD_SIZE, img01, SDPO_WORLD_SIZE,
                              SDPO_PIXELS_CLIP, pixels);
}

/* Pairs [first, first + m) of stream seed into b->chw: row 2k clean, 2k + 1 degraded. */
static sdpo_status render_pairs(sdpo_micro_quality *q, const sdpo_world *w, uint64_t seed,
                                uint64_t first, int m, buffers *b) {
    float *clean = b->img01;   /* scratch for the clean renders */
    sdpo_status rc = sdpo_micro_world_batch(w, seed, first, m, NULL, q->cfg.threads, b->scenes,
                                            clean);
    for (int k = 0; k < m && rc == SDPO_OK; k++) {
        float *c = b->chw + (size_t)2 * k * SDPO_WORLD_PIXELS, *d = c + SDPO_WORLD_PIXELS;
        memcpy(c, clean + (size_t)k * SDPO_WORLD_PIXELS, SDPO_WORLD_PIXELS * sizeof *c);
        memcpy(d, c, SDPO_WORLD_PIXELS * sizeof *d);
        sdpo_world_degrade(d, seed, first + (uint64_t)k);
    }
    return rc;
}

/* Scores of the n ≤ 2·batch images in chw, forward only (the arena is reset). */
static sdpo_status score_chunk(sdpo_micro_quality *q, buffers *b, int n, const float *chw,
                               float *scores) {
    float *pixels = NULL;
    sdpo_status rc = to_pixels(n, chw, b->img01, &pixels);
    nn_arena_reset(&q->arena, 0);
    if (rc == SDPO_OK) rc = sdpo_vit_train_forward(&q->ctx, &q->vit, &q->arena, n, pixels, b->emb);
    nn_arena_reset(&q->arena, 0);
    free(pixels);
    if (rc != SDPO_OK) return rc;
    normalise(n, q->cfg.dims[0], b->emb, b->unit, b->inv);
    head_forward(q, b, n);
    memcpy(scores, b->act[SDPO_MLP_HEAD_LAYERS], (size_t)n * sizeof *scores);
    return SDPO_OK;
}

static sdpo_status pair_accuracy(sdpo_micro_quality *q, buffers *b, const sdpo_world *w,
                                 uint64_t seed, int n, double *acc) {
    const int P = q->cfg.batch;
    int right = 0;
    sdpo_status rc = SDPO_OK;
    for (int k0 = 0; k0 < n && rc == SDPO_OK; k0 += P) {
        const int m = n - k0 < P ? n - k0 : P;
        rc = render_pairs(q, w, seed, (uint64_t)k0, m, b);
        if (rc == SDPO_OK) rc = score_chunk(q, b, 2 * m, b->chw, b->s);
        for (int k = 0; k < m && rc == SDPO_OK; k++) right += b->s[2 * k] > b->s[2 * k + 1];
    }
    *acc = (double)right / n;
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * training */

sdpo_status sdpo_micro_quality_loss_grad(sdpo_micro_quality *q, int P, const float *pixels,
                                         double *loss) {
    buffers *b = q->work;
    const int R = 2 * P, E = q->cfg.dims[0];
    if (P < 1 || P > q->cfg.batch)
        return sdpo_fail(SDPO_ERR_ARG, "micro quality: %d pairs (1..%d)", P, q->cfg.batch);
    nn_arena_reset(&q->arena, 0);
    sdpo_status rc = sdpo_vit_train_forward(&q->ctx, &q->vit, &q->arena, R, pixels, b->emb);
    if (rc != SDPO_OK) return rc;
    normalise(R, E, b->emb, b->unit, b->inv);
    head_forward(q, b, R);
    const float *s = b->act[SDPO_MLP_HEAD_LAYERS];
    for (int k = 0; k < P; k++) b->pair_s[k] = s[2 * k], b->pair_s[P + k] = s[2 * k + 1];
    *loss = sdpo_micro_quality_loss(P, b->pair_s, b->pair_s + P, b->pair_ds, b->pair_ds + P);
    for (int k = 0; k < P; k++) b->ds[2 * k] = b->pair_ds[k], b->ds[2 * k + 1] = b->pair_ds[P + k];
    head_backward(q, b, R, b->ds);
    normalise_backward(R, E, b->unit, b->inv, b->dunit, b->demb);
    rc = sdpo_vit_train_backward(&q->ctx, &q->vit, &q->arena, b->demb);
    nn_arena_reset(&q->arena, 0);
    return rc;
}

static double lr_scale(const sdpo_micro_quality_config *c, int step) {
    if (step < c->warmup) return (double)(step + 1) / c->warmup;
    double p = c->steps > c->warmup ? (double)(step - c->warmup) / (c->steps - c->warmup) : 1.0;
    return 0.05 + 0.95 * 0.5 * (1.0 + cos(M_PI * p));
}

sdpo_status sdpo_micro_quality_train(sdpo_micro_quality *q, const sdpo_world *w, FILE *log,
                                     sdpo_micro_progress_fn progress, void *user,
                                     sdpo_micro_quality_result *res) {
    const sdpo_micro_quality_config *c = &q->cfg;
    const int P = c->batch, R = 2 * P;
    const uint64_t seed = c->seed + SDPO_MICRO_QUALITY_SEED_OFFSET;
    const double t0 = now_s();
    buffers *b = q->work;
    sdpo_status rc = SDPO_OK;
    nn_adamw_config tc = nn_adamw_defaults(), hc = nn_adamw_defaults();
    tc.lr = c->lr_tower;
    hc.lr = c->lr_head;
    tc.weight_decay = hc.weight_decay = c->weight_decay;
    nn_adamw ot, oh;
    nn_adamw_init(&ot, &tc);
    nn_adamw_init(&oh, &hc);
    if (log) fprintf(log, "step,loss,lr_tower,val_pair_acc,elapsed_s\n");
    double loss_sum = 0, last = NAN, acc = NAN;
    int loss_n = 0;
    for (int step = 0; step < c->steps && rc == SDPO_OK; step++) {
        rc = render_pairs(q, w, seed, (uint64_t)step * P, P, b);
        float *pixels = NULL;
        if (rc == SDPO_OK) rc = to_pixels(R, b->chw, b->img01, &pixels);
        nn_zero_grad(&q->ctx, q->head_params.grads, q->head_params.n_trainable);
        nn_zero_grad(&q->ctx, q->tower.grads, q->tower.n_trainable);
        if (rc == SDPO_OK) rc = sdpo_micro_quality_loss_grad(q, P, pixels, &last);
        free(pixels);
        float gn;
        if (rc == SDPO_OK && c->clip_grad > 0)
            rc = nn_clip_grad_norm(&q->ctx, q->tower.grads, q->tower.n_trainable,
                                   (float)c->clip_grad, &gn);
        if (rc == SDPO_OK && c->clip_grad > 0)
            rc = nn_clip_grad_norm(&q->ctx, q->head_params.grads, q->head_params.n_trainable,
                                   (float)c->clip_grad, &gn);
        if (rc != SDPO_OK) break;
        ot.cfg.lr = c->lr_tower * lr_scale(c, step);
        oh.cfg.lr = c->lr_head * lr_scale(c, step);
        nn_adamw_step_params(&q->ctx, &ot, &q->tower);
        nn_adamw_step_params(&q->ctx, &oh, &q->head_params);
        loss_sum += last;
        loss_n++;
        if ((step + 1) % c->val_every == 0 || step + 1 == c->steps) {
            rc = pair_accuracy(q, b, w, c->seed + SDPO_MICRO_QUALITY_VAL_SEED_OFFSET,
                               c->val_pairs, &acc);
            if (rc == SDPO_OK && log) {
                fprintf(log, "%d,%.6f,%.6g,%.4f,%.1f\n", step + 1, loss_sum / loss_n, ot.cfg.lr,
                        acc, now_s() - t0);
                fflush(log);
            }
            loss_sum = 0;
            loss_n = 0;
        }
        if (progress) {
            char label[96];
            snprintf(label, sizeof label, "micro quality step %d/%d loss %.3f val %.3f", step + 1,
                     c->steps, last, acc);
            progress(user, (double)(step + 1) / c->steps, label);
        }
    }
    nn_arena_reset(&q->arena, 0);
    if (rc == SDPO_OK && res) *res = (sdpo_micro_quality_result){now_s() - t0, last, acc};
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * saving */

sdpo_status sdpo_micro_quality_save(const sdpo_micro_quality *q, const sdpo_micro_clip *clip,
                                    const char *dir, const char *command) {
    sdpo_status rc = sdpo_micro_clip_save_vision(clip, &q->tower, q->cfg.seed, q->cfg.steps, dir,
                                                 command);
    char path[4096];
    if (rc == SDPO_OK) rc = sdpo_reward_path(path, sizeof path, dir, "aesthetic_head.safetensors");
    if (rc != SDPO_OK) return rc;
    const nn_params *p = &q->head_params;
    sdpo_st_entry e[2 * SDPO_MLP_HEAD_LAYERS];
    for (int i = 0; i < p->count; i++) {
        nn_param_view v = nn_params_at(p, i);
        e[i] = (sdpo_st_entry){v.name, SDPO_ST_F32, v.value.ndim, p->info[i].shape, v.value.data};
    }
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)q->cfg.seed);
    const char *keys[3] = {"format", "sdpo_train_seed", "sdpo_command"};
    const char *vals[3] = {"pt", seed, command ? command : ""};
    return sdpo_st_write(path, e, p->count, keys, vals, 3);
}

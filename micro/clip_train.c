/* micro/clip_train.c — the micro CLIP: init, multi-positive InfoNCE, the training loop,
 * evaluation and the shipped folder (clip_train.h). */
#include "micro/clip_train.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "core/rng.h"
#include "nn/optim.h"
#include "nn/safetensors.h"
#include "rewards/learned.h"

static const sdpo_clip_text_layout clip_model_text = {SDPO_CLIP_TEXT_HF, "text_model.",
                                                        "text_projection.weight"};

/* CLIP's logit_scale_init_value ln(1/0.07) and its clamp (logit_scale.data.clamp_(0, ln 100)
 * in open_clip's training loop; the factor never exceeds 100). */
#define LOGIT_SCALE_INIT 2.6592f
#define LOGIT_SCALE_MAX 4.6051702f

/* Steps timed before a --minutes budget fixes the step count (inside the warmup, so the
 * schedule so far does not depend on the total). */
#define TIMED_STEPS 10

sdpo_micro_clip_config sdpo_micro_clip_defaults(void) {
    return (sdpo_micro_clip_config){
        .patch_size = 4, .vision_width = 64, .vision_layers = 3, .vision_heads = 4,
        .vision_mlp = 256, .text_width = 64, .text_layers = 2, .text_heads = 4, .text_mlp = 256,
        .projection_dim = 64, .seed = 1, .steps = 400, .minutes = 0.0, .batch = 128,
        .warmup = 100, .lr = 1e-3, .final_lr_frac = 0.05, .weight_decay = 1e-4,
        .clip_grad = 1.0, .val_every = 50, .val_scenes = 450, .threads = 2};
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---------------------------------------------------------------------------------------------
 * init */

static int ends_with(const char *s, const char *tail) {
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && !strcmp(s + n - t, tail);
}

static int starts_with(const char *s, const char *head) { return !strncmp(s, head, strlen(head)); }

sdpo_status sdpo_micro_clip_init_weights(nn_params *p, const sdpo_vit_config *vc,
                                         const sdpo_clip_text_config *tc, uint64_t seed) {
    sdpo_rng r;
    sdpo_rng_init(&r, seed, SDPO_STREAM_PARAM_INIT);
    for (int i = 0; i < p->count; i++) {
        nn_param_view v = nn_params_at(p, i);
        const char *n = v.name;
        const size_t numel = (size_t)nn_tensor_numel(&v.value);
        float *x = v.value.data;
        const int vision = starts_with(n, "vision_model.") || !strcmp(n, "visual_projection.weight");
        const double D = vision ? vc->width : tc->hidden_size;
        const double layers = vision ? vc->layers : tc->num_layers;
        const double in_std = pow(D, -0.5) * pow(2.0 * layers, -0.5);
        double fill = -1.0, std = -1.0;
        if (!strcmp(n, "logit_scale")) fill = LOGIT_SCALE_INIT;
        else if ((strstr(n, "norm") || strstr(n, "layrnorm")) && ends_with(n, ".weight")) fill = 1.0;
        else if (ends_with(n, ".bias")) fill = 0.0;
        else if (ends_with(n, "class_embedding")) std = pow(D, -0.5);
        else if (ends_with(n, "embedding.weight")) std = 0.02;   /* token, position, patch */
        else if (ends_with(n, "q_proj.weight") || ends_with(n, "k_proj.weight") ||
                 ends_with(n, "v_proj.weight") || ends_with(n, "fc2.weight"))
            std = in_std;
        else if (ends_with(n, "out_proj.weight")) std = pow(D, -0.5);
        else if (ends_with(n, "fc1.weight")) std = pow(2.0 * D, -0.5);
        else if (ends_with(n, "projection.weight")) std = pow(D, -0.5);
        else return sdpo_fail(SDPO_ERR_ARG, "micro clip init: no rule for tensor '%s'", n);
        if (std > 0) {
            sdpo_rng_normal_fill(&r, x, numel);
            for (size_t k = 0; k < numel; k++) x[k] *= (float)std;
        } else {
            for (size_t k = 0; k < numel; k++) x[k] = (float)fill;
        }
    }
    return SDPO_OK;
}

static size_t arena_bytes(const sdpo_micro_clip *m) {
    const int B = m->cfg.batch > SDPO_WORLD_N_ANIMALS ? m->cfg.batch : SDPO_WORLD_N_ANIMALS;
    return sdpo_vit_train_arena_bytes(&m->ctx, &m->vc, B) +
           sdpo_clip_text_train_arena_bytes(&m->ctx, &m->tc, B, m->tc.max_positions);
}

sdpo_status sdpo_micro_clip_init(sdpo_micro_clip *m, const sdpo_micro_clip_config *cfg,
                                 const char *tokenizer_dir) {
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    nn_params_init(&m->params);
    if (cfg->batch < 2 || cfg->threads < 1 || cfg->projection_dim < 1 || !(cfg->lr > 0) ||
        cfg->warmup < 0 || cfg->val_every < 1 || cfg->val_scenes < 1 ||
        (cfg->steps < 1 && !(cfg->minutes > 0)))
        return sdpo_fail(SDPO_ERR_ARG, "micro clip: bad training settings (batch %d ≥ 2, threads "
                         "%d ≥ 1, projection %d, lr %g > 0, warmup %d ≥ 0, val_every %d, "
                         "val_scenes %d, steps %d or minutes %g > 0)", cfg->batch, cfg->threads,
                         cfg->projection_dim, cfg->lr, cfg->warmup, cfg->val_every,
                         cfg->val_scenes, cfg->steps, cfg->minutes);
    if (cfg->steps < 1 && cfg->warmup < TIMED_STEPS)
        return sdpo_fail(SDPO_ERR_ARG, "micro clip: a time budget needs warmup ≥ %d steps (the "
                         "steps it times), got %d", TIMED_STEPS, cfg->warmup);
    m->ctx = (nn_ctx){.backend = NN_BACKEND_CPU, .n_threads = cfg->threads, .stream = NULL};
    sdpo_status rc = sdpo_clip_tokenizer_load(tokenizer_dir, &m->tok);
    if (rc != SDPO_OK) return rc;
    m->vc = (sdpo_vit_config){.layout = SDPO_VIT_HF_CLIP, .prefix = "vision_model.",
                              .image_size = SDPO_WORLD_SIZE, .patch_size = cfg->patch_size,
                              .width = cfg->vision_width, .layers = cfg->vision_layers,
                              .heads = cfg->vision_heads, .mlp_dim = cfg->vision_mlp,
                              .quick_gelu = 1, .ln_eps = 1e-5f, .embed_dim = cfg->projection_dim};
    m->tc = (sdpo_clip_text_config){.vocab_size = m->tok.n_vocab, .hidden_size = cfg->text_width,
                                    .intermediate_size = cfg->text_mlp,
                                    .num_layers = cfg->text_layers, .num_heads = cfg->text_heads,
                                    .max_positions = m->tok.max_length, .layer_norm_eps = 1e-5f,
                                    .act = SDPO_CLIP_ACT_QUICK_GELU, .pool_argmax = 1,
                                    .eos_token_id = 2, .projection_dim = cfg->projection_dim};
    if (cfg->text_layers < 1 || cfg->text_width < 1 || cfg->text_heads < 1 || cfg->text_mlp < 1 ||
        cfg->text_width % cfg->text_heads)
        rc = sdpo_fail(SDPO_ERR_ARG, "micro clip: text tower width %d, heads %d, layers %d, mlp "
                       "%d", cfg->text_width, cfg->text_heads, cfg->text_layers, cfg->text_mlp);
    const int64_t one[1] = {1};
    if (rc == SDPO_OK) rc = sdpo_vit_train_register(&m->vc, &m->params);
    if (rc == SDPO_OK) rc = sdpo_clip_text_train_register(&m->params, &m->tc, &clip_model_text);
    if (rc == SDPO_OK) rc = nn_params_add(&m->params, "logit_scale", 1, one, 1);
    if (rc == SDPO_OK) rc = nn_params_finalize(&m->params);
    if (rc == SDPO_OK) rc = sdpo_micro_clip_init_weights(&m->params, &m->vc, &m->tc, cfg->seed);
    nn_param_view ls;
    if (rc == SDPO_OK) rc = nn_params_get(&m->params, "logit_scale", &ls);
    if (rc == SDPO_OK) m->logit_scale = ls.value.data;
    if (rc == SDPO_OK) rc = sdpo_vit_train_bind(&m->vit, &m->vc, &m->params);
    if (rc == SDPO_OK)
        rc = sdpo_clip_text_train_bind(&m->text, &m->params, &m->tc, &clip_model_text);
    if (rc == SDPO_OK) rc = nn_arena_init(&m->arena, arena_bytes(m));
    if (rc != SDPO_OK) sdpo_micro_clip_free(m);
    return rc;
}

void sdpo_micro_clip_free(sdpo_micro_clip *m) {
    sdpo_vit_train_free(&m->vit);
    sdpo_clip_text_train_free(&m->text);
    sdpo_clip_tokenizer_free(&m->tok);
    nn_params_free(&m->params);
    nn_arena_free(&m->arena);
    memset(m, 0, sizeof *m);
}

/* ---------------------------------------------------------------------------------------------
 * loss */

double sdpo_micro_clip_loss(int B, int E, const float *img, const float *txt, float logit_scale,
                            const int *group, float *dimg, float *dtxt, double *dlogit_scale) {
    const double s = exp((double)logit_scale);
    double *z = malloc(sizeof(double) * ((size_t)4 * B * E + (size_t)5 * B * B + 3 * (size_t)B));
    NN_ASSERT(z != NULL);
    double *u = z + (size_t)B * E, *dz = u + (size_t)B * E, *du = dz + (size_t)B * E;
    double *S = du + (size_t)B * E, *P = S + (size_t)B * B, *Q = P + (size_t)B * B;
    double *Y = Q + (size_t)B * B, *dS = Y + (size_t)B * B, *ni = dS + (size_t)B * B;
    double *norm_i = ni + B, *norm_t = norm_i + B;
    for (int b = 0; b < B; b++) {
        double a = 0, t = 0;
        for (int e = 0; e < E; e++) {
            a += (double)img[b * E + e] * img[b * E + e];
            t += (double)txt[b * E + e] * txt[b * E + e];
        }
        norm_i[b] = sqrt(a);
        norm_t[b] = sqrt(t);
        for (int e = 0; e < E; e++) {
            z[b * E + e] = img[b * E + e] / norm_i[b];
            u[b * E + e] = txt[b * E + e] / norm_t[b];
        }
    }
    for (int i = 0; i < B; i++) {
        ni[i] = 0;
        for (int j = 0; j < B; j++) {
            double c = 0;
            for (int e = 0; e < E; e++) c += z[i * E + e] * u[j * E + e];
            S[i * B + j] = s * c;
            Y[i * B + j] = group[i] == group[j];
            ni[i] += Y[i * B + j];
        }
    }
    /* row softmax P (image → texts), column softmax Q (text → images) */
    double loss = 0;
    for (int i = 0; i < B; i++) {
        double mx = -INFINITY, sum = 0, tgt = 0;
        for (int j = 0; j < B; j++) mx = fmax(mx, S[i * B + j]);
        for (int j = 0; j < B; j++) sum += exp(S[i * B + j] - mx);
        for (int j = 0; j < B; j++) {
            P[i * B + j] = exp(S[i * B + j] - mx) / sum;
            tgt += Y[i * B + j] / ni[i] * S[i * B + j];
        }
        loss += mx + log(sum) - tgt;
    }
    for (int j = 0; j < B; j++) {
        double mx = -INFINITY, sum = 0, tgt = 0;
        for (int i = 0; i < B; i++) mx = fmax(mx, S[i * B + j]);
        for (int i = 0; i < B; i++) sum += exp(S[i * B + j] - mx);
        for (int i = 0; i < B; i++) {
            Q[i * B + j] = exp(S[i * B + j] - mx) / sum;
            tgt += Y[i * B + j] / ni[j] * S[i * B + j];
        }
        loss += mx + log(sum) - tgt;
    }
    loss /= 2.0 * B;
    /* dL/dS_ij = (P_ij − Y_ij/n_i + Q_ij − Y_ij/n_j) / 2B; S = s·c */
    double dls = 0;
    for (int i = 0; i < B; i++)
        for (int j = 0; j < B; j++) {
            double y = Y[i * B + j];
            dS[i * B + j] = (P[i * B + j] - y / ni[i] + Q[i * B + j] - y / ni[j]) / (2.0 * B);
            dls += dS[i * B + j] * S[i * B + j];
        }
    for (size_t k = 0; k < (size_t)2 * B * E; k++) dz[k] = 0;
    for (int i = 0; i < B; i++)
        for (int j = 0; j < B; j++) {
            double dc = s * dS[i * B + j];
            for (int e = 0; e < E; e++) {
                dz[i * E + e] += dc * u[j * E + e];
                du[j * E + e] += dc * z[i * E + e];
            }
        }
    /* through x/‖x‖: dx = (dz − z (z·dz)) / ‖x‖ */
    for (int b = 0; b < B; b++) {
        double pz = 0, pu = 0;
        for (int e = 0; e < E; e++) {
            pz += z[b * E + e] * dz[b * E + e];
            pu += u[b * E + e] * du[b * E + e];
        }
        for (int e = 0; e < E; e++) {
            dimg[b * E + e] = (float)((dz[b * E + e] - z[b * E + e] * pz) / norm_i[b]);
            dtxt[b * E + e] = (float)((du[b * E + e] - u[b * E + e] * pu) / norm_t[b]);
        }
    }
    *dlogit_scale = dls;
    free(z);
    return loss;
}

/* ---------------------------------------------------------------------------------------------
 * data */

/* Equal scene descriptions → equal codes (the caption template is not part of a description). */
static int scene_group(const sdpo_scene *s) {
    return ((((((int)s->kind * SDPO_WORLD_N_ANIMALS + s->animal[0]) * (SDPO_WORLD_N_ANIMALS + 1) +
               s->animal[1] + 1) * 5 + s->count) * 16 + s->color + 1) * 16) + s->place + 1;
}

sdpo_status sdpo_micro_world_batch(const sdpo_world *w, uint64_t seed, uint64_t first, int B,
                                const sdpo_world_mix *mix, int threads, sdpo_scene *scenes,
                                float *chw) {
    sdpo_status rc = SDPO_OK;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int b = 0; b < B; b++) {
        sdpo_status r = sdpo_world_sample(w, seed, first + (uint64_t)b, mix, &scenes[b],
                                          chw + (size_t)b * SDPO_WORLD_PIXELS);
        if (r != SDPO_OK) {
#pragma omp critical
            rc = r;
        }
    }
    return rc;
}

/* World images [-1, 1] → the reward's pixels (x/2 + 0.5, uint8, CLIP preprocessing at 32). */
static sdpo_status to_pixels(int B, const float *chw, float *img01, float **pixels) {
    for (size_t k = 0; k < (size_t)B * SDPO_WORLD_PIXELS; k++) {
        float v = chw[k] * 0.5f + 0.5f;
        img01[k] = v < 0.f ? 0.f : v > 1.f ? 1.f : v;
    }
    return sdpo_reward_pixels(B, SDPO_WORLD_SIZE, SDPO_WORLD_SIZE, img01, SDPO_WORLD_SIZE,
                              SDPO_PIXELS_CLIP, pixels);
}

/* Tokenises B prompts into ids [B, L] (L = the longest, padded with the pad id). */
static sdpo_status tokenize(const sdpo_clip_tokenizer *tok, int B, const char *const *prompts,
                            int64_t *ids, int *L_out) {
    const int Lmax = tok->max_length;
    int L = 1;
    for (int b = 0; b < B; b++) {
        int n;
        sdpo_status rc = sdpo_clip_tokenize(tok, prompts[b], ids + (size_t)b * Lmax, &n, NULL);
        if (rc != SDPO_OK) return rc;
        if (n > L) L = n;
    }
    for (int b = 1; b < B; b++) memmove(ids + (size_t)b * L, ids + (size_t)b * Lmax, L * sizeof *ids);
    *L_out = L;
    return SDPO_OK;
}

/* ---------------------------------------------------------------------------------------------
 * evaluation */

sdpo_status sdpo_micro_clip_embed_images(sdpo_micro_clip *m, int B, const float *chw,
                                         float *emb) {
    const int chunk = m->cfg.batch, E = m->vc.embed_dim;
    float *img01 = malloc((size_t)chunk * SDPO_WORLD_PIXELS * sizeof *img01);
    if (!img01) return sdpo_fail(SDPO_ERR_NOMEM, "micro clip: out of memory");
    sdpo_status rc = SDPO_OK;
    for (int b0 = 0; b0 < B && rc == SDPO_OK; b0 += chunk) {
        const int n = B - b0 < chunk ? B - b0 : chunk;
        float *pixels = NULL;
        rc = to_pixels(n, chw + (size_t)b0 * SDPO_WORLD_PIXELS, img01, &pixels);
        nn_arena_reset(&m->arena, 0);
        if (rc == SDPO_OK)
            rc = sdpo_vit_train_forward(&m->ctx, &m->vit, &m->arena, n, pixels,
                                        emb + (size_t)b0 * E);
        free(pixels);
    }
    nn_arena_reset(&m->arena, 0);
    free(img01);
    return rc;
}

static sdpo_status embed_texts(sdpo_micro_clip *m, int B, const char *const *prompts, float *emb) {
    int64_t *ids = malloc((size_t)B * m->tok.max_length * sizeof *ids);
    if (!ids) return sdpo_fail(SDPO_ERR_NOMEM, "micro clip: out of memory");
    int L;
    sdpo_status rc = tokenize(&m->tok, B, prompts, ids, &L);
    nn_arena_reset(&m->arena, 0);
    if (rc == SDPO_OK)
        rc = sdpo_clip_text_train_forward(&m->ctx, &m->text, &m->arena, ids, B, L, emb);
    nn_arena_reset(&m->arena, 0);
    free(ids);
    return rc;
}

sdpo_status sdpo_micro_clip_top1(sdpo_micro_clip *m, const sdpo_world *w, uint64_t seed, int n,
                                 double *top1) {
    const int E = m->vc.embed_dim, A = SDPO_WORLD_N_ANIMALS, chunk = m->cfg.batch;
    const sdpo_world_mix singles = {{1.f, 0.f, 0.f, 0.f, 0.f}};
    const char *names[SDPO_WORLD_N_ANIMALS];
    for (int a = 0; a < A; a++) names[a] = sdpo_world_animal_name(a);
    float *txt = malloc(sizeof(float) * ((size_t)A * E + (size_t)chunk * E +
                                         (size_t)chunk * SDPO_WORLD_PIXELS));
    sdpo_scene *scenes = malloc((size_t)chunk * sizeof *scenes);
    if (!txt || !scenes) {
        free(txt);
        free(scenes);
        return sdpo_fail(SDPO_ERR_NOMEM, "micro clip: out of memory");
    }
    float *img = txt + (size_t)A * E, *chw = img + (size_t)chunk * E;
    sdpo_status rc = embed_texts(m, A, names, txt);
    int right = 0;
    for (int b0 = 0; b0 < n && rc == SDPO_OK; b0 += chunk) {
        const int k = n - b0 < chunk ? n - b0 : chunk;
        rc = sdpo_micro_world_batch(w, seed, (uint64_t)b0, k, &singles, m->cfg.threads, scenes, chw);
        if (rc == SDPO_OK) rc = sdpo_micro_clip_embed_images(m, k, chw, img);
        for (int b = 0; b < k && rc == SDPO_OK; b++) {
            int best = 0;
            float best_c = -2.f;
            for (int a = 0; a < A; a++) {
                float c = sdpo_reward_cosine(img + (size_t)b * E, txt + (size_t)a * E, E);
                if (c > best_c) best_c = c, best = a;
            }
            right += best == scenes[b].animal[0];
        }
    }
    free(txt);
    free(scenes);
    *top1 = (double)right / n;
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * training */

static double lr_at(const sdpo_micro_clip_config *c, int step, int steps) {
    if (step < c->warmup) return c->lr * (step + 1) / c->warmup;
    double p = steps > c->warmup ? (double)(step - c->warmup) / (steps - c->warmup) : 1.0;
    return c->lr * (c->final_lr_frac + (1.0 - c->final_lr_frac) * 0.5 * (1.0 + cos(M_PI * p)));
}

sdpo_status sdpo_micro_clip_train(sdpo_micro_clip *m, const sdpo_world *w, FILE *log,
                                  sdpo_micro_progress_fn progress, void *user,
                                  sdpo_micro_clip_result *res) {
    const sdpo_micro_clip_config *c = &m->cfg;
    const int B = c->batch, E = m->vc.embed_dim, Lmax = m->tok.max_length;
    int steps = c->steps > 0 ? c->steps : TIMED_STEPS;   /* fixed after TIMED_STEPS if timed */
    sdpo_scene *scenes = malloc((size_t)B * sizeof *scenes);
    const char **caps = malloc((size_t)B * sizeof *caps);
    int *group = malloc((size_t)B * sizeof *group);
    int64_t *ids = malloc((size_t)B * Lmax * sizeof *ids);
    float *buf = malloc(sizeof(float) * ((size_t)2 * B * SDPO_WORLD_PIXELS + (size_t)4 * B * E));
    if (!scenes || !caps || !group || !ids || !buf) {
        free(scenes), free(caps), free(group), free(ids), free(buf);
        return sdpo_fail(SDPO_ERR_NOMEM, "micro clip: out of memory for a batch of %d", B);
    }
    float *chw = buf, *img01 = chw + (size_t)B * SDPO_WORLD_PIXELS;
    float *img = img01 + (size_t)B * SDPO_WORLD_PIXELS, *txt = img + (size_t)B * E;
    float *dimg = txt + (size_t)B * E, *dtxt = dimg + (size_t)B * E;
    nn_adamw_config oc = nn_adamw_defaults();
    oc.lr = c->lr;
    oc.weight_decay = c->weight_decay;
    nn_adamw opt;
    nn_adamw_init(&opt, &oc);
    nn_param_view lsv;
    sdpo_status rc = nn_params_get(&m->params, "logit_scale", &lsv);
    const double t0 = now_s();
    double loss_sum = 0, last_loss = NAN, top1 = NAN;
    int loss_n = 0;
    if (log) fprintf(log, "step,loss,lr,logit_scale,val_top1,elapsed_s\n");
    for (int step = 0; step < steps && rc == SDPO_OK; step++) {
        rc = sdpo_micro_world_batch(w, c->seed, (uint64_t)step * B, B, NULL, c->threads, scenes, chw);
        float *pixels = NULL;
        if (rc == SDPO_OK) rc = to_pixels(B, chw, img01, &pixels);
        for (int b = 0; b < B; b++) {
            caps[b] = scenes[b].caption;
            group[b] = scene_group(&scenes[b]);
        }
        int L = 1;
        if (rc == SDPO_OK) rc = tokenize(&m->tok, B, caps, ids, &L);
        nn_arena_reset(&m->arena, 0);
        if (rc == SDPO_OK) rc = sdpo_vit_train_forward(&m->ctx, &m->vit, &m->arena, B, pixels, img);
        if (rc == SDPO_OK)
            rc = sdpo_clip_text_train_forward(&m->ctx, &m->text, &m->arena, ids, B, L, txt);
        double dls = 0;
        if (rc == SDPO_OK) {
            last_loss = sdpo_micro_clip_loss(B, E, img, txt, *m->logit_scale, group, dimg, dtxt,
                                             &dls);
            loss_sum += last_loss;
            loss_n++;
            nn_zero_grad(&m->ctx, m->params.grads, m->params.n_trainable);
            rc = sdpo_clip_text_train_backward(&m->ctx, &m->text, &m->arena, dtxt);
        }
        if (rc == SDPO_OK) rc = sdpo_vit_train_backward(&m->ctx, &m->vit, &m->arena, dimg);
        free(pixels);
        float gnorm = 0;
        if (rc == SDPO_OK) {
            lsv.grad[0] += (float)dls;
            if (c->clip_grad > 0)
                rc = nn_clip_grad_norm(&m->ctx, m->params.grads, m->params.n_trainable,
                                       (float)c->clip_grad, &gnorm);
        }
        if (rc != SDPO_OK) break;
        opt.cfg.lr = lr_at(c, step, steps);
        nn_adamw_step_params(&m->ctx, &opt, &m->params);
        /* clamp_(0, ln 100), as CLIP's training loops do after each step */
        float *ls = m->logit_scale;
        *ls = *ls < 0.f ? 0.f : *ls > LOGIT_SCALE_MAX ? LOGIT_SCALE_MAX : *ls;
        if (c->steps < 1 && step + 1 == TIMED_STEPS) {
            double per = (now_s() - t0) / TIMED_STEPS;
            long n = (long)(c->minutes * 60.0 / per);
            steps = n < TIMED_STEPS ? TIMED_STEPS : n > 1000000 ? 1000000 : (int)n;
        }
        if ((step + 1) % c->val_every == 0 || step + 1 == steps) {
            rc = sdpo_micro_clip_top1(m, w, c->seed + SDPO_MICRO_VAL_SEED_OFFSET, c->val_scenes,
                                      &top1);
            if (rc == SDPO_OK && log) {
                fprintf(log, "%d,%.6f,%.6g,%.6f,%.4f,%.1f\n", step + 1, loss_sum / loss_n,
                        opt.cfg.lr, (double)*ls, top1, now_s() - t0);
                fflush(log);
            }
            loss_sum = 0;
            loss_n = 0;
        }
        if (progress) {
            char label[96];
            snprintf(label, sizeof label, "micro CLIP step %d/%d loss %.3f top1 %.3f", step + 1,
                     steps, last_loss, top1);
            progress(user, (double)(step + 1) / steps, label);
        }
    }
    free(scenes), free(caps), free(group), free(ids), free(buf);
    nn_arena_reset(&m->arena, 0);
    if (rc == SDPO_OK && res)
        *res = (sdpo_micro_clip_result){steps, now_s() - t0, last_loss, top1};
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * saving */

static json_t *text_config_json(const sdpo_clip_text_config *tc) {
    return json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:s, s:f, s:i, s:i, s:i, s:i}",
                     "model_type", "clip_text_model", "vocab_size", tc->vocab_size, "hidden_size",
                     tc->hidden_size, "intermediate_size", tc->intermediate_size,
                     "num_hidden_layers", tc->num_layers, "num_attention_heads", tc->num_heads,
                     "max_position_embeddings", tc->max_positions, "hidden_act",
                     tc->act == SDPO_CLIP_ACT_GELU ? "gelu" : "quick_gelu", "layer_norm_eps",
                     (double)tc->layer_norm_eps, "bos_token_id", 0, "eos_token_id",
                     tc->eos_token_id, "pad_token_id", 1, "projection_dim", tc->projection_dim);
}

static json_t *vision_config_json(const sdpo_vit_config *vc) {
    return json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:s, s:f, s:i}", "model_type",
                     "clip_vision_model", "hidden_size", vc->width, "intermediate_size",
                     vc->mlp_dim, "num_hidden_layers", vc->layers, "num_attention_heads",
                     vc->heads, "image_size", vc->image_size, "patch_size", vc->patch_size,
                     "num_channels", 3, "hidden_act", vc->quick_gelu ? "quick_gelu" : "gelu",
                     "layer_norm_eps", (double)vc->ln_eps, "projection_dim", vc->embed_dim);
}

/* config.json of a transformers CLIPModel (the PickScore / aesthetic loaders read it). */
static sdpo_status write_config(const sdpo_micro_clip *m, const char *dir) {
    char path[4096];
    sdpo_status rc = sdpo_reward_path(path, sizeof path, dir, "config.json");
    if (rc != SDPO_OK) return rc;
    json_t *root = json_pack("{s:[s], s:s, s:i, s:f, s:o, s:o}", "architectures", "CLIPModel",
                             "model_type", "clip", "projection_dim", m->vc.embed_dim,
                             "logit_scale_init_value", (double)LOGIT_SCALE_INIT, "text_config",
                             text_config_json(&m->tc), "vision_config",
                             vision_config_json(&m->vc));
    if (!root) return sdpo_fail(SDPO_ERR_NOMEM, "%s: cannot build the JSON", path);
    sdpo_atomic_file f;
    rc = sdpo_atomic_open(&f, path);
    if (rc == SDPO_OK) {
        if (json_dumpf(root, f.fp, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 ||
            fputc('\n', f.fp) == EOF) {
            sdpo_atomic_abort(&f);
            rc = sdpo_fail(SDPO_ERR_IO, "%s: write failed", path);
        } else {
            rc = sdpo_atomic_commit(&f);
        }
    }
    json_decref(root);
    return rc;
}

/* dir/model.safetensors: the tensors of p in registration order (only the vision tower and its
 * projection when vision_only), F32, logit_scale as a rank-0 tensor; metadata: seed, steps,
 * command. */
static sdpo_status write_weights(const nn_params *p, const char *dir, int vision_only,
                                 uint64_t seed_value, int steps_value, const char *command) {
    char path[4096];
    sdpo_status rc = sdpo_reward_path(path, sizeof path, dir, "model.safetensors");
    if (rc != SDPO_OK) return rc;
    sdpo_st_entry *e = calloc((size_t)p->count, sizeof *e);
    if (!e) return sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory", path);
    int n = 0;
    for (int i = 0; i < p->count; i++) {
        nn_param_view v = nn_params_at(p, i);
        const int vision = starts_with(v.name, "vision_model.") ||
                           !strcmp(v.name, "visual_projection.weight");
        if (vision_only && !vision) continue;
        e[n] = (sdpo_st_entry){v.name, SDPO_ST_F32, v.value.ndim, p->info[i].shape, v.value.data};
        if (!strcmp(v.name, "logit_scale")) e[n].ndim = 0;
        n++;
    }
    char seed[32], steps[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)seed_value);
    snprintf(steps, sizeof steps, "%d", steps_value);
    const char *keys[4] = {"format", "sdpo_train_seed", "sdpo_train_steps", "sdpo_command"};
    const char *vals[4] = {"pt", seed, steps, command ? command : ""};
    rc = sdpo_st_write(path, e, n, keys, vals, 4);
    free(e);
    return rc;
}

sdpo_status sdpo_micro_clip_save(const sdpo_micro_clip *m, const char *dir,
                                 const char *command) {
    sdpo_status rc = sdpo_mkdir_p(dir);
    if (rc == SDPO_OK) rc = write_config(m, dir);
    if (rc == SDPO_OK) rc = write_weights(&m->params, dir, 0, m->cfg.seed, m->cfg.steps, command);
    return rc;
}

sdpo_status sdpo_micro_clip_save_vision(const sdpo_micro_clip *m, const nn_params *vision,
                                        uint64_t seed, int steps, const char *dir,
                                        const char *command) {
    sdpo_status rc = sdpo_mkdir_p(dir);
    if (rc == SDPO_OK) rc = write_config(m, dir);
    if (rc == SDPO_OK) rc = write_weights(vision, dir, 1, seed, steps, command);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * folders */

void sdpo_micro_dir_remove(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
            (size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < sizeof path)
            unlink(path);
    closedir(d);
    rmdir(dir);
}

sdpo_status sdpo_micro_dir_begin(const char *parent, const char *name, char *tmp, size_t n) {
    if ((size_t)snprintf(tmp, n, "%s/.%s.tmp.%ld", parent, name, (long)getpid()) >= n)
        return sdpo_fail(SDPO_ERR_ARG, "%s/%s: path too long", parent, name);
    sdpo_micro_dir_remove(tmp);
    return sdpo_mkdir_p(tmp);
}

sdpo_status sdpo_micro_dir_commit(const char *tmp, const char *parent, const char *name) {
    char final[4096];
    if ((size_t)snprintf(final, sizeof final, "%s/%s", parent, name) >= sizeof final)
        return sdpo_fail(SDPO_ERR_ARG, "%s/%s: path too long", parent, name);
    sdpo_micro_dir_remove(final);
    if (rename(tmp, final) != 0)
        return sdpo_fail(SDPO_ERR_IO, "%s: cannot rename %s into place: %s", final, tmp,
                         strerror(errno));
    return SDPO_OK;
}

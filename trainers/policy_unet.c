/* trainers/policy_unet.c — the Stable-Diffusion (SD-Turbo) policy: UNet + LoRA, CLIP text
 * conditioning, VAE images (or pixel space when the folder has no VAE), the folder's scheduler
 * (policy_unet.h). */
#include "trainers/policy_unet.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/clip_text.h"
#include "models/config.h"
#include "models/model_dir.h"
#include "models/tokenizer_clip.h"
#include "models/unet.h"
#include "models/vae.h"
#include "models/weights.h"
#include "nn/arena.h"

typedef struct {
    sdpo_unet unet;
    int unet_ready;
    nn_arena arena, vae_arena;
    nn_params vae_params;
    sdpo_vae vae;
    int vae_ready;
    int pixel;                     /* 1: no VAE, samples are the RGB images in [-1, 1] */
    nn_ctx ctx;
    int h, w, L, Dc;               /* latent size, text tokens, text width */
    int n_prompts;
    float *cond;                   /* [n_prompts + 1, L, Dc]; row n_prompts: "" (uncond) */
    float *t_eval, *ehs_eval;      /* [max_batch], [max_batch, L, Dc] */
    float *x_train, *t_train, *ehs_train;  /* inputs of the pending TRAIN forward */
    int max_batch, max_train_batch, train_pending, recompute;
} unet_state;

static void unet_destroy(sdpo_policy *p) {
    unet_state *s = p->state;
    if (!s) return;
    if (s->unet_ready) sdpo_unet_free(&s->unet);
    if (s->vae_ready) sdpo_vae_unbind(&s->vae);
    nn_params_free(&s->vae_params);
    nn_arena_free(&s->arena);
    nn_arena_free(&s->vae_arena);
    free(s->cond);
    free(s->t_eval);
    free(s->ehs_eval);
    free(s->x_train);
    free(s->t_train);
    free(s->ehs_train);
    free(s);
}

/* ---- the scheduler config: DDIMScheduler.from_config ---------------------------------- */

sdpo_status sdpo_ddim_schedule_load(const char *path, sdpo_schedule *s) {
    sdpo_config cfg;
    sdpo_status rc = sdpo_config_load(path, &cfg);
    if (rc != SDPO_OK) return rc;
    memset(s, 0, sizeof *s);
    const char *beta = NULL, *spacing = NULL, *pred = NULL;
    int clip = 0, thresh = 0, zero_snr = 0;
    /* DDIMScheduler's own defaults for keys the file lacks */
    if ((rc = sdpo_config_int_or(&cfg, "num_train_timesteps", 1000, &s->num_train_timesteps)) ||
        (rc = sdpo_config_double_or(&cfg, "beta_start", 0.0001, &s->beta_start)) ||
        (rc = sdpo_config_double_or(&cfg, "beta_end", 0.02, &s->beta_end)) ||
        (rc = sdpo_config_string_or(&cfg, "beta_schedule", "linear", &beta)) ||
        (rc = sdpo_config_string_or(&cfg, "timestep_spacing", "leading", &spacing)) ||
        (rc = sdpo_config_int_or(&cfg, "steps_offset", 0, &s->steps_offset)) ||
        (rc = sdpo_config_string_or(&cfg, "prediction_type", "epsilon", &pred)) ||
        (rc = sdpo_config_bool_or(&cfg, "clip_sample", 1, &clip)) ||
        (rc = sdpo_config_bool_or(&cfg, "thresholding", 0, &thresh)) ||
        (rc = sdpo_config_bool_or(&cfg, "rescale_betas_zero_snr", 0, &zero_snr))) {
        sdpo_config_free(&cfg);
        return rc;
    }
    const char *bad = NULL;
    if (!strcmp(beta, "scaled_linear")) s->beta_schedule = SDPO_BETA_SCALED_LINEAR;
    else if (!strcmp(beta, "linear")) s->beta_schedule = SDPO_BETA_LINEAR;
    else bad = "beta_schedule";
    if (!strcmp(spacing, "trailing")) s->spacing = SDPO_SPACING_TRAILING;
    else if (!strcmp(spacing, "leading")) s->spacing = SDPO_SPACING_LEADING;
    else bad = "timestep_spacing";
    if (!strcmp(pred, "epsilon")) s->prediction = SDPO_PRED_EPSILON;
    else if (!strcmp(pred, "v_prediction")) s->prediction = SDPO_PRED_V;
    else bad = "prediction_type";
    if (clip) bad = "clip_sample";
    if (thresh) bad = "thresholding";
    if (zero_snr) bad = "rescale_betas_zero_snr";
    if (sdpo_config_has(&cfg, "trained_betas")) bad = "trained_betas";
    rc = bad ? sdpo_fail(SDPO_ERR_FORMAT, "%s: key '%s': this value is not supported by the "
                         "DDIM policy (the official code's scheduler needs none of it)",
                         cfg.path, bad)
             : sdpo_schedule_init(s);
    sdpo_config_free(&cfg);
    return rc;
}

/* ---- text conditioning, once per prompt --------------------------------------------- */

static sdpo_status encode_prompts(unet_state *s, const sdpo_model_dir *md,
                                  const sdpo_unet_policy_config *c) {
    const sdpo_model_component *tc, *kc;
    sdpo_status rc = sdpo_model_dir_require(md, "text_encoder", NULL, &tc);
    if (rc == SDPO_OK) rc = sdpo_model_dir_require(md, "tokenizer", NULL, &kc);
    if (rc != SDPO_OK) return rc;
    sdpo_clip_tokenizer tok;
    rc = sdpo_clip_tokenizer_load(kc->dir, &tok);
    if (rc != SDPO_OK) return rc;
    nn_params tp;
    sdpo_clip_text clip;
    rc = sdpo_clip_text_load(tc, &sdpo_clip_text_layout_sd, &tp, &clip);
    if (rc != SDPO_OK) {
        sdpo_clip_tokenizer_free(&tok);
        return rc;
    }
    s->L = tok.max_length;
    s->Dc = clip.cfg.hidden_size;
    if (s->Dc != s->unet.cfg.cross_attention_dim)
        rc = sdpo_fail(SDPO_ERR_SHAPE, "%s: the text encoder's width %d is not the UNet's "
                       "cross_attention_dim %d", md->root, s->Dc, s->unet.cfg.cross_attention_dim);
    nn_arena arena = {0};
    int64_t *ids = malloc((size_t)s->L * sizeof *ids);
    s->cond = malloc((size_t)(c->n_prompts + 1) * s->L * s->Dc * sizeof(float));
    if (rc == SDPO_OK && (!ids || !s->cond))
        rc = sdpo_fail(SDPO_ERR_NOMEM, "unet policy: out of memory for the text conditions");
    if (rc == SDPO_OK)
        rc = nn_arena_init(&arena, sdpo_clip_text_arena_bytes(&s->ctx, &clip.cfg, 1, s->L));
    for (int i = 0; rc == SDPO_OK && i <= c->n_prompts; i++) {
        const char *text = i < c->n_prompts ? c->prompts[i] : "";
        rc = sdpo_clip_tokenize(&tok, text, ids, NULL, NULL);
        /* a text encoder with a smaller vocabulary than its tokenizer is the tiny test fixture,
         * whose reference pipeline takes ids modulo its vocabulary (make_sd_fixtures.py) */
        for (int k = 0; rc == SDPO_OK && tok.n_vocab > clip.cfg.vocab_size && k < s->L; k++)
            ids[k] %= clip.cfg.vocab_size;
        if (rc == SDPO_OK)
            rc = sdpo_clip_text_forward(&s->ctx, &clip, &arena, ids, 1, s->L,
                                        &sdpo_clip_text_last_hidden,
                                        s->cond + (size_t)i * s->L * s->Dc, NULL, NULL);
    }
    nn_arena_free(&arena);
    free(ids);
    sdpo_clip_text_unbind(&clip);
    nn_params_free(&tp);
    sdpo_clip_tokenizer_free(&tok);
    return rc;
}

/* ---- the policy functions ----------------------------------------------------------- */

static void gather_cond(const unet_state *s, int n, const int *t, const int *cond, float *tf,
                        float *ehs) {
    const size_t row = (size_t)s->L * s->Dc;
    for (int b = 0; b < n; b++) {
        tf[b] = (float)t[b];
        const int c = cond[b] == SDPO_POLICY_UNCOND ? s->n_prompts : cond[b];
        memcpy(ehs + (size_t)b * row, s->cond + (size_t)c * row, row * sizeof(float));
    }
}

static sdpo_status unet_forward(sdpo_policy *p, int n, const float *x, const int *t,
                                const int *cond, sdpo_fwd_mode mode, float *out) {
    unet_state *s = p->state;
    const int train = mode == SDPO_FWD_TRAIN;
    if (n < 1 || n > (train ? s->max_train_batch : s->max_batch))
        return sdpo_fail(SDPO_ERR_ARG, "unet policy: batch %d outside [1, %d]", n,
                         train ? s->max_train_batch : s->max_batch);
    for (int b = 0; b < n; b++)
        if (cond[b] < SDPO_POLICY_UNCOND || cond[b] >= s->n_prompts || t[b] < 0 ||
            t[b] >= p->schedule.num_train_timesteps)
            return sdpo_fail(SDPO_ERR_ARG, "unet policy: prompt %d or timestep %d out of range",
                             cond[b], t[b]);
    if (s->train_pending) {
        sdpo_unet_forward_cancel(&s->unet);
        s->train_pending = 0;
    }
    const sdpo_unet_shape shape = {n, s->h, s->w, s->L};
    if (train) {
        /* the backward re-reads the inputs: keep private copies until it has run */
        memcpy(s->x_train, x, (size_t)n * p->D * sizeof(float));
        gather_cond(s, n, t, cond, s->t_train, s->ehs_train);
        sdpo_status rc = sdpo_unet_forward(&s->unet, &s->ctx, &s->arena,
                                           s->recompute ? SDPO_UNET_TRAIN_RECOMPUTE
                                                        : SDPO_UNET_TRAIN,
                                           &shape, s->x_train, s->t_train, s->ehs_train, out);
        s->train_pending = rc == SDPO_OK ? n : 0;
        return rc;
    }
    gather_cond(s, n, t, cond, s->t_eval, s->ehs_eval);
    const float scale = s->unet.lora_scale;
    if (mode == SDPO_FWD_REFERENCE) s->unet.lora_scale = 0.0f; /* adapters off: the base model */
    sdpo_status rc = sdpo_unet_forward(&s->unet, &s->ctx, &s->arena, SDPO_UNET_INFER, &shape, x,
                                       s->t_eval, s->ehs_eval, out);
    s->unet.lora_scale = scale;
    return rc;
}

static sdpo_status unet_backward(sdpo_policy *p, int n, const float *dout) {
    unet_state *s = p->state;
    if (s->train_pending != n)
        return sdpo_fail(SDPO_ERR_ARG, "unet policy: backward over %d samples without a "
                         "pending TRAIN forward of that batch (%d)", n, s->train_pending);
    s->train_pending = 0;
    return sdpo_unet_backward(&s->unet, &s->ctx, dout, NULL, NULL);
}

static sdpo_status unet_decode(sdpo_policy *p, int n, const float *z, float *images) {
    unet_state *s = p->state;
    if (s->pixel) {
        /* diffusers VaeImageProcessor.postprocess (denormalize): (x / 2 + 0.5).clamp(0, 1) */
        const size_t count = (size_t)n * p->D;
        for (size_t i = 0; i < count; i++) {
            const float v = z[i] / 2.0f + 0.5f;
            images[i] = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
        }
        return SDPO_OK;
    }
    const sdpo_vae_decode_opts opts = {1, 1};
    return sdpo_vae_decode(&s->ctx, &s->vae, &s->vae_arena, images, z, n, s->h, s->w, &opts);
}

static sdpo_status unet_save_adapter(sdpo_policy *p, const char *path) {
    unet_state *s = p->state;
    return sdpo_unet_lora_save(&s->unet, path);
}

/* ---- construction ------------------------------------------------------------------- */

static sdpo_status build(sdpo_policy *p, unet_state *s, const sdpo_unet_policy_config *c) {
    sdpo_model_dir md;
    sdpo_status rc = sdpo_model_dir_open(c->model_dir, &md);
    if (rc != SDPO_OK) return rc;
    const sdpo_model_component *uc, *vc = NULL, *sc;
    char weights[PATH_MAX];
    sdpo_unet_config ucfg;
    /* a folder whose model_index.json lists no vae is a pixel-space model (policy_unet.h) */
    s->pixel = sdpo_model_dir_find(&md, "vae") == NULL;
    if ((rc = sdpo_model_dir_require(&md, "unet", "UNet2DConditionModel", &uc)) ||
        (!s->pixel && (rc = sdpo_model_dir_require(&md, "vae", "AutoencoderKL", &vc))) ||
        (rc = sdpo_model_dir_require(&md, "scheduler", NULL, &sc)) ||
        (rc = sc->config_path ? sdpo_ddim_schedule_load(sc->config_path, &p->schedule)
                              : sdpo_fail(SDPO_ERR_IO, "%s: no scheduler config", sc->dir)) ||
        (rc = sdpo_unet_config_load(uc->config_path, &ucfg)))
        goto done;
    sdpo_unet_options opt = sdpo_unet_options_default();
    opt.lora_rank = c->lora_rank;
    opt.lora_alpha = c->lora_alpha;
    opt.train_base = 0;
    if ((rc = sdpo_unet_init(&s->unet, &ucfg, &opt))) goto done;
    s->unet_ready = 1;
    if ((rc = sdpo_unet_finalize(&s->unet)) ||
        (rc = sdpo_weights_find(uc->dir, weights, sizeof weights)) ||
        (rc = sdpo_unet_load_weights(&s->unet, weights)))
        goto done;
    sdpo_unet_lora_init(&s->unet, c->param_seed);
    s->h = s->w = ucfg.sample_size;
    p->D = (size_t)ucfg.in_channels * s->h * s->w;
    if ((rc = encode_prompts(s, &md, c))) goto done;
    if (s->pixel) {
        if (ucfg.in_channels != 3 || ucfg.out_channels != 3) {
            rc = sdpo_fail(SDPO_ERR_SHAPE, "%s: no vae, so the UNet must work in RGB pixel "
                           "space, but it takes %d and predicts %d channels (want 3 and 3)",
                           uc->config_path, ucfg.in_channels, ucfg.out_channels);
            goto done;
        }
        p->img_h = s->h;
        p->img_w = s->w;
    } else {
        if ((rc = sdpo_vae_load(vc, SDPO_VAE_DECODER, &s->vae_params, &s->vae))) goto done;
        s->vae_ready = 1;
        if (s->vae.cfg.latent_channels != ucfg.in_channels ||
            s->vae.cfg.latent_channels != ucfg.out_channels) {
            rc = sdpo_fail(SDPO_ERR_SHAPE, "%s: the VAE has %d latent channels, the UNet takes "
                           "%d and predicts %d", c->model_dir, s->vae.cfg.latent_channels,
                           ucfg.in_channels, ucfg.out_channels);
            goto done;
        }
        const int f = 1 << (s->vae.cfg.n_blocks - 1);
        p->img_h = s->h * f;
        p->img_w = s->w * f;
    }
    /* one arena for the larger of an inference pass and a training pass (+ its backward) */
    size_t infer, train;
    const sdpo_unet_shape si = {c->max_batch, s->h, s->w, s->L};
    const sdpo_unet_shape st = {c->max_train_batch, s->h, s->w, s->L};
    if ((rc = sdpo_unet_arena_bytes(&s->unet, &s->ctx, SDPO_UNET_INFER, &si, &infer)) ||
        (rc = sdpo_unet_arena_bytes(&s->unet, &s->ctx,
                                    c->recompute ? SDPO_UNET_TRAIN_RECOMPUTE : SDPO_UNET_TRAIN,
                                    &st, &train)) ||
        (rc = nn_arena_init(&s->arena, infer > train ? infer : train)) ||
        (!s->pixel && (rc = nn_arena_init(&s->vae_arena, sdpo_vae_decode_arena_bytes(
                                              &s->ctx, &s->vae, s->h, s->w)))))
        goto done;
    const size_t row = (size_t)s->L * s->Dc;
    s->t_eval = malloc((size_t)c->max_batch * sizeof(float));
    s->ehs_eval = malloc((size_t)c->max_batch * row * sizeof(float));
    s->x_train = malloc((size_t)c->max_train_batch * p->D * sizeof(float));
    s->t_train = malloc((size_t)c->max_train_batch * sizeof(float));
    s->ehs_train = malloc((size_t)c->max_train_batch * row * sizeof(float));
    if (!s->t_eval || !s->ehs_eval || !s->x_train || !s->t_train || !s->ehs_train)
        rc = sdpo_fail(SDPO_ERR_NOMEM, "unet policy: out of memory for batch buffers");
done:
    sdpo_model_dir_close(&md);
    return rc;
}

sdpo_status sdpo_policy_unet_create(const sdpo_unet_policy_config *c, sdpo_policy **out) {
    *out = NULL;
    if (c->max_batch < 1 || c->max_train_batch < 1 || c->n_prompts < 1 || c->threads < 1)
        return sdpo_fail(SDPO_ERR_ARG, "unet policy: bad batch (%d, %d), prompt (%d) or thread "
                         "(%d) count", c->max_batch, c->max_train_batch, c->n_prompts,
                         c->threads);
    sdpo_policy *p = calloc(1, sizeof *p);
    unet_state *s = calloc(1, sizeof *s);
    if (!p || !s) {
        free(p);
        free(s);
        return sdpo_fail(SDPO_ERR_NOMEM, "unet policy: out of memory");
    }
    p->state = s;
    p->name = "unet";
    p->max_batch = c->max_batch;
    p->forward = unet_forward;
    p->backward = unet_backward;
    p->decode = unet_decode;
    p->save_adapter = unet_save_adapter;
    p->destroy = unet_destroy;
    s->ctx = (nn_ctx){NN_BACKEND_CPU, c->threads, NULL};
    s->n_prompts = c->n_prompts;
    s->max_batch = c->max_batch;
    s->max_train_batch = c->max_train_batch;
    s->recompute = c->recompute;
    nn_params_init(&s->vae_params);
    sdpo_status rc = build(p, s, c);
    if (rc != SDPO_OK) {
        sdpo_policy_free(p);
        return rc;
    }
    p->params = &s->unet.params;
    *out = p;
    return SDPO_OK;
}

sdpo_status sdpo_policy_unet_load_lora(sdpo_policy *p, const char *path) {
    if (!p || p->destroy != unet_destroy)
        return sdpo_fail(SDPO_ERR_ARG, "%s: a LoRA file can only be loaded into the unet policy "
                         "(this one is '%s')", path, p ? p->name : "none");
    unet_state *s = p->state;
    return sdpo_unet_lora_load(&s->unet, path);
}

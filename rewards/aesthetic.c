/* rewards/aesthetic.c — the LAION improved aesthetic predictor (DDPO/SDPO aesthetic_scorer.py):
 * score = MLP(e / ‖e‖₂) with e = CLIPModel.get_image_features(pixels) of openai/clip-vit-large-patch14
 * (ViT-L/14, QuickGELU) and the MLP of sac+logos+ava1-l14-linearMSE.pth (mlp_head.h).
 * Pixels: CLIPProcessor (shorter side → 224 PIL bicubic, centre crop, CLIP mean/std).
 *
 * Model folder: the transformers CLIPModel folder (config.json + model.safetensors; the text
 * tower in the file is skipped, not loaded) plus aesthetic_head.safetensors written by
 * reference/convert_aesthetic.py from the .pth. Same scale in SDPO's code and upstream. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/subconfig.h"
#include "models/vit.h"
#include "models/weights.h"
#include "rewards/learned.h"
#include "rewards/mlp_head.h"

typedef struct {
    nn_ctx ctx;
    nn_params params, head_params;
    sdpo_vit vit;
    sdpo_mlp_head head;
} aesthetic;

static int prefix_of(const char *name, const char *prefix) {
    return !strncmp(name, prefix, strlen(prefix));
}

/* CLIPModel tensors the image score does not use. */
static int unused_by_aesthetic(const char *name) {
    size_t n = strlen(name);
    return prefix_of(name, "text_model.") || !strcmp(name, "text_projection.weight") ||
           !strcmp(name, "logit_scale") ||
           (n >= 12 && !strcmp(name + n - 12, "position_ids"));
}

static void aesthetic_destroy(sdpo_reward *r) {
    aesthetic *a = r->state;
    if (!a) return;
    sdpo_vit_free(&a->vit);
    nn_params_free(&a->params);
    nn_params_free(&a->head_params);
    free(a);
    r->state = NULL;
}

static sdpo_status aesthetic_score(sdpo_reward *r, int B, int H, int W, const float *images,
                                   const char *const *prompts, float *scores) {
    (void)prompts;
    aesthetic *a = r->state;
    const int E = a->vit.cfg.embed_dim;
    float *pixels = NULL, *emb = malloc((size_t)B * E * sizeof *emb);
    if (!emb) return sdpo_fail(SDPO_ERR_NOMEM, "aesthetic: out of memory");
    sdpo_status rc = sdpo_reward_pixels(B, H, W, images, a->vit.cfg.image_size, SDPO_PIXELS_CLIP,
                                        &pixels);
    if (rc == SDPO_OK) rc = sdpo_vit_forward(&a->ctx, &a->vit, B, pixels, emb);
    if (rc == SDPO_OK) {
        /* e / ‖e‖₂ per image (improved-aesthetic-predictor maps a zero norm to 1). */
        for (int b = 0; b < B; b++) {
            double ss = 0;
            for (int i = 0; i < E; i++) ss += (double)emb[b * E + i] * emb[b * E + i];
            float inv = ss > 0 ? (float)(1.0 / sqrt(ss)) : 1.0f;
            for (int i = 0; i < E; i++) emb[b * E + i] *= inv;
        }
        rc = sdpo_mlp_head_forward(&a->ctx, &a->head, B, emb, scores);
    }
    free(pixels);
    free(emb);
    return rc;
}

static sdpo_status load_head(aesthetic *a, const char *dir) {
    char path[4096];
    sdpo_status rc = sdpo_reward_path(path, sizeof path, dir, "aesthetic_head.safetensors");
    if (rc != SDPO_OK) return rc;
    if (access(path, R_OK) != 0)
        return sdpo_fail(SDPO_ERR_IO, "%s: missing; convert the LAION head with "
                         "'python reference/convert_aesthetic.py sac+logos+ava1-l14-linearMSE.pth %s' "
                         "(the .pth is a PyTorch pickle, which this harness does not read)", path, path);
    sdpo_safetensors st;
    if ((rc = sdpo_st_open(path, &st)) != SDPO_OK) return rc;
    int dims[SDPO_MLP_HEAD_LAYERS + 1];
    rc = sdpo_mlp_head_dims(&st, "layers.", a->vit.cfg.embed_dim, dims);
    sdpo_st_close(&st);
    nn_params_init(&a->head_params);
    if (rc == SDPO_OK) rc = sdpo_mlp_head_register(&a->head_params, "layers.", dims);
    if (rc == SDPO_OK) rc = nn_params_finalize(&a->head_params);
    if (rc == SDPO_OK) rc = sdpo_weights_load(&a->head_params, path, NULL);
    if (rc == SDPO_OK) rc = sdpo_mlp_head_bind(&a->head, &a->head_params, "layers.", dims);
    return rc;
}

sdpo_status sdpo_aesthetic_create(const char *model_dir, int official_scale, sdpo_reward *r) {
    (void)official_scale; /* SDPO's code logs the published scale */
    aesthetic *a = calloc(1, sizeof *a);
    if (!a) return sdpo_fail(SDPO_ERR_NOMEM, "aesthetic: out of memory");
    r->state = a;
    r->destroy = aesthetic_destroy;
    a->ctx = sdpo_reward_ctx();
    nn_params_init(&a->params);
    nn_params_init(&a->head_params);
    char path[4096];
    sdpo_config cfg = {0}, vision = {0};
    sdpo_vit_config vc;
    int proj;
    const sdpo_weights_filter filter = {NULL, unused_by_aesthetic};
    sdpo_status rc = sdpo_reward_path(path, sizeof path, model_dir, "config.json");
    if (rc == SDPO_OK) rc = sdpo_config_load(path, &cfg);
    if (rc == SDPO_OK) rc = sdpo_config_section(&cfg, "vision_config", 1, &vision);
    if (rc == SDPO_OK) rc = sdpo_config_int_or(&cfg, "projection_dim", 512, &proj);
    if (rc == SDPO_OK) rc = sdpo_vit_config_hf_clip(&vision, proj, &vc);
    if (rc == SDPO_OK) rc = sdpo_weights_find(model_dir, path, sizeof path);
    if (rc == SDPO_OK) rc = sdpo_vit_register(&vc, &a->params);
    if (rc == SDPO_OK) rc = nn_params_finalize(&a->params);
    if (rc == SDPO_OK) rc = sdpo_weights_load(&a->params, path, &filter);
    if (rc == SDPO_OK) rc = sdpo_vit_bind(&a->vit, &vc, &a->params);
    if (rc == SDPO_OK) rc = load_head(a, model_dir);
    if (vision.root) sdpo_config_free(&vision);
    if (cfg.root) sdpo_config_free(&cfg);
    if (rc != SDPO_OK) {
        aesthetic_destroy(r);
        return rc;
    }
    r->scale = "LAION aesthetic predictor: MLP on the L2-normalised CLIP ViT-L/14 image embedding, "
               "roughly the AVA 1-10 scale; higher is better";
    r->score = aesthetic_score;
    return SDPO_OK;
}

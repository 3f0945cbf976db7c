/* micro/model.c — the micro model's vocabulary texts, inits, FLOP count and weight files
 * (model.h). */
#include "micro/model.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/safetensors.h"

/* ---- vocabulary texts ----------------------------------------------------------------- */

typedef struct {
    char **v;
    int n, cap;
} text_list;

static sdpo_status push_text(text_list *l, const char *s) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 256;
        char **g = realloc(l->v, (size_t)cap * sizeof *g);
        if (!g) return sdpo_fail(SDPO_ERR_NOMEM, "micro vocabulary: out of memory");
        l->v = g;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(s))) return sdpo_fail(SDPO_ERR_NOMEM, "micro vocabulary: out of memory");
    l->n++;
    return SDPO_OK;
}

static sdpo_status push_file_lines(text_list *l, const char *dir, const char *name) {
    char path[4096], line[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f) return sdpo_fail(SDPO_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    sdpo_status st = SDPO_OK;
    while (st == SDPO_OK && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0]) st = push_text(l, line);
    }
    fclose(f);
    return st;
}

void sdpo_micro_texts_free(char **texts, int n) {
    for (int i = 0; i < n; i++) free(texts[i]);
    free(texts);
}

sdpo_status sdpo_micro_vocabulary_texts(const sdpo_world *w, const char *prompts_dir,
                                        int n_scenes, char ***texts, int *n) {
    static const char *const files[] = {"simple_animals_45.txt", "dpok_unseen_prompts_4.txt",
                                        "imagenet_animals_398.txt"};
    text_list l = {0};
    sdpo_status st = SDPO_OK;
    for (size_t i = 0; st == SDPO_OK && i < sizeof files / sizeof files[0]; i++)
        st = push_file_lines(&l, prompts_dir, files[i]);
    for (int a = 0; st == SDPO_OK && a < SDPO_WORLD_N_ANIMALS; a++)
        if ((st = push_text(&l, sdpo_world_animal_name(a))) == SDPO_OK)
            st = push_text(&l, sdpo_world_animal_plural(a));
    for (int c = 0; st == SDPO_OK && c < SDPO_WORLD_N_COLORS; c++)
        st = push_text(&l, sdpo_world_color_name(c));
    for (int p = 0; st == SDPO_OK && p < SDPO_WORLD_N_PLACES; p++)
        st = push_text(&l, sdpo_world_place_phrase(p));
    for (int k = 0; st == SDPO_OK && k < n_scenes; k++) {
        sdpo_scene sc;
        st = sdpo_world_sample(w, 0, (uint64_t)k, NULL, &sc, NULL);
        if (st == SDPO_OK) st = push_text(&l, sc.caption);
    }
    if (st != SDPO_OK) {
        sdpo_micro_texts_free(l.v, l.n);
        return st;
    }
    *texts = l.v;
    *n = l.n;
    return SDPO_OK;
}

/* ---- inits ------------------------------------------------------------------------------ */

static int ends_with(const char *s, const char *suffix) {
    const size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void fill_normal(sdpo_rng *r, float *x, size_t n, double std) {
    sdpo_rng_normal_fill(r, x, n);
    for (size_t i = 0; i < n; i++) x[i] = (float)(x[i] * std);
}

static void fill_uniform(sdpo_rng *r, float *x, size_t n, double bound) {
    for (size_t i = 0; i < n; i++) x[i] = (float)((2.0 * sdpo_rng_uniform(r) - 1.0) * bound);
}

static void fill_const(float *x, size_t n, float v) {
    for (size_t i = 0; i < n; i++) x[i] = v;
}

sdpo_status sdpo_micro_text_encoder_init(nn_params *p, const sdpo_clip_text_config *cfg,
                                         sdpo_rng *r) {
    const double D = cfg->hidden_size, layers = cfg->num_layers;
    const double in_std = pow(D, -0.5) * pow(2.0 * layers, -0.5), out_std = pow(D, -0.5),
                 fc_std = pow(2.0 * D, -0.5);
    for (int i = 0; i < p->count; i++) {
        nn_param_view v = nn_params_at(p, i);
        float *x = v.value.data;
        const size_t n = (size_t)nn_tensor_numel(&v.value);
        const char *s = v.name;
        if (ends_with(s, ".bias")) fill_const(x, n, 0.0f);
        else if (ends_with(s, "layer_norm1.weight") || ends_with(s, "layer_norm2.weight") ||
                 ends_with(s, "final_layer_norm.weight"))
            fill_const(x, n, 1.0f);
        else if (ends_with(s, "token_embedding.weight") || ends_with(s, "position_embedding.weight"))
            fill_normal(r, x, n, 0.02);
        else if (ends_with(s, "q_proj.weight") || ends_with(s, "k_proj.weight") ||
                 ends_with(s, "v_proj.weight") || ends_with(s, "fc2.weight"))
            fill_normal(r, x, n, in_std);
        else if (ends_with(s, "out_proj.weight")) fill_normal(r, x, n, out_std);
        else if (ends_with(s, "fc1.weight")) fill_normal(r, x, n, fc_std);
        else
            return sdpo_fail(SDPO_ERR_FORMAT, "micro text encoder init: no rule for tensor '%s'", s);
    }
    return SDPO_OK;
}

sdpo_status sdpo_micro_unet_init(sdpo_unet *u, sdpo_rng *r) {
    const nn_params *p = &u->params;
    for (int i = 0; i < p->count; i++) {
        nn_param_view v = nn_params_at(p, i);
        if (strstr(v.name, ".lora_")) continue;
        float *x = v.value.data;
        const size_t n = (size_t)nn_tensor_numel(&v.value);
        if (v.value.ndim >= 2) {   /* Conv2d / Linear weight [C_out, fan_in…] */
            fill_uniform(r, x, n, 1.0 / sqrt((double)(n / (size_t)v.value.shape[0])));
            continue;
        }
        if (ends_with(v.name, ".weight")) {   /* the only 1-D weights are norm γ */
            fill_const(x, n, 1.0f);
            continue;
        }
        if (!ends_with(v.name, ".bias"))
            return sdpo_fail(SDPO_ERR_FORMAT, "micro unet init: no rule for tensor '%s'", v.name);
        /* a bias: of a norm (β = 0) or of the Conv2d/Linear whose weight gives fan_in */
        char wname[512];
        snprintf(wname, sizeof wname, "%.*s.weight", (int)(strlen(v.name) - 5), v.name);
        nn_param_view w;
        sdpo_status st = nn_params_get(p, wname, &w);
        if (st != SDPO_OK) return st;
        if (w.value.ndim >= 2) {
            const size_t wn = (size_t)nn_tensor_numel(&w.value);
            fill_uniform(r, x, n, 1.0 / sqrt((double)(wn / (size_t)w.value.shape[0])));
        } else {
            fill_const(x, n, 0.0f);
        }
    }
    return SDPO_OK;
}

/* ---- FLOPs ------------------------------------------------------------------------------ */

/* 3×3 conv, stride 1, C_in → C_out at N output pixels. */
static double conv3(double N, double cin, double cout) { return 2.0 * N * cin * cout * 9.0; }

/* ResnetBlock2D C_in → C_out at N pixels (conv1, conv2, 1×1 shortcut when C_in ≠ C_out,
 * time_emb_proj from the T-wide embedding). */
static double resnet(double N, double cin, double cout, double T) {
    return conv3(N, cin, cout) + conv3(N, cout, cout) + (cin != cout ? 2.0 * N * cin * cout : 0) +
           2.0 * T * cout;
}

/* Transformer2DModel (use_linear_projection) of `depth` BasicTransformerBlocks at width C over
 * N tokens, cross-attending to L text tokens of width Dc. */
static double transformer(double N, double C, int depth, double L, double Dc) {
    double f = 2.0 * 2.0 * N * C * C;   /* proj_in, proj_out */
    for (int d = 0; d < depth; d++) {
        f += 4.0 * 2.0 * N * C * C;                   /* attn1 q, k, v, out */
        f += 2.0 * 2.0 * N * N * C;                   /* attn1 q·kᵀ, p·v */
        f += 2.0 * 2.0 * N * C * C;                   /* attn2 q, out */
        f += 2.0 * 2.0 * L * Dc * C;                  /* attn2 k, v on the text */
        f += 2.0 * 2.0 * N * L * C;                   /* attn2 q·kᵀ, p·v */
        f += 2.0 * N * C * 8.0 * C + 2.0 * N * 4.0 * C * C;   /* GEGLU proj C → 8C, out 4C → C */
    }
    return f;
}

double sdpo_micro_unet_flops(const sdpo_unet_config *c, int H, int W, int L) {
    const int n = c->n_levels;
    const int *boc = c->block_out_channels;
    const double T = c->time_embed_dim, Dc = c->cross_attention_dim;
    int skip_c[4 * SDPO_UNET_MAX_LEVELS * 8], n_skips = 0;
    double f = 2.0 * boc[0] * T + 2.0 * T * T;   /* time_embedding.linear_1, linear_2 */
    f += conv3((double)H * W, c->in_channels, boc[0]);
    skip_c[n_skips++] = boc[0];
    int cur = boc[0];
    for (int i = 0; i < n; i++) {
        const double N = (double)(H >> i) * (W >> i);
        for (int j = 0; j < c->layers_per_block[i]; j++) {
            f += resnet(N, cur, boc[i], T);
            cur = boc[i];
            if (c->down_attn[i]) f += transformer(N, cur, c->transformer_layers[i], L, Dc);
            if (n_skips < (int)(sizeof skip_c / sizeof skip_c[0])) skip_c[n_skips++] = cur;
        }
        if (i < n - 1) {
            f += conv3(N / 4.0, cur, cur);   /* stride 2: a quarter of the output pixels */
            if (n_skips < (int)(sizeof skip_c / sizeof skip_c[0])) skip_c[n_skips++] = cur;
        }
    }
    const double Nm = (double)(H >> (n - 1)) * (W >> (n - 1));
    f += 2.0 * resnet(Nm, cur, cur, T) + transformer(Nm, cur, c->transformer_layers[n - 1], L, Dc);
    for (int i = 0; i < n; i++) {
        const int lvl = n - 1 - i;
        const double N = (double)(H >> lvl) * (W >> lvl);
        for (int j = 0; j < c->layers_per_block[lvl] + 1; j++) {
            const int sc = n_skips > 0 ? skip_c[--n_skips] : 0;
            f += resnet(N, cur + sc, boc[lvl], T);
            cur = boc[lvl];
            if (c->up_attn[i]) f += transformer(N, cur, c->transformer_layers[lvl], L, Dc);
        }
        if (i < n - 1) f += conv3(N * 4.0, cur, cur);   /* after the nearest 2× upsampling */
    }
    return f + conv3((double)H * W, boc[0], c->out_channels);
}

/* ---- weight files ----------------------------------------------------------------------- */

sdpo_status sdpo_micro_params_save(const nn_params *p, const char *path) {
    sdpo_st_entry *e = calloc((size_t)p->count + 1, sizeof *e);
    if (!e) return sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory", path);
    for (int i = 0; i < p->count; i++) {
        nn_param_view v = nn_params_at(p, i);
        e[i] = (sdpo_st_entry){v.name, SDPO_ST_F32, p->info[i].ndim, p->info[i].shape,
                               v.value.data};
    }
    const char *mk[] = {"format"}, *mv[] = {"pt"};
    sdpo_status st = sdpo_st_write(path, e, p->count, mk, mv, 1);
    free(e);
    return st;
}

/* cli/cmd_inspect_model.c — `sdpo inspect-model DIR`: what a diffusers model folder holds
 * (models/model_dir.h): its components and classes, the parameter count each config implies
 * (the registry the loader would build: models/unet.h, vae.h, clip_text.h), and the weight files
 * present with their dtypes and whether their tensors match that registry. Works on a folder of
 * configs only (configs/sd-turbo): missing weights are reported, not an error.
 * Exit status: 0, or 1 when model_index.json is unusable or a component's folder or config is
 * missing or invalid (each such problem is printed with the file at fault). */
#include "cli/commands.h"
#include "models/clip_text.h"
#include "models/model_dir.h"
#include "models/tokenizer_clip.h"
#include "models/unet.h"
#include "models/vae.h"
#include "models/weights.h"
#include "nn/safetensors.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void inspect_help(void) {
    printf("usage: sdpo inspect-model DIR\n"
           "\n"
           "Lists the components of the diffusers model folder DIR (model_index.json): library and\n"
           "class, config file, the parameters the config implies (for UNet2DConditionModel,\n"
           "AutoencoderKL and CLIPTextModel, counted from the tensors the loader would register),\n"
           "each weight file present (diffusion_pytorch_model / model, .safetensors and .fp16\n"
           "variant: dtypes, tensor and parameter counts, size, and whether every tensor matches the\n"
           "config by name and shape; [loaded] marks the file the loaders pick), and the CLIP\n"
           "tokenizer's vocabulary. Weights may be absent (a folder of configs only).\n"
           "Exit status 1 when model_index.json or a component's folder or config is unusable.\n");
}

/* 1234567 → "1,234,567" */
static const char *thousands(size_t n, char buf[32]) {
    char tmp[32];
    int len = snprintf(tmp, sizeof tmp, "%zu", n), o = 0;
    for (int i = 0; i < len; i++) {
        if (i > 0 && (len - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = '\0';
    return buf;
}

/* The registry a component's config implies (what its loader registers). */
typedef struct {
    int kind;            /* 0 none (not a model class we build), 1 own, 2 unet */
    nn_params own;
    sdpo_unet unet;
} graph;

static const nn_params *graph_params(const graph *g) {
    return g->kind == 1 ? &g->own : g->kind == 2 ? &g->unet.params : NULL;
}

static void graph_free(graph *g) {
    if (g->kind == 1) nn_params_free(&g->own);
    if (g->kind == 2) sdpo_unet_free(&g->unet);
    g->kind = 0;
}

/* weights: the file the loader picks, or NULL (its tensor prefix decides the text encoder's). */
static sdpo_status graph_build(const sdpo_model_component *c, const char *weights, graph *g) {
    memset(g, 0, sizeof *g);
    const char *cls = c->class_name;
    sdpo_status st = SDPO_OK;
    if (!strcmp(cls, "UNet2DConditionModel")) {
        sdpo_unet_config cfg;
        const sdpo_unet_options base_only = {.lora_rank = 0, .lora_alpha = 0, .train_base = 0};
        if ((st = sdpo_unet_config_load(c->config_path, &cfg)) == SDPO_OK &&
            (st = sdpo_unet_init(&g->unet, &cfg, &base_only)) == SDPO_OK)
            g->kind = 2;
        return st;
    }
    if (strcmp(cls, "AutoencoderKL") && strcmp(cls, "CLIPTextModel")) return SDPO_OK;
    sdpo_config cfg;
    if ((st = sdpo_model_dir_config(c, &cfg)) != SDPO_OK) return st;
    nn_params_init(&g->own);
    g->kind = 1;
    if (!strcmp(cls, "AutoencoderKL")) {
        sdpo_vae_config vc;
        if ((st = sdpo_vae_config_load(&cfg, &vc)) == SDPO_OK)
            st = sdpo_vae_register(&g->own, &vc, SDPO_VAE_BOTH);
    } else {
        sdpo_clip_text_config tc;
        sdpo_clip_text_layout layout = sdpo_clip_text_layout_sd;
        if ((st = sdpo_clip_text_config_load(&cfg, &tc)) == SDPO_OK && weights)
            st = sdpo_clip_text_file_layout(weights, &sdpo_clip_text_layout_sd, &layout);
        if (st == SDPO_OK) st = sdpo_clip_text_register(&g->own, &tc, &layout);
    }
    sdpo_config_free(&cfg);
    if (st != SDPO_OK) graph_free(g);
    return st;
}

static const nn_param_info *registry_find(const nn_params *p, const char *name) {
    for (int i = 0; i < p->count; i++)
        if (!strcmp(p->info[i].name, name)) return &p->info[i];
    return NULL;
}

/* One line about a weights file: dtypes, counts, size, and the comparison with the registry. */
static void describe_weights(const char *path, const nn_params *reg, int picked) {
    sdpo_safetensors st;
    if (sdpo_st_open(path, &st) != SDPO_OK) {
        printf("  weights     %s: unreadable: %s\n", path, sdpo_last_error());
        return;
    }
    size_t per_dtype[SDPO_ST_DTYPE_COUNT] = {0}, params = 0;
    for (int i = 0; i < st.n_tensors; i++) {
        per_dtype[st.tensors[i].dtype]++;
        params += st.tensors[i].numel;
    }
    char dtypes[128] = "", n1[32];
    for (int d = 0; d < SDPO_ST_DTYPE_COUNT; d++)
        if (per_dtype[d])
            snprintf(dtypes + strlen(dtypes), sizeof dtypes - strlen(dtypes), "%s%s x%zu",
                     dtypes[0] ? ", " : "", sdpo_st_dtype_name((sdpo_st_dtype)d), per_dtype[d]);
    printf("  weights     %s%s\n              %s; %d tensors, %s parameters, %.1f MB", path,
           picked ? " [loaded]" : "", dtypes, st.n_tensors, thousands(params, n1),
           (double)st.map_size / 1e6);
    if (reg) {
        int missing = 0, extra = 0, shape = 0;
        const char *first = NULL;
        for (int i = 0; i < reg->count; i++) {
            const sdpo_st_tensor *t = sdpo_st_find(&st, reg->info[i].name);
            int same = t && t->ndim == reg->info[i].ndim;
            for (int d = 0; same && d < t->ndim; d++) same = t->shape[d] == reg->info[i].shape[d];
            if (!t) missing++;
            else if (!same) shape++;
            if (!same && !first) first = reg->info[i].name;
        }
        for (int i = 0; i < st.n_tensors; i++) {
            const char *name = st.tensors[i].name;
            if (registry_find(reg, name) || strstr(name, "embeddings.position_ids")) continue;
            extra++;
            if (!first) first = name;
        }
        if (!missing && !extra && !shape)
            printf("; matches the config\n");
        else
            printf("\n              DOES NOT MATCH the config: %d missing, %d unexpected, %d with "
                   "another shape (first: '%s')\n", missing, extra, shape, first);
    } else {
        printf("\n");
    }
    sdpo_st_close(&st);
}

static void describe_tokenizer(const sdpo_model_component *c) {
    char path[4096];
    snprintf(path, sizeof path, "%s/vocab.json", c->dir);
    if (access(path, F_OK) != 0) {
        printf("  vocabulary  missing (no %s)\n", path);
        return;
    }
    sdpo_clip_tokenizer tok;
    if (sdpo_clip_tokenizer_load(c->dir, &tok) != SDPO_OK) {
        printf("  vocabulary  unusable: %s\n", sdpo_last_error());
        return;
    }
    char n1[32], n2[32];
    printf("  vocabulary  %s tokens, %s merges; max length %d, bos %d, eos %d, pad '%s' (id %d)\n",
           thousands((size_t)tok.n_vocab, n1), thousands((size_t)tok.n_merges, n2), tok.max_length,
           tok.bos_id, tok.eos_id, tok.tokens[tok.pad_id], tok.pad_id);
    sdpo_clip_tokenizer_free(&tok);
}

/* Prints one component; returns 1 when it has an error (bad folder or config). */
static int describe_component(const sdpo_model_dir *md, const sdpo_model_component *c) {
    printf("%-13s %s %s\n", c->name, c->library, c->class_name);
    const sdpo_model_component *checked;
    if (sdpo_model_dir_require(md, c->name, NULL, &checked) != SDPO_OK) {
        printf("  error       %s\n", sdpo_last_error());
        return 1;
    }
    printf("  config      %s\n", c->config_path);
    char picked[4096];
    const int have_pick = sdpo_weights_find(c->dir, picked, sizeof picked) == SDPO_OK;
    char why[1024];
    snprintf(why, sizeof why, "%s", have_pick ? "" : sdpo_last_error());
    graph g;
    if (graph_build(c, have_pick ? picked : NULL, &g) != SDPO_OK) {
        printf("  error       %s\n", sdpo_last_error());
        return 1;
    }
    const nn_params *reg = graph_params(&g);
    if (reg) {
        size_t n = 0;
        for (int i = 0; i < reg->count; i++) n += reg->info[i].numel;
        char n1[32];
        printf("  parameters  %s in %d tensors (from the config)\n", thousands(n, n1), reg->count);
        static const char *const files[] = {"diffusion_pytorch_model.safetensors",
                                            "model.safetensors",
                                            "diffusion_pytorch_model.fp16.safetensors",
                                            "model.fp16.safetensors"};
        for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", c->dir, files[i]);
            if (access(path, F_OK) != 0) continue;
            describe_weights(path, reg, have_pick && !strcmp(path, picked));
        }
        if (!have_pick) printf("  weights     missing: %s\n", why);
    } else if (!strcmp(c->class_name, "CLIPTokenizer")) {
        describe_tokenizer(c);
    }
    graph_free(&g);
    return 0;
}

int cmd_inspect_model(int argc, char **argv) {
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *cmd = argv[0];
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        if (c == 'h') {
            inspect_help();
            return SDPO_EXIT_OK;
        }
        return cli_usage_error(cmd, "unknown option");
    }
    if (optind != argc - 1) return cli_usage_error(cmd, "expected exactly one model folder DIR");
    sdpo_model_dir md;
    if (sdpo_model_dir_open(argv[optind], &md) != SDPO_OK) return cli_report_error();
    char version[96] = "";
    if (md.diffusers_version)
        snprintf(version, sizeof version, " (diffusers %s)", md.diffusers_version);
    printf("model         %s\n              %s%s, %d components in %s\n\n", md.root,
           md.pipeline_class, version, md.n_components, md.index_path);
    int errors = 0;
    for (int i = 0; i < md.n_components; i++) errors += describe_component(&md, &md.components[i]);
    sdpo_model_dir_close(&md);
    if (errors) {
        fprintf(stderr, "sdpo: error: %d component(s) of %s are unusable (see above)\n", errors,
                argv[optind]);
        return SDPO_EXIT_FAIL;
    }
    return SDPO_EXIT_OK;
}

/* models/unet_lora.c — LoRA adapters of the UNet: initialisation and safetensors files in the
 * names diffusers reads (see unet.h).
 *
 * File format (diffusers 0.42 StableDiffusionPipeline.save_lora_weights with peft's
 * get_peft_model_state_dict): "unet.<module>.lora_A.weight" [r, in] and
 * "unet.<module>.lora_B.weight" [out, r], F32; __metadata__ {"format": "pt",
 * "lora_adapter_metadata": JSON of the LoraConfig with keys prefixed "unet."}, which
 * loaders/peft.py load_lora_adapter passes to LoraConfig (so r and lora_alpha round-trip; a
 * file without it gets lora_alpha = r, utils/peft_utils.py get_peft_kwargs). The legacy
 * diffusers 0.17 names "<attn>.processor.<to_q|to_k|to_v|to_out>_lora.<down|up>.weight" (what
 * unet.save_attn_procs wrote for the official SDPO code) are read as well. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "models/unet_internal.h"
#include "nn/lora.h"
#include "nn/safetensors.h"

#define LORA_META_KEY "lora_adapter_metadata"   /* diffusers LORA_ADAPTER_METADATA_KEY */

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

static int is_lora_a(const char *name) { return ends_with(name, ".lora_A.weight"); }
static int is_lora(const char *name) {
    return is_lora_a(name) || ends_with(name, ".lora_B.weight");
}

void sdpo_unet_lora_init(sdpo_unet *u, uint64_t seed) {
    NN_ASSERT(u->params.finalized);
    sdpo_rng rng;
    sdpo_rng_init(&rng, seed, SDPO_STREAM_PARAM_INIT);
    /* lora_A and lora_B of one projection are registered one after the other */
    for (int i = 0; i + 1 < u->params.count; i++) {
        nn_param_view a = nn_params_at(&u->params, i);
        if (!is_lora_a(a.name)) continue;
        nn_param_view b = nn_params_at(&u->params, i + 1);
        nn_lora_init(&rng, a.value.data, b.value.data, (int)a.value.shape[1],
                     (int)b.value.shape[0], (int)a.value.shape[0]);
    }
}

/* ---------------------------------------------------------------------------------------------
 * save */

static char *metadata_json(const sdpo_unet *u) {
    json_t *alpha = u->opt.lora_alpha == (double)(long long)u->opt.lora_alpha
                        ? json_integer((json_int_t)u->opt.lora_alpha)
                        : json_real(u->opt.lora_alpha);
    json_t *o = json_pack("{s:i, s:o, s:[ssss]}", "unet.r", u->opt.lora_rank, "unet.lora_alpha",
                          alpha, "unet.target_modules", "to_q", "to_k", "to_v", "to_out.0");
    char *s = o ? json_dumps(o, JSON_SORT_KEYS | JSON_INDENT(2)) : NULL;
    json_decref(o);
    return s;
}

sdpo_status sdpo_unet_lora_save(const sdpo_unet *u, const char *path) {
    if (u->opt.lora_rank <= 0)
        return sdpo_fail(SDPO_ERR_ARG, "%s: the UNet has no LoRA adapters to save", path);
    NN_ASSERT(u->params.finalized);
    const int n_max = u->params.count;
    sdpo_st_entry *e = calloc((size_t)n_max, sizeof *e);
    char (*names)[192] = calloc((size_t)n_max, sizeof *names);
    char *meta = metadata_json(u);
    sdpo_status st = SDPO_OK;
    if (!e || !names || !meta) st = sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory", path);
    int n = 0;
    for (int i = 0; !st && i < u->params.count; i++) {
        nn_param_view v = nn_params_at(&u->params, i);
        if (!is_lora(v.name)) continue;
        snprintf(names[n], sizeof names[n], "unet.%s", v.name);
        e[n] = (sdpo_st_entry){.name = names[n], .dtype = SDPO_ST_F32, .ndim = v.value.ndim,
                               .shape = u->params.info[i].shape, .data = v.value.data};
        n++;
    }
    if (!st) {
        const char *keys[2] = {"format", LORA_META_KEY}, *vals[2] = {"pt", meta};
        st = sdpo_st_write(path, e, n, keys, vals, 2);
    }
    free(meta);
    free(names);
    free(e);
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * load */

/* The registry name of a file tensor ("<module>.lora_A.weight"), or 0 if it is not a UNet
 * LoRA tensor in a known naming. *is_down: lora_A/down. */
static int registry_name(const char *file_name, char *out, size_t n, int *is_down) {
    const char *s = strncmp(file_name, "unet.", 5) ? file_name : file_name + 5;
    if (is_lora(s)) {
        *is_down = is_lora_a(s);
        return snprintf(out, n, "%s", s) < (int)n;
    }
    const char *p = strstr(s, ".processor.");
    if (!p) return 0;
    static const struct { const char *legacy, *module; } proj[] = {
        {"to_q_lora.", "to_q"}, {"to_k_lora.", "to_k"}, {"to_v_lora.", "to_v"},
        {"to_out_lora.", "to_out.0"}};
    const char *rest = p + strlen(".processor.");
    for (size_t i = 0; i < sizeof proj / sizeof proj[0]; i++) {
        size_t k = strlen(proj[i].legacy);
        if (strncmp(rest, proj[i].legacy, k)) continue;
        const char *which = rest + k;
        if (strcmp(which, "down.weight") && strcmp(which, "up.weight")) return 0;
        *is_down = which[0] == 'd';
        return snprintf(out, n, "%.*s.%s.%s", (int)(p - s), s, proj[i].module,
                        *is_down ? "lora_A.weight" : "lora_B.weight") < (int)n;
    }
    return 0;
}

/* alpha (and a rank check) from diffusers' lora_adapter_metadata; alpha = rank without it. */
static sdpo_status read_alpha(const sdpo_safetensors *f, int rank, double *alpha) {
    *alpha = rank;
    const char *meta = sdpo_st_metadata(f, LORA_META_KEY);
    if (!meta) return SDPO_OK;
    json_error_t err;
    json_t *o = json_loads(meta, 0, &err);
    sdpo_status st = SDPO_OK;
    json_t *r = o ? json_object_get(o, "unet.r") : NULL;
    json_t *a = o ? json_object_get(o, "unet.lora_alpha") : NULL;
    json_t *rp = o ? json_object_get(o, "unet.rank_pattern") : NULL;
    json_t *ap = o ? json_object_get(o, "unet.alpha_pattern") : NULL;
    if (!o)
        st = sdpo_fail(SDPO_ERR_FORMAT, "%s: metadata '%s' is not JSON (%s)", f->path,
                       LORA_META_KEY, err.text);
    else if ((rp && json_object_size(rp)) || (ap && json_object_size(ap)))
        st = sdpo_fail(SDPO_ERR_FORMAT, "%s: metadata '%s': per-module rank_pattern/alpha_pattern "
                       "is not supported", f->path, LORA_META_KEY);
    else if (r && (!json_is_integer(r) || json_integer_value(r) != rank))
        st = sdpo_fail(SDPO_ERR_FORMAT, "%s: metadata '%s': unet.r does not match the tensors' "
                       "rank %d", f->path, LORA_META_KEY, rank);
    else if (a && (!json_is_number(a) || json_number_value(a) <= 0))
        st = sdpo_fail(SDPO_ERR_FORMAT, "%s: metadata '%s': unet.lora_alpha must be a positive "
                       "number", f->path, LORA_META_KEY);
    else if (a)
        *alpha = json_number_value(a);
    json_decref(o);
    return st;
}

static sdpo_status probe(const sdpo_safetensors *f, int *rank, double *alpha) {
    for (int i = 0; i < f->n_tensors; i++) {
        char name[256];
        int is_down;
        const sdpo_st_tensor *t = &f->tensors[i];
        if (!registry_name(t->name, name, sizeof name, &is_down) || !is_down) continue;
        if (t->ndim != 2 || t->shape[0] < 1)
            return sdpo_fail(SDPO_ERR_SHAPE, "%s: tensor '%s' is not a [rank, in] matrix",
                             f->path, t->name);
        *rank = (int)t->shape[0];
        return read_alpha(f, *rank, alpha);
    }
    return sdpo_fail(SDPO_ERR_FORMAT, "%s: no UNet LoRA tensor (expected names like "
                     "'unet.<module>.lora_A.weight')", f->path);
}

sdpo_status sdpo_unet_lora_probe(const char *path, int *rank, double *alpha) {
    sdpo_safetensors f;
    sdpo_status st = sdpo_st_open(path, &f);
    if (st) return st;
    st = probe(&f, rank, alpha);
    sdpo_st_close(&f);
    return st;
}

static sdpo_status load(sdpo_unet *u, const sdpo_safetensors *f, char *seen) {
    int rank;
    double alpha;
    sdpo_status st = probe(f, &rank, &alpha);
    if (st) return st;
    if (rank != u->opt.lora_rank)
        return sdpo_fail(SDPO_ERR_SHAPE, "%s: LoRA rank %d, but the UNet was built with rank %d",
                         f->path, rank, u->opt.lora_rank);
    for (int i = 0; i < f->n_tensors; i++) {
        const sdpo_st_tensor *t = &f->tensors[i];
        char name[256];
        int is_down, idx = -1;
        if (registry_name(t->name, name, sizeof name, &is_down))
            for (int k = 0; k < u->params.count && idx < 0; k++)
                if (!strcmp(u->params.info[k].name, name)) idx = k;
        if (idx < 0)
            return sdpo_fail(SDPO_ERR_SHAPE, "%s: tensor '%s' is not a LoRA tensor of this UNet",
                             f->path, t->name);
        if (seen[idx])
            return sdpo_fail(SDPO_ERR_FORMAT, "%s: tensor '%s' gives '%s' a second time", f->path,
                             t->name, name);
        seen[idx] = 1;
        nn_param_view v = nn_params_at(&u->params, idx);
        const sdpo_st_tensor *checked;
        if ((st = sdpo_st_expect(f, t->name, v.value.ndim, v.value.shape, &checked)) ||
            (st = sdpo_st_read_f32(f, checked, v.value.data, 1)))
            return st;
    }
    for (int k = 0; k < u->params.count; k++)
        if (is_lora(u->params.info[k].name) && !seen[k])
            return sdpo_fail(SDPO_ERR_SHAPE, "%s: missing LoRA tensor 'unet.%s'", f->path,
                             u->params.info[k].name);
    u->opt.lora_alpha = alpha;
    u->lora_scale = nn_lora_scale(alpha, rank);
    return SDPO_OK;
}

sdpo_status sdpo_unet_lora_load(sdpo_unet *u, const char *path) {
    NN_ASSERT(u->params.finalized);
    if (u->opt.lora_rank <= 0)
        return sdpo_fail(SDPO_ERR_ARG, "%s: the UNet was built without LoRA adapters", path);
    sdpo_safetensors f;
    sdpo_status st = sdpo_st_open(path, &f);
    if (st) return st;
    char *seen = calloc((size_t)u->params.count, 1);
    st = seen ? load(u, &f, seen) : sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory", path);
    free(seen);
    sdpo_st_close(&f);
    return st;
}

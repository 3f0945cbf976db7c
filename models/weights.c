/* models/weights.c — see weights.h. */
#include "models/weights.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "nn/safetensors.h"

static int exists(const char *dir, const char *name, char *path, size_t len) {
    snprintf(path, len, "%s/%s", dir, name);
    return access(path, R_OK) == 0;
}

sdpo_status sdpo_weights_find(const char *component_dir, char *path, size_t path_len) {
    static const char *const names[] = {
        "diffusion_pytorch_model.safetensors", "model.safetensors",
        "diffusion_pytorch_model.fp16.safetensors", "model.fp16.safetensors"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (exists(component_dir, names[i], path, path_len)) return SDPO_OK;
    static const char *const sharded[] = {"diffusion_pytorch_model.safetensors.index.json",
                                          "model.safetensors.index.json"};
    for (size_t i = 0; i < 2; i++)
        if (exists(component_dir, sharded[i], path, path_len))
            return sdpo_fail(SDPO_ERR_IO,
                             "%s: sharded checkpoints are not supported; merge the shards into one "
                             "safetensors file (see reference/README.md)", path);
    static const char *const pickles[] = {"diffusion_pytorch_model.bin", "pytorch_model.bin",
                                          "model.pt", "model.ckpt"};
    for (size_t i = 0; i < sizeof pickles / sizeof pickles[0]; i++)
        if (exists(component_dir, pickles[i], path, path_len))
            return sdpo_fail(SDPO_ERR_IO,
                             "%s is a PyTorch pickle, which this harness does not execute; convert "
                             "it to safetensors first (see reference/README.md)", path);
    return sdpo_fail(SDPO_ERR_IO,
                     "%s: no weights found (looked for diffusion_pytorch_model.safetensors, "
                     "model.safetensors and their .fp16 variants)", component_dir);
}

sdpo_status sdpo_weights_load(nn_params *p, const char *path, const sdpo_weights_filter *filter) {
    sdpo_safetensors st;
    sdpo_status rc = sdpo_st_open(path, &st);
    if (rc != SDPO_OK) return rc;
    for (int i = 0; i < p->count && rc == SDPO_OK; i++) {
        nn_param_view v = nn_params_at(p, i);
        if (filter && filter->not_in_file && filter->not_in_file(v.name)) continue;
        const sdpo_st_tensor *t;
        rc = sdpo_st_expect(&st, v.name, v.value.ndim, v.value.shape, &t);
        if (rc == SDPO_OK) rc = sdpo_st_read_f32(&st, t, v.value.data, 1);
    }
    for (int i = 0; i < st.n_tensors && rc == SDPO_OK; i++) {
        const char *name = st.tensors[i].name;
        if (filter && filter->ignore_in_file && filter->ignore_in_file(name)) continue;
        nn_param_view v;
        if (nn_params_get(p, name, &v) != SDPO_OK)
            rc = sdpo_fail(SDPO_ERR_SHAPE,
                           "%s: tensor '%s' is not part of the model built from config.json (does "
                           "the config describe another architecture than these weights?)",
                           path, name);
    }
    sdpo_st_close(&st);
    return rc;
}

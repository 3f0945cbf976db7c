/* models/model_dir.c — see model_dir.h. model_index.json is read as diffusers'
 * DiffusionPipeline.from_pretrained reads it: every key not starting with '_' whose value is a
 * two-element [library, class] array is a component; [null, null] means "not part of this
 * pipeline". */
#include "models/model_dir.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static void component_free(sdpo_model_component *c) {
    free(c->name);
    free(c->library);
    free(c->class_name);
    free(c->dir);
    free(c->config_path);
}

void sdpo_model_dir_close(sdpo_model_dir *md) {
    for (int i = 0; i < md->n_components; i++) component_free(&md->components[i]);
    free(md->components);
    free(md->root);
    free(md->index_path);
    free(md->pipeline_class);
    free(md->diffusers_version);
    memset(md, 0, sizeof *md);
}

/* Fills c for key `name` of model_index.json; *skip = 1 for metadata and [null, null]. */
static sdpo_status parse_component(const sdpo_model_dir *md, const char *name, json_t *v,
                                   sdpo_model_component *c, int *skip) {
    *skip = 1;
    if (name[0] == '_' || !json_is_array(v)) return SDPO_OK;
    json_t *lib = json_array_get(v, 0), *cls = json_array_get(v, 1);
    if (json_array_size(v) == 2 && json_is_null(lib) && json_is_null(cls)) return SDPO_OK;
    if (json_array_size(v) != 2 || !json_is_string(lib) || !json_is_string(cls))
        return sdpo_fail(SDPO_ERR_FORMAT,
                         "%s: component '%s': expected [\"<library>\", \"<class>\"] or [null, null]",
                         md->index_path, name);
    *skip = 0;
    memset(c, 0, sizeof *c);
    c->name = strdup(name);
    c->library = strdup(json_string_value(lib));
    c->class_name = strdup(json_string_value(cls));
    c->dir = join(md->root, name);
    if (!c->name || !c->library || !c->class_name || !c->dir) {
        component_free(c);
        return sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory", md->index_path);
    }
    struct stat sb;
    c->dir_exists = stat(c->dir, &sb) == 0 && S_ISDIR(sb.st_mode);
    static const char *const config_names[] = {"config.json", "scheduler_config.json",
                                               "tokenizer_config.json",
                                               "preprocessor_config.json"};
    for (size_t k = 0; c->dir_exists && k < sizeof config_names / sizeof *config_names; k++) {
        char *p = join(c->dir, config_names[k]);
        if (!p) {
            component_free(c);
            return sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory", md->index_path);
        }
        if (access(p, R_OK) == 0) {
            c->config_path = p;
            break;
        }
        free(p);
    }
    return SDPO_OK;
}

sdpo_status sdpo_model_dir_open(const char *root, sdpo_model_dir *md) {
    memset(md, 0, sizeof *md);
    md->root = strdup(root);
    md->index_path = join(root, "model_index.json");
    if (!md->root || !md->index_path) {
        sdpo_model_dir_close(md);
        return sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory", root);
    }
    FILE *f = fopen(md->index_path, "rb");
    if (!f) {
        sdpo_status st = sdpo_fail(SDPO_ERR_IO,
                                   "%s: cannot open: %s (not a diffusers model folder: expected "
                                   "model_index.json and one subfolder per component)",
                                   md->index_path, strerror(errno));
        sdpo_model_dir_close(md);
        return st;
    }
    json_error_t err;
    json_t *idx = json_loadf(f, JSON_REJECT_DUPLICATES, &err);
    fclose(f);
    sdpo_status st = SDPO_OK;
    json_t *cls = idx ? json_object_get(idx, "_class_name") : NULL;
    json_t *ver = idx ? json_object_get(idx, "_diffusers_version") : NULL;
    if (!idx)
        st = sdpo_fail(SDPO_ERR_FORMAT, "%s: not valid JSON (%s, line %d)", md->index_path,
                       err.text, err.line);
    else if (!json_is_object(idx) || !json_is_string(cls))
        st = sdpo_fail(SDPO_ERR_FORMAT, "%s: expected a JSON object with a string '_class_name'",
                       md->index_path);
    else if (!(md->pipeline_class = strdup(json_string_value(cls))) ||
             (json_is_string(ver) && !(md->diffusers_version = strdup(json_string_value(ver)))) ||
             !(md->components = calloc(json_object_size(idx), sizeof *md->components)))
        st = sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory", md->index_path);
    const char *key;
    json_t *v;
    if (st == SDPO_OK) {
        json_object_foreach(idx, key, v) {
            int skip;
            st = parse_component(md, key, v, &md->components[md->n_components], &skip);
            if (st != SDPO_OK) break;
            if (!skip) md->n_components++;
        }
    }
    json_decref(idx);
    if (st != SDPO_OK) sdpo_model_dir_close(md);
    return st;
}

const sdpo_model_component *sdpo_model_dir_find(const sdpo_model_dir *md, const char *name) {
    for (int i = 0; i < md->n_components; i++)
        if (!strcmp(md->components[i].name, name)) return &md->components[i];
    return NULL;
}

sdpo_status sdpo_model_dir_require(const sdpo_model_dir *md, const char *name,
                                   const char *class_name, const sdpo_model_component **out) {
    const sdpo_model_component *c = sdpo_model_dir_find(md, name);
    *out = NULL;
    if (!c) return sdpo_fail(SDPO_ERR_FORMAT, "%s: lists no component '%s'", md->index_path, name);
    if (class_name && strcmp(c->class_name, class_name))
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: component '%s' is %s, expected %s",
                         md->index_path, name, c->class_name, class_name);
    if (!c->dir_exists)
        return sdpo_fail(SDPO_ERR_IO, "%s: component folder missing (listed in %s)", c->dir,
                         md->index_path);
    if (!c->config_path)
        return sdpo_fail(SDPO_ERR_IO, "%s: no config.json (or scheduler/tokenizer config) in the "
                         "component folder", c->dir);
    *out = c;
    return SDPO_OK;
}

sdpo_status sdpo_model_dir_config(const sdpo_model_component *c, sdpo_config *cfg) {
    if (!c->config_path)
        return sdpo_fail(SDPO_ERR_IO, "%s: no config file in the component folder", c->dir);
    return sdpo_config_load(c->config_path, cfg);
}

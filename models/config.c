/* models/config.c — see config.h. */
#include "models/config.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

sdpo_status sdpo_config_load(const char *path, sdpo_config *c) {
    c->path = NULL;
    c->root = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return sdpo_fail(SDPO_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    json_error_t err;
    json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &err);
    fclose(f);
    if (!root)
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: not valid JSON (%s, line %d)", path, err.text, err.line);
    if (!json_is_object(root)) {
        json_decref(root);
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: top level is not a JSON object", path);
    }
    c->path = strdup(path);
    if (!c->path) {
        json_decref(root);
        return sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory", path);
    }
    c->root = root;
    return SDPO_OK;
}

void sdpo_config_free(sdpo_config *c) {
    json_decref((json_t *)c->root);
    free(c->path);
    c->root = NULL;
    c->path = NULL;
}

static json_t *get(const sdpo_config *c, const char *key) {
    json_t *v = json_object_get((json_t *)c->root, key);
    return json_is_null(v) ? NULL : v;
}

int sdpo_config_has(const sdpo_config *c, const char *key) { return get(c, key) != NULL; }

static sdpo_status missing(const sdpo_config *c, const char *key) {
    return sdpo_fail(SDPO_ERR_FORMAT, "%s: required key '%s' is missing", c->path, key);
}

static sdpo_status bad_type(const sdpo_config *c, const char *key, const char *want) {
    return sdpo_fail(SDPO_ERR_FORMAT, "%s: key '%s': expected %s", c->path, key, want);
}

static sdpo_status int_value(const sdpo_config *c, const char *key, json_t *v, int *out) {
    if (!json_is_integer(v)) return bad_type(c, key, "an integer");
    json_int_t x = json_integer_value(v);
    if (x < -2147483647 || x > 2147483647) return bad_type(c, key, "an integer that fits in 32 bits");
    *out = (int)x;
    return SDPO_OK;
}

sdpo_status sdpo_config_int(const sdpo_config *c, const char *key, int *out) {
    json_t *v = get(c, key);
    return v ? int_value(c, key, v, out) : missing(c, key);
}

sdpo_status sdpo_config_int_or(const sdpo_config *c, const char *key, int def, int *out) {
    json_t *v = get(c, key);
    if (!v) {
        *out = def;
        return SDPO_OK;
    }
    return int_value(c, key, v, out);
}

static sdpo_status double_value(const sdpo_config *c, const char *key, json_t *v, double *out) {
    if (!json_is_number(v)) return bad_type(c, key, "a number");
    *out = json_number_value(v);
    return SDPO_OK;
}

sdpo_status sdpo_config_double(const sdpo_config *c, const char *key, double *out) {
    json_t *v = get(c, key);
    return v ? double_value(c, key, v, out) : missing(c, key);
}

sdpo_status sdpo_config_double_or(const sdpo_config *c, const char *key, double def, double *out) {
    json_t *v = get(c, key);
    if (!v) {
        *out = def;
        return SDPO_OK;
    }
    return double_value(c, key, v, out);
}

sdpo_status sdpo_config_bool_or(const sdpo_config *c, const char *key, int def, int *out) {
    json_t *v = get(c, key);
    if (!v) {
        *out = def;
        return SDPO_OK;
    }
    if (!json_is_boolean(v)) return bad_type(c, key, "true or false");
    *out = json_is_true(v);
    return SDPO_OK;
}

sdpo_status sdpo_config_string(const sdpo_config *c, const char *key, const char **out) {
    json_t *v = get(c, key);
    if (!v) return missing(c, key);
    if (!json_is_string(v)) return bad_type(c, key, "a string");
    *out = json_string_value(v);
    return SDPO_OK;
}

sdpo_status sdpo_config_string_or(const sdpo_config *c, const char *key, const char *def,
                                  const char **out) {
    json_t *v = get(c, key);
    if (!v) {
        *out = def;
        return SDPO_OK;
    }
    if (!json_is_string(v)) return bad_type(c, key, "a string");
    *out = json_string_value(v);
    return SDPO_OK;
}

sdpo_status sdpo_config_int_array(const sdpo_config *c, const char *key, int *out, int max,
                                  int *n, int scalar_ok) {
    json_t *v = get(c, key);
    if (!v) return missing(c, key);
    if (scalar_ok && json_is_integer(v)) {
        *n = 1;
        return int_value(c, key, v, out);
    }
    if (!json_is_array(v)) return bad_type(c, key, "an array of integers");
    if ((int)json_array_size(v) > max)
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: key '%s': %zu entries, at most %d supported", c->path,
                         key, json_array_size(v), max);
    *n = (int)json_array_size(v);
    for (int i = 0; i < *n; i++) {
        sdpo_status rc = int_value(c, key, json_array_get(v, (size_t)i), &out[i]);
        if (rc != SDPO_OK) return bad_type(c, key, "an array of integers");
    }
    return SDPO_OK;
}

sdpo_status sdpo_config_string_array(const sdpo_config *c, const char *key, const char **out,
                                     int max, int *n) {
    json_t *v = get(c, key);
    if (!v) return missing(c, key);
    if (!json_is_array(v)) return bad_type(c, key, "an array of strings");
    if ((int)json_array_size(v) > max)
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: key '%s': %zu entries, at most %d supported", c->path,
                         key, json_array_size(v), max);
    *n = (int)json_array_size(v);
    for (int i = 0; i < *n; i++) {
        json_t *s = json_array_get(v, (size_t)i);
        if (!json_is_string(s)) return bad_type(c, key, "an array of strings");
        out[i] = json_string_value(s);
    }
    return SDPO_OK;
}

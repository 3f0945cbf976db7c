/* models/subconfig.c — see subconfig.h. Relies on sdpo_config being {path, root = json_t*},
 * the representation models/config.c documents in config.h. */
#include "models/subconfig.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

sdpo_status sdpo_config_section(const sdpo_config *c, const char *section, int absent_ok,
                                sdpo_config *out) {
    out->path = NULL;
    out->root = NULL;
    json_t *v = json_object_get((json_t *)c->root, section);
    if (!v || json_is_null(v)) {
        if (!absent_ok)
            return sdpo_fail(SDPO_ERR_FORMAT, "%s: required key '%s' is missing", c->path, section);
        v = json_object();
        if (!v) return sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory", c->path);
    } else if (!json_is_object(v)) {
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: key '%s': expected an object", c->path, section);
    } else {
        json_incref(v);
    }
    size_t n = strlen(c->path) + strlen(section) + 4;
    out->path = malloc(n);
    if (!out->path) {
        json_decref(v);
        return sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory", c->path);
    }
    snprintf(out->path, n, "%s [%s]", c->path, section);
    out->root = v;
    return SDPO_OK;
}

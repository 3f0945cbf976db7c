/* trainers/prompts.c — prompt files (prompts.h). */
#include "trainers/prompts.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sdpo_prompts_free(sdpo_prompts *p) {
    for (int i = 0; i < p->n; i++) free(p->text[i]);
    free(p->text);
    p->text = NULL;
    p->n = 0;
}

sdpo_status sdpo_prompts_load(const char *path, sdpo_prompts *out) {
    out->n = 0;
    out->text = NULL;
    FILE *f = fopen(path, "r");
    if (!f) return sdpo_fail(SDPO_ERR_IO, "%s: cannot open the prompt file", path);
    char line[4096];
    int cap = 0, lineno = 0;
    sdpo_status rc = SDPO_OK;
    while (rc == SDPO_OK && fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n' && !feof(f)) {
            rc = sdpo_fail(SDPO_ERR_FORMAT, "%s: line %d is longer than %zu bytes", path, lineno,
                           sizeof line - 2);
            break;
        }
        char *b = line;
        while (*b && isspace((unsigned char)*b)) b++;
        len = strlen(b);
        while (len && isspace((unsigned char)b[len - 1])) b[--len] = '\0';
        if (!len) continue;
        if (out->n == cap) {
            cap = cap ? 2 * cap : 64;
            char **grown = realloc(out->text, (size_t)cap * sizeof *grown);
            if (!grown) {
                rc = sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            out->text = grown;
        }
        out->text[out->n] = strdup(b);
        if (!out->text[out->n]) rc = sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory", path);
        else out->n++;
    }
    if (rc == SDPO_OK && ferror(f)) rc = sdpo_fail(SDPO_ERR_IO, "%s: read error", path);
    fclose(f);
    if (rc == SDPO_OK && out->n == 0) rc = sdpo_fail(SDPO_ERR_FORMAT, "%s: no prompts", path);
    if (rc != SDPO_OK) sdpo_prompts_free(out);
    return rc;
}

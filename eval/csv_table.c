/* eval/csv_table.c — CSV-with-header reader on libcsv (see csv_table.h). */
#include "eval/csv_table.h"

#include <csv.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char **fields;
    size_t nf, capf;
    char **rows;           /* flattened records, each a fields array (owned) */
    size_t *row_n;
    size_t nrows, caprows;
    int nomem;
} parse_state;

static void on_field(void *s, size_t len, void *data) {
    parse_state *p = data;
    if (p->nomem) return;
    if (p->nf == p->capf) {
        size_t cap = p->capf ? 2 * p->capf : 16;
        char **nf = realloc(p->fields, cap * sizeof *nf);
        if (!nf) { p->nomem = 1; return; }
        p->fields = nf;
        p->capf = cap;
    }
    char *f = malloc(len + 1);
    if (!f) { p->nomem = 1; return; }
    if (len) memcpy(f, s, len);
    f[len] = 0;
    p->fields[p->nf++] = f;
}

static void on_record(int c, void *data) {
    (void)c;
    parse_state *p = data;
    if (p->nomem) return;
    if (p->nrows == p->caprows) {
        size_t cap = p->caprows ? 2 * p->caprows : 64;
        char **nr = realloc(p->rows, cap * sizeof *nr);
        size_t *nn = realloc(p->row_n, cap * sizeof *nn);
        if (nr) p->rows = nr;
        if (nn) p->row_n = nn;
        if (!nr || !nn) { p->nomem = 1; return; }
        p->caprows = cap;
    }
    char **copy = malloc((p->nf ? p->nf : 1) * sizeof *copy);
    if (!copy) { p->nomem = 1; return; }
    memcpy(copy, p->fields, p->nf * sizeof *copy);
    p->rows[p->nrows] = (char *)copy;
    p->row_n[p->nrows] = p->nf;
    p->nrows++;
    p->nf = 0;
}

static void state_free(parse_state *p) {
    for (size_t i = 0; i < p->nf; i++) free(p->fields[i]);
    free(p->fields);
    for (size_t r = 0; r < p->nrows; r++) {
        char **f = (char **)p->rows[r];
        for (size_t i = 0; i < p->row_n[r]; i++) free(f[i]);
        free(f);
    }
    free(p->rows);
    free(p->row_n);
}

sdpo_status sdpo_csv_table_read(const char *path, sdpo_csv_table *t) {
    memset(t, 0, sizeof *t);
    snprintf(t->path, sizeof t->path, "%s", path);
    FILE *fp = fopen(path, "r");
    if (!fp) return sdpo_fail(SDPO_ERR_IO, "%s: cannot open for reading", path);
    struct csv_parser cp;
    if (csv_init(&cp, CSV_APPEND_NULL) != 0) {
        fclose(fp);
        return sdpo_fail(SDPO_ERR_NOMEM, "%s: csv_init failed", path);
    }
    parse_state p = {0};
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int at_record_start = 1;
    sdpo_status rc = SDPO_OK;
    while ((len = getline(&line, &cap, fp)) >= 0) {
        /* '#' lines are metadata, but only outside a quoted multi-line field. */
        if (at_record_start && (line[0] == '#' || line[0] == '\n' ||
                                (line[0] == '\r' && line[1] == '\n')))
            continue;
        size_t before = p.nrows;
        if (csv_parse(&cp, line, (size_t)len, on_field, on_record, &p) != (size_t)len) {
            rc = sdpo_fail(SDPO_ERR_FORMAT, "%s: %s", path, csv_strerror(csv_error(&cp)));
            break;
        }
        if (p.nomem) break;
        at_record_start = p.nrows > before && p.nf == 0;
    }
    free(line);
    if (rc == SDPO_OK && !p.nomem) csv_fini(&cp, on_field, on_record, &p);
    csv_free(&cp);
    if (rc == SDPO_OK && ferror(fp)) rc = sdpo_fail(SDPO_ERR_IO, "%s: read error", path);
    fclose(fp);
    if (rc == SDPO_OK && p.nomem) rc = sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory", path);
    if (rc == SDPO_OK && p.nrows == 0) rc = sdpo_fail(SDPO_ERR_FORMAT, "%s: no header line", path);
    if (rc == SDPO_OK) {
        t->ncols = (int)p.row_n[0];
        t->header = (char **)p.rows[0];
        t->nrows = p.nrows - 1;
        t->cells = calloc(t->nrows * (size_t)t->ncols + 1, sizeof *t->cells);
        if (!t->cells) rc = sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory", path);
        for (size_t r = 0; rc == SDPO_OK && r < t->nrows; r++) {
            char **f = (char **)p.rows[r + 1];
            size_t n = p.row_n[r + 1];
            for (int c = 0; c < t->ncols; c++) {
                if ((size_t)c < n) {
                    t->cells[r * (size_t)t->ncols + (size_t)c] = f[c];
                    f[c] = NULL;
                } else {
                    char *e = calloc(1, 1);
                    if (!e) { rc = sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory", path); break; }
                    t->cells[r * (size_t)t->ncols + (size_t)c] = e;
                }
            }
        }
        p.row_n[0] = 0; /* the header's fields now belong to t */
        p.rows[0] = (char *)calloc(1, sizeof(char *));
    }
    state_free(&p);
    if (rc != SDPO_OK) sdpo_csv_table_free(t);
    return rc;
}

void sdpo_csv_table_free(sdpo_csv_table *t) {
    if (t->header)
        for (int c = 0; c < t->ncols; c++) free(t->header[c]);
    free(t->header);
    if (t->cells)
        for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++) free(t->cells[i]);
    free(t->cells);
    t->header = NULL;
    t->cells = NULL;
    t->ncols = 0;
    t->nrows = 0;
}

int sdpo_csv_table_find(const sdpo_csv_table *t, const char *name) {
    for (int c = 0; c < t->ncols; c++)
        if (!strcmp(t->header[c], name)) return c;
    return -1;
}

sdpo_status sdpo_csv_table_col(const sdpo_csv_table *t, const char *name, int *col) {
    *col = sdpo_csv_table_find(t, name);
    if (*col < 0) return sdpo_fail(SDPO_ERR_FORMAT, "%s: missing column '%s'", t->path, name);
    return SDPO_OK;
}

const char *sdpo_csv_table_get(const sdpo_csv_table *t, size_t row, int col) {
    if (row >= t->nrows || col < 0 || col >= t->ncols) return "";
    return t->cells[row * (size_t)t->ncols + (size_t)col];
}

sdpo_status sdpo_csv_table_double(const sdpo_csv_table *t, size_t row, int col, double *out) {
    const char *s = sdpo_csv_table_get(t, row, col);
    char *end;
    double v = strtod(s, &end);
    while (*end == ' ') end++;
    if (end == s || *end || !isfinite(v))
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: data row %zu column '%s': '%s' is not a finite number",
                         t->path, row + 1, col >= 0 && col < t->ncols ? t->header[col] : "?", s);
    *out = v;
    return SDPO_OK;
}

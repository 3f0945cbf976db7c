/* eval/golden.c — see golden.h. */
#include "eval/golden.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "eval/csv_table.h"

static int ignored(const sdpo_golden_tolerance *tol, const char *col) {
    for (int i = 0; i < tol->n_ignore; i++)
        if (!strcmp(tol->ignore[i], col)) return 1;
    return 0;
}

/* A finite number filling the whole cell. */
static int parse_num(const char *s, double *v) {
    if (!*s) return 0;
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return *end == '\0' && errno == 0 && isfinite(*v);
}

/* Counts a mismatch; the first one's message is kept (truncated to the report's buffer). */
static void mismatch(sdpo_golden_report *rep, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void mismatch(sdpo_golden_report *rep, const char *fmt, ...) {
    if (!rep->first[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(rep->first, sizeof rep->first, fmt, ap);
        va_end(ap);
    }
    rep->mismatches++;
}

sdpo_status sdpo_golden_compare_csv(const char *golden_csv, const char *run_csv,
                                    const sdpo_golden_tolerance *tol, sdpo_golden_report *rep) {
    sdpo_csv_table g, r;
    sdpo_status rc = sdpo_csv_table_read(golden_csv, &g);
    if (rc != SDPO_OK) return rc;
    rc = sdpo_csv_table_read(run_csv, &r);
    if (rc != SDPO_OK) {
        sdpo_csv_table_free(&g);
        return rc;
    }
    int same_header = g.ncols == r.ncols;
    for (int c = 0; same_header && c < g.ncols; c++) same_header = !strcmp(g.header[c], r.header[c]);
    if (!same_header) {
        mismatch(rep, "%s: header differs from golden %s", run_csv, golden_csv);
    } else if (g.nrows != r.nrows) {
        mismatch(rep, "%s: %zu rows, golden %s has %zu", run_csv, r.nrows, golden_csv, g.nrows);
    } else {
        for (size_t i = 0; i < g.nrows; i++) {
            for (int c = 0; c < g.ncols; c++) {
                if (ignored(tol, g.header[c])) continue;
                const char *gv = sdpo_csv_table_get(&g, i, c), *rv = sdpo_csv_table_get(&r, i, c);
                double a, b;
                rep->cells++;
                if (parse_num(gv, &a) && parse_num(rv, &b)) {
                    const double d = fabs(a - b), rel = a != 0 ? d / fabs(a) : d;
                    if (d > rep->max_abs) rep->max_abs = d;
                    if (rel > rep->max_rel) rep->max_rel = rel;
                    if (d > tol->atol + tol->rtol * fabs(a))
                        mismatch(rep, "%s row %zu column %s: %s, golden %s", run_csv, i + 1,
                                 g.header[c], rv, gv);
                } else if (strcmp(gv, rv)) {
                    mismatch(rep, "%s row %zu column %s: '%s', golden '%s'", run_csv, i + 1,
                             g.header[c], rv, gv);
                }
            }
        }
    }
    sdpo_csv_table_free(&g);
    sdpo_csv_table_free(&r);
    return SDPO_OK;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Recurses over golden_dir/rel in name order (so the first mismatch reported is stable). */
static sdpo_status walk(const char *golden_dir, const char *run_dir, const char *rel,
                        const sdpo_golden_tolerance *tol, sdpo_golden_report *rep, int *n_files) {
    char path[2048];
    snprintf(path, sizeof path, "%s%s%s", golden_dir, rel[0] ? "/" : "", rel);
    DIR *d = opendir(path);
    if (!d) return sdpo_fail(SDPO_ERR_IO, "%s: cannot open golden directory: %s", path, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    sdpo_status rc = SDPO_OK;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **grown = realloc(names, cap * sizeof *names);
            if (!grown) {
                rc = sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory listing", path);
                break;
            }
            names = grown;
        }
        if (!(names[n] = strdup(e->d_name))) {
            rc = sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory listing", path);
            break;
        }
        n++;
    }
    closedir(d);
    if (names) qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; rc == SDPO_OK && i < n; i++) {
        char sub[1024], gpath[3072], rpath[3072];
        snprintf(sub, sizeof sub, "%s%s%s", rel, rel[0] ? "/" : "", names[i]);
        snprintf(gpath, sizeof gpath, "%s/%s", golden_dir, sub);
        snprintf(rpath, sizeof rpath, "%s/%s", run_dir, sub);
        struct stat st;
        if (stat(gpath, &st) != 0) {
            rc = sdpo_fail(SDPO_ERR_IO, "%s: %s", gpath, strerror(errno));
        } else if (S_ISDIR(st.st_mode)) {
            rc = walk(golden_dir, run_dir, sub, tol, rep, n_files);
        } else {
            const size_t len = strlen(sub);
            if (len < 4 || strcmp(sub + len - 4, ".csv")) continue;
            (*n_files)++;
            if (stat(rpath, &st) != 0)
                mismatch(rep, "%s: missing (golden %s)", rpath, gpath);
            else
                rc = sdpo_golden_compare_csv(gpath, rpath, tol, rep);
        }
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc;
}

sdpo_status sdpo_golden_compare_dir(const char *golden_dir, const char *run_dir,
                                    const sdpo_golden_tolerance *tol, sdpo_golden_report *rep,
                                    int *n_files) {
    *n_files = 0;
    return walk(golden_dir, run_dir, "", tol, rep, n_files);
}

/* eval/eval_summary.c — images.csv → summary.csv (mean, sample std, sem, n per method × epoch
 * × reward × steps); paper Sec. 4.2. See eval_summary.h. */
#include "eval/eval_summary.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic_file.h"
#include "eval/csv_table.h"

typedef struct {
    size_t first_row; /* a row of the group, for its key strings */
    double sum;
    size_t n;
} group;

sdpo_status sdpo_eval_summarize(const char *images_csv, const char *summary_csv,
                                const char *metadata)
{
    sdpo_csv_table t;
    sdpo_status st = sdpo_csv_table_read(images_csv, &t);
    if (st != SDPO_OK) return st;
    int cm, ce, cr, cs, cv;
    size_t *gid = NULL, ng = 0;
    group *g = NULL;
    double *mean = NULL, *ss = NULL;
    if ((st = sdpo_csv_table_col(&t, "method", &cm)) != SDPO_OK ||
        (st = sdpo_csv_table_col(&t, "epoch", &ce)) != SDPO_OK ||
        (st = sdpo_csv_table_col(&t, "reward", &cr)) != SDPO_OK ||
        (st = sdpo_csv_table_col(&t, "steps", &cs)) != SDPO_OK ||
        (st = sdpo_csv_table_col(&t, "score", &cv)) != SDPO_OK)
        goto out;
    size_t cap = t.nrows ? t.nrows : 1;
    gid = malloc(cap * sizeof *gid);
    g = calloc(cap, sizeof *g);
    mean = calloc(cap, sizeof *mean);
    ss = calloc(cap, sizeof *ss);
    if (!gid || !g || !mean || !ss) { st = sdpo_fail(SDPO_ERR_NOMEM, "summary: out of memory"); goto out; }
    /* pass 1: groups and means (linear key search: eval tables are small) */
    for (size_t r = 0; r < t.nrows; r++) {
        double x;
        if ((st = sdpo_csv_table_double(&t, r, cv, &x)) != SDPO_OK) goto out;
        size_t k;
        for (k = 0; k < ng; k++) {
            size_t f = g[k].first_row;
            if (!strcmp(sdpo_csv_table_get(&t, f, cm), sdpo_csv_table_get(&t, r, cm)) &&
                !strcmp(sdpo_csv_table_get(&t, f, ce), sdpo_csv_table_get(&t, r, ce)) &&
                !strcmp(sdpo_csv_table_get(&t, f, cr), sdpo_csv_table_get(&t, r, cr)) &&
                !strcmp(sdpo_csv_table_get(&t, f, cs), sdpo_csv_table_get(&t, r, cs)))
                break;
        }
        if (k == ng) g[ng++].first_row = r;
        gid[r] = k;
        g[k].sum += x;
        g[k].n++;
    }
    for (size_t k = 0; k < ng; k++) mean[k] = g[k].sum / (double)g[k].n;
    /* pass 2: squared deviations (two-pass for accuracy) */
    for (size_t r = 0; r < t.nrows; r++) {
        double x;
        sdpo_csv_table_double(&t, r, cv, &x);
        ss[gid[r]] += (x - mean[gid[r]]) * (x - mean[gid[r]]);
    }
    sdpo_atomic_file f;
    if ((st = sdpo_atomic_open(&f, summary_csv)) != SDPO_OK) goto out;
    if (metadata) {
        const char *p = metadata;
        while (*p) {
            const char *e = strchr(p, '\n');
            size_t L = e ? (size_t)(e - p) : strlen(p);
            fprintf(f.fp, "# %.*s\n", (int)L, p);
            p += L + (e ? 1 : 0);
        }
    }
    fprintf(f.fp, "method,epoch,reward,steps,mean,std,sem,n\n");
    for (size_t k = 0; k < ng; k++) {
        size_t r = g[k].first_row;
        double sd = g[k].n > 1 ? sqrt(ss[k] / (double)(g[k].n - 1)) : 0.0;
        fprintf(f.fp, "%s,%s,%s,%s,%.9g,%.9g,%.9g,%zu\n", sdpo_csv_table_get(&t, r, cm),
                sdpo_csv_table_get(&t, r, ce), sdpo_csv_table_get(&t, r, cr),
                sdpo_csv_table_get(&t, r, cs), mean[k], sd, sd / sqrt((double)g[k].n), g[k].n);
    }
    st = sdpo_atomic_commit(&f);
out:
    free(gid);
    free(g);
    free(mean);
    free(ss);
    sdpo_csv_table_free(&t);
    return st;
}

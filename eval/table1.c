/* eval/table1.c — paper Table 1 (Sec. 4.2): final-checkpoint scores per method × reward ×
 * steps from sdpo eval's summary.csv files; writes table1.csv and a paper-like table1.md. */
#include "eval/table1.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic_file.h"
#include "eval/csv_table.h"

static sdpo_status push(sdpo_table1 *t, const sdpo_table1_row *r)
{
    if (t->n == t->cap) {
        size_t nc = t->cap ? 2 * t->cap : 32;
        sdpo_table1_row *p = realloc(t->rows, nc * sizeof *p);
        if (!p) return sdpo_fail(SDPO_ERR_NOMEM, "table1: out of memory");
        t->rows = p;
        t->cap = nc;
    }
    t->rows[t->n++] = *r;
    return SDPO_OK;
}

static sdpo_status parse_long(const sdpo_csv_table *c, size_t row, int col, long *out)
{
    const char *s = sdpo_csv_table_get(c, row, col);
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end)
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: row %zu column '%s': '%s' is not an integer",
                         c->path, row + 1, c->header[col], s);
    *out = v;
    return SDPO_OK;
}

sdpo_status sdpo_table1_add_summary(sdpo_table1 *t, const char *summary_csv)
{
    sdpo_csv_table c;
    sdpo_status st = sdpo_csv_table_read(summary_csv, &c);
    if (st != SDPO_OK) return st;
    int cm, ce, cr, cs, cmean;
    if ((st = sdpo_csv_table_col(&c, "method", &cm)) != SDPO_OK ||
        (st = sdpo_csv_table_col(&c, "epoch", &ce)) != SDPO_OK ||
        (st = sdpo_csv_table_col(&c, "reward", &cr)) != SDPO_OK ||
        (st = sdpo_csv_table_col(&c, "steps", &cs)) != SDPO_OK ||
        (st = sdpo_csv_table_col(&c, "mean", &cmean)) != SDPO_OK)
        goto out;
    for (size_t i = 0; i < c.nrows; i++) {
        sdpo_table1_row r;
        memset(&r, 0, sizeof r);
        const char *m = sdpo_csv_table_get(&c, i, cm), *rw = sdpo_csv_table_get(&c, i, cr);
        if (strlen(m) >= sizeof r.method || strlen(rw) >= sizeof r.reward || !*m || !*rw) {
            st = sdpo_fail(SDPO_ERR_FORMAT, "%s: row %zu: empty or too long method/reward",
                           summary_csv, i + 1);
            goto out;
        }
        strcpy(r.method, m);
        strcpy(r.reward, rw);
        long steps;
        if ((st = parse_long(&c, i, ce, &r.epoch)) != SDPO_OK ||
            (st = parse_long(&c, i, cs, &steps)) != SDPO_OK ||
            (st = sdpo_csv_table_double(&c, i, cmean, &r.score)) != SDPO_OK)
            goto out;
        if (steps < 1 || steps > 100000) {
            st = sdpo_fail(SDPO_ERR_FORMAT, "%s: row %zu: steps %ld out of range", summary_csv,
                           i + 1, steps);
            goto out;
        }
        r.steps = (int)steps;
        /* keep only the latest epoch per method: drop older rows, skip older incoming ones */
        long best = -1;
        for (size_t j = 0; j < t->n; j++)
            if (!strcmp(t->rows[j].method, r.method) && t->rows[j].epoch > best)
                best = t->rows[j].epoch;
        if (r.epoch < best) continue;
        if (r.epoch > best) {
            size_t k = 0;
            for (size_t j = 0; j < t->n; j++)
                if (strcmp(t->rows[j].method, r.method)) t->rows[k++] = t->rows[j];
            t->n = k;
        }
        int dup = 0;
        for (size_t j = 0; j < t->n; j++)
            if (!strcmp(t->rows[j].method, r.method) && !strcmp(t->rows[j].reward, r.reward) &&
                t->rows[j].steps == r.steps) {
                t->rows[j] = r; /* same cell twice: the later file wins */
                dup = 1;
            }
        if (!dup && (st = push(t, &r)) != SDPO_OK) goto out;
    }
out:
    sdpo_csv_table_free(&c);
    return st;
}

static int row_cmp(const void *a, const void *b)
{
    const sdpo_table1_row *x = a, *y = b;
    int bx = strcmp(x->method, "base") != 0, by = strcmp(y->method, "base") != 0;
    if (bx != by) return bx - by; /* base first */
    int c = strcmp(x->method, y->method);
    if (c) return c;
    if ((c = strcmp(x->reward, y->reward))) return c;
    return (x->steps > y->steps) - (x->steps < y->steps);
}

sdpo_status sdpo_table1_write_csv(const sdpo_table1 *t, const char *path)
{
    sdpo_table1_row *s = malloc((t->n ? t->n : 1) * sizeof *s);
    if (!s) return sdpo_fail(SDPO_ERR_NOMEM, "table1: out of memory");
    if (t->n) memcpy(s, t->rows, t->n * sizeof *s);
    qsort(s, t->n, sizeof *s, row_cmp);
    sdpo_atomic_file f;
    sdpo_status st = sdpo_atomic_open(&f, path);
    if (st != SDPO_OK) { free(s); return st; }
    fprintf(f.fp, "method,reward,steps,score\n");
    for (size_t i = 0; i < t->n; i++)
        fprintf(f.fp, "%s,%s,%d,%.6g\n", s[i].method, s[i].reward, s[i].steps, s[i].score);
    free(s);
    return sdpo_atomic_commit(&f);
}

/* distinct strings / ints in first-seen (then sorted) order */
static int int_cmp(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static const sdpo_table1_row *find(const sdpo_table1 *t, const char *m, const char *r, int s)
{
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->rows[i].method, m) && !strcmp(t->rows[i].reward, r) &&
            t->rows[i].steps == s)
            return &t->rows[i];
    return NULL;
}

sdpo_status sdpo_table1_write_md(const sdpo_table1 *t, const char *path)
{
    size_t n = t->n ? t->n : 1;
    const char **methods = calloc(n, sizeof *methods), **rewards = calloc(n, sizeof *rewards);
    int *steps = calloc(n, sizeof *steps);
    size_t nm = 0, nr = 0, ns = 0;
    sdpo_status st = SDPO_OK;
    if (!methods || !rewards || !steps) {
        st = sdpo_fail(SDPO_ERR_NOMEM, "table1: out of memory");
        goto out;
    }
    sdpo_table1_row *sorted = malloc(n * sizeof *sorted);
    if (!sorted) { st = sdpo_fail(SDPO_ERR_NOMEM, "table1: out of memory"); goto out; }
    if (t->n) memcpy(sorted, t->rows, t->n * sizeof *sorted);
    qsort(sorted, t->n, sizeof *sorted, row_cmp);
    for (size_t i = 0; i < t->n; i++) {
        size_t j;
        for (j = 0; j < nm && strcmp(methods[j], t->rows[i].method); j++) {}
        if (j == nm) methods[nm++] = t->rows[i].method;
        for (j = 0; j < nr && strcmp(rewards[j], t->rows[i].reward); j++) {}
        if (j == nr) rewards[nr++] = t->rows[i].reward;
        for (j = 0; j < ns && steps[j] != t->rows[i].steps; j++) {}
        if (j == ns) steps[ns++] = t->rows[i].steps;
    }
    /* methods in row_cmp order (base first) */
    nm = 0;
    for (size_t i = 0; i < t->n; i++)
        if (!nm || strcmp(methods[nm - 1], sorted[i].method)) methods[nm++] = sorted[i].method;
    qsort(steps, ns, sizeof *steps, int_cmp);
    sdpo_atomic_file f;
    if ((st = sdpo_atomic_open(&f, path)) != SDPO_OK) { free(sorted); goto out; }
    fprintf(f.fp, "| Method |");
    for (size_t r = 0; r < nr; r++)
        for (size_t s = 0; s < ns; s++) fprintf(f.fp, " %s %d |", rewards[r], steps[s]);
    fprintf(f.fp, "\n|---|");
    for (size_t k = 0; k < nr * ns; k++) fprintf(f.fp, "---:|");
    fprintf(f.fp, "\n");
    for (size_t m = 0; m < nm; m++) {
        fprintf(f.fp, "| %s |", methods[m]);
        for (size_t r = 0; r < nr; r++)
            for (size_t s = 0; s < ns; s++) {
                const sdpo_table1_row *c = find(t, methods[m], rewards[r], steps[s]);
                if (!c) { fprintf(f.fp, " – |"); continue; }
                int best = 1;
                for (size_t m2 = 0; m2 < nm; m2++) {
                    const sdpo_table1_row *o = find(t, methods[m2], rewards[r], steps[s]);
                    if (o && o->score > c->score) best = 0;
                }
                fprintf(f.fp, best ? " **%.3f** |" : " %.3f |", c->score);
            }
        fprintf(f.fp, "\n");
    }
    free(sorted);
    st = sdpo_atomic_commit(&f);
out:
    free(methods);
    free(rewards);
    free(steps);
    return st;
}

void sdpo_table1_free(sdpo_table1 *t)
{
    free(t->rows);
    memset(t, 0, sizeof *t);
}

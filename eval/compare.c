/* eval/compare.c — ours beside the paper's Table 1 / Table 3 (Sec. 4.2, 4.3); see compare.h. */
#include "eval/compare.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/csv_table.h"

void sdpo_compare_norm(const char *in, char *out, size_t cap)
{
    static const struct { const char *from, *to; } map[] = {
        {"1 query & copy", "copy"},
        {"2 queries & interpolation", "interp2"},
        {"2 queries & similarity", "sim2"},
        {"3 queries & similarity & fixed anchor", "sim3-fixed"},
        {"3 queries & similarity & random anchor", "sim3-random"},
        {"3 queries & similarity & adaptive anchor", "sim3-adaptive"},
        {"SD-Turbo", "base"},
        {"AestheticScore", "aesthetic"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(in, map[i].from)) in = map[i].to;
    size_t k = 0;
    for (; *in && k + 1 < cap; in++)
        if (isalnum((unsigned char)*in) || *in == '-') out[k++] = (char)tolower((unsigned char)*in);
    out[k] = 0;
    if (!strcmp(out, "aestheticscore")) snprintf(out, cap, "aesthetic");
}

static sdpo_compare_row *slot(sdpo_compare *c, const char *key, const char *col)
{
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->rows[i].key, key) && !strcmp(c->rows[i].column, col)) return &c->rows[i];
    if (c->n == c->cap) {
        size_t nc = c->cap ? 2 * c->cap : 64;
        sdpo_compare_row *p = realloc(c->rows, nc * sizeof *p);
        if (!p) return NULL;
        c->rows = p;
        c->cap = nc;
    }
    sdpo_compare_row *r = &c->rows[c->n++];
    memset(r, 0, sizeof *r);
    snprintf(r->key, sizeof r->key, "%s", key);
    snprintf(r->column, sizeof r->column, "%s", col);
    return r;
}

static const char *const t1_keys[] = {"method", "reward", "steps"};
static const char *const t1_vals[] = {"score"};
static const char *const t3_keys[] = {"reward", "strategy"};
static const char *const t3_vals[] = {"cosine_similarity", "l1_distance", "l2_distance"};

/* Adds table rows; `is_paper` picks the side. A key column absent from `ours` (only
 * table3's reward) is a wildcard: the row is spread over every paper key with that strategy. */
static sdpo_status add(sdpo_compare *c, const sdpo_csv_table *t, const char *const *keys, int nk,
                       const char *const *vals, int nv, int is_paper)
{
    int kc[3], vc[3];
    sdpo_status st;
    for (int i = 0; i < nk; i++) {
        kc[i] = sdpo_csv_table_find(t, keys[i]);
        if (kc[i] < 0 && (is_paper || nk != 2 || i != 0))
            return sdpo_csv_table_col(t, keys[i], &kc[i]);
    }
    for (int i = 0; i < nv; i++)
        if ((st = sdpo_csv_table_col(t, vals[i], &vc[i])) != SDPO_OK) return st;
    for (size_t r = 0; r < t->nrows; r++) {
        char key[160] = "", part[64];
        int wild = 0;
        for (int i = 0; i < nk; i++) {
            if (kc[i] < 0) { wild = 1; snprintf(part, sizeof part, "*"); }
            else sdpo_compare_norm(sdpo_csv_table_get(t, r, kc[i]), part, sizeof part);
            size_t L = strlen(key);
            snprintf(key + L, sizeof key - L, "%s%s", i ? "," : "", part);
        }
        for (int v = 0; v < nv; v++) {
            double x;
            if ((st = sdpo_csv_table_double(t, r, vc[v], &x)) != SDPO_OK) return st;
            if (wild) { /* our table3 without reward: match every paper row of this strategy */
                const char *strat = strchr(key, ',') + 1;
                int hit = 0;
                size_t n0 = c->n;
                for (size_t j = 0; j < n0; j++) {
                    const char *ks = strchr(c->rows[j].key, ',');
                    if (ks && !strcmp(ks + 1, strat) && !strcmp(c->rows[j].column, vals[v])) {
                        c->rows[j].ours = x;
                        c->rows[j].has_ours = 1;
                        hit = 1;
                    }
                }
                if (hit) continue;
            }
            sdpo_compare_row *s = slot(c, key, vals[v]);
            if (!s) return sdpo_fail(SDPO_ERR_NOMEM, "compare: out of memory");
            if (is_paper) { s->paper = x; s->has_paper = 1; }
            else { s->ours = x; s->has_ours = 1; }
        }
    }
    return SDPO_OK;
}

sdpo_status sdpo_compare_tables(sdpo_compare_kind kind, const char *ours_csv,
                                const char *paper_csv, sdpo_compare *out)
{
    memset(out, 0, sizeof *out);
    sdpo_csv_table o, p;
    sdpo_status st = sdpo_csv_table_read(paper_csv, &p);
    if (st != SDPO_OK) return st;
    if ((st = sdpo_csv_table_read(ours_csv, &o)) != SDPO_OK) {
        sdpo_csv_table_free(&p);
        return st;
    }
    const char *const *keys = kind == SDPO_COMPARE_TABLE1 ? t1_keys : t3_keys;
    const char *const *vals = kind == SDPO_COMPARE_TABLE1 ? t1_vals : t3_vals;
    int nk = kind == SDPO_COMPARE_TABLE1 ? 3 : 2, nv = kind == SDPO_COMPARE_TABLE1 ? 1 : 3;
    st = add(out, &p, keys, nk, vals, nv, 1); /* paper first: fixes the row order */
    if (st == SDPO_OK) st = add(out, &o, keys, nk, vals, nv, 0);
    sdpo_csv_table_free(&o);
    sdpo_csv_table_free(&p);
    if (st != SDPO_OK) sdpo_compare_free(out);
    return st;
}

void sdpo_compare_free(sdpo_compare *c)
{
    free(c->rows);
    memset(c, 0, sizeof *c);
}

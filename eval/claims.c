/* eval/claims.c — the paper's claims checked on our tables (see claims.h; Sec. 4.2–4.3,
 * Table 1, Table 3, Fig. 4–6 and 8–11). */
#include "eval/claims.h"
#include "core/atomic_file.h"

#include <dirent.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

const char *sdpo_verdict_name(sdpo_verdict v) {
    switch (v) {
    case SDPO_VERDICT_PASS: return "pass";
    case SDPO_VERDICT_FAIL: return "fail";
    default: return "not run";
    }
}

/* ---------- claim list ---------- */

static sdpo_status add_claim(sdpo_claim_list *l, sdpo_verdict v, const char *evidence,
                             const char *ours, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static sdpo_status add_claim(sdpo_claim_list *l, sdpo_verdict v, const char *evidence,
                             const char *ours, const char *fmt, ...) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 32;
        sdpo_claim *n = realloc(l->items, cap * sizeof *n);
        if (!n) return sdpo_fail(SDPO_ERR_NOMEM, "claims: out of memory");
        l->items = n;
        l->cap = cap;
    }
    sdpo_claim *c = &l->items[l->n++];
    memset(c, 0, sizeof *c);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->claim, sizeof c->claim, fmt, ap);
    va_end(ap);
    snprintf(c->evidence, sizeof c->evidence, "%s", evidence);
    snprintf(c->ours, sizeof c->ours, "%s", ours);
    c->verdict = v;
    return SDPO_OK;
}

void sdpo_claim_list_free(sdpo_claim_list *l) {
    free(l->items);
    memset(l, 0, sizeof *l);
}

static void appendf(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void appendf(char *buf, size_t cap, const char *fmt, ...) {
    size_t len = strlen(buf);
    if (len + 1 >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + len, cap - len, fmt, ap);
    va_end(ap);
}

static int is_sdpo(const char *m) { return !strcasecmp(m, "sdpo"); }

/* ---------- Table 1 ---------- */

static sdpo_status check_table1(const char *path, sdpo_claim_list *out) {
    static const char *ev = "Table 1";
    if (!path)
        return add_claim(out, SDPO_VERDICT_NOT_RUN, ev, "no table1.csv given",
                         "Table 1: SDPO highest in every reward x steps column");
    sdpo_csv_table t;
    sdpo_status rc = sdpo_csv_table_read(path, &t);
    if (rc != SDPO_OK) return rc;
    int cm, cr, cs, cv;
    if ((rc = sdpo_csv_table_col(&t, "method", &cm)) || (rc = sdpo_csv_table_col(&t, "reward", &cr)) ||
        (rc = sdpo_csv_table_col(&t, "steps", &cs)) || (rc = sdpo_csv_table_col(&t, "score", &cv))) {
        sdpo_csv_table_free(&t);
        return rc;
    }
    int any = 0;
    for (size_t i = 0; i < t.nrows && rc == SDPO_OK; i++) {
        const char *rw = sdpo_csv_table_get(&t, i, cr), *st = sdpo_csv_table_get(&t, i, cs);
        int first = 1;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(sdpo_csv_table_get(&t, j, cr), rw) && !strcmp(sdpo_csv_table_get(&t, j, cs), st))
                first = 0;
        if (!first) continue;
        any = 1;
        double sd = 0;
        int have_sd = 0, n_other = 0, beaten = 0;
        char ours[1024] = "";
        for (size_t j = i; j < t.nrows && rc == SDPO_OK; j++) {
            if (strcmp(sdpo_csv_table_get(&t, j, cr), rw) || strcmp(sdpo_csv_table_get(&t, j, cs), st)) continue;
            if (is_sdpo(sdpo_csv_table_get(&t, j, cm))) {
                rc = sdpo_csv_table_double(&t, j, cv, &sd);
                have_sd = 1;
            }
        }
        for (size_t j = i; j < t.nrows && rc == SDPO_OK; j++) {
            const char *m = sdpo_csv_table_get(&t, j, cm);
            if (strcmp(sdpo_csv_table_get(&t, j, cr), rw) || strcmp(sdpo_csv_table_get(&t, j, cs), st)) continue;
            double v;
            if ((rc = sdpo_csv_table_double(&t, j, cv, &v)) != SDPO_OK) break;
            appendf(ours, sizeof ours, "%s%s %.4g", ours[0] ? "; " : "", m, v);
            if (is_sdpo(m)) continue;
            n_other++;
            if (have_sd && v >= sd) beaten = 1;
        }
        if (rc != SDPO_OK) break;
        sdpo_verdict vd = !have_sd || n_other == 0 ? SDPO_VERDICT_NOT_RUN
                          : beaten                 ? SDPO_VERDICT_FAIL
                                                   : SDPO_VERDICT_PASS;
        if (!have_sd) appendf(ours, sizeof ours, "%sno SDPO row", ours[0] ? "; " : "");
        else if (!n_other) appendf(ours, sizeof ours, "; no other method");
        rc = add_claim(out, vd, ev, ours, "Table 1 %s %s-step: SDPO highest", rw, st);
    }
    if (rc == SDPO_OK && !any)
        rc = add_claim(out, SDPO_VERDICT_NOT_RUN, ev, "table1.csv has no rows",
                       "Table 1: SDPO highest in every reward x steps column");
    sdpo_csv_table_free(&t);
    return rc;
}

/* ---------- eval summary (Fig. 4, 8–11) ---------- */

typedef struct {
    char *method, *reward;
    int epoch, steps;
    double mean;
} sum_row;

static const int kSteps[] = {1, 2, 4, 8, 16};
enum { N_STEPS = 5 };

static sdpo_status check_summary(const char *const *paths, int n, sdpo_claim_list *out) {
    static const char *ev = "Fig. 4, 8-11";
    sum_row *rows = NULL;
    size_t nr = 0;
    sdpo_status rc = SDPO_OK;
    sdpo_csv_table *tabs = calloc((size_t)(n > 0 ? n : 1), sizeof *tabs);
    if (!tabs) return sdpo_fail(SDPO_ERR_NOMEM, "claims: out of memory");
    int loaded = 0;
    for (int f = 0; f < n && rc == SDPO_OK; f++) {
        if ((rc = sdpo_csv_table_read(paths[f], &tabs[f])) != SDPO_OK) break;
        loaded = f + 1;
        sdpo_csv_table *t = &tabs[f];
        int cm, ce, cr, cs, cv;
        if ((rc = sdpo_csv_table_col(t, "method", &cm)) || (rc = sdpo_csv_table_col(t, "epoch", &ce)) ||
            (rc = sdpo_csv_table_col(t, "reward", &cr)) || (rc = sdpo_csv_table_col(t, "steps", &cs)) ||
            (rc = sdpo_csv_table_col(t, "mean", &cv)))
            break;
        sum_row *nrw = realloc(rows, (nr + t->nrows + 1) * sizeof *rows);
        if (!nrw) { rc = sdpo_fail(SDPO_ERR_NOMEM, "claims: out of memory"); break; }
        rows = nrw;
        for (size_t i = 0; i < t->nrows && rc == SDPO_OK; i++) {
            double e, s, m;
            if ((rc = sdpo_csv_table_double(t, i, ce, &e)) || (rc = sdpo_csv_table_double(t, i, cs, &s)) ||
                (rc = sdpo_csv_table_double(t, i, cv, &m)))
                break;
            rows[nr].method = t->cells[i * (size_t)t->ncols + (size_t)cm];
            rows[nr].reward = t->cells[i * (size_t)t->ncols + (size_t)cr];
            rows[nr].epoch = (int)e;
            rows[nr].steps = (int)s;
            rows[nr].mean = m;
            nr++;
        }
    }
    if (rc == SDPO_OK && nr == 0) {
        for (int k = 0; k < N_STEPS && rc == SDPO_OK; k++)
            rc = add_claim(out, SDPO_VERDICT_NOT_RUN, ev, n ? "summary.csv has no rows" : "no summary.csv given",
                           "SDPO above every baseline at %d step%s (final checkpoints)", kSteps[k],
                           kSteps[k] == 1 ? "" : "s");
    }
    for (size_t i = 0; i < nr && rc == SDPO_OK; i++) {
        int first = 1;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(rows[j].reward, rows[i].reward)) first = 0;
        if (!first) continue;
        const char *rw = rows[i].reward;
        for (int k = 0; k < N_STEPS && rc == SDPO_OK; k++) {
            char ours[1024] = "";
            int have_sd = 0, n_base = 0, beaten = 0;
            double sd = 0;
            /* each method in order of first appearance, at its final epoch for this reward */
            for (size_t a = 0; a < nr; a++) {
                if (strcmp(rows[a].reward, rw) || !strcmp(rows[a].method, "base")) continue;
                int seen = 0, last = -1;
                for (size_t b = 0; b < nr; b++) {
                    if (strcmp(rows[b].reward, rw) || strcmp(rows[b].method, rows[a].method)) continue;
                    if (b < a) seen = 1;
                    if (rows[b].epoch > last) last = rows[b].epoch;
                }
                if (seen) continue;
                const sum_row *hit = NULL;
                for (size_t b = 0; b < nr; b++)
                    if (!strcmp(rows[b].reward, rw) && !strcmp(rows[b].method, rows[a].method) &&
                        rows[b].epoch == last && rows[b].steps == kSteps[k])
                        hit = &rows[b];
                if (!hit) {
                    appendf(ours, sizeof ours, "%s%s@%d: no %d-step row", ours[0] ? "; " : "",
                            rows[a].method, last, kSteps[k]);
                    continue;
                }
                appendf(ours, sizeof ours, "%s%s@%d %.4g", ours[0] ? "; " : "", hit->method, last, hit->mean);
                if (is_sdpo(hit->method)) { have_sd = 1; sd = hit->mean; }
                else n_base++;
            }
            for (size_t a = 0; a < nr && have_sd; a++) {
                if (strcmp(rows[a].reward, rw) || !strcmp(rows[a].method, "base") || is_sdpo(rows[a].method)) continue;
                int last = -1;
                for (size_t b = 0; b < nr; b++)
                    if (!strcmp(rows[b].reward, rw) && !strcmp(rows[b].method, rows[a].method) && rows[b].epoch > last)
                        last = rows[b].epoch;
                if (rows[a].epoch == last && rows[a].steps == kSteps[k] && rows[a].mean >= sd) beaten = 1;
            }
            sdpo_verdict vd = !have_sd || !n_base ? SDPO_VERDICT_NOT_RUN : beaten ? SDPO_VERDICT_FAIL : SDPO_VERDICT_PASS;
            if (!have_sd) appendf(ours, sizeof ours, "%sno SDPO %d-step row", ours[0] ? "; " : "", kSteps[k]);
            else if (!n_base) appendf(ours, sizeof ours, "; no baseline at %d steps", kSteps[k]);
            rc = add_claim(out, vd, ev, ours, "%s: SDPO above every baseline at %d step%s (final checkpoints)",
                           rw, kSteps[k], kSteps[k] == 1 ? "" : "s");
        }
    }
    for (int f = 0; f < loaded; f++) sdpo_csv_table_free(&tabs[f]);
    free(tabs);
    free(rows);
    return rc;
}

/* ---------- Table 3 ---------- */

static sdpo_status check_table3(const char *path, sdpo_claim_list *out) {
    static const char *ev = "Table 3";
    static const char *metric[3] = {"cosine_similarity", "l1_distance", "l2_distance"};
    static const char *what[3] = {"highest cosine similarity", "lowest L1 distance", "lowest L2 distance"};
    sdpo_status rc = SDPO_OK;
    if (!path) {
        for (int m = 0; m < 3 && rc == SDPO_OK; m++)
            rc = add_claim(out, SDPO_VERDICT_NOT_RUN, ev, "no table3.csv given",
                           "Table 3: sim3-adaptive has the %s (non-oracle strategies)", what[m]);
        return rc;
    }
    sdpo_csv_table t;
    if ((rc = sdpo_csv_table_read(path, &t)) != SDPO_OK) return rc;
    int cs, cm[3];
    int crw = sdpo_csv_table_find(&t, "reward"); /* optional: one claim set per reward */
    if ((rc = sdpo_csv_table_col(&t, "strategy", &cs)) || (rc = sdpo_csv_table_col(&t, metric[0], &cm[0])) ||
        (rc = sdpo_csv_table_col(&t, metric[1], &cm[1])) || (rc = sdpo_csv_table_col(&t, metric[2], &cm[2]))) {
        sdpo_csv_table_free(&t);
        return rc;
    }
    int groups = 0;
    for (size_t g = 0; g < t.nrows + (t.nrows == 0) && rc == SDPO_OK; g++) {
        const char *rw = crw >= 0 ? sdpo_csv_table_get(&t, g, crw) : "";
        if (crw >= 0 && t.nrows) {
            int first = 1;
            for (size_t j = 0; j < g; j++)
                if (!strcmp(sdpo_csv_table_get(&t, j, crw), rw)) first = 0;
            if (!first) continue;
        } else if (g > 0) {
            break;
        }
        groups++;
        for (int m = 0; m < 3 && rc == SDPO_OK; m++) {
            char ours[1024] = "";
            int have = 0, n_other = 0, beaten = 0;
            double best = 0;
            for (size_t i = 0; i < t.nrows && rc == SDPO_OK; i++) {
                if (crw >= 0 && strcmp(sdpo_csv_table_get(&t, i, crw), rw)) continue;
                if (!strcmp(sdpo_csv_table_get(&t, i, cs), "sim3-adaptive")) {
                    rc = sdpo_csv_table_double(&t, i, cm[m], &best);
                    have = 1;
                }
            }
            for (size_t i = 0; i < t.nrows && rc == SDPO_OK; i++) {
                const char *s = sdpo_csv_table_get(&t, i, cs);
                if (crw >= 0 && strcmp(sdpo_csv_table_get(&t, i, crw), rw)) continue;
                double v;
                if ((rc = sdpo_csv_table_double(&t, i, cm[m], &v)) != SDPO_OK) break;
                appendf(ours, sizeof ours, "%s%s %.4g", ours[0] ? "; " : "", s, v);
                if (!strcmp(s, "full") || !strcmp(s, "sim3-adaptive")) continue;
                n_other++;
                if (have && (m == 0 ? v >= best : v <= best)) beaten = 1;
            }
            if (rc != SDPO_OK) break;
            if (!have) appendf(ours, sizeof ours, "%sno sim3-adaptive row", ours[0] ? "; " : "");
            sdpo_verdict vd = !have || !n_other ? SDPO_VERDICT_NOT_RUN : beaten ? SDPO_VERDICT_FAIL : SDPO_VERDICT_PASS;
            rc = add_claim(out, vd, ev, ours, "Table 3%s%s: sim3-adaptive has the %s (non-oracle strategies)",
                           rw[0] ? " " : "", rw, what[m]);
        }
    }
    sdpo_csv_table_free(&t);
    return rc;
}

/* ---------- run dirs ---------- */

static sdpo_status kv_push(sdpo_run *r, const char *k, const char *v) {
    char **nk = realloc(r->keys, (size_t)(r->nkeys + 1) * sizeof *nk);
    if (nk) r->keys = nk;
    char **nv = realloc(r->values, (size_t)(r->nkeys + 1) * sizeof *nv);
    if (nv) r->values = nv;
    if (!nk || !nv) return sdpo_fail(SDPO_ERR_NOMEM, "claims: out of memory");
    r->keys[r->nkeys] = strdup(k);
    r->values[r->nkeys] = strdup(v);
    r->nkeys++;
    if (!r->keys[r->nkeys - 1] || !r->values[r->nkeys - 1]) return sdpo_fail(SDPO_ERR_NOMEM, "claims: out of memory");
    return SDPO_OK;
}

static void json_scalar(json_t *v, char *buf, size_t cap) {
    if (json_is_string(v)) snprintf(buf, cap, "%s", json_string_value(v));
    else if (json_is_integer(v)) snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v)) snprintf(buf, cap, "%g", json_real_value(v));
    else if (json_is_true(v)) snprintf(buf, cap, "true");
    else if (json_is_false(v)) snprintf(buf, cap, "false");
    else if (json_is_array(v)) {
        buf[0] = 0;
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            char one[64];
            json_scalar(e, one, sizeof one);
            appendf(buf, cap, "%s%s", i ? "," : "", one);
        }
    } else buf[0] = 0;
}

static sdpo_status flatten(sdpo_run *r, json_t *obj, const char *prefix) {
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        char key[512];
        snprintf(key, sizeof key, "%s%s%s", prefix, prefix[0] ? "." : "", k);
        sdpo_status rc;
        if (json_is_object(v)) rc = flatten(r, v, key);
        else {
            char val[1024];
            json_scalar(v, val, sizeof val);
            rc = kv_push(r, key, val);
        }
        if (rc != SDPO_OK) return rc;
    }
    return SDPO_OK;
}

static void run_free(sdpo_run *r) {
    for (int i = 0; i < r->nkeys; i++) {
        free(r->keys[i]);
        free(r->values[i]);
    }
    free(r->keys);
    free(r->values);
    sdpo_csv_table_free(&r->train);
}

static sdpo_status run_load(const char *dir, sdpo_run *r) {
    memset(r, 0, sizeof *r);
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    size_t len = strlen(r->dir);
    while (len > 1 && r->dir[len - 1] == '/') r->dir[--len] = 0;
    const char *slash = strrchr(r->dir, '/');
    snprintf(r->name, sizeof r->name, "%.255s", slash ? slash + 1 : r->dir); /* a path component is at most 255 bytes */
    char path[1100];
    if (snprintf(path, sizeof path, "%s/config.json", r->dir) >= (int)sizeof path)
        return sdpo_fail(SDPO_ERR_ARG, "%s: path too long", dir);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root) return sdpo_fail(SDPO_ERR_FORMAT, "%s: %s (line %d)", path, jerr.text, jerr.line);
    sdpo_status rc = json_is_object(root) ? flatten(r, root, "")
                                          : sdpo_fail(SDPO_ERR_FORMAT, "%s: not a JSON object", path);
    json_decref(root);
    if (rc == SDPO_OK) {
        (void)!snprintf(path, sizeof path, "%s/train.csv", r->dir);
        rc = sdpo_csv_table_read(path, &r->train);
    }
    if (rc != SDPO_OK) run_free(r);
    return rc;
}

const char *sdpo_run_get(const sdpo_run *r, const char *key) {
    for (int i = 0; i < r->nkeys; i++)
        if (!strcmp(r->keys[i], key)) return r->values[i];
    return "";
}

static int has_config(const char *dir) {
    char path[1100];
    struct stat st;
    if (snprintf(path, sizeof path, "%s/config.json", dir) >= (int)sizeof path) return 0;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static sdpo_status runs_push(sdpo_run_set *s, const char *dir) {
    sdpo_run *n = realloc(s->items, (size_t)(s->n + 1) * sizeof *n);
    if (!n) return sdpo_fail(SDPO_ERR_NOMEM, "claims: out of memory");
    s->items = n;
    sdpo_status rc = run_load(dir, &s->items[s->n]);
    if (rc == SDPO_OK) s->n++;
    return rc;
}

sdpo_status sdpo_runs_load(const char *const *dirs, int n, sdpo_run_set *out) {
    memset(out, 0, sizeof *out);
    sdpo_status rc = SDPO_OK;
    for (int d = 0; d < n && rc == SDPO_OK; d++) {
        if (has_config(dirs[d])) {
            rc = runs_push(out, dirs[d]);
            continue;
        }
        DIR *dh = opendir(dirs[d]);
        if (!dh) {
            rc = sdpo_fail(SDPO_ERR_IO, "%s: not a run dir (no config.json) and cannot be listed", dirs[d]);
            break;
        }
        char **names = NULL;
        size_t nn = 0;
        struct dirent *e;
        while ((e = readdir(dh)) != NULL && rc == SDPO_OK) {
            if (e->d_name[0] == '.') continue;
            char sub[1000];
            if (snprintf(sub, sizeof sub, "%s/%s", dirs[d], e->d_name) >= (int)sizeof sub) continue;
            if (!has_config(sub)) continue;
            char **nn2 = realloc(names, (nn + 1) * sizeof *names);
            if (!nn2 || !(nn2[nn] = strdup(sub))) {
                if (nn2) names = nn2;
                rc = sdpo_fail(SDPO_ERR_NOMEM, "claims: out of memory");
                break;
            }
            names = nn2;
            nn++;
        }
        closedir(dh);
        if (rc == SDPO_OK && nn == 0)
            rc = sdpo_fail(SDPO_ERR_IO, "%s: holds no run (no config.json in it or its subdirs)", dirs[d]);
        if (names) qsort(names, nn, sizeof *names, cmp_str);
        for (size_t i = 0; i < nn && rc == SDPO_OK; i++) rc = runs_push(out, names[i]);
        for (size_t i = 0; i < nn; i++) free(names[i]);
        free(names);
    }
    if (rc != SDPO_OK) sdpo_runs_free(out);
    return rc;
}

void sdpo_runs_free(sdpo_run_set *s) {
    for (int i = 0; i < s->n; i++) run_free(&s->items[i]);
    free(s->items);
    memset(s, 0, sizeof *s);
}

/* ---------- ablations (Fig. 5, 6) ---------- */

typedef struct {
    const char *evidence, *claim;
    const char *keys[3];     /* the ablated keys (NULL-terminated) */
    const char *best;        /* the paper's choice, as variant_label() writes it */
} ablation;

static const ablation kAblations[] = {
    {"Fig. 5 left/middle", "dense-reward strategy sim3-adaptive best", {"reward.dense_strategy", NULL, NULL},
     "sim3-adaptive"},
    {"Fig. 5 right", "discount gamma = 0.99 best", {"train.gamma", NULL, NULL}, "gamma=0.99"},
    {"Fig. 6 left", "per-step-prompt normalisation best", {"stats.mode", NULL, NULL}, "per-step-prompt"},
    {"Fig. 6 middle", "importance weighting lambda = 0.99 best", {"train.lam", "train.weighting", NULL},
     "lam=0.99"},
    {"Fig. 6 right", "step-shuffled updates best", {"train.update_schedule", NULL, NULL}, "shuffled"},
};
enum { N_ABL = (int)(sizeof kAblations / sizeof kAblations[0]) };

/* Keys that never make two runs incomparable (bookkeeping, or compared at a common epoch). */
static int ignored_key(const char *k) {
    return !strcmp(k, "run.save_freq") || !strcmp(k, "run.keep_checkpoints") || !strcmp(k, "run.threads") ||
           !strcmp(k, "run.num_epochs");
}

static void variant_label(const ablation *a, const sdpo_run *r, char *buf, size_t cap) {
    if (!strcmp(a->keys[0], "train.gamma")) snprintf(buf, cap, "gamma=%s", sdpo_run_get(r, "train.gamma"));
    else if (!strcmp(a->keys[0], "train.lam")) {
        const char *w = sdpo_run_get(r, "train.weighting"), *lam = sdpo_run_get(r, "train.lam");
        if (!strcmp(w, "uniform")) snprintf(buf, cap, "uniform");
        else if (!strcmp(w, "reverse")) snprintf(buf, cap, "reverse lam=%s", lam);
        else snprintf(buf, cap, "lam=%s", lam);
    } else snprintf(buf, cap, "%s", sdpo_run_get(r, a->keys[0]));
}

static int same_but(const ablation *a, const sdpo_run *x, const sdpo_run *y) {
    for (int pass = 0; pass < 2; pass++) {
        const sdpo_run *p = pass ? y : x, *q = pass ? x : y;
        for (int i = 0; i < p->nkeys; i++) {
            const char *k = p->keys[i];
            int abl = 0;
            for (int j = 0; j < 3 && a->keys[j]; j++)
                if (!strcmp(k, a->keys[j])) abl = 1;
            if (abl || ignored_key(k)) continue;
            if (strcmp(p->values[i], sdpo_run_get(q, k))) return 0;
        }
    }
    return 1;
}

/* reward_last_mean / reward_first_mean of run r at `epoch`; 0 when that row is missing. */
static int run_at_epoch(const sdpo_run *r, int epoch, double *last, double *first, int *have_first) {
    int ce = sdpo_csv_table_find(&r->train, "epoch"), cl = sdpo_csv_table_find(&r->train, "reward_last_mean"),
        cf = sdpo_csv_table_find(&r->train, "reward_first_mean");
    if (ce < 0 || cl < 0) return 0;
    for (size_t i = 0; i < r->train.nrows; i++) {
        if (atoi(sdpo_csv_table_get(&r->train, i, ce)) != epoch) continue;
        char *end;
        const char *s = sdpo_csv_table_get(&r->train, i, cl);
        *last = strtod(s, &end);
        if (end == s) return 0;
        s = sdpo_csv_table_get(&r->train, i, cf);
        *first = cf >= 0 ? strtod(s, &end) : 0;
        *have_first = cf >= 0 && end != s && *s;
        return 1;
    }
    return 0;
}

static int run_last_epoch(const sdpo_run *r) {
    int ce = sdpo_csv_table_find(&r->train, "epoch"), last = -1;
    for (size_t i = 0; ce >= 0 && i < r->train.nrows; i++) {
        int e = atoi(sdpo_csv_table_get(&r->train, i, ce));
        if (e > last) last = e;
    }
    return last;
}

static sdpo_status check_ablation(const ablation *a, const sdpo_run_set *runs, sdpo_claim_list *out) {
    int n = runs->n;
    int *group = malloc((size_t)(n ? n : 1) * sizeof *group);
    if (!group) return sdpo_fail(SDPO_ERR_NOMEM, "claims: out of memory");
    /* the best-labelled SDPO run whose group has the most distinct variants */
    int best_anchor = -1, best_size = 0;
    for (int i = 0; i < n; i++) {
        const sdpo_run *ri = &runs->items[i];
        char li[128];
        if (strcmp(sdpo_run_get(ri, "train.method"), "sdpo")) continue;
        variant_label(a, ri, li, sizeof li);
        if (strcmp(li, a->best)) continue;
        int size = 0;
        for (int j = 0; j < n; j++) {
            const sdpo_run *rj = &runs->items[j];
            char lj[128];
            if (j == i || strcmp(sdpo_run_get(rj, "train.method"), "sdpo") || !same_but(a, ri, rj)) continue;
            variant_label(a, rj, lj, sizeof lj);
            if (strcmp(lj, a->best)) size++;
        }
        if (size > best_size) { best_size = size; best_anchor = i; }
    }
    sdpo_status rc;
    if (best_anchor < 0) {
        rc = add_claim(out, SDPO_VERDICT_NOT_RUN, a->evidence,
                       "no pair of SDPO runs differing only in this key (with the paper's choice among them)",
                       "%s: %s (%s)", a->evidence, a->claim, a->keys[0]);
        free(group);
        return rc;
    }
    const sdpo_run *anchor = &runs->items[best_anchor];
    int ng = 0;
    group[ng++] = best_anchor;
    for (int j = 0; j < n; j++) {
        const sdpo_run *rj = &runs->items[j];
        char lj[128];
        if (j == best_anchor || strcmp(sdpo_run_get(rj, "train.method"), "sdpo") || !same_but(a, anchor, rj)) continue;
        variant_label(a, rj, lj, sizeof lj);
        if (strcmp(lj, a->best)) group[ng++] = j;
    }
    int epoch = -1;
    for (int g = 0; g < ng; g++) {
        int e = run_last_epoch(&runs->items[group[g]]);
        if (g == 0 || e < epoch) epoch = e;
    }
    char ours[1024];
    snprintf(ours, sizeof ours, "epoch %d:", epoch);
    double bl = 0, bf = 0;
    int bhf = 0, ok = 1, beaten = 0;
    for (int g = 0; g < ng; g++) {
        const sdpo_run *r = &runs->items[group[g]];
        char lab[128];
        double l, f;
        int hf;
        variant_label(a, r, lab, sizeof lab);
        if (!run_at_epoch(r, epoch, &l, &f, &hf)) {
            appendf(ours, sizeof ours, " %s (%s) no row;", lab, r->name);
            ok = 0;
            continue;
        }
        appendf(ours, sizeof ours, " %s (%s) last %.4g", lab, r->name, l);
        if (hf) appendf(ours, sizeof ours, " first %.4g", f);
        appendf(ours, sizeof ours, ";");
        if (g == 0) { bl = l; bf = f; bhf = hf; }
        else if (l >= bl || (bhf && hf && f >= bf)) beaten = 1;
    }
    sdpo_verdict vd = !ok || epoch < 0 ? SDPO_VERDICT_NOT_RUN : beaten ? SDPO_VERDICT_FAIL : SDPO_VERDICT_PASS;
    rc = add_claim(out, vd, a->evidence, ours, "%s: %s (%s)", a->evidence, a->claim, a->keys[0]);
    free(group);
    return rc;
}

sdpo_status sdpo_claims_check(const sdpo_claims_inputs *in, sdpo_claim_list *out) {
    memset(out, 0, sizeof *out);
    sdpo_run_set runs = {0};
    sdpo_status rc = check_table1(in->table1, out);
    if (rc == SDPO_OK) rc = check_summary(in->summaries, in->n_summaries, out);
    if (rc == SDPO_OK) rc = check_table3(in->table3, out);
    if (rc == SDPO_OK && in->n_runs > 0) rc = sdpo_runs_load(in->runs, in->n_runs, &runs);
    for (int a = 0; a < N_ABL && rc == SDPO_OK; a++) rc = check_ablation(&kAblations[a], &runs, out);
    sdpo_runs_free(&runs);
    if (rc != SDPO_OK) sdpo_claim_list_free(out);
    return rc;
}

static void csv_field(FILE *fp, const char *s) {
    if (!strpbrk(s, ",\"\n")) {
        fputs(s, fp);
        return;
    }
    fputc('"', fp);
    for (; *s; s++) {
        if (*s == '"') fputc('"', fp);
        fputc(*s, fp);
    }
    fputc('"', fp);
}

sdpo_status sdpo_claims_write_csv(const char *path, const sdpo_claim_list *l) {
    sdpo_atomic_file f;
    sdpo_status rc = sdpo_atomic_open(&f, path);
    if (rc != SDPO_OK) return rc;
    fputs("claim,evidence,ours,verdict\n", f.fp);
    for (size_t i = 0; i < l->n; i++) {
        const sdpo_claim *c = &l->items[i];
        csv_field(f.fp, c->claim);
        fputc(',', f.fp);
        csv_field(f.fp, c->evidence);
        fputc(',', f.fp);
        csv_field(f.fp, c->ours);
        fputc(',', f.fp);
        csv_field(f.fp, sdpo_verdict_name(c->verdict));
        fputc('\n', f.fp);
    }
    return sdpo_atomic_commit(&f);
}

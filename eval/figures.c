/* eval/figures.c — the CSVs behind the paper's Fig. 3–11 and the Fig. 1 / 13–18 image grids
 * (see figures.h). */
#include "eval/figures.h"
#include "core/atomic_file.h"
#include "eval/csv_table.h"
#include "eval/grid.h"
#include "rewards/image.h"

/* Labels and paths are bounded on purpose: a truncated label is not an error. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

#include <ctype.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* The paper's choice of each ablated setting (Table 2, Sec. 4.3). */
typedef enum { AB_STRATEGY, AB_GAMMA, AB_NORM, AB_LAM, AB_SCHEDULE, AB_COUNT } ab_key;

static void ab_label(ab_key k, const sdpo_run *r, char *buf, size_t cap) {
    switch (k) {
    case AB_STRATEGY: snprintf(buf, cap, "%s", sdpo_run_get(r, "reward.dense_strategy")); break;
    case AB_GAMMA: snprintf(buf, cap, "gamma=%s", sdpo_run_get(r, "train.gamma")); break;
    case AB_NORM: snprintf(buf, cap, "%s", sdpo_run_get(r, "stats.mode")); break;
    case AB_LAM: {
        const char *w = sdpo_run_get(r, "train.weighting"), *lam = sdpo_run_get(r, "train.lam");
        if (!strcmp(w, "uniform")) snprintf(buf, cap, "uniform");
        else if (!strcmp(w, "reverse")) snprintf(buf, cap, "reverse_lam=%s", lam);
        else snprintf(buf, cap, "lam=%s", lam);
        break;
    }
    default: snprintf(buf, cap, "%s", sdpo_run_get(r, "train.update_schedule")); break;
    }
}
static const char *const kBest[AB_COUNT] = {"sim3-adaptive", "gamma=0.99", "per-step-prompt", "lam=0.99",
                                            "shuffled"};

static int is_method(const sdpo_run *r, const char *m) { return !strcmp(sdpo_run_get(r, "train.method"), m); }

static int few_step(const sdpo_run *r) {
    return sdpo_run_get(r, "sample.num_steps_cycle")[0] || atoi(sdpo_run_get(r, "sample.num_steps")) <= 2;
}

/* An SDPO run at the paper's choice on every ablated key but `except` (AB_COUNT: none). */
static int sdpo_default_but(const sdpo_run *r, ab_key except) {
    if (!is_method(r, "sdpo")) return 0;
    for (int k = 0; k < AB_COUNT; k++) {
        char lab[128];
        if (k == (int)except) continue;
        ab_label((ab_key)k, r, lab, sizeof lab);
        if (strcmp(lab, kBest[k])) return 0;
    }
    return 1;
}

/* Gnuplot word lists split on blanks: series names keep none. */
static void no_blanks(char *s) {
    for (; *s; s++)
        if (isspace((unsigned char)*s) || *s == '"' || *s == '\'' || *s == ',') *s = '_';
}

static void upper(char *s) {
    for (; *s; s++) *s = (char)toupper((unsigned char)*s);
}

/* Appends name to fig->series unless present; a clash gets "/<run name>" appended. */
static void series_add(sdpo_figure_data *fig, char *name, size_t cap, const char *run_name) {
    char padded[2100];
    snprintf(padded, sizeof padded, " %s ", fig->series);
    char key[300];
    snprintf(key, sizeof key, " %s ", name);
    if (strstr(padded, key)) {
        size_t len = strlen(name);
        snprintf(name + len, cap - len, "/%s", run_name);
        no_blanks(name);
    }
    size_t len = strlen(fig->series);
    snprintf(fig->series + len, sizeof fig->series - len, "%s%s", len ? " " : "", name);
}

/* Writes the rows of one run: series,samples[,hours],reward (reward_last_mean). */
static sdpo_status write_run_rows(FILE *fp, const sdpo_run *r, const char *prefix, const char *series, int hours,
                                  int *rows) {
    const sdpo_csv_table *t = &r->train;
    int cs, cr, cw = -1;
    sdpo_status rc;
    if ((rc = sdpo_csv_table_col(t, "samples", &cs)) || (rc = sdpo_csv_table_col(t, "reward_last_mean", &cr)))
        return rc;
    if (hours && (rc = sdpo_csv_table_col(t, "wall_s", &cw))) return rc;
    double wall = 0;
    for (size_t i = 0; i < t->nrows; i++) {
        double s, v, w = 0;
        if ((rc = sdpo_csv_table_double(t, i, cs, &s)) || (rc = sdpo_csv_table_double(t, i, cr, &v))) return rc;
        if (hours && (rc = sdpo_csv_table_double(t, i, cw, &w))) return rc;
        wall += w;
        fprintf(fp, "%s%s,%.17g", prefix, series, s);
        if (hours) fprintf(fp, ",%.9g", wall / 3600.0);
        fprintf(fp, ",%.9g\n", v);
        (*rows)++;
    }
    return SDPO_OK;
}

static sdpo_status open_fig(sdpo_atomic_file *f, const char *out_dir, const char *name) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s.csv", out_dir, name) >= (int)sizeof path)
        return sdpo_fail(SDPO_ERR_ARG, "%s: path too long", out_dir);
    return sdpo_atomic_open(f, path);
}

static sdpo_status fig_runs(const sdpo_run_set *runs, const char *out_dir, sdpo_figure_data *fig, int kind,
                            ab_key key) {
    /* kind 0: Fig. 3 (all methods, paper settings); 1: ablation `key`; 2: Fig. 7 few-step */
    sdpo_atomic_file f;
    sdpo_status rc = open_fig(&f, out_dir, fig->name);
    if (rc != SDPO_OK) return rc;
    int hours = kind == 1 && key == AB_STRATEGY;
    fprintf(f.fp, "%sseries,samples%s,reward\n", kind == 0 ? "method," : "", hours ? ",hours" : "");
    int first_run = 1;
    for (int i = 0; i < runs->n && rc == SDPO_OK; i++) {
        const sdpo_run *r = &runs->items[i];
        char name[300];
        char prefix[80] = "";
        if (kind == 0) {
            if (few_step(r) || (is_method(r, "sdpo") && !sdpo_default_but(r, AB_COUNT))) continue;
            snprintf(name, sizeof name, "%s", sdpo_run_get(r, "train.method"));
            upper(name);
            snprintf(prefix, sizeof prefix, "%s,", sdpo_run_get(r, "train.method"));
        } else if (kind == 1) {
            if (!sdpo_default_but(r, key)) continue;
            ab_label(key, r, name, sizeof name);
        } else {
            if (is_method(r, "sdpo") || !few_step(r)) continue;
            char m[64];
            snprintf(m, sizeof m, "%s", sdpo_run_get(r, "train.method"));
            upper(m);
            if (sdpo_run_get(r, "sample.num_steps_cycle")[0]) {
                snprintf(name, sizeof name, "%s_mixed_T=%s", m, sdpo_run_get(r, "sample.num_steps_cycle"));
                for (char *q = name; *q; q++)
                    if (*q == ',') *q = '/';
            }
            else
                snprintf(name, sizeof name, "%s_T=%s", m, sdpo_run_get(r, "sample.num_steps"));
        }
        no_blanks(name);
        if (kind == 0) {
            no_blanks(prefix);
            prefix[strlen(prefix) - 1] = ',';
        }
        /* the y axis is the reward's name, as in the paper, when every run shares it */
        const char *rw = sdpo_run_get(r, "reward.name");
        char ylab[128];
        snprintf(ylab, sizeof ylab, "ylab='%s'", rw);
        if (first_run) snprintf(fig->extra, sizeof fig->extra, "%s", strchr(rw, '\'') ? "" : ylab);
        else if (strcmp(fig->extra, ylab)) fig->extra[0] = 0;
        first_run = 0;
        series_add(fig, name, sizeof name, r->name);
        rc = write_run_rows(f.fp, r, prefix, name, hours, &fig->rows);
    }
    if (rc != SDPO_OK) {
        sdpo_atomic_abort(&f);
        return rc;
    }
    return sdpo_atomic_commit(&f);
}

typedef struct {
    char method[256];
    double epoch, steps, mean;
    int order;
} fig4_row;

/* By method name, steps, epoch. */
static int cmp_fig4(const void *a, const void *b) {
    const fig4_row *x = a, *y = b;
    int c = strcmp(x->method, y->method);
    if (c) return c;
    if (x->steps != y->steps) return x->steps < y->steps ? -1 : 1;
    if (x->epoch != y->epoch) return x->epoch < y->epoch ? -1 : 1;
    return x->order - y->order;
}

/* Fig. 4 / 8–11: one figure per reward, one panel per step count. */
static sdpo_status fig_eval(const char *const *summaries, int n, const char *out_dir,
                            sdpo_figure_data figs[SDPO_MAX_FIGURES], int *nfig) {
    sdpo_csv_table *tabs = calloc((size_t)(n ? n : 1), sizeof *tabs);
    if (!tabs) return sdpo_fail(SDPO_ERR_NOMEM, "figures: out of memory");
    sdpo_status rc = SDPO_OK;
    int loaded = 0;
    int cols[16][5];
    static const char *names[5] = {"method", "epoch", "reward", "steps", "mean"};
    for (int f = 0; f < n && f < 16 && rc == SDPO_OK; f++) {
        if ((rc = sdpo_csv_table_read(summaries[f], &tabs[f])) != SDPO_OK) break;
        loaded = f + 1;
        for (int c = 0; c < 5 && rc == SDPO_OK; c++) rc = sdpo_csv_table_col(&tabs[f], names[c], &cols[f][c]);
    }
    if (rc == SDPO_OK && n > 16) rc = sdpo_fail(SDPO_ERR_ARG, "figures: at most 16 summary files");
    /* every reward, in order of first appearance */
    for (int f = 0; f < loaded && rc == SDPO_OK; f++)
        for (size_t i = 0; i < tabs[f].nrows && rc == SDPO_OK; i++) {
            const char *rw = sdpo_csv_table_get(&tabs[f], i, cols[f][2]);
            int seen = 0;
            for (int g = 0; g <= f && !seen; g++)
                for (size_t j = 0; j < (g == f ? i : tabs[g].nrows); j++)
                    if (!strcmp(sdpo_csv_table_get(&tabs[g], j, cols[g][2]), rw)) { seen = 1; break; }
            if (seen) continue;
            if (*nfig >= SDPO_MAX_FIGURES) { rc = sdpo_fail(SDPO_ERR_ARG, "figures: too many rewards"); break; }
            sdpo_figure_data *fig = &figs[(*nfig)++];
            memset(fig, 0, sizeof *fig);
            char clean[64];
            snprintf(clean, sizeof clean, "%s", rw);
            for (char *p = clean; *p; p++)
                if (!isalnum((unsigned char)*p) && *p != '-') *p = '_';
            snprintf(fig->name, sizeof fig->name, "fig4_%s", clean);
            snprintf(fig->script, sizeof fig->script, "fig4.gp");
            sdpo_atomic_file af;
            if ((rc = open_fig(&af, out_dir, fig->name)) != SDPO_OK) break;
            fprintf(af.fp, "method,epoch,reward,steps,mean\n");
            int steps_seen[1001] = {0};
            fig4_row *rows = NULL;
            for (int g = 0; g < loaded; g++)
                for (size_t j = 0; j < tabs[g].nrows && rc == SDPO_OK; j++) {
                    const sdpo_csv_table *t = &tabs[g];
                    if (strcmp(sdpo_csv_table_get(t, j, cols[g][2]), rw)) continue;
                    double e, s, m;
                    if ((rc = sdpo_csv_table_double(t, j, cols[g][1], &e)) ||
                        (rc = sdpo_csv_table_double(t, j, cols[g][3], &s)) ||
                        (rc = sdpo_csv_table_double(t, j, cols[g][4], &m)))
                        break;
                    char meth[256];
                    snprintf(meth, sizeof meth, "%s", sdpo_csv_table_get(t, j, cols[g][0]));
                    no_blanks(meth);
                    if (s >= 1 && s <= 1000) steps_seen[(int)s] = 1;
                    fig4_row *nrw = realloc(rows, (size_t)(fig->rows + 1) * sizeof *rows);
                    if (!nrw) { rc = sdpo_fail(SDPO_ERR_NOMEM, "figures: out of memory"); break; }
                    rows = nrw;
                    snprintf(rows[fig->rows].method, sizeof rows[fig->rows].method, "%s", meth);
                    rows[fig->rows].epoch = e;
                    rows[fig->rows].steps = s;
                    rows[fig->rows].mean = m;
                    rows[fig->rows].order = fig->rows;
                    fig->rows++;
                    char padded[2100], key[300];
                    snprintf(padded, sizeof padded, " %s ", fig->series);
                    snprintf(key, sizeof key, " %s ", meth);
                    if (!strstr(padded, key)) {
                        size_t len = strlen(fig->series);
                        snprintf(fig->series + len, sizeof fig->series - len, "%s%s", len ? " " : "", meth);
                    }
                }
            if (rc != SDPO_OK) { sdpo_atomic_abort(&af); free(rows); break; }
            /* Every method's curve starts at the base model (epoch 0 of every run is the base
             * model, evaluated once as 'base'): a method without its own epoch-0 row at a step
             * count gets base's, so the curve shows the change from the starting point. */
            const int n_measured = fig->rows;
            for (int b = 0; b < n_measured && rc == SDPO_OK; b++) {
                if (strcmp(rows[b].method, "base") || rows[b].epoch != 0) continue;
                for (int m = 0; m < n_measured && rc == SDPO_OK; m++) {
                    if (!strcmp(rows[m].method, "base") || rows[m].steps != rows[b].steps) continue;
                    int have = 0; /* this method already has (epoch 0, these steps), or was given it */
                    for (int k = 0; k < fig->rows && !have; k++)
                        have = !strcmp(rows[k].method, rows[m].method) && rows[k].steps == rows[b].steps &&
                               rows[k].epoch == 0;
                    if (have) continue;
                    fig4_row *nrw = realloc(rows, (size_t)(fig->rows + 1) * sizeof *rows);
                    if (!nrw) { rc = sdpo_fail(SDPO_ERR_NOMEM, "figures: out of memory"); break; }
                    rows = nrw;
                    fig4_row added = rows[b];
                    memcpy(added.method, rows[m].method, sizeof added.method);
                    rows[fig->rows] = added;
                    rows[fig->rows].order = fig->rows;
                    fig->rows++;
                }
            }
            if (rc != SDPO_OK) { sdpo_atomic_abort(&af); free(rows); break; }
            /* one series (method, steps) contiguous and in epoch order, so gnuplot draws lines */
            if (rows) qsort(rows, (size_t)fig->rows, sizeof *rows, cmp_fig4);
            for (int r = 0; r < fig->rows; r++)
                fprintf(af.fp, "%s,%.17g,%s,%.17g,%.9g\n", rows[r].method, rows[r].epoch, clean, rows[r].steps,
                        rows[r].mean);
            free(rows);
            rows = NULL;
            char steps[128] = "";
            for (int s = 1; s <= 1000; s++)
                if (steps_seen[s] && strlen(steps) < 100) {
                    size_t len = strlen(steps);
                    snprintf(steps + len, sizeof steps - len, "%s%d", len ? " " : "", s);
                }
            snprintf(fig->extra, sizeof fig->extra, "steps='%s'; rewardname='%s'", steps, clean);
            rc = sdpo_atomic_commit(&af);
        }
    for (int f = 0; f < loaded; f++) sdpo_csv_table_free(&tabs[f]);
    free(tabs);
    return rc;
}

sdpo_status sdpo_figures_write_data(const sdpo_run_set *runs, const char *const *summaries, int n_summaries,
                                    const char *out_dir, sdpo_figure_data figs[SDPO_MAX_FIGURES], int *n) {
    static const struct { const char *name; int kind; ab_key key; } kFigs[] = {
        {"fig3", 0, AB_COUNT},          {"fig5_strategy", 1, AB_STRATEGY}, {"fig5_gamma", 1, AB_GAMMA},
        {"fig6_norm", 1, AB_NORM},      {"fig6_lam", 1, AB_LAM},           {"fig6_schedule", 1, AB_SCHEDULE},
        {"fig7", 2, AB_COUNT},
    };
    *n = 0;
    sdpo_status rc = SDPO_OK;
    for (size_t i = 0; i < sizeof kFigs / sizeof kFigs[0] && rc == SDPO_OK; i++) {
        sdpo_figure_data *fig = &figs[(*n)++];
        memset(fig, 0, sizeof *fig);
        snprintf(fig->name, sizeof fig->name, "%s", kFigs[i].name);
        snprintf(fig->script, sizeof fig->script, "%s.gp", kFigs[i].name);
        rc = fig_runs(runs, out_dir, fig, kFigs[i].kind, kFigs[i].key);
    }
    if (rc == SDPO_OK) rc = fig_eval(summaries, n_summaries, out_dir, figs, n);
    return rc;
}

/* ---------- grids ---------- */

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* The paper's row order (Fig. 1, 13–18): base, DDPO, REBEL, D3PO, SDPO; others after, by name. */
static int method_rank(const char *m) {
    static const char *const order[] = {"base", "ddpo", "rebel", "d3po", "sdpo"};
    for (int i = 0; i < 5; i++)
        if (!strcasecmp(m, order[i])) return i;
    return 5;
}

static int cmp_method(const void *a, const void *b) {
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    int rx = method_rank(x), ry = method_rank(y);
    if (rx != ry) return rx - ry;
    return strcmp(x, y);
}

/* Entries of dir whose name starts with prefix, as the integer after it (or names when prefix is NULL). */
static sdpo_status list_dir(const char *dir, const char *prefix, char ***names, int **nums, int *n) {
    *n = 0;
    if (names) *names = NULL;
    if (nums) *nums = NULL;
    DIR *dh = opendir(dir);
    if (!dh) return sdpo_fail(SDPO_ERR_IO, "%s: cannot list directory", dir);
    struct dirent *e;
    sdpo_status rc = SDPO_OK;
    while ((e = readdir(dh)) != NULL) {
        if (e->d_name[0] == '.') continue;
        if (prefix) {
            size_t pl = strlen(prefix);
            char *end;
            if (strncmp(e->d_name, prefix, pl)) continue;
            long v = strtol(e->d_name + pl, &end, 10);
            if (*end || end == e->d_name + pl) continue;
            int *nn = realloc(*nums, (size_t)(*n + 1) * sizeof *nn);
            if (!nn) { rc = sdpo_fail(SDPO_ERR_NOMEM, "grid: out of memory"); break; }
            *nums = nn;
            nn[(*n)++] = (int)v;
        } else {
            char **nn = realloc(*names, (size_t)(*n + 1) * sizeof *nn);
            if (!nn) { rc = sdpo_fail(SDPO_ERR_NOMEM, "grid: out of memory"); break; }
            *names = nn;
            if (!(nn[*n] = strdup(e->d_name))) { rc = sdpo_fail(SDPO_ERR_NOMEM, "grid: out of memory"); break; }
            (*n)++;
        }
    }
    closedir(dh);
    return rc;
}

sdpo_status sdpo_grid_from_eval(const char *eval_dir, int prompt_index, int image_index, int epoch, int scale,
                                const char *out_png) {
    char images[4096];
    if (snprintf(images, sizeof images, "%s/images", eval_dir) >= (int)sizeof images)
        return sdpo_fail(SDPO_ERR_ARG, "%s: path too long", eval_dir);
    char **methods = NULL;
    int nm = 0, nsteps = 0, *steps = NULL, *epochs = NULL;
    uint8_t **cells = NULL;
    char **row_labels = NULL, **col_labels = NULL;
    char title[512] = "";
    sdpo_status rc = list_dir(images, NULL, &methods, NULL, &nm);
    if (rc == SDPO_OK && nm == 0) rc = sdpo_fail(SDPO_ERR_FORMAT, "%s: no method directories", images);
    if (rc == SDPO_OK) {
        qsort(methods, (size_t)nm, sizeof *methods, cmp_method);
        epochs = calloc((size_t)nm, sizeof *epochs);
        if (!epochs) rc = sdpo_fail(SDPO_ERR_NOMEM, "grid: out of memory");
    }
    /* each method's epoch, and the union of step counts */
    for (int m = 0; m < nm && rc == SDPO_OK; m++) {
        char d[4200];
        int *ep = NULL, ne = 0;
        snprintf(d, sizeof d, "%s/%s", images, methods[m]);
        if ((rc = list_dir(d, "epoch-", NULL, &ep, &ne)) != SDPO_OK) { free(ep); break; }
        int chosen = -1;
        for (int i = 0; i < ne; i++)
            if ((epoch < 0 && ep[i] > chosen) || ep[i] == epoch) chosen = ep[i];
        /* base has only its initial model; it is shown whatever the epoch asked */
        if (chosen < 0 && ne > 0 && !strcmp(methods[m], "base")) chosen = ep[0];
        free(ep);
        if (chosen < 0) {
            rc = sdpo_fail(SDPO_ERR_FORMAT, "%s: no epoch-%06d directory", d, epoch < 0 ? 0 : epoch);
            break;
        }
        epochs[m] = chosen;
        char ed[4300];
        int *st = NULL, ns = 0;
        snprintf(ed, sizeof ed, "%s/epoch-%06d", d, chosen);
        if ((rc = list_dir(ed, "steps-", NULL, &st, &ns)) != SDPO_OK) { free(st); break; }
        for (int i = 0; i < ns; i++) {
            int dup = 0;
            for (int j = 0; j < nsteps; j++) dup |= steps[j] == st[i];
            if (dup) continue;
            int *nn = realloc(steps, (size_t)(nsteps + 1) * sizeof *nn);
            if (!nn) { rc = sdpo_fail(SDPO_ERR_NOMEM, "grid: out of memory"); break; }
            steps = nn;
            steps[nsteps++] = st[i];
        }
        free(st);
    }
    if (rc == SDPO_OK && nsteps == 0) rc = sdpo_fail(SDPO_ERR_FORMAT, "%s: no steps-<S> directories", images);
    if (rc == SDPO_OK) {
        qsort(steps, (size_t)nsteps, sizeof *steps, cmp_int);
        cells = calloc((size_t)nm * (size_t)nsteps, sizeof *cells);
        row_labels = calloc((size_t)nm, sizeof *row_labels);
        col_labels = calloc((size_t)nsteps, sizeof *col_labels);
        if (!cells || !row_labels || !col_labels) rc = sdpo_fail(SDPO_ERR_NOMEM, "grid: out of memory");
    }
    int ch = 0, cw = 0, found = 0;
    for (int m = 0; m < nm && rc == SDPO_OK; m++) {
        for (int s = 0; s < nsteps && rc == SDPO_OK; s++) {
            char p[4600];
            struct stat sb;
            snprintf(p, sizeof p, "%s/%s/epoch-%06d/steps-%d/p%d_i%d.png", images, methods[m], epochs[m], steps[s],
                     prompt_index, image_index);
            if (stat(p, &sb) != 0) continue;
            int H, W;
            uint8_t *img;
            if ((rc = sdpo_png_read(p, &H, &W, &img)) != SDPO_OK) break;
            if (found && (H != ch || W != cw)) {
                free(img);
                rc = sdpo_fail(SDPO_ERR_SHAPE, "%s: %dx%d image, the others are %dx%d", p, W, H, cw, ch);
                break;
            }
            ch = H;
            cw = W;
            found = 1;
            cells[(size_t)m * (size_t)nsteps + (size_t)s] = img;
        }
    }
    if (rc == SDPO_OK && !found)
        rc = sdpo_fail(SDPO_ERR_FORMAT, "%s: no image p%d_i%d.png under any method/epoch/steps", images,
                       prompt_index, image_index);
    for (int m = 0; m < nm && rc == SDPO_OK; m++) {
        char lab[300];
        if (!strcmp(methods[m], "base")) snprintf(lab, sizeof lab, "base");
        else snprintf(lab, sizeof lab, "%s (epoch %d)", methods[m], epochs[m]);
        if (!(row_labels[m] = strdup(lab))) rc = sdpo_fail(SDPO_ERR_NOMEM, "grid: out of memory");
    }
    for (int s = 0; s < nsteps && rc == SDPO_OK; s++) {
        char lab[32];
        snprintf(lab, sizeof lab, "%d step%s", steps[s], steps[s] == 1 ? "" : "s");
        if (!(col_labels[s] = strdup(lab))) rc = sdpo_fail(SDPO_ERR_NOMEM, "grid: out of memory");
    }
    if (rc == SDPO_OK) {
        /* the prompt text from images.csv, when the evaluator wrote one */
        char csvp[4200];
        snprintf(csvp, sizeof csvp, "%s/images.csv", eval_dir);
        snprintf(title, sizeof title, "prompt %d, image %d", prompt_index, image_index);
        struct stat sb;
        sdpo_csv_table t;
        if (stat(csvp, &sb) == 0 && sdpo_csv_table_read(csvp, &t) == SDPO_OK) {
            int cp = sdpo_csv_table_find(&t, "prompt_index"), ct = sdpo_csv_table_find(&t, "prompt");
            for (size_t i = 0; cp >= 0 && ct >= 0 && i < t.nrows; i++)
                if (atoi(sdpo_csv_table_get(&t, i, cp)) == prompt_index) {
                    snprintf(title, sizeof title, "\"%s\"", sdpo_csv_table_get(&t, i, ct));
                    break;
                }
            sdpo_csv_table_free(&t);
        }
        sdpo_clear_error();
        sdpo_grid_layout L = {nm, nsteps, ch, cw, scale, title, (const char *const *)row_labels,
                              (const char *const *)col_labels, NULL};
        rc = sdpo_grid_write_png(out_png, &L, (const uint8_t *const *)cells);
    }
    for (int m = 0; m < nm; m++) {
        free(methods[m]);
        if (row_labels) free(row_labels[m]);
        for (int s = 0; cells && s < nsteps; s++) free(cells[(size_t)m * (size_t)nsteps + (size_t)s]);
    }
    for (int s = 0; col_labels && s < nsteps; s++) free(col_labels[s]);
    free(methods);
    free(row_labels);
    free(col_labels);
    free(cells);
    free(steps);
    free(epochs);
    return rc;
}

/* ---------- gnuplot ---------- */

#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

sdpo_status sdpo_figures_run_gnuplot(const char *gnuplot, const char *script, const char *assignments) {
    struct stat sb;
    if (stat(script, &sb) != 0) return sdpo_fail(SDPO_ERR_IO, "%s: gnuplot script not found", script);
    pid_t pid = fork();
    if (pid < 0) return sdpo_fail(SDPO_ERR_IO, "fork for %s failed: %s", gnuplot, strerror(errno));
    if (pid == 0) {
        execlp(gnuplot, gnuplot, "-e", assignments, script, (char *)NULL);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return sdpo_fail(SDPO_ERR_IO, "waiting for %s: %s", gnuplot, strerror(errno));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        return sdpo_fail(SDPO_ERR_IO, "'%s' could not be run (is gnuplot installed? scripts/install-deps.sh "
                                      "installs gnuplot-nox)", gnuplot);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return sdpo_fail(SDPO_ERR_FORMAT, "%s %s failed (status %d)", gnuplot, script,
                         WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return SDPO_OK;
}

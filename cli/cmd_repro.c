/* cli/cmd_repro.c — `sdpo repro`: the whole study on the micro world (issue #8), from a plan.
 *
 * A plan (configs/micro/repro.json; --full: repro_full.json; --smoke: repro_smoke.json) lists
 * the training runs and the evaluation; repro executes it stage by stage into one directory:
 *
 *   OUT/train/<run>/      sdpo train   (each run: a list of configs + --set overrides)
 *   OUT/eval/             sdpo eval    (the runs marked "eval", every checkpoint, the base
 *                                       model as epoch 0; images.csv, summary.csv, PNGs)
 *   OUT/table1.csv, .md   sdpo table1  (paper Table 1 layout)
 *   OUT/table3/           sdpo record-trajectories + sdpo table3 (paper Table 3)
 *   OUT/claims.csv        sdpo claims
 *   OUT/figures/          sdpo figures (Fig. 3–7 PNGs where the plan has the runs)
 *   OUT/grids/            sdpo grid    (one per eval prompt: methods × step counts)
 *   OUT/compare_table1.csv, compare_table3.csv   sdpo compare (ours beside the paper's)
 *   OUT/summary.md        Table 1 and the claims, also printed at the end
 *   OUT/logs/<stage>.log  each stage's standard output
 *
 * Each stage is the public subcommand run as a child process of this same binary, so what
 * repro does is exactly what a user can do by hand (the commands are echoed to
 * OUT/commands.sh) and a failing stage stops the study with its name and log. Stage children
 * inherit stderr: on a terminal each shows its own progress bar, and repro prints the stage
 * and the study's ETA (from the plan's cost estimates, rescaled by the measured speed) between
 * them. Rerunning with --out on an unfinished study resumes its training runs
 * (sdpo train --resume) and redoes the cheaper stages. */
#include "cli/commands.h"
#include "cli/progress.h"
#include "core/atomic_file.h"
#include "eval/csv_table.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARGS 256
#define MAX_STAGES 256

static void help(void) {
    printf("usage: sdpo repro [--full | --smoke | --plan FILE] [--out DIR] [--threads N]\n"
           "\n"
           "Runs the study of the paper on the micro world (data/micro: a pretrained micro\n"
           "text-to-image model and micro reward models trained by this project) from a plan:\n"
           "SDPO, DDPO, REBEL and D3PO training, evaluation on DPOK's unseen prompts at\n"
           "1/2/4/8/16/50 steps, Table 1, Table 3, the claims, figures and image grids.\n"
           "\n"
           "plans (configs/micro/):\n"
           "  repro.json        default: the four methods on one reward at a reduced budget\n"
           "  repro_full.json   --full: every reward and every ablation of Sec. 4.3\n"
           "  repro_smoke.json  --smoke: a cut-down study for CI (golden CSVs in ci/golden/)\n"
           "\n"
           "options:\n"
           "  --plan FILE    another plan (same format; see configs/micro/README.md)\n"
           "  --out DIR      output directory (default runs/<YYYYmmdd-HHMMSS>); an existing\n"
           "                 study there is continued: finished runs are kept, unfinished\n"
           "                 ones resumed, the other stages redone\n"
           "  --threads N    run.threads of every run and OMP_NUM_THREADS of every stage\n"
           "                 (default: the plan's, else 2); results depend on it\n"
           "  --quiet        no progress output\n"
           "\n"
           "outputs: OUT/train/<run>/, OUT/eval/, OUT/table1.{csv,md}, OUT/table3/, OUT/claims.csv,\n"
           "OUT/figures/*.png, OUT/grids/*.png, OUT/compare_table{1,3}.csv, OUT/summary.md,\n"
           "OUT/commands.sh (every stage as a command), OUT/logs/.\n"
           "\n"
           "exit status: 0 done; 1 a stage failed (its name and log are printed); 2 usage or\n"
           "plan error (the message names the plan file and field).\n");
}

/* ---- plan ------------------------------------------------------------------------------ */

typedef struct {
    char *argv[MAX_ARGS]; /* owned strings; argv[0] = subcommand */
    int argc;
    char name[192];       /* for messages and the log file name */
    double cost;          /* estimated seconds on the reference 2-core machine (the plan's
                             "cost" fields), for the study's ETA */
    int optional;         /* failure is reported but does not stop the study */
    char stdout_to[PATH_MAX + 64]; /* where its standard output goes ("" = OUT/logs/<name>.log) */
} stage;

typedef struct {
    stage st[MAX_STAGES];
    int n;
} stage_list;

static void stage_free(stage_list *l) {
    for (int i = 0; i < l->n; i++)
        for (int a = 0; a < l->st[i].argc; a++) free(l->st[i].argv[a]);
    l->n = 0;
}

static stage *stage_new(stage_list *l, const char *name, double cost) {
    if (l->n == MAX_STAGES) return NULL;
    stage *s = &l->st[l->n++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->cost = cost;
    return s;
}

static int push(stage *s, const char *fmt, va_list ap) {
    if (s->argc == MAX_ARGS - 1) return -1;
    va_list ap2;
    va_copy(ap2, ap);
    const int n = vsnprintf(NULL, 0, fmt, ap);
    char *p = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (p) vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    if (!p) return -1;
    s->argv[s->argc++] = p;
    s->argv[s->argc] = NULL;
    return 0;
}

/* Appends one argument, printf-formatted. */
static int arg(stage *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int arg(stage *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    const int rc = push(s, fmt, ap);
    va_end(ap);
    return rc;
}

/* Appends an option and its printf-formatted value. */
static int opt(stage *s, const char *flag, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int opt(stage *s, const char *flag, const char *fmt, ...) {
    if (arg(s, "%s", flag) != 0) return -1;
    va_list ap;
    va_start(ap, fmt);
    const int rc = push(s, fmt, ap);
    va_end(ap);
    return rc;
}

typedef struct {
    const char *path;
    json_t *root;
} plan;

static int plan_error(const plan *p, const char *field, const char *what) {
    fprintf(stderr, "sdpo repro: %s: %s %s\n", p->path, field, what);
    return SDPO_EXIT_USAGE;
}

/* String, int or number fields with a default (NULL/-1: required). */
static const char *get_str(const plan *p, json_t *obj, const char *key, const char *field,
                           const char *def, int *err) {
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (!def) *err = plan_error(p, field, "is required (a string)");
        return def;
    }
    if (!json_is_string(v)) {
        *err = plan_error(p, field, "must be a string");
        return def ? def : "";
    }
    return json_string_value(v);
}

static long get_int(const plan *p, json_t *obj, const char *key, const char *field, long def,
                    long lo, long hi, int *err) {
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (def < lo) *err = plan_error(p, field, "is required (an integer)");
        return def;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        char what[96];
        snprintf(what, sizeof what, "must be an integer in [%ld, %ld]", lo, hi);
        *err = plan_error(p, field, what);
        return def;
    }
    return (long)json_integer_value(v);
}

/* A JSON array of integers as "1,2,4"; *sum gets their sum. */
static int int_list(const plan *p, json_t *arr, const char *field, char *buf, size_t n, long *sum) {
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return plan_error(p, field, "must be a non-empty array of integers");
    size_t used = 0;
    *sum = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *v = json_array_get(arr, i);
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1000)
            return plan_error(p, field, "must hold integers in [1, 1000]");
        used += (size_t)snprintf(buf + used, used < n ? n - used : 0, "%s%lld", i ? "," : "",
                                 (long long)json_integer_value(v));
        *sum += (long)json_integer_value(v);
    }
    if (used >= n) return plan_error(p, field, "is too long");
    return 0;
}

/* Strings of a JSON array joined by `sep`; *count gets how many. */
static int str_list(const plan *p, json_t *arr, const char *field, char *buf, size_t n, int *count) {
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return plan_error(p, field, "must be a non-empty array of strings");
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *v = json_array_get(arr, i);
        if (!json_is_string(v)) return plan_error(p, field, "must hold strings");
        used += (size_t)snprintf(buf + used, used < n ? n - used : 0, "%s%s", i ? "," : "",
                                 json_string_value(v));
    }
    if (used >= n) return plan_error(p, field, "is too long");
    *count = (int)json_array_size(arr);
    return 0;
}

/* ---- building the stages ------------------------------------------------------------ */

typedef struct {
    const char *out;
    int threads;
    int have_eval;          /* the plan evaluates some runs */
    int have_table3;
    int n_eval_prompts;
    char eval_dir[PATH_MAX + 8];
    char table3[PATH_MAX + 256];  /* the first Table 3 (claims, compare, summary) */
} study;

static int dir_has(const char *dir, const char *file) {
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    return access(p, F_OK) == 0;
}

/* The number of lines of a prompt file that hold a prompt (for the grid stage). */
static int count_prompts(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int n = 0;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        char *s = line;
        while (*s == ' ' || *s == '\t') s++;
        if (*s && *s != '\n' && *s != '#') n++;
    }
    fclose(f);
    return n;
}

static int build_train(const plan *p, study *S, stage_list *L, json_t *runs, char *eval_runs,
                       size_t eval_n) {
    int err = 0;
    size_t used = 0;
    eval_runs[0] = '\0';
    if (!json_is_array(runs) || json_array_size(runs) == 0)
        return plan_error(p, "runs", "must be a non-empty array of run objects");
    for (size_t i = 0; i < json_array_size(runs); i++) {
        json_t *r = json_array_get(runs, i);
        char field[64];
        snprintf(field, sizeof field, "runs[%zu]", i);
        if (!json_is_object(r)) return plan_error(p, field, "must be an object");
        snprintf(field, sizeof field, "runs[%zu].name", i);
        const char *name = get_str(p, r, "name", field, NULL, &err);
        if (err) return err;
        if (!name[0] || strpbrk(name, "/ \t") || name[0] == '.')
            return plan_error(p, field, "must be a plain directory name");
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s/train/%s", S->out, name);
        snprintf(field, sizeof field, "runs[%zu].cost", i);
        json_t *c = json_object_get(r, "cost");
        const double cost = c ? json_number_value(c) : 60.0;
        if (c && (!json_is_number(c) || !(cost > 0)))
            return plan_error(p, field, "must be a positive number of seconds");
        char sname[160];
        snprintf(sname, sizeof sname, "train-%s", name);
        stage *s = stage_new(L, sname, cost);
        if (!s) return plan_error(p, "runs", "has too many entries");
        arg(s, "train");
        if (dir_has(dir, "config.json")) {
            opt(s, "--resume", "%s", dir);
        } else {
            json_t *cfgs = json_object_get(r, "configs"), *sets = json_object_get(r, "set");
            snprintf(field, sizeof field, "runs[%zu].configs", i);
            if (!json_is_array(cfgs) || json_array_size(cfgs) == 0)
                return plan_error(p, field, "must be a non-empty array of config files");
            for (size_t k = 0; k < json_array_size(cfgs); k++) {
                json_t *v = json_array_get(cfgs, k);
                if (!json_is_string(v)) return plan_error(p, field, "must hold strings");
                opt(s, "--config", "%s", json_string_value(v));
            }
            snprintf(field, sizeof field, "runs[%zu].set", i);
            if (sets && !json_is_array(sets)) return plan_error(p, field, "must be an array of KEY=VALUE");
            for (size_t k = 0; sets && k < json_array_size(sets); k++) {
                json_t *v = json_array_get(sets, k);
                if (!json_is_string(v) || !strchr(json_string_value(v), '='))
                    return plan_error(p, field, "must hold KEY=VALUE strings");
                opt(s, "--set", "%s", json_string_value(v));
            }
            opt(s, "--set", "run.threads=%d", S->threads);
            opt(s, "--out", "%s", dir);
        }
        json_t *ev = json_object_get(r, "eval");
        snprintf(field, sizeof field, "runs[%zu].eval", i);
        if (ev && !json_is_boolean(ev)) return plan_error(p, field, "must be true or false");
        if (ev && json_is_true(ev)) {
            used += (size_t)snprintf(eval_runs + used, used < eval_n ? eval_n - used : 0, "%s%s",
                                     used ? "\n" : "", dir);
            if (used >= eval_n) return plan_error(p, "runs", "has too many evaluated runs");
        }
        if (s->argc >= MAX_ARGS - 2) return plan_error(p, field, "has too many configs and sets");
    }
    return 0;
}

static int build_eval(const plan *p, study *S, stage_list *L, json_t *ev, char *eval_runs) {
    int err = 0;
    if (!ev) return 0;
    if (!json_is_object(ev)) return plan_error(p, "eval", "must be an object");
    if (!eval_runs[0]) return plan_error(p, "eval", "is given but no run has \"eval\": true");
    char steps[256], rewards[512];
    long steps_sum = 0;
    int n_rewards = 0;
    if ((err = int_list(p, json_object_get(ev, "steps"), "eval.steps", steps, sizeof steps, &steps_sum)))
        return err;
    if ((err = str_list(p, json_object_get(ev, "rewards"), "eval.rewards", rewards, sizeof rewards,
                        &n_rewards)))
        return err;
    const char *prompts = get_str(p, ev, "prompts", "eval.prompts", NULL, &err);
    const long k = get_int(p, ev, "images_per_prompt", "eval.images_per_prompt", 4, 1, 100000, &err);
    const long seed = get_int(p, ev, "seed", "eval.seed", 0, 0, 2147483647L, &err);
    const char *ckpts = get_str(p, ev, "checkpoints", "eval.checkpoints", "all", &err);
    json_t *save = json_object_get(ev, "save_images");
    if (save && !json_is_boolean(save)) return plan_error(p, "eval.save_images", "must be true or false");
    if (err) return err;
    S->n_eval_prompts = count_prompts(prompts);
    if (S->n_eval_prompts <= 0) return plan_error(p, "eval.prompts", "names no readable prompt file with prompts");
    json_t *c = json_object_get(ev, "cost");
    if (c && !(json_is_number(c) && json_number_value(c) > 0))
        return plan_error(p, "eval.cost", "must be a positive number of seconds");
    stage *s = stage_new(L, "eval", c ? json_number_value(c) : 60.0);
    if (!s) return plan_error(p, "eval", "makes too many stages");
    arg(s, "eval");
    for (char *r = strtok(eval_runs, "\n"); r; r = strtok(NULL, "\n")) {
        opt(s, "--run", "%s", r);
    }
    opt(s, "--checkpoints", "%s", ckpts);
    opt(s, "--prompts", "%s", prompts);
    opt(s, "--steps", "%s", steps);
    opt(s, "--rewards", "%s", rewards);
    opt(s, "--seed", "%ld", seed);
    opt(s, "--images-per-prompt", "%ld", k);
    if (!save || json_is_true(save)) {
        opt(s, "--save-images", "all");
    }
    opt(s, "--out", "%s", S->eval_dir);
    S->have_eval = 1;
    return 0;
}

/* One Table 3 input: trajectories of the base model scored at every step by one reward, into
 * OUT/table3/<reward>/ (the first entry's table is the one the claims check). */
static int build_table3_one(const plan *p, study *S, stage_list *L, json_t *t3, size_t i) {
    int err = 0;
    char f[7][48];
    static const char *const names[7] = {"model", "prompts", "reward", "steps", "n", "seed", "cost"};
    for (int k = 0; k < 7; k++) snprintf(f[k], sizeof f[k], "table3[%zu].%s", i, names[k]);
    if (!json_is_object(t3)) return plan_error(p, f[0], "(the entry) must be an object");
    const char *model = get_str(p, t3, "model", f[0], NULL, &err);
    const char *prompts = get_str(p, t3, "prompts", f[1], NULL, &err);
    const char *reward = get_str(p, t3, "reward", f[2], NULL, &err);
    const long steps = get_int(p, t3, "steps", f[3], 50, 2, 1000, &err);
    const long n = get_int(p, t3, "n", f[4], 32, 1, 1000000, &err);
    const long seed = get_int(p, t3, "seed", f[5], 0, 0, 2147483647L, &err);
    if (err) return err;
    if (!reward[0] || strpbrk(reward, "/ ")) return plan_error(p, f[2], "must be a reward name");
    json_t *c = json_object_get(t3, "cost");
    if (c && !(json_is_number(c) && json_number_value(c) > 0))
        return plan_error(p, f[6], "must be a positive number of seconds");
    char sname[160];
    snprintf(sname, sizeof sname, "record-trajectories-%s", reward);
    stage *s = stage_new(L, sname, c ? json_number_value(c) : 30.0);
    if (!s) return plan_error(p, "table3", "makes too many stages");
    arg(s, "record-trajectories");
    opt(s, "--model", "%s", model);
    opt(s, "--prompts", "%s", prompts);
    opt(s, "--steps", "%ld", steps);
    opt(s, "--n", "%ld", n);
    opt(s, "--reward", "%s", reward);
    opt(s, "--seed", "%ld", seed);
    opt(s, "--out", "%s/table3/%s/trajectories.safetensors", S->out, reward);
    snprintf(sname, sizeof sname, "table3-%s", reward);
    if (!(s = stage_new(L, sname, 1))) return plan_error(p, "table3", "makes too many stages");
    arg(s, "table3");
    opt(s, "--input", "%s/table3/%s/trajectories.safetensors", S->out, reward);
    opt(s, "--out", "%s/table3/%s/table3.csv", S->out, reward);
    if (!S->have_table3) snprintf(S->table3, sizeof S->table3, "%s/table3/%s/table3.csv", S->out, reward);
    S->have_table3 = 1;
    return 0;
}

static int build_table3(const plan *p, study *S, stage_list *L, json_t *t3) {
    if (!t3) return 0;
    if (json_is_object(t3)) return build_table3_one(p, S, L, t3, 0);
    if (!json_is_array(t3) || json_array_size(t3) == 0)
        return plan_error(p, "table3", "must be an object or a non-empty array of objects");
    for (size_t i = 0; i < json_array_size(t3); i++) {
        const int err = build_table3_one(p, S, L, json_array_get(t3, i), i);
        if (err) return err;
    }
    return 0;
}

/* Report stages: cheap, deterministic functions of the CSVs above. */
static int build_reports(const plan *p, study *S, stage_list *L) {
    json_t *g = json_object_get(p->root, "grids");
    int err = 0;
    long image_index = 0, scale = 3;
    if (g) {
        if (!json_is_object(g)) return plan_error(p, "grids", "must be an object");
        image_index = get_int(p, g, "image_index", "grids.image_index", 0, 0, 100000, &err);
        scale = get_int(p, g, "scale", "grids.scale", 3, 1, 64, &err);
        if (err) return err;
    }
    stage *s;
    if (S->have_eval) {
        s = stage_new(L, "table1", 1);
        arg(s, "table1");
        opt(s, "--eval", "%s", S->eval_dir);
        opt(s, "--out", "%s", S->out);
        s = stage_new(L, "compare-table1", 1);
        s->optional = 1;
        snprintf(s->stdout_to, sizeof s->stdout_to, "%s/compare_table1.csv", S->out);
        arg(s, "compare");
        opt(s, "--ours", "%s/table1.csv", S->out);
        opt(s, "--kind", "table1");
    }
    if (S->have_table3) {
        s = stage_new(L, "compare-table3", 1);
        s->optional = 1;
        snprintf(s->stdout_to, sizeof s->stdout_to, "%s/compare_table3.csv", S->out);
        arg(s, "compare");
        opt(s, "--ours", "%s", S->table3);
        opt(s, "--kind", "table3");
    }
    s = stage_new(L, "claims", 1);
    arg(s, "claims");
    if (S->have_eval) {
        opt(s, "--table1", "%s/table1.csv", S->out);
        opt(s, "--summary", "%s/summary.csv", S->eval_dir);
    }
    if (S->have_table3) {
        opt(s, "--table3", "%s", S->table3);
    }
    opt(s, "--runs", "%s/train", S->out);
    opt(s, "--out", "%s/claims.csv", S->out);
    s = stage_new(L, "figures", 1);
    arg(s, "figures");
    opt(s, "--runs", "%s/train", S->out);
    if (S->have_eval) {
        opt(s, "--eval", "%s", S->eval_dir);
    }
    opt(s, "--out", "%s/figures", S->out);
    for (int i = 0; S->have_eval && i < S->n_eval_prompts; i++) {
        char name[32];
        snprintf(name, sizeof name, "grid-%d", i);
        if (!(s = stage_new(L, name, 1))) return plan_error(p, "eval.prompts", "has too many prompts for grids");
        arg(s, "grid");
        opt(s, "--eval", "%s", S->eval_dir);
        opt(s, "--prompt-index", "%d", i);
        opt(s, "--image-index", "%ld", image_index);
        opt(s, "--scale", "%ld", scale);
        opt(s, "--out", "%s/grids/prompt%d.png", S->out, i);
    }
    return 0;
}

/* ---- running ------------------------------------------------------------------------ */

/* Runs `self argv…` with stdout appended to log (stderr inherited); returns its exit code. */
static int run_child(const char *self, const stage *s, const char *log, int threads) {
    fflush(stdout);
    fflush(stderr);
    const pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "sdpo repro: fork for stage %s: %s\n", s->name, strerror(errno));
        return -1;
    }
    if (pid == 0) {
        const int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0) _exit(127);
        close(fd);
        char t[16];
        snprintf(t, sizeof t, "%d", threads);
        setenv("OMP_NUM_THREADS", t, 1);
        /* Sleeping OpenMP workers unless the user chose otherwise: spinning ones starve
         * OpenBLAS and other processes on a small machine (bench/README.md: up to 10x slower). */
        setenv("OMP_WAIT_POLICY", "passive", 0);
        char *argv[MAX_ARGS + 1];
        argv[0] = (char *)"sdpo";
        for (int i = 0; i < s->argc; i++) argv[i + 1] = s->argv[i];
        argv[s->argc + 1] = NULL;
        execv(self, argv);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* Shell-quotes one argument into f. */
static void quote(FILE *f, const char *a) {
    if (a[0] && !strpbrk(a, " \t\n'\"\\$`*?[]{}();&|<>~#!")) {
        fputs(a, f);
        return;
    }
    fputc('\'', f);
    for (; *a; a++) {
        if (*a == '\'') fputs("'\\''", f);
        else fputc(*a, f);
    }
    fputc('\'', f);
}

static int write_commands(const char *out, const stage_list *L) {
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/commands.sh", out);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "#!/bin/sh\n# The stages of this study, as run by sdpo repro (from the repository root).\nset -e\n");
    for (int i = 0; i < L->n; i++) {
        fputs("build/sdpo", f);
        for (int a = 0; a < L->st[i].argc; a++) {
            fputc(' ', f);
            quote(f, L->st[i].argv[a]);
        }
        fputc('\n', f);
    }
    return fclose(f);
}

static void cat_file(const char *path, FILE *to) {
    FILE *f = fopen(path, "r");
    if (!f) return;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, to);
    fclose(f);
}

/* summary.md: Table 1 (markdown) and the claims, one line each; printed and written. */
static void write_summary(const study *S, double wall) {
    char path[PATH_MAX + 32], tmp[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/summary.md", S->out);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return;
    fprintf(f, "# sdpo repro: %s\n\nWall time: %.1f min.\n\n", S->out, wall / 60.0);
    char p[PATH_MAX + 32];
    if (S->have_eval) {
        fprintf(f, "## Table 1 (mean reward on the unseen prompts; best per column in bold)\n\n");
        snprintf(p, sizeof p, "%s/table1.md", S->out);
        cat_file(p, f);
        fprintf(f, "\n");
    }
    if (S->have_table3) {
        fprintf(f, "## Table 3 (reward-prediction similarity)\n\n```\n");
        cat_file(S->table3, f);
        fprintf(f, "```\n\n");
    }
    /* The claims one per line (claims.csv has the evidence and our numbers). */
    snprintf(p, sizeof p, "%s/claims.csv", S->out);
    sdpo_csv_table t;
    int cc, cv;
    if (sdpo_csv_table_read(p, &t) == SDPO_OK) {
        if (sdpo_csv_table_col(&t, "claim", &cc) == SDPO_OK && sdpo_csv_table_col(&t, "verdict", &cv) == SDPO_OK) {
            size_t n[3] = {0, 0, 0};
            for (size_t r = 0; r < t.nrows; r++) {
                const char *v = sdpo_csv_table_get(&t, r, cv);
                n[!strcmp(v, "pass") ? 0 : !strcmp(v, "fail") ? 1 : 2]++;
            }
            fprintf(f, "## Claims: %zu pass, %zu fail, %zu not run (details in claims.csv)\n\n", n[0],
                    n[1], n[2]);
            for (size_t r = 0; r < t.nrows; r++)
                fprintf(f, "- %-7s %s\n", sdpo_csv_table_get(&t, r, cv), sdpo_csv_table_get(&t, r, cc));
        }
        sdpo_csv_table_free(&t);
    }
    if (fclose(f) == 0 && rename(tmp, path) == 0) cat_file(path, stdout);
}

int cmd_repro(int argc, char **argv) {
    static const struct option opts[] = {
        {"plan", required_argument, 0, 'p'}, {"full", no_argument, 0, 'f'},
        {"smoke", no_argument, 0, 's'},      {"out", required_argument, 0, 'o'},
        {"threads", required_argument, 0, 't'}, {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},       {0, 0, 0, 0}};
    const char *cmd = argv[0], *plan_path = NULL, *out = NULL;
    int threads = 0, quiet = 0, n_modes = 0;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        switch (c) {
        case 'p': plan_path = optarg; n_modes++; break;
        case 'f': plan_path = "configs/micro/repro_full.json"; n_modes++; break;
        case 's': plan_path = "configs/micro/repro_smoke.json"; n_modes++; break;
        case 'o': out = optarg; break;
        case 't': {
            char *end;
            const long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 256) return cli_usage_error(cmd, "--threads '%s': want 1..256", optarg);
            threads = (int)v;
            break;
        }
        case 'q': quiet = 1; break;
        case 'h': help(); return SDPO_EXIT_OK;
        default: return cli_usage_error(cmd, "unknown option");
        }
    }
    if (optind < argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (n_modes > 1) return cli_usage_error(cmd, "--full, --smoke and --plan exclude each other");
    if (!plan_path) plan_path = "configs/micro/repro.json";

    json_error_t jerr;
    plan P = {plan_path, json_load_file(plan_path, 0, &jerr)};
    if (!P.root) {
        fprintf(stderr, "sdpo repro: %s: line %d: %s\n", plan_path, jerr.line, jerr.text);
        return SDPO_EXIT_USAGE;
    }
    int err = 0;
    if (!json_is_object(P.root)) err = plan_error(&P, "(top level)", "must be an object");
    static const char *const known[] = {"description", "threads", "runs", "eval", "table3", "grids"};
    const char *key;
    json_t *val;
    json_object_foreach(P.root, key, val) {
        int ok = 0;
        for (size_t i = 0; i < sizeof known / sizeof *known; i++) ok |= !strcmp(key, known[i]);
        if (!ok && !err) err = plan_error(&P, key, "is not a plan field (description, threads, runs, eval, table3, grids)");
    }
    if (!threads && !err) threads = (int)get_int(&P, P.root, "threads", "threads", 2, 1, 256, &err);

    char outbuf[PATH_MAX];
    if (!out) {
        const time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(outbuf, sizeof outbuf, "runs/%Y%m%d-%H%M%S", &tm);
        out = outbuf;
    }
    study S = {.out = out, .threads = threads};
    snprintf(S.eval_dir, sizeof S.eval_dir, "%s/eval", out);
    static stage_list L;
    static char eval_runs[1 << 16];
    if (!err) err = build_train(&P, &S, &L, json_object_get(P.root, "runs"), eval_runs, sizeof eval_runs);
    if (!err) err = build_eval(&P, &S, &L, json_object_get(P.root, "eval"), eval_runs);
    if (!err) err = build_table3(&P, &S, &L, json_object_get(P.root, "table3"));
    if (!err) err = build_reports(&P, &S, &L);
    json_decref(P.root);
    if (err) {
        stage_free(&L);
        return err;
    }

    char self[PATH_MAX];
    const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        stage_free(&L);
        fprintf(stderr, "sdpo repro: cannot find this executable (/proc/self/exe)\n");
        return SDPO_EXIT_FAIL;
    }
    self[n] = '\0';
    char logs[PATH_MAX + 16], t3[PATH_MAX + 16], grids[PATH_MAX + 16];
    snprintf(logs, sizeof logs, "%s/logs", out);
    snprintf(t3, sizeof t3, "%s/table3", out);
    snprintf(grids, sizeof grids, "%s/grids", out);
    if (sdpo_mkdir_p(logs) != SDPO_OK || sdpo_mkdir_p(t3) != SDPO_OK || sdpo_mkdir_p(grids) != SDPO_OK ||
        write_commands(out, &L) != 0) {
        stage_free(&L);
        fprintf(stderr, "sdpo repro: cannot write into %s: %s\n", out, strerror(errno));
        return SDPO_EXIT_FAIL;
    }

    double total = 0, done = 0;
    for (int i = 0; i < L.n; i++) total += L.st[i].cost;
    cli_progress bar;
    cli_progress_begin(&bar, quiet);
    int failed = 0;
    if (!quiet)
        fprintf(stderr, "sdpo repro: %s -> %s (%d stages, %d threads; stages as commands in %s/commands.sh)\n",
                plan_path, out, L.n, threads, out);
    for (int i = 0; i < L.n && !failed; i++) {
        const stage *s = &L.st[i];
        char label[256];
        snprintf(label, sizeof label, "stage %d/%d: %s", i + 1, L.n, s->name);
        if (bar.enabled) {
            /* The study's bar (cost-weighted), then the stage draws its own below it. */
            cli_progress_draw(&bar, total > 0 ? done / total : 0, label);
            cli_progress_end(&bar);
        } else if (!quiet) {
            fprintf(stderr, "sdpo repro: %s\n", label);
        }
        char log[PATH_MAX + 256];
        if (s->stdout_to[0]) snprintf(log, sizeof log, "%s", s->stdout_to);
        else snprintf(log, sizeof log, "%s/%s.log", logs, s->name);
        const int rc = run_child(self, s, log, threads);
        if (rc != 0) {
            fprintf(stderr, "sdpo repro: stage %s failed (exit %d); its output is in %s\n", s->name, rc, log);
            if (!s->optional) failed = 1;
        }
        done += s->cost;
    }
    cli_progress_end(&bar);
    stage_free(&L);
    const double wall = cli_now_s() - bar.start;
    if (failed) return SDPO_EXIT_FAIL;
    write_summary(&S, wall);
    fprintf(stderr, "sdpo repro: done in %.1f min; results in %s (summary.md, table1.md, claims.csv, "
                    "figures/, grids/)\n", wall / 60.0, out);
    return SDPO_EXIT_OK;
}

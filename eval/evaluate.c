/* eval/evaluate.c — targets from runs and models, the evaluation loop, the trajectory recorder
 * (evaluate.h). */
#include "eval/evaluate.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "eval/eval_summary.h"
#include "models/unet.h"
#include "nn/safetensors.h"
#include "rewards/image.h"
#include "rewards/reward.h"
#include "trainers/analytic_reward.h"
#include "trainers/checkpoint.h"
#include "trainers/policy_unet.h"
#include "trainers/prompts.h"
#include "trainers/run_info.h"

/* ---- targets ------------------------------------------------------------------------- */

void sdpo_eval_targets_free(sdpo_eval_targets *t) {
    free(t->items);
    memset(t, 0, sizeof *t);
}

static sdpo_status push(sdpo_eval_targets *t, const sdpo_eval_target *x) {
    if (t->n == t->cap) {
        const int cap = t->cap ? 2 * t->cap : 8;
        sdpo_eval_target *p = realloc(t->items, (size_t)cap * sizeof *p);
        if (!p) return sdpo_fail(SDPO_ERR_NOMEM, "eval: out of memory for the targets");
        t->items = p;
        t->cap = cap;
    }
    t->items[t->n++] = *x;
    return SDPO_OK;
}

/* The same frozen base model: type and folder, or the same toy world. */
static int same_base(const sdpo_policy_spec *a, const sdpo_policy_spec *b) {
    if (a->type != b->type) return 0;
    if (a->type == SDPO_MODEL_UNET) return !strcmp(a->dir, b->dir);
    return a->toy_height == b->toy_height && a->toy_width == b->toy_width &&
           a->toy_modes == b->toy_modes && a->toy_prediction == b->toy_prediction &&
           a->toy_seed == b->toy_seed && a->toy_mode_scale == b->toy_mode_scale &&
           a->toy_mode_var == b->toy_mode_var && a->toy_prompt_scale == b->toy_prompt_scale;
}

/* The same policy object can serve both (adapter shape and the toy reward's target). */
static int same_policy(const sdpo_policy_spec *a, const sdpo_policy_spec *b) {
    return same_base(a, b) && a->lora_rank == b->lora_rank && a->lora_alpha == b->lora_alpha &&
           a->toy_target_mode == b->toy_target_mode;
}

static const char *model_desc(const sdpo_policy_spec *m, char *buf, size_t n) {
    if (m->type == SDPO_MODEL_UNET)
        snprintf(buf, n, "unet %s", m->dir);
    else
        snprintf(buf, n, "toy %dx%d, %d modes, toy.seed %d", m->toy_height, m->toy_width,
                 m->toy_modes, m->toy_seed);
    return buf;
}

static int is_dir(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* A resolved training config from `path` (a run's or a checkpoint's config.json). */
static sdpo_status load_config(const char *path, sdpo_train_config **out) {
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return sdpo_fail(SDPO_ERR_IO, "%s: %s", path, strerror(errno));
    sdpo_train_config *c = malloc(sizeof *c);
    if (!c) return sdpo_fail(SDPO_ERR_NOMEM, "eval: out of memory");
    sdpo_train_config_defaults(c);
    sdpo_status rc = sdpo_train_config_load_file(c, path);
    if (rc == SDPO_OK) rc = sdpo_train_config_finalize(c);
    if (rc != SDPO_OK) {
        free(c);
        return rc;
    }
    *out = c;
    return SDPO_OK;
}

static int cmp_int(const void *a, const void *b) {
    const int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Epochs of the complete checkpoints run_dir/checkpoints/epoch-NNNNNN, ascending (malloc'd).
 * Temporary directories of killed runs are named .tmp-epoch-… and never match. */
static sdpo_status list_checkpoints(const char *run_dir, int **epochs, int *n) {
    char d[PATH_MAX];
    snprintf(d, sizeof d, "%s/checkpoints", run_dir);
    *epochs = NULL;
    *n = 0;
    DIR *dp = opendir(d);
    if (!dp) return sdpo_fail(SDPO_ERR_IO, "%s: %s (the run has no checkpoint)", d, strerror(errno));
    int cap = 0;
    sdpo_status rc = SDPO_OK;
    for (struct dirent *e; rc == SDPO_OK && (e = readdir(dp));) {
        const char *s = e->d_name;
        if (strncmp(s, "epoch-", 6) || strlen(s) < 12 || strspn(s + 6, "0123456789") != strlen(s + 6))
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            int *p = realloc(*epochs, (size_t)cap * sizeof *p);
            if (!p) {
                rc = sdpo_fail(SDPO_ERR_NOMEM, "eval: out of memory listing %s", d);
                break;
            }
            *epochs = p;
        }
        (*epochs)[(*n)++] = atoi(s + 6);
    }
    closedir(dp);
    if (rc == SDPO_OK && *n == 0) rc = sdpo_fail(SDPO_ERR_IO, "%s: no complete checkpoint", d);
    if (rc != SDPO_OK) {
        free(*epochs);
        *epochs = NULL;
        *n = 0;
        return rc;
    }
    qsort(*epochs, (size_t)*n, sizeof **epochs, cmp_int);
    return SDPO_OK;
}

/* Labels become directory names and CSV cells. */
static sdpo_status check_label(const char *label) {
    if (!label[0] || strlen(label) >= SDPO_EVAL_NAME_MAX || strpbrk(label, "/,\"\n\r ") ||
        !strcmp(label, ".") || !strcmp(label, ".."))
        return sdpo_fail(SDPO_ERR_ARG, "method name '%s' must be 1-%d characters without '/', "
                         "',', '\"' or spaces", label, SDPO_EVAL_NAME_MAX - 1);
    return SDPO_OK;
}

static const sdpo_eval_target *find_method(const sdpo_eval_targets *t, const char *method) {
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->items[i].method, method)) return &t->items[i];
    return NULL;
}

static void set_checkpoint(sdpo_eval_target *x, const char *run_dir, int epoch) {
    x->epoch = epoch;
    x->weights = SDPO_EVAL_WEIGHTS_CHECKPOINT;
    snprintf(x->path, sizeof x->path, "%s/checkpoints/epoch-%06d", run_dir, epoch);
    snprintf(x->source, sizeof x->source, "%s", x->path);
}

sdpo_status sdpo_eval_targets_add_run(sdpo_eval_targets *t, const char *run_dir, const char *name,
                                      const int *select, int n_select) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/config.json", run_dir);
    if (!is_dir(run_dir))
        return sdpo_fail(SDPO_ERR_IO, "%s: no such run directory", run_dir);
    sdpo_train_config *cfg;
    sdpo_status rc = load_config(path, &cfg);
    if (rc != SDPO_OK) return rc;
    sdpo_eval_target x;
    memset(&x, 0, sizeof x);
    sdpo_policy_spec_from_config(cfg, &x.model);
    snprintf(x.method, sizeof x.method, "%s",
             name ? name : sdpo_method_name((sdpo_method)cfg->method));
    free(cfg);
    if ((rc = check_label(x.method)) != SDPO_OK) return rc;
    if (!strcmp(x.method, "base"))
        return sdpo_fail(SDPO_ERR_ARG, "%s: 'base' names the epoch-0 model; give the run "
                         "another name", run_dir);
    if (find_method(t, x.method))
        return sdpo_fail(SDPO_ERR_ARG, "%s: method name '%s' is already used by another run; "
                         "name this one with --run NAME=DIR", run_dir, x.method);
    int *epochs, n;
    if ((rc = list_checkpoints(run_dir, &epochs, &n)) != SDPO_OK) return rc;
    const sdpo_eval_target *base = find_method(t, "base");
    if (base && !same_base(&base->model, &x.model)) {
        char a[SDPO_CFG_PATH_MAX + 64], b[SDPO_CFG_PATH_MAX + 64];
        rc = sdpo_fail(SDPO_ERR_ARG, "%s: its base model (%s) is not that of the runs before it "
                       "(%s); evaluate runs of different models separately", run_dir,
                       model_desc(&x.model, a, sizeof a), model_desc(&base->model, b, sizeof b));
    }
    if (rc == SDPO_OK && !base) {
        sdpo_eval_target b = x;
        snprintf(b.method, sizeof b.method, "base");
        if (epochs[0] == 0) {
            set_checkpoint(&b, run_dir, 0);
        } else {
            /* epoch 0 was rotated out: the policy as created is the same base model */
            b.epoch = 0;
            b.weights = SDPO_EVAL_WEIGHTS_NONE;
            snprintf(b.source, sizeof b.source, "%s: base model (its epoch-0 checkpoint was "
                     "deleted)", run_dir);
        }
        rc = push(t, &b);
    }
    if (n_select > 0) {
        /* the listed epochs, each a complete checkpoint of this run */
        for (int k = 0; rc == SDPO_OK && k < n_select; k++) {
            int found = 0;
            for (int i = 0; i < n; i++) found |= epochs[i] == select[k];
            if (!found) {
                char have[256] = "";
                for (int i = 0, len = 0; i < n && len < (int)sizeof have - 16; i++)
                    len += snprintf(have + len, sizeof have - (size_t)len, "%s%d", i ? "," : "",
                                    epochs[i]);
                rc = sdpo_fail(SDPO_ERR_ARG, "%s: no checkpoint of epoch %d (it has %s)", run_dir,
                               select[k], have);
            } else if (select[k] != 0) {
                set_checkpoint(&x, run_dir, select[k]);
                rc = push(t, &x);
            }
        }
    }
    for (int i = n_select == SDPO_EVAL_ALL_CHECKPOINTS ? 0 : n - 1; n_select <= 0 && rc == SDPO_OK && i < n; i++) {
        if (epochs[i] == 0) continue;
        set_checkpoint(&x, run_dir, epochs[i]);
        rc = push(t, &x);
    }
    free(epochs);
    return rc;
}

static int ends_with(const char *s, const char *suffix) {
    const size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

sdpo_status sdpo_eval_targets_add_model(sdpo_eval_targets *t, const char *model, const char *lora,
                                        const char *method, int epoch) {
    sdpo_eval_target x;
    memset(&x, 0, sizeof x);
    sdpo_status rc = SDPO_OK;
    if (ends_with(model, ".json")) {
        sdpo_train_config *cfg;
        if ((rc = load_config(model, &cfg)) != SDPO_OK) return rc;
        sdpo_policy_spec_from_config(cfg, &x.model);
        free(cfg);
    } else {
        if (!is_dir(model))
            return sdpo_fail(SDPO_ERR_IO, "%s: no such model folder (a diffusers folder or a "
                             "training config .json)", model);
        x.model.type = SDPO_MODEL_UNET;
        snprintf(x.model.dir, sizeof x.model.dir, "%s", model);
    }
    if (!lora && x.model.type == SDPO_MODEL_UNET) x.model.lora_rank = 0; /* the bare model */
    x.epoch = epoch < 0 ? 0 : epoch;
    if (lora && is_dir(lora)) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/config.json", lora);
        sdpo_train_config *cfg;
        if ((rc = load_config(path, &cfg)) != SDPO_OK) return rc;
        sdpo_policy_spec ck;
        sdpo_policy_spec_from_config(cfg, &ck);
        free(cfg);
        if (ck.type != x.model.type)
            return sdpo_fail(SDPO_ERR_ARG, "%s: a checkpoint of the %s policy cannot be loaded "
                             "into %s", lora, ck.type == SDPO_MODEL_TOY ? "toy" : "unet", model);
        x.model.lora_rank = ck.lora_rank;
        x.model.lora_alpha = ck.lora_alpha;
        x.model.param_seed = ck.param_seed;
        sdpo_ckpt_state st;
        if ((rc = sdpo_checkpoint_read_state(lora, &st)) != SDPO_OK) return rc;
        if (epoch < 0) x.epoch = st.epoch;
        x.weights = SDPO_EVAL_WEIGHTS_CHECKPOINT;
    } else if (lora) {
        if (x.model.type != SDPO_MODEL_UNET)
            return sdpo_fail(SDPO_ERR_ARG, "%s: a LoRA file needs a unet model, not the toy "
                             "policy of %s", lora, model);
        if ((rc = sdpo_unet_lora_probe(lora, &x.model.lora_rank, &x.model.lora_alpha)) != SDPO_OK)
            return rc;
        x.weights = SDPO_EVAL_WEIGHTS_LORA;
    }
    if (lora) snprintf(x.path, sizeof x.path, "%s", lora);
    if (lora && !method)
        return sdpo_fail(SDPO_ERR_ARG, "%s: a model with an adapter needs a method name", lora);
    snprintf(x.method, sizeof x.method, "%s", method ? method : "base");
    if ((rc = check_label(x.method)) != SDPO_OK) return rc;
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->items[i].method, x.method) && t->items[i].epoch == x.epoch)
            return sdpo_fail(SDPO_ERR_ARG, "method '%s' epoch %d is evaluated twice", x.method,
                             x.epoch);
    snprintf(x.source, sizeof x.source, "%s%s%s", model, lora ? " + " : "", lora ? lora : "");
    return push(t, &x);
}

/* ---- rewards ------------------------------------------------------------------------- */

int sdpo_eval_reward_known(const char *name) {
    if (!strcmp(name, "brightness") || !strcmp(name, "toy-mode")) return 1;
    const char *s = sdpo_reward_names();
    const size_t n = strlen(name);
    while (*s) {
        const size_t k = strcspn(s, " ");
        if (k == n && !strncmp(s, name, n)) return 1;
        s += k;
        s += strspn(s, " ");
    }
    return 0;
}

const char *sdpo_eval_reward_names(void) {
    static char buf[512];
    snprintf(buf, sizeof buf, "%s brightness toy-mode", sdpo_reward_names());
    return buf;
}

typedef struct {
    const char *name, *dir;
    sdpo_reward *r;
    int per_policy;     /* made from the policy (toy-mode): remade with each new policy */
} reward_slot;

static sdpo_status reward_make(reward_slot *s, int official_scale, sdpo_policy *p,
                               const sdpo_policy_spec *m) {
    if (!strcmp(s->name, "toy-mode")) {
        if (strcmp(p->name, "toy"))
            return sdpo_fail(SDPO_ERR_ARG, "reward toy-mode needs the toy policy (this model is "
                             "the %s policy)", p->name);
        return sdpo_toy_reward_create(p, m->toy_target_mode, &s->r);
    }
    if (!strcmp(s->name, "brightness")) return sdpo_brightness_reward_create(&s->r);
    const sdpo_reward_options ro = {official_scale};
    return sdpo_reward_create_with(s->name, s->dir, &ro, &s->r);
}

/* ---- one policy at a time ------------------------------------------------------------ */

typedef struct {
    sdpo_policy *policy;
    sdpo_policy_spec model;
    sdpo_eval_sampler sampler;
    reward_slot *rw;
    int nr, official_scale, threads;
    const sdpo_prompts *prompts;
    sdpo_eval_sampler_config sc;
} model_ctx;

static void ctx_release(model_ctx *mc) {
    for (int k = 0; k < mc->nr; k++)
        if (mc->rw[k].per_policy) {
            sdpo_reward_free(mc->rw[k].r);
            mc->rw[k].r = NULL;
        }
    sdpo_eval_sampler_free(&mc->sampler);
    sdpo_policy_free(mc->policy);
    mc->policy = NULL;
}

static sdpo_status policy_create(const sdpo_policy_spec *m, const sdpo_prompts *pr, int batch,
                                 int threads, sdpo_policy **out) {
    /* max_train 1 with recompute: the evaluator never trains, keep that arena small */
    const sdpo_policy_sizes z = {pr->n, (const char *const *)pr->text, batch, 1, threads, 1};
    return sdpo_policy_spec_create(m, &z, out);
}

static sdpo_status load_weights(sdpo_policy *p, const sdpo_eval_target *x) {
    if (x->weights == SDPO_EVAL_WEIGHTS_CHECKPOINT) {
        nn_adamw opt; /* the moments are read into the registry's slots and unused */
        memset(&opt, 0, sizeof opt);
        return sdpo_checkpoint_read_params(x->path, p->params, &opt);
    }
    if (x->weights == SDPO_EVAL_WEIGHTS_LORA) return sdpo_policy_unet_load_lora(p, x->path);
    return SDPO_OK;
}

/* Makes mc's policy the target's: a new policy unless the current one has the same model and
 * the target loads weights that overwrite every trainable tensor. */
static sdpo_status ctx_prepare(model_ctx *mc, const sdpo_eval_target *x) {
    sdpo_status rc = SDPO_OK;
    const int reuse = mc->policy && x->weights != SDPO_EVAL_WEIGHTS_NONE &&
                      same_policy(&mc->model, &x->model);
    if (!reuse) {
        ctx_release(mc);
        mc->model = x->model;
        rc = policy_create(&x->model, mc->prompts, mc->sc.batch, mc->threads, &mc->policy);
        if (rc == SDPO_OK) rc = sdpo_eval_sampler_init(&mc->sampler, mc->policy, &mc->sc);
        for (int k = 0; rc == SDPO_OK && k < mc->nr; k++)
            if (mc->rw[k].per_policy)
                rc = reward_make(&mc->rw[k], mc->official_scale, mc->policy, &mc->model);
    }
    if (rc == SDPO_OK) rc = load_weights(mc->policy, x);
    if (rc != SDPO_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", sdpo_last_error());
        return sdpo_fail(rc, "%s epoch %d (%s): %s", x->method, x->epoch, x->source, msg);
    }
    return SDPO_OK;
}

static sdpo_status rewards_open(model_ctx *mc, const char *const *names,
                                const char *const *dirs, int n) {
    mc->nr = n;
    mc->rw = calloc((size_t)n, sizeof *mc->rw);
    if (!mc->rw) return sdpo_fail(SDPO_ERR_NOMEM, "eval: out of memory");
    for (int k = 0; k < n; k++) {
        mc->rw[k].name = names[k];
        mc->rw[k].dir = dirs ? dirs[k] : NULL;
        mc->rw[k].per_policy = !strcmp(names[k], "toy-mode");
        if (!mc->rw[k].per_policy) {
            sdpo_status rc = reward_make(&mc->rw[k], mc->official_scale, NULL, NULL);
            if (rc != SDPO_OK) return rc;
        }
    }
    return SDPO_OK;
}

static void ctx_close(model_ctx *mc) {
    ctx_release(mc);
    for (int k = 0; mc->rw && k < mc->nr; k++) sdpo_reward_free(mc->rw[k].r);
    free(mc->rw);
    mc->rw = NULL;
}

/* ---- text helpers -------------------------------------------------------------------- */

typedef struct {
    char *s;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    if (b->oom) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    if (b->len + (size_t)k + 1 > b->cap) {
        size_t cap = (b->len + (size_t)k + 1) * 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)k;
}

static void csv_quoted(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static const char *spacing_name(sdpo_spacing s) {
    return s == SDPO_SPACING_TRAILING ? "trailing" : "leading";
}

/* The provenance lines shared by images.csv and summary.csv. */
static void metadata(sbuf *b, const sdpo_eval_config *c, const sdpo_eval_targets *tg,
                     const model_ctx *mc, int n_prompts) {
    char git[64];
    sdpo_run_git_commit(git, sizeof git);
    sb_printf(b, "sdpo eval: seed=%llu eta=%g final_image=%s guidance=1 images_per_prompt=%d "
              "steps=", (unsigned long long)c->sampler.seed, c->sampler.eta,
              c->sampler.final_image == SDPO_FINAL_SAMPLE ? "sample" : "xhat",
              c->images_per_prompt);
    for (int i = 0; i < c->n_steps; i++) sb_printf(b, "%s%d", i ? "," : "", c->steps[i]);
    sb_printf(b, "\nsampler: DDIM with the model's scheduler (%s spacing); x_T and step noise "
              "indexed by (seed, prompt, image, step), the same for every method, epoch and "
              "step count\n", spacing_name(mc->policy->schedule.spacing));
    sb_printf(b, "prompts=%s (%d prompts)\n", c->prompts_file, n_prompts);
    for (int k = 0; k < mc->nr; k++)
        sb_printf(b, "reward %s: %s\n", mc->rw[k].name, mc->rw[k].r->scale);
    for (int i = 0; i < tg->n; i++)
        sb_printf(b, "model %s epoch %d: %s\n", tg->items[i].method, tg->items[i].epoch,
                  tg->items[i].source);
    sb_printf(b, "git_commit=%s build=%s threads=%d batch=%d", git, sdpo_run_build_type(),
              c->threads, c->sampler.batch);
}

static void write_metadata(FILE *f, const char *text) {
    for (const char *s = text; *s;) {
        const size_t k = strcspn(s, "\n");
        fprintf(f, "# %.*s\n", (int)k, s);
        s += k;
        if (*s) s++;
    }
}

/* ---- the evaluation ------------------------------------------------------------------ */

/* PNGs go under `root`, the temporary images directory (renamed to out_dir/images at the end). */
static sdpo_status save_pngs(const sdpo_eval_config *c, const char *root,
                             const sdpo_eval_target *x, int T,
                             const sdpo_policy *p, int m, const int *prompt, const int *image,
                             const float *images, uint8_t *rgb) {
    const int H = p->img_h, W = p->img_w;
    for (int b = 0; b < m; b++) {
        if (c->save_images >= 0 && prompt[b] >= c->save_images) continue;
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s/epoch-%06d/steps-%d/p%d_i%d.png", root,
                     x->method, x->epoch, T, prompt[b], image[b]) >= (int)sizeof path)
            return sdpo_fail(SDPO_ERR_ARG, "%s: image path too long", c->out_dir);
        sdpo_image_to_rgb8(H, W, images + (size_t)b * 3 * H * W, rgb);
        sdpo_status rc = sdpo_png_write(path, H, W, rgb);
        if (rc != SDPO_OK) return rc;
    }
    return SDPO_OK;
}

typedef struct {
    const sdpo_eval_config *c;
    const sdpo_prompts *prompts;
    model_ctx *mc;
    FILE *csv;
    float *images, *scores;         /* [batch, 3, H, W], [n_rewards, batch] */
    uint8_t *rgb;                   /* [H, W, 3] */
    int *prompt, *image;            /* [batch] */
    const char **text;              /* [batch] prompt strings */
    const char *img_root;           /* out_dir/.images.tmp-PID while running */
    double done, total;             /* work units: model passes + one decode, per image */
} eval_job;

/* Every image of every prompt of one target at T steps, in chunks of the sampler's batch. */
static sdpo_status eval_steps(eval_job *j, const sdpo_eval_target *x, int T) {
    const sdpo_eval_config *c = j->c;
    model_ctx *mc = j->mc;
    sdpo_policy *p = mc->policy;
    const int K = c->images_per_prompt, n = j->prompts->n * K, B = c->sampler.batch;
    sdpo_status rc = sdpo_eval_sampler_set_steps(&mc->sampler, T);
    char label[128];
    snprintf(label, sizeof label, "%s epoch %d, %d steps", x->method, x->epoch, T);
    for (int j0 = 0; rc == SDPO_OK && j0 < n; j0 += B) {
        const int m = n - j0 < B ? n - j0 : B;
        for (int b = 0; b < m; b++) {
            j->prompt[b] = (j0 + b) / K;
            j->image[b] = (j0 + b) % K;
            j->text[b] = j->prompts->text[j->prompt[b]];
        }
        rc = sdpo_eval_sample(&mc->sampler, m, j->prompt, j->image, j->images, NULL, NULL, NULL);
        for (int k = 0; rc == SDPO_OK && k < mc->nr; k++) {
            reward_slot *r = &mc->rw[k];
            float *sc = j->scores + (size_t)k * B;
            rc = r->r->score(r->r, m, p->img_h, p->img_w, j->images, j->text, sc);
            for (int b = 0; rc == SDPO_OK && b < m; b++)
                if (!isfinite(sc[b]))
                    rc = sdpo_fail(SDPO_ERR_NONFINITE, "reward %s returned a non-finite score "
                                   "for %s epoch %d, %d steps, prompt %d image %d", r->name,
                                   x->method, x->epoch, T, j->prompt[b], j->image[b]);
        }
        for (int b = 0; rc == SDPO_OK && b < m; b++)
            for (int k = 0; k < mc->nr; k++) {
                fprintf(j->csv, "%s,%d,%d,", x->method, x->epoch, j->prompt[b]);
                csv_quoted(j->csv, j->text[b]);
                fprintf(j->csv, ",%d,%d,%s,%.9g\n", j->image[b], T, mc->rw[k].name,
                        (double)j->scores[(size_t)k * B + b]);
            }
        if (rc == SDPO_OK && c->save_images != 0)
            rc = save_pngs(c, j->img_root, x, T, p, m, j->prompt, j->image, j->images, j->rgb);
        j->done += (double)(T + 1) * m;
        if (c->progress) c->progress(j->done / j->total, label, c->progress_user);
    }
    return rc;
}

static sdpo_status check_rewards(int n, const char *const *names) {
    if (n < 1) return sdpo_fail(SDPO_ERR_ARG, "eval: no reward to score with");
    for (int k = 0; k < n; k++) {
        if (!sdpo_eval_reward_known(names[k]))
            return sdpo_fail(SDPO_ERR_ARG, "unknown reward '%s' (known: %s)", names[k],
                             sdpo_eval_reward_names());
        for (int q = 0; q < k; q++)
            if (!strcmp(names[q], names[k]))
                return sdpo_fail(SDPO_ERR_ARG, "reward '%s' is listed twice", names[k]);
    }
    return SDPO_OK;
}

static sdpo_status check_config(const sdpo_eval_config *c, const sdpo_eval_targets *tg) {
    if (tg->n < 1) return sdpo_fail(SDPO_ERR_ARG, "eval: nothing to evaluate (no run or model)");
    if (c->images_per_prompt < 1 || c->images_per_prompt > SDPO_EVAL_MAX_IMAGES)
        return sdpo_fail(SDPO_ERR_ARG, "eval: images per prompt %d outside [1, %d]",
                         c->images_per_prompt, SDPO_EVAL_MAX_IMAGES);
    if (c->n_steps < 1 || c->n_steps > SDPO_EVAL_MAX_STEP_COUNTS)
        return sdpo_fail(SDPO_ERR_ARG, "eval: %d step counts outside [1, %d]", c->n_steps,
                         SDPO_EVAL_MAX_STEP_COUNTS);
    for (int i = 0; i < c->n_steps; i++)
        if (c->steps[i] < 1 || c->steps[i] > SDPO_EVAL_MAX_STEPS)
            return sdpo_fail(SDPO_ERR_ARG, "eval: step count %d outside [1, %d]", c->steps[i],
                             SDPO_EVAL_MAX_STEPS);
    if (c->threads < 1) return sdpo_fail(SDPO_ERR_ARG, "eval: %d threads", c->threads);
    return check_rewards(c->n_rewards, c->rewards);
}

/* (Re)sizes the job's image buffers for the current policy. */
static sdpo_status job_buffers(eval_job *j, size_t *img_elems) {
    const sdpo_policy *p = j->mc->policy;
    const size_t e = (size_t)3 * p->img_h * p->img_w;
    if (e == *img_elems) return SDPO_OK;
    float *im = realloc(j->images, (size_t)j->c->sampler.batch * e * sizeof(float));
    if (im) j->images = im;
    uint8_t *rgb = realloc(j->rgb, e);
    if (rgb) j->rgb = rgb;
    if (!im || !rgb) return sdpo_fail(SDPO_ERR_NOMEM, "eval: out of memory for images");
    *img_elems = e;
    return SDPO_OK;
}

sdpo_status sdpo_eval_run(const sdpo_eval_config *c, const sdpo_eval_targets *tg) {
    sdpo_status rc = check_config(c, tg);
    if (rc != SDPO_OK) return rc;
    char csv_path[PATH_MAX], sum_path[PATH_MAX];
    snprintf(csv_path, sizeof csv_path, "%s/images.csv", c->out_dir);
    snprintf(sum_path, sizeof sum_path, "%s/summary.csv", c->out_dir);
    struct stat sb;
    if (stat(csv_path, &sb) == 0)
        return sdpo_fail(SDPO_ERR_ARG, "%s already exists: %s holds an evaluation; choose "
                         "another --out", csv_path, c->out_dir);
    /* PNGs are written under a temporary directory renamed into place after the last image,
     * so a failed evaluation leaves no images/ either */
    char img_path[PATH_MAX], img_tmp[PATH_MAX];
    snprintf(img_path, sizeof img_path, "%s/images", c->out_dir);
    snprintf(img_tmp, sizeof img_tmp, "%s/.images.tmp-%ld", c->out_dir, (long)getpid());
    if (c->save_images != 0 && stat(img_path, &sb) == 0)
        return sdpo_fail(SDPO_ERR_ARG, "%s already exists: %s holds images of an evaluation; "
                         "choose another --out", img_path, c->out_dir);
    sdpo_prompts prompts = {0, NULL};
    if ((rc = sdpo_prompts_load(c->prompts_file, &prompts)) != SDPO_OK) return rc;
    if (prompts.n > SDPO_EVAL_MAX_PROMPTS) {
        rc = sdpo_fail(SDPO_ERR_ARG, "%s: %d prompts, at most %d", c->prompts_file, prompts.n,
                       SDPO_EVAL_MAX_PROMPTS);
        sdpo_prompts_free(&prompts);
        return rc;
    }
    model_ctx mc;
    memset(&mc, 0, sizeof mc);
    mc.prompts = &prompts;
    mc.sc = c->sampler;
    mc.threads = c->threads;
    mc.official_scale = c->official_scale;
    eval_job j;
    memset(&j, 0, sizeof j);
    j.c = c;
    j.prompts = &prompts;
    j.mc = &mc;
    j.img_root = img_tmp;
    size_t img_elems = 0;
    sbuf meta = {NULL, 0, 0, 0};
    sdpo_atomic_file f;
    int open = 0;
    rc = rewards_open(&mc, c->rewards, c->reward_dirs, c->n_rewards);
    if (rc == SDPO_OK) rc = ctx_prepare(&mc, &tg->items[0]);
    if (rc == SDPO_OK) {
        metadata(&meta, c, tg, &mc, prompts.n);
        if (meta.oom) rc = sdpo_fail(SDPO_ERR_NOMEM, "eval: out of memory");
    }
    const int B = c->sampler.batch;
    j.scores = malloc((size_t)c->n_rewards * B * sizeof(float));
    j.prompt = malloc((size_t)B * sizeof(int));
    j.image = malloc((size_t)B * sizeof(int));
    j.text = malloc((size_t)B * sizeof(char *));
    if (rc == SDPO_OK && (!j.scores || !j.prompt || !j.image || !j.text))
        rc = sdpo_fail(SDPO_ERR_NOMEM, "eval: out of memory");
    if (rc == SDPO_OK && (rc = sdpo_atomic_open(&f, csv_path)) == SDPO_OK) {
        open = 1;
        write_metadata(f.fp, meta.s);
        fprintf(f.fp, "method,epoch,prompt_index,prompt,image_index,steps,reward,score\n");
        j.csv = f.fp;
    }
    double per_target = 0;
    for (int i = 0; i < c->n_steps; i++) per_target += (double)(c->steps[i] + 1);
    j.total = per_target * (double)prompts.n * c->images_per_prompt * tg->n;
    for (int t = 0; rc == SDPO_OK && t < tg->n; t++) {
        if (t > 0) rc = ctx_prepare(&mc, &tg->items[t]);
        if (rc == SDPO_OK) rc = job_buffers(&j, &img_elems);
        for (int i = 0; rc == SDPO_OK && i < c->n_steps; i++)
            rc = eval_steps(&j, &tg->items[t], c->steps[i]);
    }
    if (rc == SDPO_OK && c->save_images != 0 && rename(img_tmp, img_path) != 0 && errno != ENOENT)
        rc = sdpo_fail(SDPO_ERR_IO, "cannot rename %s to %s: %s", img_tmp, img_path,
                       strerror(errno));
    if (open) {
        if (rc == SDPO_OK)
            rc = sdpo_atomic_commit(&f);
        else
            sdpo_atomic_abort(&f);
    }
    const int committed = open && rc == SDPO_OK;
    if (rc == SDPO_OK) rc = sdpo_eval_summarize(csv_path, sum_path, meta.s);
    if (rc != SDPO_OK) {
        /* leave nothing of a failed evaluation (images/ did not exist before it); keep the
         * evaluation's error message, not a clean-up's */
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", sdpo_last_error());
        if (committed) remove(csv_path);
        if (c->save_images != 0) {
            (void)sdpo_remove_tree(img_tmp);
            (void)sdpo_remove_tree(img_path);
        }
        sdpo_fail(rc, "%s", msg);
    }
    free(meta.s);
    free(j.images);
    free(j.rgb);
    free(j.scores);
    free(j.prompt);
    free(j.image);
    free(j.text);
    ctx_close(&mc);
    sdpo_prompts_free(&prompts);
    return rc;
}

/* ---- the trajectory recorder --------------------------------------------------------- */

sdpo_status sdpo_eval_record_trajectories(const sdpo_record_config *c,
                                          const sdpo_eval_target *target) {
    if (c->N < 1 || c->T < 1 || c->T > SDPO_EVAL_MAX_STEPS || c->threads < 1)
        return sdpo_fail(SDPO_ERR_ARG, "record-trajectories: N = %d, T = %d (1..%d) or %d "
                         "threads out of range", c->N, c->T, SDPO_EVAL_MAX_STEPS, c->threads);
    const char *names[1] = {c->reward};
    const char *dirs[1] = {c->reward_dir};
    sdpo_status rc = check_rewards(1, names);
    if (rc != SDPO_OK) return rc;
    sdpo_prompts prompts = {0, NULL};
    if ((rc = sdpo_prompts_load(c->prompts_file, &prompts)) != SDPO_OK) return rc;
    if ((c->N - 1) / prompts.n >= SDPO_EVAL_MAX_IMAGES || prompts.n > SDPO_EVAL_MAX_PROMPTS) {
        rc = sdpo_fail(SDPO_ERR_ARG, "record-trajectories: %d trajectories of %d prompts need "
                       "more than %d images per prompt", c->N, prompts.n, SDPO_EVAL_MAX_IMAGES);
        sdpo_prompts_free(&prompts);
        return rc;
    }
    model_ctx mc;
    memset(&mc, 0, sizeof mc);
    mc.prompts = &prompts;
    mc.sc = c->sampler;
    mc.threads = c->threads;
    mc.official_scale = c->official_scale;
    rc = rewards_open(&mc, names, dirs, 1);
    if (rc == SDPO_OK) rc = ctx_prepare(&mc, target);
    if (rc == SDPO_OK) rc = sdpo_eval_sampler_set_steps(&mc.sampler, c->T);
    if (rc != SDPO_OK) {
        ctx_close(&mc);
        sdpo_prompts_free(&prompts);
        return rc;
    }
    sdpo_policy *p = mc.policy;
    sdpo_reward *r = mc.rw[0].r;
    const int N = c->N, T = c->T, B = c->sampler.batch, P = prompts.n;
    const size_t D = p->D, img = (size_t)3 * p->img_h * p->img_w;
    const int with_logp = c->sampler.eta > 0;
    float *xhat = malloc((size_t)N * T * D * sizeof(float));
    float *reward = malloc((size_t)N * T * sizeof(float));
    float *logp = malloc((size_t)N * T * sizeof(float));
    float *final_r = malloc((size_t)N * sizeof(float));
    float *fin = malloc((size_t)B * D * sizeof(float));
    float *zbuf = malloc((size_t)B * D * sizeof(float));
    float *images = malloc((size_t)B * img * sizeof(float));
    int64_t *ts = malloc((size_t)T * sizeof(int64_t));
    int64_t *pi = malloc((size_t)N * sizeof(int64_t)), *ii = malloc((size_t)N * sizeof(int64_t));
    int *prompt = malloc((size_t)B * sizeof(int)), *image = malloc((size_t)B * sizeof(int));
    const char **text = malloc((size_t)B * sizeof(char *));
    float *scores = malloc((size_t)B * sizeof(float));
    if (!xhat || !reward || !logp || !final_r || !fin || !zbuf || !images || !ts || !pi || !ii ||
        !prompt || !image || !text || !scores)
        rc = sdpo_fail(SDPO_ERR_NOMEM, "record-trajectories: out of memory for %d x %d x %zu",
                       N, T, D);
    for (int j0 = 0; rc == SDPO_OK && j0 < N; j0 += B) {
        const int m = N - j0 < B ? N - j0 : B;
        for (int b = 0; b < m; b++) {
            prompt[b] = (j0 + b) % P;
            image[b] = (j0 + b) / P;
            text[b] = prompts.text[prompt[b]];
            pi[j0 + b] = prompt[b];
            ii[j0 + b] = image[b];
        }
        rc = sdpo_eval_sample(&mc.sampler, m, prompt, image, NULL, xhat + (size_t)j0 * T * D,
                              logp + (size_t)j0 * T, fin);
        /* i = 0 … T−1: x̂ of step i; i = T: the final sample */
        for (int i = 0; rc == SDPO_OK && i <= T; i++) {
            const float *z = fin;
            if (i < T) {
                for (int b = 0; b < m; b++)
                    memcpy(zbuf + (size_t)b * D, xhat + (((size_t)j0 + b) * T + i) * D,
                           D * sizeof(float));
                z = zbuf;
            }
            for (int r0 = 0; rc == SDPO_OK && r0 < m; r0 += p->max_batch) {
                const int k = m - r0 < p->max_batch ? m - r0 : p->max_batch;
                rc = p->decode(p, k, z + (size_t)r0 * D, images + (size_t)r0 * img);
            }
            if (rc == SDPO_OK) rc = r->score(r, m, p->img_h, p->img_w, images, text, scores);
            for (int b = 0; rc == SDPO_OK && b < m; b++) {
                if (!isfinite(scores[b]))
                    rc = sdpo_fail(SDPO_ERR_NONFINITE, "reward %s returned a non-finite score "
                                   "for trajectory %d at step %d", r->name, j0 + b, i);
                else if (i < T)
                    reward[((size_t)j0 + b) * T + i] = scores[b];
                else
                    final_r[j0 + b] = scores[b];
            }
        }
        if (c->progress && rc == SDPO_OK) {
            char label[64];
            snprintf(label, sizeof label, "%d of %d trajectories", j0 + m, N);
            c->progress((double)(j0 + m) / N, label, c->progress_user);
        }
    }
    for (int i = 0; rc == SDPO_OK && i < T; i++) ts[i] = mc.sampler.timesteps[i];
    if (rc == SDPO_OK) {
        const int64_t sx[3] = {N, T, (int64_t)D}, sr[2] = {N, T}, sn[1] = {N}, st[1] = {T};
        const sdpo_st_entry e[] = {{"xhat", SDPO_ST_F32, 3, sx, xhat},
                                   {"reward", SDPO_ST_F32, 2, sr, reward},
                                   {"final_reward", SDPO_ST_F32, 1, sn, final_r},
                                   {"timesteps", SDPO_ST_I64, 1, st, ts},
                                   {"prompt_index", SDPO_ST_I64, 1, sn, pi},
                                   {"image_index", SDPO_ST_I64, 1, sn, ii},
                                   {"logp", SDPO_ST_F32, 2, sr, logp}};
        char seed[32], eta[32], steps[16], git[64], model[SDPO_CFG_PATH_MAX + 256];
        snprintf(seed, sizeof seed, "%llu", (unsigned long long)c->sampler.seed);
        snprintf(eta, sizeof eta, "%g", c->sampler.eta);
        snprintf(steps, sizeof steps, "%d", T);
        snprintf(model, sizeof model, "%s epoch %d: %s", target->method, target->epoch,
                 target->source);
        sdpo_run_git_commit(git, sizeof git);
        const char *keys[] = {"reward", "seed", "eta", "steps", "prompts", "model", "git_commit"};
        const char *vals[] = {r->name, seed, eta, steps, c->prompts_file, model, git};
        rc = sdpo_st_write(c->out_path, e, with_logp ? 7 : 6, keys, vals, 7);
    }
    free(xhat);
    free(reward);
    free(logp);
    free(final_r);
    free(fin);
    free(zbuf);
    free(images);
    free(ts);
    free(pi);
    free(ii);
    free(prompt);
    free(image);
    free(text);
    free(scores);
    ctx_close(&mc);
    sdpo_prompts_free(&prompts);
    return rc;
}

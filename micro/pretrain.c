/* micro/pretrain.c — pretraining and export of the micro model (pretrain.h). */
#include "micro/pretrain.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "core/rng.h"
#include "core/schedule.h"
#include "micro/model.h"
#include "models/clip_text.h"
#include "models/config.h"
#include "models/model_dir.h"
#include "models/tokenizer_clip.h"
#include "models/unet.h"
#include "models/weights.h"
#include "nn/arena.h"
#include "nn/optim.h"
#include "nn/safetensors.h"
#include "rewards/image.h"
#include "trainers/checkpoint.h"
#include "trainers/policy_unet.h"
#include "trainers/run_info.h"

#define LOG_NAME "pretrain_log.csv"
#define LOG_COLUMNS "step,images,loss,grad_norm,lr,wall_s"
#define INIT_LOG_NAME "init_pretrain_log.csv"   /* the log of the weights a run started from */
#define UNET_WEIGHTS "unet/diffusion_pytorch_model.safetensors"
#define TEXT_WEIGHTS "text_encoder/model.safetensors"
/* Checkpoints kept: the newest two, so a checkpoint torn by a disk error leaves a good one. */
#define KEEP_CHECKPOINTS 2

/* The files of a micro model folder besides its weights; the last one is optional. */
static const char *const MODEL_FILES[] = {
    "model_index.json",          "unet/config.json",
    "text_encoder/config.json",  "scheduler/scheduler_config.json",
    "tokenizer/vocab.json",      "tokenizer/merges.txt",
    "tokenizer/tokenizer_config.json", "tokenizer/special_tokens_map.json"};
#define N_MODEL_FILES ((int)(sizeof MODEL_FILES / sizeof MODEL_FILES[0]))

sdpo_pretrain_config sdpo_pretrain_defaults(void) {
    sdpo_pretrain_config c;
    memset(&c, 0, sizeof c);
    c.model_dir = "data/micro/model";
    c.batch = 64;
    c.lr = 3e-4;
    c.weight_decay = 0.01;
    c.max_grad_norm = 1.0;
    c.warmup_steps = 20;
    c.save_every = 100;
    c.threads = 1;
    return c;
}

/* ---- files ------------------------------------------------------------------------------ */

/* snprintf for paths and short texts. Run and model paths are checked against PATH_MAX − 64 up
 * front (check_config, sdpo_pretrain_export), which leaves room for every suffix used here;
 * going through vsnprintf keeps -Wformat-truncation from flagging the bounded cases. */
__attribute__((format(printf, 3, 4))) static void pathf(char *out, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, n, fmt, ap);
    va_end(ap);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* FNV-1a over a file's bytes, chained into h; SDPO_OK for a missing optional file. */
static sdpo_status hash_file(const char *path, int optional, uint64_t *h) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (optional && errno == ENOENT) return SDPO_OK;
        return sdpo_fail(SDPO_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    int ch;
    while ((ch = fgetc(f)) != EOF) *h = (*h ^ (unsigned char)ch) * 1099511628211ull;
    fclose(f);
    return SDPO_OK;
}

static uint64_t fnv1a_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* ---- the model folder ------------------------------------------------------------------- */

/* Copies the configs and tokenizer of src into dst (the run's model folder). */
static sdpo_status copy_model_files(const char *src, const char *dst) {
    sdpo_status st = SDPO_OK;
    for (int i = 0; st == SDPO_OK && i < N_MODEL_FILES; i++) {
        char from[PATH_MAX], to[PATH_MAX];
        pathf(from, sizeof from, "%s/%s", src, MODEL_FILES[i]);
        pathf(to, sizeof to, "%s/%s", dst, MODEL_FILES[i]);
        st = sdpo_copy_file(from, to, i == N_MODEL_FILES - 1);
    }
    return st;
}

/* ---- the training state ----------------------------------------------------------------- */

typedef struct {
    sdpo_pretrain_config c;
    char model[PATH_MAX];          /* OUT/model */
    char log_path[PATH_MAX];
    sdpo_unet unet;
    int unet_ready;
    nn_params tparams;
    sdpo_clip_text_config tcfg;
    sdpo_clip_text clip;
    int clip_ready;
    sdpo_clip_tokenizer tok;
    int tok_ready;
    sdpo_schedule sched;
    nn_ctx ctx;
    nn_arena arena, tarena;
    nn_adamw opt;
    int S, L, Dc;
    size_t D;                      /* elements of one image */
    uint64_t noise_blocks;         /* RNG blocks owned by one image (pretrain.h) */
    float *x0, *eps, *xt, *target, *out, *dout, *tf, *ehs;
    int64_t *ids;
    char (*captions)[SDPO_WORLD_CAPTION_MAX];
    char *config_json;
    uint64_t hash;
    double flops;
    FILE *log;
    int anneal_start, anneal_steps; /* the lr anneal (pretrain.h); anneal_steps 0: none */
    int init;                       /* the run started from trained weights (init_weights) */
    char init_hash[32];             /* their FNV-1a, hex (settings key "init_weights_fnv1a") */
} pretrain;

static void pretrain_free(pretrain *P) {
    if (P->log) fclose(P->log);
    if (P->unet_ready) sdpo_unet_free(&P->unet);
    if (P->clip_ready) sdpo_clip_text_unbind(&P->clip);
    nn_params_free(&P->tparams);
    if (P->tok_ready) sdpo_clip_tokenizer_free(&P->tok);
    nn_arena_free(&P->arena);
    nn_arena_free(&P->tarena);
    free(P->x0), free(P->eps), free(P->xt), free(P->target), free(P->out), free(P->dout);
    free(P->tf), free(P->ehs), free(P->ids), free(P->captions);
    free(P->config_json);
}

static sdpo_status world_data(const pretrain *P, uint64_t index,
                              char caption[SDPO_WORLD_CAPTION_MAX], float *chw) {
    sdpo_scene sc;
    sdpo_status st = sdpo_world_sample(P->c.world, P->c.seed, index,
                                       P->c.has_mix ? &P->c.mix : NULL, &sc, chw);
    if (st == SDPO_OK) memcpy(caption, sc.caption, SDPO_WORLD_CAPTION_MAX);
    return st;
}

/* The run settings as canonical JSON (sorted keys); its FNV-1a hash goes into every
 * checkpoint. The model's config and tokenizer files enter as one hash. */
static sdpo_status make_config_json(pretrain *P) {
    uint64_t mh = 1469598103934665603ull;
    sdpo_status st = SDPO_OK;
    for (int i = 0; st == SDPO_OK && i < N_MODEL_FILES; i++) {
        char path[PATH_MAX];
        pathf(path, sizeof path, "%s/%s", P->model, MODEL_FILES[i]);
        st = hash_file(path, i == N_MODEL_FILES - 1, &mh);
    }
    if (st != SDPO_OK) return st;
    char seed[32], mhex[32];
    pathf(seed, sizeof seed, "%" PRIu64, P->c.seed);
    pathf(mhex, sizeof mhex, "%016" PRIx64, mh);
    json_t *o = json_object();
    json_object_set_new(o, "format", json_string("sdpo-pretrain-micro"));
    json_object_set_new(o, "seed", json_string(seed));
    json_object_set_new(o, "batch", json_integer(P->c.batch));
    json_object_set_new(o, "lr", json_real(P->c.lr));
    json_object_set_new(o, "weight_decay", json_real(P->c.weight_decay));
    json_object_set_new(o, "max_grad_norm", json_real(P->c.max_grad_norm));
    json_object_set_new(o, "warmup_steps", json_integer(P->c.warmup_steps));
    json_object_set_new(o, "model_files_fnv1a", json_string(mhex));
    /* the two optional settings enter only when used, so runs from before them keep their hash */
    if (P->init) json_object_set_new(o, "init_weights_fnv1a", json_string(P->init_hash));
    if (P->c.has_mix) {
        json_t *m = json_array();
        for (int k = 0; k < SDPO_SCENE_N_KINDS; k++)
            json_array_append_new(m, json_real(P->c.mix.weight[k]));
        json_object_set_new(o, "mix", m);
    }
    P->config_json = json_dumps(o, JSON_SORT_KEYS | JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    json_decref(o);
    if (!P->config_json) return sdpo_fail(SDPO_ERR_NOMEM, "pretrain: out of memory");
    P->hash = fnv1a_str(P->config_json);
    return SDPO_OK;
}

/* Copies the checkpoint an anneal starts from to OUT/pre-anneal/ (outside checkpoints/, so
 * rotation never deletes it): the constant-lr state a later run can branch from. */
static sdpo_status keep_pre_anneal(const pretrain *P, const char *ckpt) {
    static const char *const files[] = {"weights.safetensors", "optimizer.safetensors",
                                        "state.json", "config.json", "pretrain.json"};
    const char *name = strrchr(ckpt, '/');
    char dir[PATH_MAX], from[PATH_MAX], to[PATH_MAX];
    pathf(dir, sizeof dir, "%s/pre-anneal/%s", P->c.out_dir, name ? name + 1 : ckpt);
    sdpo_status st = sdpo_mkdir_p(dir);
    for (size_t i = 0; st == SDPO_OK && i < sizeof files / sizeof files[0]; i++) {
        pathf(from, sizeof from, "%s/%s", ckpt, files[i]);
        pathf(to, sizeof to, "%s/%s", dir, files[i]);
        st = sdpo_copy_file(from, to, 0);
    }
    return st;
}

/* A fresh run from trained weights: hashes the source's UNet and text-encoder weights (the
 * settings key) and keeps its training log beside the run's (export ships it). */
static sdpo_status init_from_weights(pretrain *P) {
    static const char *const files[] = {UNET_WEIGHTS, TEXT_WEIGHTS};
    uint64_t h = 1469598103934665603ull;
    char path[PATH_MAX], to[PATH_MAX];
    for (int i = 0; i < 2; i++) {
        pathf(path, sizeof path, "%s/%s", P->c.model_dir, files[i]);
        sdpo_status st = hash_file(path, 0, &h);
        if (st != SDPO_OK) return st;
    }
    pathf(P->init_hash, sizeof P->init_hash, "%016" PRIx64, h);
    P->init = 1;
    /* the provenance kept is one level deep: a source that was itself continued from other
     * weights would lose its first run's log (continue that run with --resume instead) */
    pathf(path, sizeof path, "%s/" INIT_LOG_NAME, P->c.model_dir);
    if (file_exists(path))
        return sdpo_fail(SDPO_ERR_ARG, "%s: the source was itself started from trained weights; "
                         "a second continuation would drop that log (resume the run that made "
                         "it instead)", path);
    pathf(path, sizeof path, "%s/" LOG_NAME, P->c.model_dir);
    pathf(to, sizeof to, "%s/" INIT_LOG_NAME, P->c.out_dir);
    return file_exists(path) ? sdpo_copy_file(path, to, 0) : SDPO_OK;
}

/* A resumed run started from trained weights when its settings hold their hash. */
static sdpo_status read_init_setting(pretrain *P, const char *ckpt) {
    char path[PATH_MAX];
    pathf(path, sizeof path, "%s/config.json", ckpt);
    json_error_t err;
    json_t *o = json_load_file(path, 0, &err);
    if (!o) return sdpo_fail(SDPO_ERR_FORMAT, "%s: cannot read the run's settings: %s", path, err.text);
    json_t *h = json_object_get(o, "init_weights_fnv1a");
    sdpo_status st = SDPO_OK;
    if (h && (!json_is_string(h) || strlen(json_string_value(h)) != 16))
        st = sdpo_fail(SDPO_ERR_FORMAT, "%s: field 'init_weights_fnv1a' must be 16 hex digits", path);
    else if (h) {
        P->init = 1;
        pathf(P->init_hash, sizeof P->init_hash, "%s", json_string_value(h));
    }
    json_decref(o);
    return st;
}

/* A resumed run must have the settings it was started with: names the first that differs. */
static sdpo_status check_resume_config(const pretrain *P, const char *ckpt) {
    char path[PATH_MAX];
    pathf(path, sizeof path, "%s/config.json", ckpt);
    json_error_t err;
    json_t *old = json_load_file(path, 0, &err), *now = json_loads(P->config_json, 0, &err);
    sdpo_status st = SDPO_OK;
    if (!old || !now) {
        st = sdpo_fail(SDPO_ERR_FORMAT, "%s: cannot read the run's settings", path);
    } else {
        const char *key;
        json_t *v;
        json_object_foreach(now, key, v) {
            json_t *w = json_object_get(old, key);
            if (w && json_equal(v, w)) continue;
            char *a = w ? json_dumps(w, JSON_ENCODE_ANY) : NULL, *b = json_dumps(v, JSON_ENCODE_ANY);
            st = sdpo_fail(SDPO_ERR_ARG, "%s: the run was started with %s = %s, this resume has "
                           "%s (pass the run's settings, or start a new --out)", path, key,
                           a ? a : "(absent)", b ? b : "?");
            free(a), free(b);
            break;
        }
        json_object_foreach(old, key, v) {
            if (st != SDPO_OK || json_object_get(now, key)) continue;
            char *a = json_dumps(v, JSON_ENCODE_ANY);
            st = sdpo_fail(SDPO_ERR_ARG, "%s: the run was started with %s = %s, this resume does "
                           "not set it (pass the run's settings, or start a new --out)", path, key,
                           a ? a : "?");
            free(a);
        }
    }
    json_decref(old);
    json_decref(now);
    return st;
}

static sdpo_status load_model(pretrain *P) {
    char path[PATH_MAX];
    sdpo_model_dir md;
    sdpo_status st = sdpo_model_dir_open(P->model, &md);
    if (st != SDPO_OK) return st;
    if (sdpo_model_dir_find(&md, "vae"))
        st = sdpo_fail(SDPO_ERR_FORMAT, "%s: lists a vae, but pretrain-micro trains pixel-space "
                       "models only", md.index_path);
    sdpo_model_dir_close(&md);
    if (st != SDPO_OK) return st;
    sdpo_unet_config ucfg;
    pathf(path, sizeof path, "%s/unet/config.json", P->model);
    if ((st = sdpo_unet_config_load(path, &ucfg))) return st;
    if (ucfg.in_channels != 3 || ucfg.out_channels != 3)
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: a pixel-space UNet takes and predicts 3 channels, "
                         "not %d and %d", path, ucfg.in_channels, ucfg.out_channels);
    P->S = ucfg.sample_size;
    if (!P->c.data && P->S != SDPO_WORLD_SIZE)
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: key 'sample_size' is %d, but the world's scenes "
                         "are %d×%d", path, P->S, SDPO_WORLD_SIZE, SDPO_WORLD_SIZE);
    P->D = (size_t)3 * P->S * P->S;
    P->noise_blocks = (P->D + 3) / 4 + 4;
    pathf(path, sizeof path, "%s/scheduler/scheduler_config.json", P->model);
    if ((st = sdpo_ddim_schedule_load(path, &P->sched))) return st;
    pathf(path, sizeof path, "%s/tokenizer", P->model);
    if ((st = sdpo_clip_tokenizer_load(path, &P->tok))) return st;
    P->tok_ready = 1;
    sdpo_config tc;
    pathf(path, sizeof path, "%s/text_encoder/config.json", P->model);
    if ((st = sdpo_config_load(path, &tc))) return st;
    st = sdpo_clip_text_config_load(&tc, &P->tcfg);
    sdpo_config_free(&tc);
    if (st != SDPO_OK) return st;
    if (P->tcfg.vocab_size != P->tok.n_vocab)
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: key 'vocab_size' is %d, the tokenizer has %d "
                         "tokens", path, P->tcfg.vocab_size, P->tok.n_vocab);
    if (P->tok.max_length > P->tcfg.max_positions)
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: max_position_embeddings %d < the tokenizer's "
                         "model_max_length %d", path, P->tcfg.max_positions, P->tok.max_length);
    if (P->tcfg.hidden_size != ucfg.cross_attention_dim)
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: hidden_size %d is not the UNet's "
                         "cross_attention_dim %d", path, P->tcfg.hidden_size,
                         ucfg.cross_attention_dim);
    P->L = P->tok.max_length;
    P->Dc = P->tcfg.hidden_size;

    /* inits: text encoder, then UNet, from one PARAM_INIT stream — or, for a run started from
     * trained weights, both from the folder (fresh: the source; resumed: OUT/model, where the
     * text encoder was saved at the start; the checkpoint then overwrites the UNet) */
    const char *from = P->c.resume ? P->model : P->c.model_dir;
    sdpo_rng r;
    sdpo_rng_init(&r, P->c.seed, SDPO_STREAM_PARAM_INIT);
    nn_params_init(&P->tparams);
    if ((st = sdpo_clip_text_register(&P->tparams, &P->tcfg, &sdpo_clip_text_layout_sd)) ||
        (st = nn_params_finalize(&P->tparams)))
        return st;
    if (P->init) {
        pathf(path, sizeof path, "%s/" TEXT_WEIGHTS, from);
        st = sdpo_weights_load(&P->tparams, path, NULL);
    } else {
        st = sdpo_micro_text_encoder_init(&P->tparams, &P->tcfg, &r);
    }
    if (st || (st = sdpo_clip_text_bind(&P->clip, &P->tparams, &P->tcfg, &sdpo_clip_text_layout_sd)))
        return st;
    P->clip_ready = 1;
    sdpo_unet_options opt = sdpo_unet_options_default();
    opt.lora_rank = 0;
    opt.train_base = 1;
    if ((st = sdpo_unet_init(&P->unet, &ucfg, &opt))) return st;
    P->unet_ready = 1;
    if ((st = sdpo_unet_finalize(&P->unet))) return st;
    if (P->init && !P->c.resume) {
        pathf(path, sizeof path, "%s/" UNET_WEIGHTS, from);
        st = sdpo_unet_load_weights(&P->unet, path);
    } else {
        st = sdpo_micro_unet_init(&P->unet, &r);
    }
    if (st != SDPO_OK) return st;
    P->flops = sdpo_micro_unet_flops(&ucfg, P->S, P->S, P->L);

    const int B = P->c.batch;
    const sdpo_unet_shape shape = {B, P->S, P->S, P->L};
    size_t bytes;
    if ((st = sdpo_unet_arena_bytes(&P->unet, &P->ctx, SDPO_UNET_TRAIN, &shape, &bytes)) ||
        (st = nn_arena_init(&P->arena, bytes)) ||
        (st = nn_arena_init(&P->tarena, sdpo_clip_text_arena_bytes(&P->ctx, &P->tcfg, B, P->L))))
        return st;
    const size_t n = (size_t)B * P->D;
    P->x0 = malloc(n * sizeof(float));
    P->eps = malloc(n * sizeof(float));
    P->xt = malloc(n * sizeof(float));
    P->target = malloc(n * sizeof(float));
    P->out = malloc(n * sizeof(float));
    P->dout = malloc(n * sizeof(float));
    P->tf = malloc((size_t)B * sizeof(float));
    P->ehs = malloc((size_t)B * P->L * P->Dc * sizeof(float));
    P->ids = malloc((size_t)B * P->L * sizeof(int64_t));
    P->captions = malloc((size_t)B * sizeof *P->captions);
    if (!P->x0 || !P->eps || !P->xt || !P->target || !P->out || !P->dout || !P->tf || !P->ehs ||
        !P->ids || !P->captions)
        return sdpo_fail(SDPO_ERR_NOMEM, "pretrain: out of memory for a batch of %d", B);
    return SDPO_OK;
}

/* ---- the log ------------------------------------------------------------------------------ */

static sdpo_status log_create(pretrain *P) {
    sdpo_atomic_file f;
    sdpo_status st = sdpo_atomic_open(&f, P->log_path);
    if (st != SDPO_OK) return st;
    char commit[64];
    sdpo_run_git_commit(commit, sizeof commit);
    fprintf(f.fp, "# sdpo pretrain-micro: full-parameter pretraining of the micro model (issue #8)\n");
    fprintf(f.fp, "# command: %s\n", P->c.command ? P->c.command : "(library call)");
    fprintf(f.fp, "# git_commit: %s\n# build: %s\n# threads: %d\n", commit, sdpo_run_build_type(),
            P->c.threads);
    fprintf(f.fp, "# seed: %" PRIu64 "\n# batch: %d\n# lr: %.9g\n# warmup_steps: %d\n"
            "# weight_decay: %.9g\n# max_grad_norm: %.9g\n", P->c.seed, P->c.batch, P->c.lr,
            P->c.warmup_steps, P->c.weight_decay, P->c.max_grad_norm);
    fprintf(f.fp, "# model: %s (from %s)\n", P->model, P->c.model_dir);
    if (P->init)
        fprintf(f.fp, "# init: the trained UNet and text-encoder weights of %s (FNV-1a %s; its "
                "log is " INIT_LOG_NAME ")\n", P->c.model_dir, P->init_hash);
    if (P->c.has_mix) {
        fprintf(f.fp, "# mix:");
        for (int k = 0; k < SDPO_SCENE_N_KINDS; k++)
            fprintf(f.fp, " %s=%.6g", sdpo_world_kind_name((sdpo_scene_kind)k), P->c.mix.weight[k]);
        fprintf(f.fp, "\n");
    }
    fprintf(f.fp, "# prediction_type: %s\n", P->sched.prediction == SDPO_PRED_V ? "v_prediction"
                                                                                 : "epsilon");
    fprintf(f.fp, "# unet_params: %zu\n# text_encoder_params: %zu (frozen)\n",
            sdpo_unet_param_count(&P->unet), P->tparams.n_elems);
    fprintf(f.fp, "# unet_flops_per_forward: %.6g (one %dx%d sample, %d text tokens)\n",
            P->flops, P->S, P->S, P->L);
    fprintf(f.fp, "%s\n", LOG_COLUMNS);
    return sdpo_atomic_commit(&f);
}

/* Keeps the '#' lines, the header and the complete rows of steps ≤ last_step; appends note. */
static sdpo_status log_copy_upto(const char *path, const char *out, int last_step,
                                 const char *note) {
    FILE *in = fopen(path, "r");
    if (!in) return sdpo_fail(SDPO_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    sdpo_atomic_file f;
    sdpo_status st = sdpo_atomic_open(&f, out);
    if (st != SDPO_OK) {
        fclose(in);
        return st;
    }
    char line[4096];
    int header_seen = 0;
    while (fgets(line, sizeof line, in)) {
        const size_t n = strlen(line);
        if (n == 0 || line[n - 1] != '\n') break;   /* a torn last line */
        if (line[0] == '#') {
            fputs(line, f.fp);
        } else if (!header_seen) {
            header_seen = 1;
            fputs(line, f.fp);
        } else {
            char *end;
            const long step = strtol(line, &end, 10);
            if (end != line && *end == ',' && step <= last_step) fputs(line, f.fp);
        }
    }
    fclose(in);
    if (!header_seen) {
        sdpo_atomic_abort(&f);
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: no column header", path);
    }
    if (note) fprintf(f.fp, "# %s\n", note);
    return sdpo_atomic_commit(&f);
}

static sdpo_status log_truncate(const char *path, int last_step, const char *note) {
    return log_copy_upto(path, path, last_step, note);
}

/* ---- one optimizer step ----------------------------------------------------------------- */

void sdpo_pretrain_target(const sdpo_schedule *s, int t, size_t D, const float *x0,
                          const float *eps, float *x_t, float *target) {
    /* diffusers add_noise / get_velocity: square roots of the float32 ᾱ_t */
    const double ac = s->alphas_cumprod[t], a = sqrt(ac), b = sqrt(1.0 - ac);
    const int v_pred = s->prediction == SDPO_PRED_V;
    for (size_t d = 0; d < D; d++) {
        x_t[d] = (float)(a * x0[d] + b * eps[d]);
        target[d] = v_pred ? (float)(a * eps[d] - b * x0[d]) : eps[d];
    }
}

double sdpo_pretrain_mse(size_t n, const float *out, const float *target, float *dout) {
    const double inv = 1.0 / (double)n;
    double sum = 0.0;
    for (size_t j = 0; j < n; j++) {
        const double diff = (double)out[j] - (double)target[j];
        sum += diff * diff;
        dout[j] = (float)(2.0 * diff * inv);
    }
    return sum * inv;
}

static sdpo_status train_step(pretrain *P, int step, double *loss_out, float *gnorm_out,
                              double *lr_out) {
    const int B = P->c.batch;
    const size_t D = P->D;
    const uint64_t base = (uint64_t)step * (uint64_t)B;
    sdpo_status st = SDPO_OK;
    for (int i = 0; st == SDPO_OK && i < B; i++) {
        if (P->c.data)
            st = P->c.data(P->c.data_user, P->c.seed, base + (uint64_t)i, P->captions[i],
                           P->x0 + (size_t)i * D);
        else
            st = world_data(P, base + (uint64_t)i, P->captions[i], P->x0 + (size_t)i * D);
        if (st == SDPO_OK)
            st = sdpo_clip_tokenize(&P->tok, P->captions[i], P->ids + (size_t)i * P->L, NULL, NULL);
    }
    if (st == SDPO_OK)
        st = sdpo_clip_text_forward(&P->ctx, &P->clip, &P->tarena, P->ids, B, P->L,
                                    &sdpo_clip_text_last_hidden, P->ehs, NULL, NULL);
    if (st != SDPO_OK) return st;
    for (int i = 0; i < B; i++) {
        const uint64_t k = base + (uint64_t)i;
        sdpo_rng r;
        sdpo_rng_init(&r, P->c.seed, SDPO_STREAM_INIT_NOISE);
        r.block = k * P->noise_blocks;
        float *e = P->eps + (size_t)i * D;
        sdpo_rng_normal_fill(&r, e, D);
        sdpo_rng_init(&r, P->c.seed, SDPO_STREAM_INIT_NOISE);
        r.block = k * P->noise_blocks + (D + 3) / 4;
        const int t = (int)sdpo_rng_below(&r, (uint32_t)P->sched.num_train_timesteps);
        P->tf[i] = (float)t;
        sdpo_pretrain_target(&P->sched, t, D, P->x0 + (size_t)i * D, e, P->xt + (size_t)i * D,
                             P->target + (size_t)i * D);
    }
    const sdpo_unet_shape shape = {B, P->S, P->S, P->L};
    if ((st = sdpo_unet_forward(&P->unet, &P->ctx, &P->arena, SDPO_UNET_TRAIN, &shape, P->xt,
                                P->tf, P->ehs, P->out)))
        return st;
    const double loss = sdpo_pretrain_mse((size_t)B * D, P->out, P->target, P->dout);
    nn_params *prm = &P->unet.params;
    nn_zero_grad(&P->ctx, prm->grads, prm->n_trainable);
    if ((st = sdpo_unet_backward(&P->unet, &P->ctx, P->dout, NULL, NULL))) return st;
    float gnorm;
    st = nn_clip_grad_norm(&P->ctx, prm->grads, prm->n_trainable, (float)P->c.max_grad_norm, &gnorm);
    if (st != SDPO_OK || !isfinite(loss))
        return sdpo_fail(SDPO_ERR_NONFINITE, "pretrain: step %d: the loss (%g) or gradient norm "
                         "(%g) is not finite; the newest checkpoint holds the last good state",
                         step + 1, loss, (double)gnorm);
    double lr = P->c.warmup_steps > 0 && step < P->c.warmup_steps
                    ? P->c.lr * (double)(step + 1) / (double)P->c.warmup_steps
                    : P->c.lr;
    if (P->anneal_steps > 0 && step >= P->anneal_start)
        lr *= (double)(P->anneal_start + P->anneal_steps - step) / (double)(P->anneal_steps + 1);
    P->opt.cfg.lr = lr;
    nn_adamw_step_params(&P->ctx, &P->opt, prm);
    *loss_out = loss;
    *gnorm_out = gnorm;
    *lr_out = lr;
    return SDPO_OK;
}

/* ---- checkpoints ------------------------------------------------------------------------ */

typedef struct {
    double wall_s;
    int anneal_start, anneal_steps;     /* anneal_steps 0: none */
} ckpt_extra;

static sdpo_status write_extra(void *user, const char *dir) {
    const ckpt_extra *e = user;
    char path[PATH_MAX];
    pathf(path, sizeof path, "%s/pretrain.json", dir);
    sdpo_atomic_file f;
    sdpo_status st = sdpo_atomic_open(&f, path);
    if (st != SDPO_OK) return st;
    fprintf(f.fp, "{\n  \"wall_s\": %.17g", e->wall_s);
    if (e->anneal_steps > 0)
        fprintf(f.fp, ",\n  \"anneal_start\": %d,\n  \"anneal_steps\": %d", e->anneal_start,
                e->anneal_steps);
    fprintf(f.fp, "\n}\n");
    return sdpo_atomic_commit(&f);
}

/* pretrain.json of a checkpoint; the anneal fields are absent before an anneal began. */
static sdpo_status read_extra(const char *dir, ckpt_extra *e) {
    char path[PATH_MAX];
    pathf(path, sizeof path, "%s/pretrain.json", dir);
    json_error_t err;
    json_t *o = json_load_file(path, 0, &err);
    json_t *w = o ? json_object_get(o, "wall_s") : NULL;
    json_t *a0 = o ? json_object_get(o, "anneal_start") : NULL;
    json_t *k = o ? json_object_get(o, "anneal_steps") : NULL;
    sdpo_status st = SDPO_OK;
    memset(e, 0, sizeof *e);
    if (!json_is_number(w))
        st = sdpo_fail(SDPO_ERR_FORMAT, "%s: field 'wall_s' is missing", path);
    else if (!a0 != !k || (k && (!json_is_integer(a0) || !json_is_integer(k) ||
                                 json_integer_value(a0) < 0 || json_integer_value(k) < 1 ||
                                 json_integer_value(k) > INT_MAX - json_integer_value(a0))))
        st = sdpo_fail(SDPO_ERR_FORMAT, "%s: fields 'anneal_start' and 'anneal_steps' must be "
                       "given together, as integers >= 0 and >= 1", path);
    if (st == SDPO_OK) {
        e->wall_s = json_number_value(w);
        if (k) {
            e->anneal_start = (int)json_integer_value(a0);
            e->anneal_steps = (int)json_integer_value(k);
        }
    }
    json_decref(o);
    return st;
}

static sdpo_status save_checkpoint(pretrain *P, int step, long long images, double wall_s) {
    sdpo_ckpt_state cs;
    memset(&cs, 0, sizeof cs);
    cs.epoch = step;
    cs.samples_seen = images;
    cs.config_hash = P->hash;
    for (int s = 1; s < SDPO_STREAM_COUNT; s++) sdpo_rng_init(&cs.rng[s], P->c.seed, (uint32_t)s);
    ckpt_extra extra = {wall_s, P->anneal_start, P->anneal_steps};
    char written[PATH_MAX], path[PATH_MAX];
    if (P->log) {
        fflush(P->log);
        fsync(fileno(P->log));
    }
    sdpo_status st = sdpo_checkpoint_write(P->c.out_dir, P->config_json, &P->unet.params, &P->opt,
                                           &cs, NULL, write_extra, &extra, KEEP_CHECKPOINTS,
                                           written, sizeof written);
    pathf(path, sizeof path, "%s/" UNET_WEIGHTS, P->model);
    if (st == SDPO_OK) st = sdpo_micro_params_save(&P->unet.params, path);
    return st;
}

/* ---- the run ------------------------------------------------------------------------------ */

static sdpo_status check_config(const sdpo_pretrain_config *c) {
    if (!c->out_dir || !*c->out_dir) return sdpo_fail(SDPO_ERR_ARG, "pretrain: no output directory");
    if (!c->resume && (!c->model_dir || !*c->model_dir))
        return sdpo_fail(SDPO_ERR_ARG, "pretrain: no model folder");
    if (c->batch < 1 || c->threads < 1 || c->warmup_steps < 0 || c->save_every < 0 ||
        c->max_images < 0 || !(c->max_minutes >= 0))
        return sdpo_fail(SDPO_ERR_ARG, "pretrain: batch %d, threads %d, warm-up %d, save-every %d, "
                         "images %lld, minutes %g: need batch, threads >= 1 and the rest >= 0",
                         c->batch, c->threads, c->warmup_steps, c->save_every, c->max_images,
                         c->max_minutes);
    if (c->anneal_steps < 0 || c->anneal_steps > 100000000)
        return sdpo_fail(SDPO_ERR_ARG, "pretrain: anneal steps %d outside [0, 1e8]", c->anneal_steps);
    if (!(c->lr > 0) || !(c->weight_decay >= 0) || !(c->max_grad_norm > 0))
        return sdpo_fail(SDPO_ERR_ARG, "pretrain: lr %g, weight decay %g, max grad norm %g: need "
                         "lr > 0, weight decay >= 0, max grad norm > 0", c->lr, c->weight_decay,
                         c->max_grad_norm);
    if (!c->data && !c->world)
        return sdpo_fail(SDPO_ERR_ARG, "pretrain: neither a world nor a data source");
    if (c->init_weights && c->resume)
        return sdpo_fail(SDPO_ERR_ARG, "pretrain: trained initial weights start a run; a resumed "
                         "run has its own");
    if (c->has_mix) {
        double total = 0;
        for (int k = 0; k < SDPO_SCENE_N_KINDS; k++) {
            if (!(c->mix.weight[k] >= 0) || !isfinite(c->mix.weight[k]))
                return sdpo_fail(SDPO_ERR_ARG, "pretrain: mix weight of %s is %g, not a finite "
                                 "weight >= 0", sdpo_world_kind_name((sdpo_scene_kind)k),
                                 (double)c->mix.weight[k]);
            total += c->mix.weight[k];
        }
        if (!(total > 0)) return sdpo_fail(SDPO_ERR_ARG, "pretrain: the mix weights are all 0");
    }
    if (strlen(c->out_dir) + 64 >= PATH_MAX)
        return sdpo_fail(SDPO_ERR_ARG, "%.64s...: the output path is too long", c->out_dir);
    return SDPO_OK;
}

static sdpo_status start(pretrain *P, int *step, long long *images, double *wall_s) {
    const sdpo_pretrain_config *c = &P->c;
    char ckpt[PATH_MAX], path[PATH_MAX];
    sdpo_checkpoint_clean_tmp(c->out_dir);
    const int have = sdpo_checkpoint_latest(c->out_dir, ckpt, sizeof ckpt) == SDPO_OK;
    sdpo_clear_error();
    if (!c->resume && have)
        return sdpo_fail(SDPO_ERR_ARG, "%s: already holds a pretraining run (%s); resume it or "
                         "choose another output directory", c->out_dir, ckpt);
    if (c->resume && !have) return sdpo_checkpoint_latest(c->out_dir, ckpt, sizeof ckpt);
    sdpo_status st = SDPO_OK;
    if (!c->resume) {
        if ((st = sdpo_mkdir_p(c->out_dir)) || (st = copy_model_files(c->model_dir, P->model)))
            return st;
        if (c->init_weights && (st = init_from_weights(P))) return st;
    } else if ((st = read_init_setting(P, ckpt))) {
        return st;
    }
    if ((st = load_model(P)) || (st = make_config_json(P))) return st;
    const nn_adamw_config acfg = {c->lr, 0.9, 0.999, 1e-8, c->weight_decay};
    nn_adamw_init(&P->opt, &acfg);
    char commit[64], note[PATH_MAX + 256];
    sdpo_run_git_commit(commit, sizeof commit);
    if (!c->resume) {
        *step = 0;
        *images = 0;
        *wall_s = 0;
        pathf(path, sizeof path, "%s/" TEXT_WEIGHTS, P->model);
        if ((st = sdpo_micro_params_save(&P->tparams, path)) || (st = log_create(P))) return st;
        P->anneal_steps = c->anneal_steps;
    } else {
        sdpo_ckpt_state cs;
        if ((st = check_resume_config(P, ckpt)) || (st = sdpo_checkpoint_read_state(ckpt, &cs)))
            return st;
        if (cs.config_hash != P->hash)
            return sdpo_fail(SDPO_ERR_FORMAT, "%s: the run's settings hash differs from this "
                             "resume's", ckpt);
        ckpt_extra extra;
        if ((st = sdpo_checkpoint_read_params(ckpt, &P->unet.params, &P->opt)) ||
            (st = read_extra(ckpt, &extra)))
            return st;
        *wall_s = extra.wall_s;
        *step = cs.epoch;
        *images = cs.samples_seen;
        if (extra.anneal_steps > 0 && c->anneal_steps > 0)
            return sdpo_fail(SDPO_ERR_ARG, "%s: the run is annealing already (from step %d over "
                             "%d steps); resume without --anneal-steps to finish it", ckpt,
                             extra.anneal_start, extra.anneal_steps);
        P->anneal_start = extra.anneal_steps > 0 ? extra.anneal_start : *step;
        P->anneal_steps = extra.anneal_steps > 0 ? extra.anneal_steps : c->anneal_steps;
        if (extra.anneal_steps == 0 && c->anneal_steps > 0 && (st = keep_pre_anneal(P, ckpt)))
            return st;
        pathf(note, sizeof note, "resumed at step %d: %s (git_commit %s, threads %d)", *step,
                 c->command ? c->command : "(library call)", commit, c->threads);
        if ((st = log_truncate(P->log_path, *step, note))) return st;
    }
    if (!(P->log = fopen(P->log_path, "a")))
        return sdpo_fail(SDPO_ERR_IO, "%s: cannot append: %s", P->log_path, strerror(errno));
    return SDPO_OK;
}

sdpo_status sdpo_pretrain_run(const sdpo_pretrain_config *c, sdpo_pretrain_result *res) {
    memset(res, 0, sizeof *res);
    res->loss = NAN;
    sdpo_status st = check_config(c);
    if (st != SDPO_OK) return st;
    pretrain P;
    memset(&P, 0, sizeof P);
    P.c = *c;
    P.ctx = (nn_ctx){NN_BACKEND_CPU, c->threads, NULL};
    pathf(P.model, sizeof P.model, "%s/model", c->out_dir);
    pathf(P.log_path, sizeof P.log_path, "%s/" LOG_NAME, c->out_dir);
    int step = 0, saved = -1;
    long long images = 0;
    double wall0 = 0, t0 = now_s(), loss = NAN;
    st = start(&P, &step, &images, &wall0);
    saved = step;
    const long long images0 = images;
    const int step0 = step;
    res->flops_per_forward = P.flops;
    res->unet_params = P.unet_ready ? (long long)sdpo_unet_param_count(&P.unet) : 0;
    long long sitting_images = 0;
    for (;;) {
        if (st != SDPO_OK) break;
        const double sitting = now_s() - t0;
        if ((c->stop && *c->stop) || (c->max_images > 0 && images >= c->max_images) ||
            (c->max_minutes > 0 && sitting >= 60.0 * c->max_minutes) ||
            (P.anneal_steps > 0 && step >= P.anneal_start + P.anneal_steps))
            break;
        float gnorm = 0.0f;
        double lr = 0.0;
        if ((st = train_step(&P, step, &loss, &gnorm, &lr))) break;
        step++;
        images += c->batch;
        sitting_images += c->batch;
        const double now = now_s() - t0;
        fprintf(P.log, "%d,%lld,%.9g,%.9g,%.9g,%.3f\n", step, images, loss, (double)gnorm, lr,
                wall0 + now);
        fflush(P.log);
        if (c->save_every > 0 && step % c->save_every == 0) {
            if ((st = save_checkpoint(&P, step, images, wall0 + now_s() - t0))) break;
            saved = step;
        }
        if (c->progress) {
            sdpo_pretrain_progress pr = {step, images, loss, lr, wall0 + now, now,
                                         now > 0 ? sitting_images / now : 0, 0};
            if (c->max_images > images0)
                pr.fraction = (double)(images - images0) / (double)(c->max_images - images0);
            if (c->max_minutes > 0 && now / (60.0 * c->max_minutes) > pr.fraction)
                pr.fraction = now / (60.0 * c->max_minutes);
            const int end = P.anneal_start + P.anneal_steps;
            if (P.anneal_steps > 0 && end > step0 &&
                (double)(step - step0) / (end - step0) > pr.fraction)
                pr.fraction = (double)(step - step0) / (end - step0);
            c->progress(&pr, c->progress_user);
        }
    }
    const double sitting = now_s() - t0;
    /* the final checkpoint, also after a failed step (it holds the last good state) */
    if (P.unet_ready && P.log && step > saved) {
        const sdpo_status cs = save_checkpoint(&P, step, images, wall0 + sitting);
        if (st == SDPO_OK) st = cs;
    }
    res->step = step;
    res->images = images;
    res->loss = loss;
    res->wall_s = wall0 + sitting;
    res->img_per_s = sitting > 0 ? sitting_images / sitting : 0;
    res->stopped = c->stop && *c->stop;
    pretrain_free(&P);
    return st;
}

/* ---- export -------------------------------------------------------------------------------- */

/* The last data row of the log: step, images, loss, wall_s. */
static void last_row(const char *log_path, int *step, long long *images, double *loss,
                     double *wall) {
    FILE *f = fopen(log_path, "r");
    char line[4096];
    int header = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        if (!header) {
            header = 1;
            continue;
        }
        double gn, lr;
        int s;
        long long im;
        double l, w;
        if (sscanf(line, "%d,%lld,%lf,%lf,%lf,%lf", &s, &im, &l, &gn, &lr, &w) == 6) {
            *step = s;
            *images = im;
            *loss = l;
            *wall = w;
        }
    }
    if (f) fclose(f);
}

/* The '#' lines of a log, copied to o. */
static void log_metadata(const char *log_path, FILE *o) {
    FILE *lg = fopen(log_path, "r");
    char line[4096];
    while (lg && fgets(line, sizeof line, lg))
        if (line[0] == '#') fputs(line, o);
    if (lg) fclose(lg);
}

static sdpo_status write_readme(const char *dir, const char *log_path, const char *init_log) {
    char path[PATH_MAX];
    sdpo_unet_config ucfg;
    pathf(path, sizeof path, "%s/unet/config.json", dir);
    sdpo_status st = sdpo_unet_config_load(path, &ucfg);
    if (st != SDPO_OK) return st;
    sdpo_unet u;
    sdpo_unet_options opt = sdpo_unet_options_default();
    opt.lora_rank = 0;
    if ((st = sdpo_unet_init(&u, &ucfg, &opt))) return st;
    const size_t unet_params = sdpo_unet_param_count(&u);
    sdpo_unet_free(&u);
    sdpo_config tc;
    sdpo_clip_text_config tcfg;
    pathf(path, sizeof path, "%s/text_encoder/config.json", dir);
    if ((st = sdpo_config_load(path, &tc))) return st;
    st = sdpo_clip_text_config_load(&tc, &tcfg);
    sdpo_config_free(&tc);
    if (st != SDPO_OK) return st;
    nn_params tp;
    nn_params_init(&tp);
    st = sdpo_clip_text_register(&tp, &tcfg, &sdpo_clip_text_layout_sd);
    if (st == SDPO_OK) st = nn_params_finalize(&tp);
    const size_t text_params = tp.n_elems;
    nn_params_free(&tp);
    if (st != SDPO_OK) return st;
    const int L = 77 < tcfg.max_positions ? 77 : tcfg.max_positions;
    const double flops = sdpo_micro_unet_flops(&ucfg, ucfg.sample_size, ucfg.sample_size, L);
    sdpo_schedule sched;
    pathf(path, sizeof path, "%s/scheduler/scheduler_config.json", dir);
    if ((st = sdpo_ddim_schedule_load(path, &sched))) return st;
    int step = 0;
    long long images = 0;
    double loss = NAN, wall = 0;
    last_row(log_path, &step, &images, &loss, &wall);

    pathf(path, sizeof path, "%s/README.md", dir);
    sdpo_atomic_file f;
    if ((st = sdpo_atomic_open(&f, path))) return st;
    FILE *o = f.fp;
    fprintf(o, "# The micro text-to-image model (issue #8)\n\n"
               "Written by `sdpo pretrain-micro --export` (micro/pretrain.h); do not edit by hand.\n\n"
               "A diffusers `StableDiffusionPipeline` folder in **pixel space** (no `vae`): "
               "`unet/` (UNet2DConditionModel, RGB 3×%d×%d in [-1, 1], prediction_type "
               "`%s`), `text_encoder/` (CLIPTextModel, frozen at a seeded random init, "
               "micro/model.h), `tokenizer/` (SD's CLIP BPE pruned to the micro world's words, "
               "micro/tokenizer_prune.h), `scheduler/` (%s betas %g→%g over %d train steps; "
               "scheduler_config.json has the rest). Images are clamp(x/2 + 0.5, 0, 1) of the "
               "sample (trainers/policy_unet.h).\n\n", ucfg.sample_size, ucfg.sample_size,
            sched.prediction == SDPO_PRED_V ? "v_prediction" : "epsilon",
            sched.beta_schedule == SDPO_BETA_SCALED_LINEAR ? "scaled_linear" : "linear",
            sched.beta_start, sched.beta_end, sched.num_train_timesteps);
    fprintf(o, "| | |\n|---|---|\n");
    fprintf(o, "| UNet block_out_channels | ");
    for (int i = 0; i < ucfg.n_levels; i++) fprintf(o, "%s%d", i ? ", " : "", ucfg.block_out_channels[i]);
    fprintf(o, " (cross-attention at levels:");
    for (int i = 0; i < ucfg.n_levels; i++)
        if (ucfg.down_attn[i]) fprintf(o, " %d×%d", ucfg.sample_size >> i, ucfg.sample_size >> i);
    fprintf(o, ") |\n| UNet parameters | %zu (trained, F32) |\n", unet_params);
    fprintf(o, "| text encoder | hidden %d, %d layers, %d heads, vocabulary %d, %zu parameters "
               "(frozen) |\n", tcfg.hidden_size, tcfg.num_layers, tcfg.num_heads, tcfg.vocab_size,
            text_params);
    fprintf(o, "| FLOPs per UNet forward | %.4g GFLOP per %d×%d sample with %d text tokens "
               "(sdpo_micro_unet_flops: 2 per multiply-add of convolutions, linears and attention "
               "products) |\n", flops * 1e-9, ucfg.sample_size, ucfg.sample_size, L);
    if (init_log) {
        int s0 = 0;
        long long i0 = 0;
        double l0 = NAN, w0 = 0;
        last_row(init_log, &s0, &i0, &l0, &w0);
        fprintf(o, "| training, first run | %d optimizer steps, %lld images, final loss %.4f, "
                   "%.1f minutes (`" INIT_LOG_NAME "`) |\n", s0, i0, l0, w0 / 60.0);
        fprintf(o, "| training, continued from it | %d optimizer steps, %lld images, final loss "
                   "%.4f, %.1f minutes (`pretrain_log.csv`) |\n", step, images, loss, wall / 60.0);
        fprintf(o, "| training, in all | %lld images, %.1f minutes |\n\n", i0 + images,
                (w0 + wall) / 60.0);
        fprintf(o, "The weights were trained in two runs: the first from the seeded init "
                   "(`" INIT_LOG_NAME "`, its `#` lines below), the second started from the "
                   "first's exported weights (`pretrain_log.csv`).\n\n```\n");
        log_metadata(init_log, o);
        fprintf(o, "```\n\n");
    } else {
        fprintf(o, "| training | %d optimizer steps, %lld images, final loss %.4f, %.1f minutes "
                   "of training |\n\n", step, images, loss, wall / 60.0);
    }
    fprintf(o, "`pretrain_log.csv` is the %straining log. Its `#` lines record how the "
               "weights were made:\n\n```\n", init_log ? "second run's " : "full ");
    log_metadata(log_path, o);
    fprintf(o, "```\n\nRe-export from a run directory: "
               "`sdpo pretrain-micro --out RUN --export data/micro/model`.\n");
    return sdpo_atomic_commit(&f);
}

sdpo_status sdpo_pretrain_export(const char *run_dir, const char *dest) {
    char model[PATH_MAX], from[PATH_MAX], to[PATH_MAX], tmp[PATH_MAX], old[PATH_MAX];
    if (strlen(run_dir) + 64 >= PATH_MAX || strlen(dest) + 64 >= PATH_MAX)
        return sdpo_fail(SDPO_ERR_ARG, "pretrain export: path too long");
    pathf(model, sizeof model, "%s/model", run_dir);
    pathf(from, sizeof from, "%s/" UNET_WEIGHTS, model);
    if (!file_exists(from))
        return sdpo_fail(SDPO_ERR_IO, "%s: no trained UNet weights (the run has not "
                         "checkpointed yet)", from);
    pathf(tmp, sizeof tmp, "%s.tmp-%ld", dest, (long)getpid());
    pathf(old, sizeof old, "%s.old-%ld", dest, (long)getpid());
    (void)sdpo_remove_tree(tmp);
    sdpo_status st = copy_model_files(model, tmp);
    static const char *const weights[] = {UNET_WEIGHTS, TEXT_WEIGHTS};
    for (int i = 0; st == SDPO_OK && i < 2; i++) {
        pathf(from, sizeof from, "%s/%s", model, weights[i]);
        pathf(to, sizeof to, "%s/%s", tmp, weights[i]);
        st = sdpo_copy_file(from, to, 0);
    }
    /* the log up to the newest checkpoint, whose weights RUN/model holds (a running sitting
     * has logged steps past it) */
    char ckpt[PATH_MAX];
    sdpo_ckpt_state cs;
    if (st == SDPO_OK && (st = sdpo_checkpoint_latest(run_dir, ckpt, sizeof ckpt)) == SDPO_OK)
        st = sdpo_checkpoint_read_state(ckpt, &cs);
    pathf(from, sizeof from, "%s/" LOG_NAME, run_dir);
    pathf(to, sizeof to, "%s/" LOG_NAME, tmp);
    if (st == SDPO_OK) st = log_copy_upto(from, to, cs.epoch, NULL);
    char init_log[PATH_MAX];
    pathf(from, sizeof from, "%s/" INIT_LOG_NAME, run_dir);
    pathf(init_log, sizeof init_log, "%s/" INIT_LOG_NAME, tmp);
    const int has_init_log = file_exists(from);
    if (st == SDPO_OK && has_init_log) st = sdpo_copy_file(from, init_log, 0);
    if (st == SDPO_OK) st = write_readme(tmp, to, has_init_log ? init_log : NULL);
    if (st == SDPO_OK) {
        struct stat sb;
        const int had = stat(dest, &sb) == 0;
        if (had && rename(dest, old) != 0)
            st = sdpo_fail(SDPO_ERR_IO, "%s: cannot move aside: %s", dest, strerror(errno));
        else if (rename(tmp, dest) != 0) {
            st = sdpo_fail(SDPO_ERR_IO, "%s: cannot rename into place: %s", dest, strerror(errno));
            if (had) rename(old, dest);
        } else if (had) {
            (void)sdpo_remove_tree(old);
        }
    }
    if (st != SDPO_OK) (void)sdpo_remove_tree(tmp);
    return st;
}

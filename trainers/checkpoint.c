/* trainers/checkpoint.c — checkpoint directories (checkpoint.h). */
#include "trainers/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "nn/safetensors.h"

#define CKPT_PREFIX "epoch-"
#define TMP_PREFIX ".tmp-"
/* Room left in a PATH_MAX buffer for "/checkpoints/.tmp-epoch-NNNNNN-PID/optimizer.safetensors":
 * run directories longer than PATH_MAX − PATH_SLACK are refused up front, so the formatted
 * paths below cannot be truncated. */
#define PATH_SLACK 128

/* snprintf for paths (vsnprintf: the callers' lengths are bounded by PATH_SLACK). */
__attribute__((format(printf, 3, 4))) static void pathf(char *out, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, n, fmt, ap);
    va_end(ap);
}

static sdpo_status check_run_dir(const char *run_dir) {
    return strlen(run_dir) + PATH_SLACK < PATH_MAX
               ? SDPO_OK
               : sdpo_fail(SDPO_ERR_ARG, "%.64s...: the run directory path is too long", run_dir);
}

/* ---- directories --------------------------------------------------------------------- */

/* Removes a directory of plain files (a checkpoint has no subdirectories). */
static void remove_flat_dir(const char *path) {
    DIR *d = opendir(path);
    if (d) {
        for (struct dirent *e; (e = readdir(d));) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char f[PATH_MAX];
            pathf(f, sizeof f, "%s/%s", path, e->d_name);
            unlink(f);
        }
        closedir(d);
    }
    rmdir(path);
}

static void fsync_dir(const char *path) {
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Epoch numbers of the complete checkpoints, ascending; *n entries (caller frees). */
static int *list_epochs(const char *ckdir, int *n) {
    *n = 0;
    DIR *d = opendir(ckdir);
    if (!d) return NULL;
    int cap = 0, *ep = NULL;
    for (struct dirent *e; (e = readdir(d));) {
        char *end;
        if (strncmp(e->d_name, CKPT_PREFIX, strlen(CKPT_PREFIX))) continue;
        long v = strtol(e->d_name + strlen(CKPT_PREFIX), &end, 10);
        if (*end || v < 0 || v > INT_MAX) continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            int *g = realloc(ep, (size_t)cap * sizeof *g);
            if (!g) break;
            ep = g;
        }
        ep[(*n)++] = (int)v;
    }
    closedir(d);
    for (int i = 1; i < *n; i++)
        for (int j = i; j > 0 && ep[j - 1] > ep[j]; j--) {
            int x = ep[j];
            ep[j] = ep[j - 1];
            ep[j - 1] = x;
        }
    return ep;
}

void sdpo_checkpoint_clean_tmp(const char *run_dir) {
    char ckdir[PATH_MAX];
    pathf(ckdir, sizeof ckdir, "%s/checkpoints", run_dir);
    DIR *d = opendir(ckdir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        if (strncmp(e->d_name, TMP_PREFIX, strlen(TMP_PREFIX))) continue;
        char p[PATH_MAX];
        pathf(p, sizeof p, "%s/%s", ckdir, e->d_name);
        remove_flat_dir(p);
    }
    closedir(d);
}

sdpo_status sdpo_checkpoint_latest(const char *run_dir, char *dir, size_t n) {
    char ckdir[PATH_MAX];
    pathf(ckdir, sizeof ckdir, "%s/checkpoints", run_dir);
    int count;
    int *ep = list_epochs(ckdir, &count);
    if (count == 0) {
        free(ep);
        return sdpo_fail(SDPO_ERR_IO, "%s: no complete checkpoint to resume from", ckdir);
    }
    pathf(dir, n, "%s/" CKPT_PREFIX "%06d", ckdir, ep[count - 1]);
    free(ep);
    return SDPO_OK;
}

/* ---- writing ------------------------------------------------------------------------- */

static sdpo_status write_text(const char *path, const char *text) {
    sdpo_atomic_file f;
    sdpo_status rc = sdpo_atomic_open(&f, path);
    if (rc != SDPO_OK) return rc;
    fputs(text, f.fp);
    return sdpo_atomic_commit(&f);
}

static sdpo_status write_bytes(const char *path, const unsigned char *b, size_t len) {
    sdpo_atomic_file f;
    sdpo_status rc = sdpo_atomic_open(&f, path);
    if (rc != SDPO_OK) return rc;
    fwrite(b, 1, len, f.fp);
    return sdpo_atomic_commit(&f);
}

static int n_trainable(const nn_params *p) {
    int n = 0;
    for (int i = 0; i < p->count; i++) n += nn_params_at(p, i).trainable;
    return n;
}

/* weights.safetensors and optimizer.safetensors */
static sdpo_status write_tensors(const char *dir, const nn_params *p, const nn_adamw *opt,
                                 int epoch) {
    const int nt = n_trainable(p);
    sdpo_st_entry *w = calloc((size_t)nt + 1, sizeof *w), *o = calloc(2 * (size_t)nt + 1, sizeof *o);
    char (*names)[320] = calloc(2 * (size_t)nt + 1, sizeof *names);
    if (!w || !o || !names) {
        free(w), free(o), free(names);
        return sdpo_fail(SDPO_ERR_NOMEM, "checkpoint: out of memory");
    }
    int k = 0;
    for (int i = 0; i < p->count; i++) {
        nn_param_view v = nn_params_at(p, i);
        if (!v.trainable) continue;
        const int64_t *shape = p->info[i].shape; /* the registry's, alive after this loop */
        const int nd = p->info[i].ndim;
        w[k] = (sdpo_st_entry){v.name, SDPO_ST_F32, nd, shape, v.value.data};
        snprintf(names[2 * k], sizeof names[0], "%s.exp_avg", v.name);
        snprintf(names[2 * k + 1], sizeof names[0], "%s.exp_avg_sq", v.name);
        o[2 * k] = (sdpo_st_entry){names[2 * k], SDPO_ST_F32, nd, shape, v.m};
        o[2 * k + 1] = (sdpo_st_entry){names[2 * k + 1], SDPO_ST_F32, nd, shape, v.v};
        k++;
    }
    char path[PATH_MAX], ep[32], step[32];
    snprintf(ep, sizeof ep, "%d", epoch);
    snprintf(step, sizeof step, "%" PRId64, opt->t);
    const char *mk[] = {"format", "epoch"}, *mv[] = {"sdpo-checkpoint", ep};
    pathf(path, sizeof path, "%s/weights.safetensors", dir);
    sdpo_status rc = sdpo_st_write(path, w, nt, mk, mv, 2);
    const char *ok[] = {"format", "step"}, *ov[] = {"sdpo-adamw", step};
    pathf(path, sizeof path, "%s/optimizer.safetensors", dir);
    if (rc == SDPO_OK) rc = sdpo_st_write(path, o, 2 * nt, ok, ov, 2);
    free(w), free(o), free(names);
    return rc;
}

static char *state_json(const sdpo_ckpt_state *st) {
    json_t *root = json_object(), *rngs = json_array();
    char hash[32];
    snprintf(hash, sizeof hash, "%016" PRIx64, st->config_hash);
    json_object_set_new(root, "version", json_integer(SDPO_CHECKPOINT_VERSION));
    json_object_set_new(root, "epoch", json_integer(st->epoch));
    json_object_set_new(root, "samples_seen", json_integer(st->samples_seen));
    json_object_set_new(root, "config_hash", json_string(hash));
    for (int s = 1; s < SDPO_STREAM_COUNT; s++) {
        const sdpo_rng *r = &st->rng[s];
        char seed[32];
        snprintf(seed, sizeof seed, "%" PRIu64, r->seed);
        json_t *e = json_object(), *buf = json_array();
        for (int i = 0; i < 4; i++) json_array_append_new(buf, json_integer(r->buf[i]));
        json_object_set_new(e, "stream", json_integer(r->stream));
        json_object_set_new(e, "seed", json_string(seed));
        json_object_set_new(e, "block", json_integer((json_int_t)r->block));
        json_object_set_new(e, "avail", json_integer(r->avail));
        json_object_set_new(e, "buf", buf);
        json_array_append_new(rngs, e);
    }
    json_object_set_new(root, "rng", rngs);
    char *s = json_dumps(root, JSON_INDENT(2));
    json_decref(root);
    return s;
}

sdpo_status sdpo_checkpoint_write(const char *run_dir, const char *config_json,
                                  const nn_params *p, const nn_adamw *opt,
                                  const sdpo_ckpt_state *st, const sdpo_stat_tracker *tracker,
                                  sdpo_checkpoint_extra_fn extra, void *user, int keep,
                                  char *written, size_t n) {
    char ckdir[PATH_MAX], tmp[PATH_MAX], final[PATH_MAX], path[PATH_MAX];
    sdpo_status rc = check_run_dir(run_dir);
    if (rc != SDPO_OK) return rc;
    pathf(ckdir, sizeof ckdir, "%s/checkpoints", run_dir);
    pathf(tmp, sizeof tmp, "%s/" TMP_PREFIX CKPT_PREFIX "%06d-%ld", ckdir, st->epoch,
             (long)getpid());
    pathf(final, sizeof final, "%s/" CKPT_PREFIX "%06d", ckdir, st->epoch);
    remove_flat_dir(tmp);
    if (sdpo_mkdir_p(tmp) != SDPO_OK)
        return sdpo_fail(SDPO_ERR_IO, "%s: cannot create the checkpoint directory: %s", tmp,
                         sdpo_last_error());
    pathf(path, sizeof path, "%s/config.json", tmp);
    rc = write_text(path, config_json);
    if (rc == SDPO_OK) rc = write_tensors(tmp, p, opt, st->epoch);
    if (rc == SDPO_OK) {
        char *s = state_json(st);
        pathf(path, sizeof path, "%s/state.json", tmp);
        rc = s ? write_text(path, s) : sdpo_fail(SDPO_ERR_NOMEM, "checkpoint: out of memory");
        free(s);
    }
    if (rc == SDPO_OK && tracker) {
        unsigned char *buf;
        size_t len;
        rc = sdpo_stat_tracker_serialize(tracker, &buf, &len);
        if (rc == SDPO_OK) {
            pathf(path, sizeof path, "%s/stat_tracker.bin", tmp);
            rc = write_bytes(path, buf, len);
            free(buf);
        }
    }
    if (rc == SDPO_OK && extra) rc = extra(user, tmp);
    if (rc == SDPO_OK) {
        fsync_dir(tmp);
        remove_flat_dir(final); /* only an earlier run's leftover of the same epoch */
        if (rename(tmp, final) != 0)
            rc = sdpo_fail(SDPO_ERR_IO, "%s: cannot rename the checkpoint into place: %s", final,
                           strerror(errno));
        else
            fsync_dir(ckdir);
    }
    if (rc != SDPO_OK) {
        remove_flat_dir(tmp);
        return rc;
    }
    snprintf(written, n, "%s", final);
    int count;
    int *ep = list_epochs(ckdir, &count);
    for (int i = 0; i + keep < count; i++) {
        pathf(path, sizeof path, "%s/" CKPT_PREFIX "%06d", ckdir, ep[i]);
        remove_flat_dir(path);
    }
    free(ep);
    return SDPO_OK;
}

/* ---- reading ------------------------------------------------------------------------- */

static sdpo_status bad_state(const char *path, const char *field) {
    return sdpo_fail(SDPO_ERR_FORMAT, "%s: field '%s' is missing or invalid", path, field);
}

sdpo_status sdpo_checkpoint_read_state(const char *dir, sdpo_ckpt_state *st) {
    char path[PATH_MAX];
    pathf(path, sizeof path, "%s/state.json", dir);
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (!root) return sdpo_fail(SDPO_ERR_FORMAT, "%s: line %d: %s", path, err.line, err.text);
    memset(st, 0, sizeof *st);
    sdpo_status rc = SDPO_OK;
    json_t *v = json_object_get(root, "version"), *ep = json_object_get(root, "epoch"),
           *ss = json_object_get(root, "samples_seen"), *h = json_object_get(root, "config_hash"),
           *rngs = json_object_get(root, "rng");
    if (!json_is_integer(v) || json_integer_value(v) != SDPO_CHECKPOINT_VERSION)
        rc = bad_state(path, "version");
    else if (!json_is_integer(ep) || json_integer_value(ep) < 0 || json_integer_value(ep) > INT_MAX)
        rc = bad_state(path, "epoch");
    else if (!json_is_integer(ss) || json_integer_value(ss) < 0)
        rc = bad_state(path, "samples_seen");
    else if (!json_is_string(h) || sscanf(json_string_value(h), "%" SCNx64, &st->config_hash) != 1)
        rc = bad_state(path, "config_hash");
    else if (!json_is_array(rngs) || json_array_size(rngs) != SDPO_STREAM_COUNT - 1)
        rc = bad_state(path, "rng");
    if (rc == SDPO_OK) {
        st->epoch = (int)json_integer_value(ep);
        st->samples_seen = json_integer_value(ss);
    }
    for (int s = 1; rc == SDPO_OK && s < SDPO_STREAM_COUNT; s++) {
        json_t *e = json_array_get(rngs, (size_t)s - 1), *buf = json_object_get(e, "buf");
        json_t *stream = json_object_get(e, "stream"), *seed = json_object_get(e, "seed"),
               *block = json_object_get(e, "block"), *avail = json_object_get(e, "avail");
        sdpo_rng *r = &st->rng[s];
        if (!json_is_integer(stream) || json_integer_value(stream) != s || !json_is_string(seed) ||
            sscanf(json_string_value(seed), "%" SCNu64, &r->seed) != 1 ||
            !json_is_integer(block) || json_integer_value(block) < 0 || !json_is_integer(avail) ||
            json_integer_value(avail) < 0 || json_integer_value(avail) > 4 ||
            !json_is_array(buf) || json_array_size(buf) != 4) {
            rc = bad_state(path, "rng");
            break;
        }
        r->stream = (uint32_t)s;
        r->block = (uint64_t)json_integer_value(block);
        r->avail = (int)json_integer_value(avail);
        for (int i = 0; i < 4; i++) {
            json_t *w = json_array_get(buf, (size_t)i);
            if (!json_is_integer(w) || json_integer_value(w) < 0 ||
                json_integer_value(w) > UINT32_MAX)
                rc = bad_state(path, "rng");
            else
                r->buf[i] = (uint32_t)json_integer_value(w);
        }
    }
    json_decref(root);
    return rc;
}

/* Reads tensor `name` of shape like v into dst (strict shape, finite values). */
static sdpo_status read_tensor(const sdpo_safetensors *st, const char *name, const nn_param_view *v,
                               float *dst) {
    const sdpo_st_tensor *t;
    sdpo_status rc = sdpo_st_expect(st, name, v->value.ndim, v->value.shape, &t);
    if (rc == SDPO_OK) rc = sdpo_st_read_f32(st, t, dst, 1);
    return rc;
}

sdpo_status sdpo_checkpoint_read_params(const char *dir, nn_params *p, nn_adamw *opt) {
    char wpath[PATH_MAX], opath[PATH_MAX];
    pathf(wpath, sizeof wpath, "%s/weights.safetensors", dir);
    pathf(opath, sizeof opath, "%s/optimizer.safetensors", dir);
    sdpo_safetensors ws, os;
    sdpo_status rc = sdpo_st_open(wpath, &ws);
    if (rc != SDPO_OK) return rc;
    rc = sdpo_st_open(opath, &os);
    if (rc != SDPO_OK) {
        sdpo_st_close(&ws);
        return rc;
    }
    const int nt = n_trainable(p);
    if (ws.n_tensors != nt || os.n_tensors != 2 * nt)
        rc = sdpo_fail(SDPO_ERR_SHAPE, "%s: holds %d tensors (optimizer %d), the model has %d "
                       "trainable ones: the checkpoint is for another model", wpath, ws.n_tensors,
                       os.n_tensors, nt);
    for (int i = 0; rc == SDPO_OK && i < p->count; i++) {
        nn_param_view v = nn_params_at(p, i);
        if (!v.trainable) continue;
        char name[320];
        rc = read_tensor(&ws, v.name, &v, v.value.data);
        snprintf(name, sizeof name, "%s.exp_avg", v.name);
        if (rc == SDPO_OK) rc = read_tensor(&os, name, &v, v.m);
        snprintf(name, sizeof name, "%s.exp_avg_sq", v.name);
        if (rc == SDPO_OK) rc = read_tensor(&os, name, &v, v.v);
    }
    const char *step = rc == SDPO_OK ? sdpo_st_metadata(&os, "step") : NULL;
    char *end = NULL;
    long long t = step ? strtoll(step, &end, 10) : -1;
    if (rc == SDPO_OK && (!step || *end || t < 0))
        rc = sdpo_fail(SDPO_ERR_FORMAT, "%s: metadata 'step' is missing or invalid", opath);
    if (rc == SDPO_OK) opt->t = t;
    sdpo_st_close(&ws);
    sdpo_st_close(&os);
    return rc;
}

sdpo_status sdpo_checkpoint_read_tracker(const char *dir, sdpo_stat_tracker **tracker) {
    char path[PATH_MAX];
    pathf(path, sizeof path, "%s/stat_tracker.bin", dir);
    *tracker = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return errno == ENOENT ? SDPO_OK : sdpo_fail(SDPO_ERR_IO, "%s: cannot open", path);
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? 2 * cap : 1 << 16;
            unsigned char *g = realloc(buf, cap);
            if (!g) {
                free(buf);
                fclose(f);
                return sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory", path);
            }
            buf = g;
        }
        size_t r = fread(buf + len, 1, cap - len, f);
        len += r;
        if (r == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    sdpo_status rc = bad ? sdpo_fail(SDPO_ERR_IO, "%s: read error", path)
                         : sdpo_stat_tracker_deserialize(buf, len, tracker);
    free(buf);
    if (rc != SDPO_OK && !bad) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", sdpo_last_error());
        rc = sdpo_fail(rc, "%s: %s", path, msg);
    }
    return rc;
}

/* trainers/trainer.c — run setup, the epoch loop, optimizer steps, logging and checkpoints
 * (trainer.h). The methods' loops live in train_{sdpo,ddpo,rebel,d3po}.c, sampling in
 * rollout.c. */
#include "trainers/train_internal.h"

#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/atomic_file.h"
#include "trainers/analytic_reward.h"
#include "trainers/checkpoint.h"
#include "trainers/policy_spec.h"
#include "trainers/run_info.h"
#include "trainers/train_log.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

sdpo_status sdpo_trainer_wrap(const sdpo_trainer *t, sdpo_status rc, const char *what) {
    char msg[768];
    snprintf(msg, sizeof msg, "%s", sdpo_last_error());
    if (rc == SDPO_ERR_NONFINITE)
        return sdpo_fail(rc, "epoch %d: non-finite values in the %s (%s); stopping", t->epoch + 1,
                         what, msg);
    return sdpo_fail(rc, "epoch %d: %s: %s", t->epoch + 1, what, msg);
}

int sdpo_trainer_train_steps(const sdpo_trainer *t) {
    return (int)((double)t->T * t->cfg.timestep_fraction);
}

/* T of 1-based epoch e: sample.num_steps, or the cycle's entry (Appendix B mixed lengths). */
static int epoch_steps(const sdpo_train_config *c, int e) {
    return c->n_num_steps_cycle ? c->num_steps_cycle[(e - 1) % c->n_num_steps_cycle]
                                : c->num_steps;
}

/* ---- setup --------------------------------------------------------------------------- */

static sdpo_status alloc_all(sdpo_trainer *t) {
    const size_t D = t->D, Tm = (size_t)t->T_max, N = (size_t)t->n_traj, bt = (size_t)t->batch_traj;
    const size_t cap = (size_t)t->cap;
    int ok = 1;
#define ALLOC(p, n) ok &= ((p) = calloc((size_t)(n) + 1, sizeof *(p))) != NULL
    ALLOC(t->lat, N * (Tm + 1) * D);
    ALLOC(t->logp, N * Tm);
    ALLOC(t->dense_r, N * Tm);
    ALLOC(t->adv, N * Tm);
    ALLOC(t->final_reward, N);
    ALLOC(t->first_reward, N);
    ALLOC(t->prompt, N);
    ALLOC(t->row_prompt, N);
    ALLOC(t->xhat, bt * Tm * D);
    ALLOC(t->xcur, bt * D);
    ALLOC(t->xnext, bt * D);
    ALLOC(t->xhat_i, bt * D);
    ALLOC(t->noise, bt * D);
    ALLOC(t->logp_i, bt);
    ALLOC(t->qrew, bt * Tm);
    ALLOC(t->bt_traj, bt);
    ALLOC(t->bt_step, bt);
    ALLOC(t->bt_cond, bt);
    ALLOC(t->qsteps, bt * Tm);
    ALLOC(t->nq, bt);
    ALLOC(t->mb_x, cap * D);
    ALLOC(t->mb_xn, cap * D);
    ALLOC(t->mb_dout, cap * D);
    ALLOC(t->mb_logp, cap * Tm);
    ALLOC(t->mb_old, cap * Tm);
    ALLOC(t->mb_dl, cap * Tm);
    ALLOC(t->mb_ref, cap);
    ALLOC(t->mb_a, cap);
    ALLOC(t->mb_b, cap);
    ALLOC(t->mb_w, cap);
    ALLOC(t->mb_step, cap);
    ALLOC(t->mb_cond, cap);
    ALLOC(t->mb_g, cap);
    ALLOC(t->mb_s, cap);
    ALLOC(t->mb_traj, cap);
    ALLOC(t->perm, (size_t)t->n_groups);
    ALLOC(t->order, (size_t)t->n_groups * Tm);
#undef ALLOC
    return ok ? SDPO_OK : sdpo_fail(SDPO_ERR_NOMEM, "trainer: out of memory for the epoch "
                                    "buffers (%zu trajectories x %zu steps x %zu)", N, Tm, D);
}

/* max_batch: the largest pass the trainer makes (a sampling batch or a minibatch, doubled by
 * CFG), capped by model.max_batch; max_train: the largest training pass. */
static sdpo_status create_policy(sdpo_trainer *t, int max_batch, int max_train) {
    const sdpo_train_config *c = &t->cfg;
    if (c->max_batch > 0 && c->max_batch < max_batch) max_batch = c->max_batch;
    sdpo_policy_spec spec;
    sdpo_policy_spec_from_config(c, &spec);
    const sdpo_policy_sizes z = {t->prompts.n, (const char *const *)t->prompts.text, max_batch,
                                 max_train, c->threads, c->recompute};
    return sdpo_policy_spec_create(&spec, &z, &t->policy);
}

static sdpo_status setup(sdpo_trainer *t, const sdpo_train_config *cfg, const char *out_dir) {
    t->cfg = *cfg;
    const sdpo_train_config *c = &t->cfg;
    snprintf(t->out_dir, sizeof t->out_dir, "%s", out_dir);
    snprintf(t->csv_path, sizeof t->csv_path, "%s/train.csv", out_dir);
    sdpo_status rc = sdpo_prompts_load(c->prompt_file, &t->prompts);
    if (rc != SDPO_OK) return rc;
    t->T_max = c->num_steps;
    for (int i = 0; i < c->n_num_steps_cycle; i++)
        if (c->num_steps_cycle[i] > t->T_max || i == 0) t->T_max = c->num_steps_cycle[i];
    t->paired = c->method != SDPO_METHOD_DDPO;
    t->n_groups = c->batch_size * c->num_batches_per_epoch;
    t->n_traj = t->paired ? 2 * t->n_groups : t->n_groups;
    t->batch_traj = t->paired ? 2 * c->batch_size : c->batch_size;
    t->cap = t->paired ? 2 * c->train_batch_size : c->train_batch_size;
    const int step_cap = t->batch_traj > t->cap ? t->batch_traj : t->cap;
    const int passes = c->guidance_scale > 1.0 ? 2 : 1;
    rc = create_policy(t, step_cap * passes, t->cap * passes);
    if (rc != SDPO_OK) return rc;
    t->D = t->policy->D;
    if (!strcmp(c->reward_name, "toy-mode"))
        rc = sdpo_toy_reward_create(t->policy, c->toy_target_mode, &t->reward);
    else if (!strcmp(c->reward_name, "brightness"))
        rc = sdpo_brightness_reward_create(&t->reward);
    else {
        const sdpo_reward_options ro = {c->official_scale};
        rc = sdpo_reward_create_with(c->reward_name,
                                     c->reward_model_dir[0] ? c->reward_model_dir : NULL, &ro,
                                     &t->reward);
    }
    if (rc != SDPO_OK) return rc;
    t->spacing = c->spacing == SDPO_SPACING_CHOICE_MODEL ? t->policy->schedule.spacing
                 : c->spacing == SDPO_SPACING_CHOICE_TRAILING ? SDPO_SPACING_TRAILING
                                                              : SDPO_SPACING_LEADING;
    t->step = calloc(1, sizeof *t->step);
    if (!t->step) return sdpo_fail(SDPO_ERR_NOMEM, "trainer: out of memory");
    rc = sdpo_policy_step_init(t->step, t->policy, c->guidance_scale, step_cap);
    if (rc == SDPO_OK)
        rc = sdpo_reward_queue_init(&t->rq, t->policy, t->reward, t->batch_traj * (t->T_max + 1));
    if (rc != SDPO_OK) return rc;
    if (c->method == SDPO_METHOD_SDPO)
        rc = sdpo_stat_tracker_new((sdpo_norm_mode)c->norm_mode, c->num_steps, c->buffer_size,
                                   c->min_count, &t->tracker);
    else if (c->method != SDPO_METHOD_D3PO)
        rc = sdpo_stat_tracker_new((sdpo_norm_mode)c->norm_mode, 1, c->buffer_size, c->min_count,
                                   &t->tracker);
    if (rc != SDPO_OK) return rc;
    for (int s = 1; s < SDPO_STREAM_COUNT; s++)
        sdpo_rng_init(&t->rng[s], (uint64_t)c->seed, (uint32_t)s);
    t->nn = (nn_ctx){NN_BACKEND_CPU, c->threads, NULL};
    nn_adamw_config ac = {c->learning_rate, c->adam_beta1, c->adam_beta2, c->adam_epsilon,
                          c->adam_weight_decay};
    nn_adamw_init(&t->opt, &ac);
    t->dense = (sdpo_dense_config){(sdpo_dense_strategy)c->dense_strategy, c->anchor_all_steps};
    return alloc_all(t);
}

void sdpo_trainer_free(sdpo_trainer *t) {
    if (!t) return;
    sdpo_prompts_free(&t->prompts);
    sdpo_reward_queue_free(&t->rq);
    if (t->step) sdpo_policy_step_free(t->step);
    free(t->step);
    sdpo_reward_free(t->reward);
    sdpo_policy_free(t->policy);
    sdpo_stat_tracker_free(t->tracker);
    void *bufs[] = {t->lat, t->logp, t->dense_r, t->adv, t->final_reward, t->first_reward,
                    t->prompt, (void *)t->row_prompt, t->xhat, t->xcur, t->xnext, t->xhat_i,
                    t->noise, t->logp_i, t->qrew, t->bt_traj, t->bt_step, t->bt_cond, t->qsteps,
                    t->nq, t->mb_x, t->mb_xn, t->mb_dout, t->mb_logp, t->mb_old, t->mb_dl,
                    t->mb_ref, t->mb_a, t->mb_b, t->mb_w, t->mb_step, t->mb_cond, t->mb_g,
                    t->mb_s, t->mb_traj, t->perm, t->order};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    free(t);
}

/* ---- the update helpers the methods share -------------------------------------------- */

void sdpo_trainer_gather(sdpo_trainer *t, int k0, int n, const int *traj, const int *step) {
    const size_t D = t->D, stride = (size_t)(t->T_max + 1) * D;
    for (int k = 0; k < n; k++) {
        const size_t r = (size_t)(k0 + k);
        const float *x = t->lat + (size_t)traj[k] * stride + (size_t)step[k] * D;
        memcpy(t->mb_x + r * D, x, D * sizeof(float));
        memcpy(t->mb_xn + r * D, x + D, D * sizeof(float));
        t->mb_step[r] = step[k];
        t->mb_cond[r] = t->prompt[traj[k]];
    }
}

static sdpo_status optimizer_step(sdpo_trainer *t) {
    nn_params *p = t->policy->params;
    /* max_grad_norm = 0 (REBEL upstream): no clipping, but the norm is still measured (and
     * checked for finiteness): with max_norm = FLT_MAX the clip coefficient is always 1. */
    const float max_norm = t->cfg.max_grad_norm > 0 ? (float)t->cfg.max_grad_norm : FLT_MAX;
    float norm;
    if (nn_clip_grad_norm(&t->nn, p->grads, p->n_trainable, max_norm, &norm) != SDPO_OK)
        return sdpo_fail(SDPO_ERR_NONFINITE, "epoch %d, optimizer step %lld: the gradient norm "
                         "is %g (non-finite); stopping", t->epoch + 1, t->n_updates + 1,
                         (double)norm);
    nn_adamw_step_params(&t->nn, &t->opt, p);
    for (size_t i = 0; i < p->n_trainable; i++)
        if (!isfinite(p->params[i]))
            return sdpo_fail(SDPO_ERR_NONFINITE, "epoch %d, optimizer step %lld: the parameters "
                             "became non-finite (learning rate %g too large?); stopping",
                             t->epoch + 1, t->n_updates + 1, t->cfg.learning_rate);
    nn_zero_grad(&t->nn, p->grads, p->n_trainable);
    t->gnorm_sum += norm;
    t->n_updates++;
    return SDPO_OK;
}

sdpo_status sdpo_trainer_backward_done(sdpo_trainer *t, double loss, double clipfrac) {
    if (!isfinite(loss))
        return sdpo_fail(SDPO_ERR_NONFINITE, "epoch %d: the loss is %g (non-finite); stopping",
                         t->epoch + 1, loss);
    t->loss_sum += loss;
    t->clip_sum += clipfrac;
    t->n_backward++;
    t->backwards_done++;
    if (++t->backwards_pending == t->backwards_per_step) {
        t->backwards_pending = 0;
        sdpo_status rc = optimizer_step(t);
        if (rc != SDPO_OK) return rc;
    }
    if (t->progress) {
        sdpo_train_progress pr = {t->epoch + 1, t->cfg.num_epochs, "train",
                                  SDPO_SAMPLE_SHARE + (1.0 - SDPO_SAMPLE_SHARE) *
                                                          (double)t->backwards_done /
                                                          (double)t->backwards_total};
        t->progress(&pr, t->progress_user);
    }
    return SDPO_OK;
}

/* ---- checkpoints and the log --------------------------------------------------------- */

static sdpo_status save_adapter(void *user, const char *dir) {
    sdpo_policy *p = user;
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/pytorch_lora_weights.safetensors", dir) >= (int)sizeof path)
        return sdpo_fail(SDPO_ERR_ARG, "%s: path too long", dir);
    return p->save_adapter(p, path);
}

static sdpo_status save_checkpoint(sdpo_trainer *t) {
    char *json;
    sdpo_status rc = sdpo_train_config_to_json(&t->cfg, &json);
    if (rc != SDPO_OK) return rc;
    sdpo_ckpt_state st = {t->epoch, t->samples_seen, sdpo_train_config_hash(&t->cfg), {{0}}};
    memcpy(st.rng, t->rng, sizeof st.rng);
    char written[PATH_MAX];
    rc = sdpo_checkpoint_write(t->out_dir, json, t->policy->params, &t->opt, &st, t->tracker,
                               t->policy->save_adapter ? save_adapter : NULL, t->policy,
                               t->cfg.keep_checkpoints, written, sizeof written);
    free(json);
    return rc;
}

static void mean_std(const float *v, int n, double *mean, double *sd) {
    double s = 0.0, q = 0.0;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(v[i])) s += v[i], k++;
    *mean = k ? s / k : NAN;
    for (int i = 0; i < n; i++)
        if (!isnan(v[i])) q += (v[i] - *mean) * (v[i] - *mean);
    *sd = k ? sqrt(q / k) : NAN;
}

static sdpo_status write_config_json(const sdpo_trainer *t) {
    char *json, path[PATH_MAX];
    sdpo_status rc = sdpo_train_config_to_json(&t->cfg, &json);
    if (rc != SDPO_OK) return rc;
    snprintf(path, sizeof path, "%s/config.json", t->out_dir);
    sdpo_atomic_file f;
    rc = sdpo_atomic_open(&f, path);
    if (rc == SDPO_OK) {
        fprintf(f.fp, "%s\n", json);
        rc = sdpo_atomic_commit(&f);
    }
    free(json);
    return rc;
}

/* ---- create / resume ----------------------------------------------------------------- */

static int path_exists(const char *dir, const char *name) {
    char p[PATH_MAX];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &sb) == 0;
}

sdpo_status sdpo_trainer_create(const sdpo_train_config *cfg, const char *out_dir,
                                sdpo_trainer **out) {
    *out = NULL;
    if (path_exists(out_dir, "config.json") || path_exists(out_dir, "train.csv") ||
        path_exists(out_dir, "checkpoints"))
        return sdpo_fail(SDPO_ERR_ARG, "%s already holds a run; resume it with --resume %s or "
                         "choose another --out", out_dir, out_dir);
    sdpo_trainer *t = calloc(1, sizeof *t);
    if (!t) return sdpo_fail(SDPO_ERR_NOMEM, "trainer: out of memory");
    sdpo_status rc = setup(t, cfg, out_dir);
    if (rc == SDPO_OK) rc = write_config_json(t);
    if (rc == SDPO_OK) {
        char l0[256], l1[256], l2[256], git[64];
        sdpo_run_git_commit(git, sizeof git);
        snprintf(l0, sizeof l0, "sdpo train: method=%s model=%s reward=%s",
                 sdpo_method_name((sdpo_method)t->cfg.method),
                 t->cfg.model_type == SDPO_MODEL_TOY ? "toy" : "unet", t->cfg.reward_name);
        snprintf(l1, sizeof l1, "seed=%d config_hash=%016" PRIx64 " threads=%d", t->cfg.seed,
                 sdpo_train_config_hash(&t->cfg), t->cfg.threads);
        snprintf(l2, sizeof l2, "git_commit=%s build=%s", git, sdpo_run_build_type());
        const char *meta[] = {l0, l1, l2,
                              "the last 2 columns (wall_s, reward_s) are timings; every other "
                              "column is a deterministic function of the config"};
        rc = sdpo_train_log_create(t->csv_path, meta, 4);
    }
    if (rc == SDPO_OK) rc = save_checkpoint(t);
    if (rc != SDPO_OK) {
        sdpo_trainer_free(t);
        return rc;
    }
    *out = t;
    return SDPO_OK;
}

sdpo_status sdpo_trainer_resume(const char *out_dir, const char *const *overrides, int n_overrides,
                                sdpo_trainer **out) {
    *out = NULL;
    char dir[PATH_MAX], cfg_path[PATH_MAX + 16];
    sdpo_checkpoint_clean_tmp(out_dir);
    sdpo_status rc = sdpo_checkpoint_latest(out_dir, dir, sizeof dir);
    if (rc != SDPO_OK) return rc;
    sdpo_train_config *cfg = malloc(sizeof *cfg);
    if (!cfg) return sdpo_fail(SDPO_ERR_NOMEM, "trainer: out of memory");
    sdpo_train_config_defaults(cfg);
    snprintf(cfg_path, sizeof cfg_path, "%s/config.json", dir);
    rc = sdpo_train_config_load_file(cfg, cfg_path);
    for (int i = 0; rc == SDPO_OK && i < n_overrides; i++) {
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)strcspn(overrides[i], "="), overrides[i]);
        if (!sdpo_train_config_key_is_resumable(key))
            rc = sdpo_fail(SDPO_ERR_ARG, "--set %s: this key cannot change when resuming (only "
                           "run.num_epochs, run.save_freq and run.keep_checkpoints can)", key);
        else
            rc = sdpo_train_config_set(cfg, overrides[i]);
    }
    if (rc == SDPO_OK) rc = sdpo_train_config_finalize(cfg);
    sdpo_ckpt_state st;
    if (rc == SDPO_OK) rc = sdpo_checkpoint_read_state(dir, &st);
    if (rc == SDPO_OK && st.config_hash != sdpo_train_config_hash(cfg))
        rc = sdpo_fail(SDPO_ERR_FORMAT, "%s: state.json's config hash does not match config.json "
                       "(the checkpoint was edited or is corrupt)", dir);
    sdpo_trainer *t = rc == SDPO_OK ? calloc(1, sizeof *t) : NULL;
    if (rc == SDPO_OK && !t) rc = sdpo_fail(SDPO_ERR_NOMEM, "trainer: out of memory");
    if (rc == SDPO_OK) rc = setup(t, cfg, out_dir);
    free(cfg);
    if (rc == SDPO_OK) rc = sdpo_checkpoint_read_params(dir, t->policy->params, &t->opt);
    if (rc == SDPO_OK && t->tracker) {
        sdpo_stat_tracker *tr;
        rc = sdpo_checkpoint_read_tracker(dir, &tr);
        if (rc == SDPO_OK && !tr)
            rc = sdpo_fail(SDPO_ERR_FORMAT, "%s: stat_tracker.bin is missing", dir);
        if (rc == SDPO_OK) {
            sdpo_stat_tracker_free(t->tracker);
            t->tracker = tr;
        }
    }
    if (rc == SDPO_OK) {
        t->epoch = st.epoch;
        t->samples_seen = st.samples_seen;
        memcpy(t->rng, st.rng, sizeof t->rng);
        char note[PATH_MAX + 64];
        snprintf(note, sizeof note, "resumed from %s", dir);
        rc = sdpo_train_log_truncate(t->csv_path, t->epoch, note);
    }
    if (rc == SDPO_OK) rc = write_config_json(t);
    if (rc != SDPO_OK) {
        sdpo_trainer_free(t);
        return rc;
    }
    *out = t;
    return SDPO_OK;
}

/* ---- the epoch loop ------------------------------------------------------------------ */

sdpo_status sdpo_trainer_begin_epoch(sdpo_trainer *t) {
    const sdpo_train_config *c = &t->cfg;
    t->T = epoch_steps(c, t->epoch + 1);
    sdpo_status rc = sdpo_policy_step_set_steps(t->step, t->T, t->spacing, c->eta);
    if (rc != SDPO_OK) return sdpo_trainer_wrap(t, rc, "timesteps");
    t->loss_sum = t->clip_sum = t->gnorm_sum = 0.0;
    t->n_backward = t->n_updates = 0;
    t->backwards_pending = 0;
    t->backwards_done = 0;
    t->rq.train_queries = t->rq.log_queries = 0;
    t->rq.seconds = 0.0;
    return SDPO_OK;
}

static sdpo_status run_epoch(sdpo_trainer *t) {
    const sdpo_train_config *c = &t->cfg;
    sdpo_status rc = sdpo_trainer_begin_epoch(t);
    if (rc == SDPO_OK) rc = sdpo_trainer_sample_epoch(t);
    if (rc != SDPO_OK) return rc;
    switch ((sdpo_method)c->method) {
    case SDPO_METHOD_SDPO:
        rc = sdpo_method_sdpo_advantages(t);
        if (rc == SDPO_OK) rc = sdpo_method_sdpo_update(t);
        break;
    case SDPO_METHOD_DDPO:
        rc = sdpo_method_ddpo_advantages(t);
        if (rc == SDPO_OK) rc = sdpo_method_ddpo_update(t);
        break;
    case SDPO_METHOD_REBEL:
        rc = sdpo_method_rebel_advantages(t);
        if (rc == SDPO_OK) rc = sdpo_method_rebel_update(t);
        break;
    default: rc = sdpo_method_d3po_update(t); break;
    }
    if (rc == SDPO_OK && t->backwards_pending != 0)
        rc = sdpo_fail(SDPO_ERR_ARG, "epoch %d ended between optimizer steps (%d passes "
                       "pending)", t->epoch + 1, t->backwards_pending);
    return rc;
}

sdpo_status sdpo_trainer_run(sdpo_trainer *t, sdpo_progress_fn progress, void *user) {
    t->progress = progress;
    t->progress_user = user;
    while (t->epoch < t->cfg.num_epochs) {
        const double t0 = now_s();
        sdpo_status rc = run_epoch(t);
        if (rc != SDPO_OK) {
            char msg[1024], last[PATH_MAX];
            snprintf(msg, sizeof msg, "%s", sdpo_last_error());
            if (sdpo_checkpoint_latest(t->out_dir, last, sizeof last) != SDPO_OK)
                snprintf(last, sizeof last, "(none)");
            return sdpo_fail(rc, "%s; the last good checkpoint is %s", msg, last);
        }
        t->epoch++;
        sdpo_train_row row = {
            .epoch = t->epoch,
            .num_steps = t->T,
            .samples = t->samples_seen,
            .loss = t->n_backward ? t->loss_sum / (double)t->n_backward : NAN,
            .clipfrac = t->n_backward ? t->clip_sum / (double)t->n_backward : NAN,
            .grad_norm = t->n_updates ? t->gnorm_sum / (double)t->n_updates : NAN,
            .updates = t->n_updates,
            .reward_queries = t->rq.train_queries,
            .log_queries = t->rq.log_queries,
            .wall_s = now_s() - t0,
            .reward_s = t->rq.seconds};
        mean_std(t->final_reward, t->n_traj, &row.reward_last_mean, &row.reward_last_std);
        mean_std(t->first_reward, t->n_traj, &row.reward_first_mean, &row.reward_first_std);
        rc = sdpo_train_log_append(t->csv_path, &row);
        const int sf = t->cfg.save_freq;
        if (rc == SDPO_OK && ((sf > 0 && t->epoch % sf == 0) || t->epoch == t->cfg.num_epochs))
            rc = save_checkpoint(t);
        if (rc != SDPO_OK) return rc;
    }
    return SDPO_OK;
}

int sdpo_trainer_epochs_done(const sdpo_trainer *t) { return t->epoch; }

const sdpo_train_config *sdpo_trainer_config(const sdpo_trainer *t) { return &t->cfg; }

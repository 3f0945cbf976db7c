/* trainers/rollout.c — the sampling pipeline of an epoch (official train L449–572,
 * pipeline_with_logprob_sdpo.py L183–241; ddpo-pytorch train.py L405–470).
 *
 * Per sampling batch k of sample.batch_size prompts:
 *   prompts   drawn uniformly with replacement (stream PROMPT_CHOICE), one per group;
 *   x_T       N(0, I) per trajectory (stream INIT_NOISE); pair member b copies a's x_T when
 *             sample.shared_init_noise (official L497), else draws its own;
 *   steps     i = 0 … T−1 over all trajectories of the batch at once: model pass (with CFG
 *             when guidance > 1), DDIM step with η·σ·z (stream SAMPLER_NOISE, one [n·D]
 *             fill per step), recording x_{i+1}, log π_old and x̂_i;
 *   rewards   SDPO: the strategy's query steps (stream RANDOM_ANCHOR for sim3-random), scored,
 *             then Eq. 11 predictions for every step; baselines: the final image (x_0 or the
 *             last x̂). Optionally x̂ of step 0 for the log. One reward call per batch. */
#include "trainers/train_internal.h"

#include <math.h>
#include <string.h>

static float *lat_at(const sdpo_trainer *t, int n, int i) {
    return t->lat + ((size_t)n * (t->T_max + 1) + (size_t)i) * t->D;
}

static float *xhat_at(const sdpo_trainer *t, int bt, int i) {
    return t->xhat + ((size_t)bt * t->T_max + (size_t)i) * t->D;
}

/* Trajectory indices of batch k: groups first (members a / singles), then members b. */
static void batch_trajectories(const sdpo_trainer *t, int k) {
    const int Bs = t->cfg.batch_size;
    for (int j = 0; j < Bs; j++) {
        t->bt_traj[j] = k * Bs + j;
        if (t->paired) t->bt_traj[Bs + j] = t->n_groups + k * Bs + j;
    }
}

static sdpo_status denoise_batch(sdpo_trainer *t) {
    const int nbt = t->batch_traj;
    const size_t D = t->D;
    for (int b = 0; b < nbt; b++) t->bt_cond[b] = t->prompt[t->bt_traj[b]];
    for (int i = 0; i < t->T; i++) {
        for (int b = 0; b < nbt; b++) {
            memcpy(t->xcur + (size_t)b * D, lat_at(t, t->bt_traj[b], i), D * sizeof(float));
            t->bt_step[b] = i;
        }
        sdpo_rng_normal_fill(&t->rng[SDPO_STREAM_SAMPLER_NOISE], t->noise, (size_t)nbt * D);
        sdpo_status rc = sdpo_policy_step_sample(t->step, nbt, t->xcur, t->bt_step, t->bt_cond,
                                                 t->noise, t->xnext, t->xhat_i, t->logp_i);
        if (rc != SDPO_OK) return sdpo_trainer_wrap(t, rc, "sampling");
        for (int b = 0; b < nbt; b++) {
            const int n = t->bt_traj[b];
            memcpy(lat_at(t, n, i + 1), t->xnext + (size_t)b * D, D * sizeof(float));
            memcpy(xhat_at(t, b, i), t->xhat_i + (size_t)b * D, D * sizeof(float));
            t->logp[(size_t)n * t->T_max + i] = t->logp_i[b];
        }
    }
    return SDPO_OK;
}

/* Enqueues the batch's reward queries; returns after flushing them. */
static sdpo_status query_rewards(sdpo_trainer *t) {
    const int nbt = t->batch_traj, T = t->T, Tm = t->T_max;
    const size_t D = t->D;
    const int sdpo = t->cfg.method == SDPO_METHOD_SDPO;
    sdpo_status rc = SDPO_OK;
    for (int b = 0; b < nbt && rc == SDPO_OK; b++) {
        const int n = t->bt_traj[b];
        const char *prompt = t->row_prompt[n];
        int *steps = t->qsteps + (size_t)b * Tm, has_first = 0;
        if (sdpo) {
            rc = sdpo_dense_query_steps(&t->dense, T, D, xhat_at(t, b, 0),
                                        &t->rng[SDPO_STREAM_RANDOM_ANCHOR], steps, &t->nq[b]);
            for (int j = 0; j < t->nq[b] && rc == SDPO_OK; j++) {
                has_first |= steps[j] == 0;
                rc = sdpo_reward_queue_add(&t->rq, xhat_at(t, b, steps[j]), prompt,
                                           &t->qrew[(size_t)b * Tm + j], 0);
            }
        } else {
            const int sample = t->cfg.final_image == SDPO_FINAL_SAMPLE;
            rc = sdpo_reward_queue_add(&t->rq, sample ? lat_at(t, n, T) : xhat_at(t, b, T - 1),
                                       prompt, &t->final_reward[n], 0);
            has_first = !sample && T == 1;
        }
        t->first_reward[n] = NAN;
        if (rc == SDPO_OK && !has_first && t->cfg.log_first_step)
            rc = sdpo_reward_queue_add(&t->rq, xhat_at(t, b, 0), prompt, &t->first_reward[n], 1);
    }
    if (rc == SDPO_OK) rc = sdpo_reward_queue_flush(&t->rq);
    if (rc != SDPO_OK) return sdpo_trainer_wrap(t, rc, "reward");
    for (int b = 0; b < nbt; b++) {
        const int n = t->bt_traj[b];
        if (!sdpo) {
            if (T == 1 && t->cfg.final_image == SDPO_FINAL_XHAT) t->first_reward[n] = t->final_reward[n];
            continue;
        }
        const int *steps = t->qsteps + (size_t)b * Tm;
        const float *qr = t->qrew + (size_t)b * Tm;
        for (int j = 0; j < t->nq[b]; j++) {
            if (steps[j] == T - 1) t->final_reward[n] = qr[j];
            if (steps[j] == 0 && isnan(t->first_reward[n])) t->first_reward[n] = qr[j];
        }
        rc = sdpo_dense_predict(&t->dense, T, D, xhat_at(t, b, 0), steps, t->nq[b], qr,
                                t->dense_r + (size_t)n * Tm);
        if (rc != SDPO_OK) return sdpo_trainer_wrap(t, rc, "dense reward");
    }
    return SDPO_OK;
}

sdpo_status sdpo_trainer_sample_epoch(sdpo_trainer *t) {
    const int Bs = t->cfg.batch_size, nb = t->cfg.num_batches_per_epoch;
    const size_t D = t->D;
    for (int k = 0; k < nb; k++) {
        batch_trajectories(t, k);
        for (int j = 0; j < Bs; j++) {
            const int g = k * Bs + j;
            const int c = (int)sdpo_rng_below(&t->rng[SDPO_STREAM_PROMPT_CHOICE],
                                              (uint32_t)t->prompts.n);
            t->prompt[g] = c;
            t->row_prompt[g] = t->prompts.text[c];
            sdpo_rng_normal_fill(&t->rng[SDPO_STREAM_INIT_NOISE], lat_at(t, g, 0), D);
            if (!t->paired) continue;
            const int b = t->n_groups + g;
            t->prompt[b] = c;
            t->row_prompt[b] = t->prompts.text[c];
            if (t->cfg.shared_init_noise)
                memcpy(lat_at(t, b, 0), lat_at(t, g, 0), D * sizeof(float));
            else
                sdpo_rng_normal_fill(&t->rng[SDPO_STREAM_INIT_NOISE], lat_at(t, b, 0), D);
        }
        sdpo_status rc = denoise_batch(t);
        if (rc == SDPO_OK) rc = query_rewards(t);
        if (rc != SDPO_OK) return rc;
        if (t->progress) {
            sdpo_train_progress pr = {t->epoch + 1, t->cfg.num_epochs, "sample",
                                      SDPO_SAMPLE_SHARE * (k + 1) / nb};
            t->progress(&pr, t->progress_user);
        }
    }
    t->samples_seen += t->n_traj;
    return SDPO_OK;
}

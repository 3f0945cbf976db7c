/* trainers/train_sdpo.c — SDPO: dense returns, per-step-prompt advantages and the
 * step-shuffled update loop (paper Algorithm 1, Eq. 13–16; official scripts/train_sdpo.py
 * L631–835, sdpo_official_code.md §2.6–2.9).
 *
 * Advantages: G = discounted returns of the predicted dense rewards (Eq. 13, L631–635), then the
 * stat tracker over all 2G trajectories, rows [a; b] (L637–653).
 * Update, per inner epoch (L662–835): the pairs are permuted (stream MINIBATCH_ORDER,
 * shuffle_batch), then each pair gets its step order (core/update_schedule.h, stream
 * STEP_SHUFFLE); the loop runs over columns j (outer) and minibatches of train.batch_size pairs
 * (inner), so a minibatch mixes steps. Each minibatch is one backward pass of Eq. 16 scaled by
 * 1/(passes per optimizer step): grad_acc for shuffled/sequential (accelerate, NOT multiplied
 * by T), every pass of the epoch for accumulated. Members a and b are evaluated in one batch
 * of 2B (upstream runs two passes; the per-sample outputs are the same). */
#include "trainers/train_internal.h"

#include <string.h>

#include "core/losses.h"
#include "core/returns.h"
#include "core/update_schedule.h"
#include "core/weights.h"

sdpo_status sdpo_method_sdpo_advantages(sdpo_trainer *t) {
    const sdpo_train_config *c = &t->cfg;
    /* SDPO never cycles T, so T == T_max and rows are contiguous [n_traj, T]. */
    sdpo_status rc = sdpo_compute_returns((sdpo_returns_mode)c->returns_mode, t->n_traj, t->T,
                                          t->dense_r, c->gamma, t->adv);
    if (rc == SDPO_OK)
        rc = sdpo_stat_tracker_update(t->tracker, t->n_traj, t->row_prompt, t->adv, t->adv);
    return rc == SDPO_OK ? rc : sdpo_trainer_wrap(t, rc, "advantages");
}

sdpo_status sdpo_method_sdpo_minibatch(sdpo_trainer *t, int B, const int *g, const int *step,
                                       double scale, int backward, sdpo_minibatch_result *res) {
    const sdpo_train_config *c = &t->cfg;
    const int G = t->n_groups, Tm = t->T_max;
    int *traj = t->mb_traj;
    if (2 * B > t->cap)
        return sdpo_fail(SDPO_ERR_ARG, "sdpo minibatch: %d pairs > %d", B, t->cap / 2);
    for (int b = 0; b < B; b++) {
        traj[b] = g[b];
        traj[B + b] = G + g[b];
    }
    sdpo_trainer_gather(t, 0, B, traj, step);
    sdpo_trainer_gather(t, B, B, traj + B, step);
    sdpo_status rc = sdpo_policy_step_logprob(t->step, 2 * B, t->mb_x, t->mb_xn, t->mb_step,
                                              t->mb_cond,
                                              backward ? SDPO_FWD_TRAIN : SDPO_FWD_EVAL,
                                              t->mb_logp, backward ? t->mb_dout : NULL);
    if (rc != SDPO_OK) return sdpo_trainer_wrap(t, rc, "log-probs");
    for (int b = 0; b < B; b++) {
        const size_t ia = (size_t)traj[b] * Tm + step[b], ib = (size_t)traj[B + b] * Tm + step[b];
        t->mb_old[b] = t->logp[ia];
        t->mb_old[B + b] = t->logp[ib];
        t->mb_a[b] = t->adv[ia];
        t->mb_b[b] = t->adv[ib];
        t->mb_w[b] = sdpo_step_weight((sdpo_weighting)c->weighting, c->lam, c->log_scale,
                                      step[b], t->T);
    }
    const sdpo_sdpo_loss_params lp = {c->adv_clip_max, c->clip_range};
    sdpo_sdpo_loss_info info;
    rc = sdpo_loss_sdpo(&lp, B, t->mb_logp, t->mb_old, t->mb_a, t->mb_logp + B, t->mb_old + B,
                        t->mb_b, t->mb_w, t->mb_dl, t->mb_dl + B, &info);
    if (rc != SDPO_OK) return sdpo_trainer_wrap(t, rc, "loss");
    res->loss = info.loss;
    res->clipfrac = info.clipfrac;
    if (!backward) return SDPO_OK;
    for (int r = 0; r < 2 * B; r++) t->mb_dl[r] = (float)(t->mb_dl[r] * scale);
    rc = sdpo_policy_step_backward(t->step, 2 * B, t->mb_dl, t->mb_dout);
    return rc == SDPO_OK ? rc : sdpo_trainer_wrap(t, rc, "backward pass");
}

sdpo_status sdpo_method_sdpo_update(sdpo_trainer *t) {
    const sdpo_train_config *c = &t->cfg;
    const int P = t->n_groups, B = c->train_batch_size, n_mb = P / B, T = t->T;
    const int cols = sdpo_trainer_train_steps(t);
    const sdpo_update_mode mode = (sdpo_update_mode)c->update_schedule;
    sdpo_status rc = sdpo_update_backwards_per_step(mode, c->grad_acc, n_mb, cols,
                                                    &t->backwards_per_step);
    if (rc != SDPO_OK) return sdpo_trainer_wrap(t, rc, "update schedule");
    t->backwards_total = (long long)c->num_inner_epochs * cols * n_mb;
    const double scale = 1.0 / t->backwards_per_step;
    int *g = t->mb_g, *step = t->mb_s;
    for (int inner = 0; inner < c->num_inner_epochs; inner++) {
        if (c->shuffle_batch) sdpo_rng_permutation(&t->rng[SDPO_STREAM_MINIBATCH_ORDER], t->perm, P);
        else
            for (int p = 0; p < P; p++) t->perm[p] = p;
        rc = sdpo_update_step_order(mode, P, T, &t->rng[SDPO_STREAM_STEP_SHUFFLE], t->order);
        if (rc != SDPO_OK) return sdpo_trainer_wrap(t, rc, "step order");
        for (int j = 0; j < cols; j++)
            for (int m = 0; m < n_mb; m++) {
                for (int b = 0; b < B; b++) {
                    const int pos = m * B + b;
                    g[b] = t->perm[pos];
                    step[b] = t->order[(size_t)pos * T + j];
                }
                sdpo_minibatch_result res;
                rc = sdpo_method_sdpo_minibatch(t, B, g, step, scale, 1, &res);
                if (rc == SDPO_OK) rc = sdpo_trainer_backward_done(t, res.loss, res.clipfrac);
                if (rc != SDPO_OK) return rc;
            }
    }
    return SDPO_OK;
}

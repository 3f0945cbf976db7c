/* trainers/train_ddpo.c — DDPO: PPO clip surrogate on per-prompt-normalised final rewards
 * (ddpo-pytorch scripts/train.py L487–566, baselines.md §3a).
 *
 * Advantages: the final reward of each trajectory through the per-prompt stat tracker
 * (stats.mode; T = 1), one scalar per trajectory used at every step.
 * Update, per inner epoch: samples permuted (stream MINIBATCH_ORDER), an independent timestep
 * permutation per sample (stream STEP_SHUFFLE; train.update_schedule sequential: none); then
 * minibatch OUTER, trained steps j INNER, one backward per (minibatch, j), scaled by
 * 1/(grad_acc × trained steps) — accelerate's gradient_accumulation_steps × num_timesteps —
 * or by 1/(every pass of the epoch) for the accumulated schedule. */
#include "trainers/train_internal.h"

#include "core/losses.h"
#include "core/update_schedule.h"

sdpo_status sdpo_method_ddpo_advantages(sdpo_trainer *t) {
    sdpo_status rc = sdpo_stat_tracker_update(t->tracker, t->n_traj, t->row_prompt,
                                              t->final_reward, t->adv);
    return rc == SDPO_OK ? rc : sdpo_trainer_wrap(t, rc, "advantages");
}

sdpo_status sdpo_method_ddpo_update(sdpo_trainer *t) {
    const sdpo_train_config *c = &t->cfg;
    const int N = t->n_groups, B = c->train_batch_size, n_mb = N / B, T = t->T;
    const int cols = sdpo_trainer_train_steps(t);
    const sdpo_update_mode mode = (sdpo_update_mode)c->update_schedule;
    t->backwards_per_step = (mode == SDPO_UPDATE_ACCUMULATED ? n_mb : c->grad_acc) * cols;
    t->backwards_total = (long long)c->num_inner_epochs * cols * n_mb;
    const double scale = 1.0 / t->backwards_per_step;
    const sdpo_ddpo_loss_params lp = {c->adv_clip_max, c->clip_range};
    int *s = t->mb_g, *step = t->mb_s;
    for (int inner = 0; inner < c->num_inner_epochs; inner++) {
        if (c->shuffle_batch) sdpo_rng_permutation(&t->rng[SDPO_STREAM_MINIBATCH_ORDER], t->perm, N);
        else
            for (int p = 0; p < N; p++) t->perm[p] = p;
        sdpo_status rc = sdpo_update_step_order(mode, N, T, &t->rng[SDPO_STREAM_STEP_SHUFFLE],
                                                t->order);
        if (rc != SDPO_OK) return sdpo_trainer_wrap(t, rc, "step order");
        for (int m = 0; m < n_mb; m++)
            for (int j = 0; j < cols; j++) {
                for (int b = 0; b < B; b++) {
                    const int pos = m * B + b;
                    s[b] = t->perm[pos];
                    step[b] = t->order[(size_t)pos * T + j];
                    t->mb_a[b] = t->adv[s[b]];
                    t->mb_old[b] = t->logp[(size_t)s[b] * t->T_max + step[b]];
                }
                sdpo_trainer_gather(t, 0, B, s, step);
                rc = sdpo_policy_step_logprob(t->step, B, t->mb_x, t->mb_xn, t->mb_step,
                                              t->mb_cond, SDPO_FWD_TRAIN, t->mb_logp, t->mb_dout);
                if (rc != SDPO_OK) return sdpo_trainer_wrap(t, rc, "log-probs");
                sdpo_ddpo_loss_info info;
                rc = sdpo_loss_ddpo(&lp, B, t->mb_logp, t->mb_old, t->mb_a, t->mb_dl, &info);
                if (rc != SDPO_OK) return sdpo_trainer_wrap(t, rc, "loss");
                for (int b = 0; b < B; b++) t->mb_dl[b] = (float)(t->mb_dl[b] * scale);
                rc = sdpo_policy_step_backward(t->step, B, t->mb_dl, t->mb_dout);
                if (rc != SDPO_OK) return sdpo_trainer_wrap(t, rc, "backward pass");
                rc = sdpo_trainer_backward_done(t, info.loss, info.clipfrac);
                if (rc != SDPO_OK) return rc;
            }
    }
    return SDPO_OK;
}

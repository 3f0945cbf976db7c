/* trainers/train_d3po.c — D3PO: per-step DPO of the preferred (higher-reward) trajectory of a
 * pair against the frozen initial model (d3po scripts/rm/train_d3po.py L560–599 and compare()
 * L183–198, baselines.md §3b).
 *
 * No advantages: the winner of each pair is the member with the higher final reward (ties give
 * zero gradient). Update, per inner epoch: pairs permuted (stream MINIBATCH_ORDER), one step
 * permutation per pair shared by both members (stream STEP_SHUFFLE; sequential: none); then
 * minibatch OUTER, trained steps j INNER: the reference model (adapters off) and the policy
 * evaluate both members at that step, and
 *   loss = −mean_b log σ(β·log clamp(π/π_ref)_0·h0 + β·log clamp(π/π_ref)_1·h1)
 * is backpropagated, scaled by 1/(grad_acc × trained steps) (accelerate G·T; upstream G = 1),
 * or by 1/(every pass of the epoch) for the accumulated schedule. The sampling log-probs are
 * not used (upstream does not use them either). */
#include "trainers/train_internal.h"

#include "core/losses.h"
#include "core/update_schedule.h"

sdpo_status sdpo_method_d3po_update(sdpo_trainer *t) {
    const sdpo_train_config *c = &t->cfg;
    const int P = t->n_groups, B = c->train_batch_size, n_mb = P / B, T = t->T;
    const int cols = sdpo_trainer_train_steps(t);
    const sdpo_update_mode mode = (sdpo_update_mode)c->update_schedule;
    t->backwards_per_step = (mode == SDPO_UPDATE_ACCUMULATED ? n_mb : c->grad_acc) * cols;
    t->backwards_total = (long long)c->num_inner_epochs * cols * n_mb;
    const double scale = 1.0 / t->backwards_per_step;
    const sdpo_d3po_loss_params lp = {c->d3po_beta, c->d3po_eps};
    int *traj = t->mb_traj, *step = t->mb_s;
    for (int inner = 0; inner < c->num_inner_epochs; inner++) {
        if (c->shuffle_batch) sdpo_rng_permutation(&t->rng[SDPO_STREAM_MINIBATCH_ORDER], t->perm, P);
        else
            for (int p = 0; p < P; p++) t->perm[p] = p;
        sdpo_status rc = sdpo_update_step_order(mode, P, T, &t->rng[SDPO_STREAM_STEP_SHUFFLE],
                                                t->order);
        if (rc != SDPO_OK) return sdpo_trainer_wrap(t, rc, "step order");
        for (int m = 0; m < n_mb; m++)
            for (int j = 0; j < cols; j++) {
                for (int b = 0; b < B; b++) {
                    const int pos = m * B + b, g = t->perm[pos];
                    traj[b] = g;
                    traj[B + b] = P + g;
                    step[b] = step[B + b] = t->order[(size_t)pos * T + j];
                    t->mb_a[b] = t->final_reward[g];
                    t->mb_b[b] = t->final_reward[P + g];
                }
                sdpo_trainer_gather(t, 0, 2 * B, traj, step);
                rc = sdpo_policy_step_logprob(t->step, 2 * B, t->mb_x, t->mb_xn, t->mb_step,
                                              t->mb_cond, SDPO_FWD_REFERENCE, t->mb_ref, NULL);
                if (rc == SDPO_OK)
                    rc = sdpo_policy_step_logprob(t->step, 2 * B, t->mb_x, t->mb_xn, t->mb_step,
                                                  t->mb_cond, SDPO_FWD_TRAIN, t->mb_logp,
                                                  t->mb_dout);
                if (rc != SDPO_OK) return sdpo_trainer_wrap(t, rc, "log-probs");
                sdpo_d3po_loss_info info;
                rc = sdpo_loss_d3po(&lp, B, t->mb_logp, t->mb_ref, t->mb_a, t->mb_logp + B,
                                    t->mb_ref + B, t->mb_b, t->mb_dl, t->mb_dl + B, &info);
                if (rc != SDPO_OK) return sdpo_trainer_wrap(t, rc, "loss");
                for (int r = 0; r < 2 * B; r++) t->mb_dl[r] = (float)(t->mb_dl[r] * scale);
                rc = sdpo_policy_step_backward(t->step, 2 * B, t->mb_dl, t->mb_dout);
                if (rc != SDPO_OK) return sdpo_trainer_wrap(t, rc, "backward pass");
                rc = sdpo_trainer_backward_done(t, info.loss, info.clipfrac);
                if (rc != SDPO_OK) return rc;
            }
    }
    return SDPO_OK;
}

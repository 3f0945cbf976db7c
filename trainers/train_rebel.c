/* trainers/train_rebel.c — REBEL: trajectory-level regression of the log-ratio difference
 * onto the advantage difference (rlcm lcm_rl_pytorch/core/rebel_training_loop.py L268–331,
 * baselines.md §3c, carried to DDIM as the SDPO paper's Appendix A does).
 *
 * Advantages: the final rewards of both members through the per-prompt stat tracker in one
 * call, rows [a; b] (RLCM pushes prompts1 + prompts2), not clipped.
 * Update, per inner epoch: pairs permuted (stream MINIBATCH_ORDER), minibatches of
 * train.batch_size pairs, one loss per minibatch over all T steps:
 *   loss = mean_b ((1/η)·(Σ_i ρ^a_{b,i} − Σ_i ρ^b_{b,i}) − (A^a_b − A^b_b))²
 * (the intended per-sample sum, core/losses.h). Upstream backpropagates through a graph of all
 * T model passes; here a first pass evaluates every step's log-prob (no activations kept), the
 * loss gives ∂loss/∂logp of every step, and a second pass re-runs each step with activations
 * and backpropagates that step's share — exact, since the model output of a step does not
 * depend on the other steps, and memory stays at one step. Accumulation: grad_acc minibatches
 * per optimizer step; no clipping by default (train.max_grad_norm = 0, as RLCM). */
#include "trainers/train_internal.h"

#include "core/losses.h"

sdpo_status sdpo_method_rebel_advantages(sdpo_trainer *t) {
    sdpo_status rc = sdpo_stat_tracker_update(t->tracker, t->n_traj, t->row_prompt,
                                              t->final_reward, t->adv);
    return rc == SDPO_OK ? rc : sdpo_trainer_wrap(t, rc, "advantages");
}

/* Gathers members a (rows 0…B−1) and b (rows B…2B−1) of pairs g at step i. */
static void gather_pairs_at(sdpo_trainer *t, int B, const int *g, int i) {
    for (int b = 0; b < B; b++) {
        t->mb_traj[b] = g[b];
        t->mb_traj[B + b] = t->n_groups + g[b];
        t->mb_s[b] = t->mb_s[B + b] = i;
    }
    sdpo_trainer_gather(t, 0, 2 * B, t->mb_traj, t->mb_s);
}

sdpo_status sdpo_method_rebel_minibatch(sdpo_trainer *t, int B, const int *g, double scale,
                                        int backward, sdpo_minibatch_result *res) {
    const int P = t->n_groups, T = t->T, Tm = t->T_max;
    if (2 * B > t->cap)
        return sdpo_fail(SDPO_ERR_ARG, "rebel minibatch: %d pairs > %d", B, t->cap / 2);
    /* mb_logp/mb_old/mb_dl are [2B, T] here: row r = member (a rows, then b rows). */
    float *lp = t->mb_logp, *old = t->mb_old, *dl = t->mb_dl;
    float *row_lp = t->mb_ref, *row_dl = t->mb_a, *adv = t->mb_b; /* [2B] each */
    sdpo_status rc = SDPO_OK;
    for (int i = 0; i < T && rc == SDPO_OK; i++) {
        gather_pairs_at(t, B, g, i);
        rc = sdpo_policy_step_logprob(t->step, 2 * B, t->mb_x, t->mb_xn, t->mb_step, t->mb_cond,
                                      SDPO_FWD_EVAL, row_lp, NULL);
        for (int r = 0; r < 2 * B; r++) {
            lp[(size_t)r * T + i] = row_lp[r];
            old[(size_t)r * T + i] = t->logp[(size_t)t->mb_traj[r] * Tm + i];
        }
    }
    if (rc != SDPO_OK) return sdpo_trainer_wrap(t, rc, "log-probs");
    for (int b = 0; b < B; b++) {
        adv[b] = t->adv[g[b]];
        adv[B + b] = t->adv[P + g[b]];
    }
    sdpo_rebel_loss_info info;
    rc = sdpo_loss_rebel(1.0 / t->cfg.log_scale, B, T, lp, old, adv, lp + (size_t)B * T,
                         old + (size_t)B * T, adv + B, dl, dl + (size_t)B * T, &info);
    if (rc != SDPO_OK) return sdpo_trainer_wrap(t, rc, "loss");
    res->loss = info.loss;
    res->clipfrac = 0.0;
    for (int i = 0; backward && i < T && rc == SDPO_OK; i++) {
        gather_pairs_at(t, B, g, i);
        rc = sdpo_policy_step_logprob(t->step, 2 * B, t->mb_x, t->mb_xn, t->mb_step, t->mb_cond,
                                      SDPO_FWD_TRAIN, row_lp, t->mb_dout);
        for (int r = 0; r < 2 * B; r++) row_dl[r] = (float)(dl[(size_t)r * T + i] * scale);
        if (rc == SDPO_OK) rc = sdpo_policy_step_backward(t->step, 2 * B, row_dl, t->mb_dout);
    }
    return rc == SDPO_OK ? rc : sdpo_trainer_wrap(t, rc, "backward pass");
}

sdpo_status sdpo_method_rebel_update(sdpo_trainer *t) {
    const sdpo_train_config *c = &t->cfg;
    const int P = t->n_groups, B = c->train_batch_size, n_mb = P / B;
    t->backwards_per_step = c->grad_acc;
    t->backwards_total = (long long)c->num_inner_epochs * n_mb;
    const double scale = 1.0 / t->backwards_per_step;
    int *g = t->mb_g;
    for (int inner = 0; inner < c->num_inner_epochs; inner++) {
        if (c->shuffle_batch) sdpo_rng_permutation(&t->rng[SDPO_STREAM_MINIBATCH_ORDER], t->perm, P);
        else
            for (int p = 0; p < P; p++) t->perm[p] = p;
        for (int m = 0; m < n_mb; m++) {
            for (int b = 0; b < B; b++) g[b] = t->perm[m * B + b];
            sdpo_minibatch_result res;
            sdpo_status rc = sdpo_method_rebel_minibatch(t, B, g, scale, 1, &res);
            if (rc == SDPO_OK) rc = sdpo_trainer_backward_done(t, res.loss, 0.0);
            if (rc != SDPO_OK) return rc;
        }
    }
    return SDPO_OK;
}

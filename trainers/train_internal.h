/* trainers/train_internal.h — the trainer's state, shared by the epoch loop (trainer.c), the
 * sampler (rollout.c) and the four methods (train_sdpo.c, train_ddpo.c, train_rebel.c,
 * train_d3po.c). Not an API: tests include it to check one minibatch's gradient against finite
 * differences through the real sampler, policy and loss.
 *
 * Epoch data layout (core/trajectory.h: step i = 0 is the first, noisiest step):
 *   groups g = 0 … G−1 are the epoch's prompts; a pair method samples trajectories a = g and
 *   b = G + g for group g (the official gathered order [a rows; b rows]); DDPO samples
 *   trajectory g alone.
 *   lat [n_traj, T_max + 1, D]   lat[n][0] = x_T, lat[n][i + 1] = the sample after step i
 *   logp [n_traj, T_max]          log π_old of step i (sampling time)
 *   dense, adv [n_traj, T_max]    SDPO: R̂_i and A_i; DDPO/REBEL: adv[n] is A_n (one per
 *                                 trajectory, from the final reward) */
#ifndef SDPO_TRAINERS_TRAIN_INTERNAL_H
#define SDPO_TRAINERS_TRAIN_INTERNAL_H

#include "core/dense_reward.h"
#include "core/rng.h"
#include "core/stat_tracker.h"
#include "nn/context.h"
#include "nn/optim.h"
#include "rewards/reward.h"
#include "trainers/policy.h"
#include "trainers/policy_step.h"
#include "trainers/prompts.h"
#include "trainers/reward_queue.h"
#include "trainers/train_config.h"
#include "trainers/trainer.h"

struct sdpo_trainer {
    sdpo_train_config cfg;
    char out_dir[SDPO_CFG_PATH_MAX];
    char csv_path[SDPO_CFG_PATH_MAX + 16];
    sdpo_prompts prompts;
    sdpo_policy *policy;
    sdpo_reward *reward;
    sdpo_policy_step *step;
    sdpo_reward_queue rq;
    sdpo_stat_tracker *tracker;     /* NULL for D3PO */
    nn_ctx nn;
    nn_adamw opt;
    sdpo_rng rng[SDPO_STREAM_COUNT];/* rng[s] is stream s (index 0 unused) */
    sdpo_dense_config dense;
    sdpo_spacing spacing;

    int epoch;                      /* epochs completed */
    long long samples_seen;         /* trajectories sampled so far */

    /* this epoch (N = n_traj, Tm = T_max, D) */
    int T, T_max, paired, n_groups, n_traj;
    size_t D;
    float *lat;                     /* [N, Tm + 1, D] */
    float *logp, *dense_r, *adv;    /* [N, Tm] (adv: [N] for DDPO/REBEL) */
    float *final_reward, *first_reward;  /* [N] (first: nan when not scored) */
    int *prompt;                    /* [N] prompt index */
    const char **row_prompt;        /* [N] prompt strings (tracker keys) */

    /* one sampling batch (bt = batch_traj trajectories) */
    int batch_traj;
    float *xhat;                    /* [bt, Tm, D] x̂ of every step */
    float *xcur, *xnext, *xhat_i, *noise;  /* [bt, D] */
    float *logp_i;                  /* [bt] */
    float *qrew;                    /* [bt, Tm] rewards of the queried steps */
    int *bt_traj, *bt_step, *bt_cond, *nq;  /* [bt] */
    int *qsteps;                    /* [bt, Tm] queried steps */

    /* minibatches (cap rows: 2 × train.batch_size for pairs, train.batch_size for DDPO) */
    int cap;
    float *mb_x, *mb_xn, *mb_dout;  /* [cap, D] x_i, x_{i+1}, ∂logp/∂out */
    float *mb_logp, *mb_old, *mb_dl;/* [cap, Tm] (REBEL: every step of a minibatch) */
    float *mb_ref, *mb_a, *mb_b;    /* [cap] */
    double *mb_w;                   /* [cap] SDPO step weights */
    int *mb_step, *mb_cond, *mb_g, *mb_s, *mb_traj;  /* [cap] */
    int *perm;                      /* [n_groups] minibatch order */
    int *order;                     /* [n_groups, Tm] step order */

    /* optimizer-step accounting and epoch statistics */
    int backwards_per_step, backwards_pending;
    long long backwards_done, backwards_total;
    double loss_sum, clip_sum, gnorm_sum;
    long long n_backward, n_updates;

    sdpo_progress_fn progress;
    void *progress_user;
};

/* Sets the epoch's T and timesteps and zeroes the epoch statistics (trainer.c). */
sdpo_status sdpo_trainer_begin_epoch(sdpo_trainer *t);

/* rollout.c: samples the epoch's trajectories, queries rewards, fills final/first rewards and
 * (SDPO) dense rewards. */
sdpo_status sdpo_trainer_sample_epoch(sdpo_trainer *t);

/* trainer.c helpers for the methods */
/* Copies x_i and x_{i+1} of trajectories traj[k] at steps step[k] into t->mb_x / t->mb_xn
 * (rows k0 … k0 + n − 1) and their prompts into t->mb_cond. */
void sdpo_trainer_gather(sdpo_trainer *t, int k0, int n, const int *traj, const int *step);
/* After one minibatch backward (loss and clipfrac of that minibatch): counts it, takes the
 * optimizer step when one is due, reports progress. */
sdpo_status sdpo_trainer_backward_done(sdpo_trainer *t, double loss, double clipfrac);
/* Steps trained per epoch for the step-wise methods: floor(T · timestep_fraction). */
int sdpo_trainer_train_steps(const sdpo_trainer *t);
/* Re-fails with "epoch E: <what>: <the last error message>". */
sdpo_status sdpo_trainer_wrap(const sdpo_trainer *t, sdpo_status rc, const char *what);

/* Share of an epoch's progress bar given to sampling (about one of three model passes per
 * trained step: sampling forward, training forward, backward). */
#define SDPO_SAMPLE_SHARE (1.0 / 3.0)

/* Per method: advantages after sampling, then the update loop of the epoch. */
sdpo_status sdpo_method_sdpo_advantages(sdpo_trainer *t);
sdpo_status sdpo_method_sdpo_update(sdpo_trainer *t);
sdpo_status sdpo_method_ddpo_advantages(sdpo_trainer *t);
sdpo_status sdpo_method_ddpo_update(sdpo_trainer *t);
sdpo_status sdpo_method_rebel_advantages(sdpo_trainer *t);
sdpo_status sdpo_method_rebel_update(sdpo_trainer *t);
sdpo_status sdpo_method_d3po_update(sdpo_trainer *t);

/* One SDPO minibatch (Eq. 14–16): pairs g[B] at steps step[B]; the loss gradient is scaled by
 * `scale` and backpropagated into the parameter gradients when `backward` is set. */
typedef struct {
    double loss, clipfrac;
} sdpo_minibatch_result;
sdpo_status sdpo_method_sdpo_minibatch(sdpo_trainer *t, int B, const int *g, const int *step,
                                       double scale, int backward, sdpo_minibatch_result *res);

/* One REBEL minibatch: pairs g[B] over all T steps (first pass: every step's log-prob; loss;
 * second pass: each step re-run with activations and backpropagated). */
sdpo_status sdpo_method_rebel_minibatch(sdpo_trainer *t, int B, const int *g, double scale,
                                        int backward, sdpo_minibatch_result *res);

#endif

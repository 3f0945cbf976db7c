/* trainers/policy_step.c — guided model passes and DDIM steps on batches (policy_step.h). */
#include "trainers/policy_step.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

sdpo_status sdpo_policy_step_init(sdpo_policy_step *s, sdpo_policy *p, double guidance, int cap) {
    memset(s, 0, sizeof *s);
    s->policy = p;
    s->guidance = guidance;
    s->cap = cap;
    const size_t rows = (size_t)cap * (guidance > 1.0 ? 2 : 1);
    s->x2 = malloc(rows * p->D * sizeof(float));
    s->out2 = malloc(rows * p->D * sizeof(float));
    s->dout2 = malloc(rows * p->D * sizeof(float));
    s->t2 = malloc(rows * sizeof(int));
    s->c2 = malloc(rows * sizeof(int));
    if (!s->x2 || !s->out2 || !s->dout2 || !s->t2 || !s->c2) {
        sdpo_policy_step_free(s);
        return sdpo_fail(SDPO_ERR_NOMEM, "policy step: out of memory (%zu rows of %zu)", rows,
                         p->D);
    }
    return SDPO_OK;
}

void sdpo_policy_step_free(sdpo_policy_step *s) {
    free(s->x2);
    free(s->out2);
    free(s->dout2);
    free(s->t2);
    free(s->c2);
    s->x2 = s->out2 = s->dout2 = NULL;
    s->t2 = s->c2 = NULL;
}

sdpo_status sdpo_policy_step_set_steps(sdpo_policy_step *s, int T, sdpo_spacing spacing,
                                       double eta) {
    sdpo_schedule sch = s->policy->schedule;
    sch.spacing = spacing;
    if (T < 1 || T > SDPO_MAX_TRAIN_TIMESTEPS)
        return sdpo_fail(SDPO_ERR_ARG, "policy step: T = %d out of range", T);
    sdpo_status rc = sdpo_schedule_timesteps(&sch, T, s->timesteps);
    for (int i = 0; rc == SDPO_OK && i < T; i++)
        rc = sdpo_ddim_coeffs_at(&sch, s->timesteps[i], T, eta, &s->coeffs[i]);
    if (rc == SDPO_OK) s->T = T;
    return rc;
}

/* out [n, D] = guided model output; TRAIN needs the whole guided batch in one pass. */
static sdpo_status guided_forward(sdpo_policy_step *s, int n, const float *x, const int *step,
                                  const int *cond, sdpo_fwd_mode mode, float *out) {
    sdpo_policy *p = s->policy;
    const size_t D = p->D;
    const int cfg = s->guidance > 1.0;
    const int passes = cfg ? 2 : 1;
    if (n > s->cap) return sdpo_fail(SDPO_ERR_ARG, "policy step: batch %d > capacity %d", n, s->cap);
    /* Rows: [uncond (n); cond (n)] with CFG, else [cond (n)]. */
    for (int b = 0; b < n; b++) {
        if (step[b] < 0 || step[b] >= s->T)
            return sdpo_fail(SDPO_ERR_ARG, "policy step: step %d outside [0, %d)", step[b], s->T);
        for (int q = 0; q < passes; q++) {
            const size_t r = (size_t)q * n + b;
            memcpy(s->x2 + r * D, x + (size_t)b * D, D * sizeof(float));
            s->t2[r] = s->timesteps[step[b]];
            s->c2[r] = cfg && q == 0 ? SDPO_POLICY_UNCOND : cond[b];
        }
    }
    const int rows = passes * n;
    if (mode == SDPO_FWD_TRAIN && rows > p->max_batch)
        return sdpo_fail(SDPO_ERR_ARG, "policy step: a TRAIN pass of %d rows exceeds the "
                         "model's batch limit %d", rows, p->max_batch);
    for (int r0 = 0; r0 < rows; r0 += p->max_batch) {
        const int m = rows - r0 < p->max_batch ? rows - r0 : p->max_batch;
        sdpo_status rc = p->forward(p, m, s->x2 + (size_t)r0 * D, s->t2 + r0, s->c2 + r0, mode,
                                    s->out2 + (size_t)r0 * D);
        if (rc != SDPO_OK) return rc;
    }
    if (!cfg) {
        memcpy(out, s->out2, (size_t)n * D * sizeof(float));
        return SDPO_OK;
    }
    const float g = (float)s->guidance;
    for (size_t k = 0; k < (size_t)n * D; k++) {
        const float u = s->out2[k], c = s->out2[(size_t)n * D + k];
        out[k] = u + g * (c - u);
    }
    return SDPO_OK;
}

sdpo_status sdpo_policy_step_sample(sdpo_policy_step *s, int n, const float *x, const int *step,
                                    const int *cond, const float *noise, float *x_next,
                                    float *xhat, float *logp) {
    const size_t D = s->policy->D;
    float *eps = s->dout2; /* scratch: the guided output */
    sdpo_status rc = guided_forward(s, n, x, step, cond, SDPO_FWD_EVAL, eps);
    for (int b = 0; b < n && rc == SDPO_OK; b++) {
        double lp;
        const size_t o = (size_t)b * D;
        rc = sdpo_ddim_step(&s->policy->schedule, &s->coeffs[step[b]], D, x + o, eps + o,
                            noise + o, x_next + o, xhat + o, &lp, NULL);
        if (rc != SDPO_OK) break;
        int finite = isfinite(lp);
        for (size_t d = 0; d < D && finite; d++) finite = isfinite(x_next[o + d]);
        if (!finite)
            return sdpo_fail(SDPO_ERR_NONFINITE, "sampling produced a non-finite sample or "
                             "log-prob at step %d (the model output diverged)", step[b]);
        logp[b] = (float)lp;
    }
    return rc;
}

sdpo_status sdpo_policy_step_logprob(sdpo_policy_step *s, int n, const float *x,
                                     const float *x_next, const int *step, const int *cond,
                                     sdpo_fwd_mode mode, float *logp, float *dlogp_dout) {
    const size_t D = s->policy->D;
    float *out = s->dout2;
    sdpo_status rc = guided_forward(s, n, x, step, cond, mode, out);
    for (int b = 0; b < n && rc == SDPO_OK; b++) {
        double lp;
        const size_t o = (size_t)b * D;
        rc = sdpo_ddim_step(&s->policy->schedule, &s->coeffs[step[b]], D, x + o, out + o, NULL,
                            (float *)(x_next + o), NULL, &lp,
                            dlogp_dout ? dlogp_dout + o : NULL);
        logp[b] = (float)lp;
    }
    return rc;
}

sdpo_status sdpo_policy_step_backward(sdpo_policy_step *s, int n, const float *dl_dlogp,
                                      const float *dlogp_dout) {
    sdpo_policy *p = s->policy;
    const size_t D = p->D;
    const int cfg = s->guidance > 1.0;
    /* ε̂ = u + g(c − u): ∂/∂u = 1 − g, ∂/∂c = g. */
    const float g = (float)s->guidance;
    for (int b = 0; b < n; b++)
        for (size_t d = 0; d < D; d++) {
            const size_t k = (size_t)b * D + d;
            const float v = dl_dlogp[b] * dlogp_dout[k];
            if (cfg) {
                s->dout2[k] = (1.0f - g) * v;
                s->dout2[(size_t)n * D + k] = g * v;
            } else {
                s->dout2[k] = v;
            }
        }
    return p->backward(p, cfg ? 2 * n : n, s->dout2);
}

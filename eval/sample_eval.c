/* eval/sample_eval.c — the evaluation sampler with per-sample random numbers (sample_eval.h). */
#include "eval/sample_eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"

/* blocks of 4 normals per D-element vector */
static uint64_t blocks_of(size_t D) { return ((uint64_t)D + 3u) / 4u; }

static uint64_t sample_id(int prompt, int image) {
    return ((uint64_t)prompt << 16) | (uint64_t)image;
}

uint64_t sdpo_eval_init_block(int prompt, int image, size_t D) {
    return sample_id(prompt, image) * blocks_of(D);
}

uint64_t sdpo_eval_step_block(int prompt, int image, int step, size_t D) {
    /* 4096 step slots per sample: s < 2^36 and B ≤ 2^14, so (s·4096 + i)·B < 2^62 */
    return (sample_id(prompt, image) * 4096u + (uint64_t)step) * blocks_of(D);
}

static void normals_from(uint64_t seed, sdpo_stream_id stream, uint64_t block, size_t D,
                         float *out) {
    sdpo_rng r;
    sdpo_rng_init(&r, seed, (uint32_t)stream);
    r.block = block;
    sdpo_rng_normal_fill(&r, out, D);
}

void sdpo_eval_initial_noise(uint64_t seed, int prompt, int image, size_t D, float *out) {
    normals_from(seed, SDPO_STREAM_INIT_NOISE, sdpo_eval_init_block(prompt, image, D), D, out);
}

sdpo_status sdpo_eval_sampler_init(sdpo_eval_sampler *s, sdpo_policy *p,
                                   const sdpo_eval_sampler_config *c) {
    memset(s, 0, sizeof *s);
    if (c->batch < 1 || !(c->eta >= 0.0) || !isfinite(c->eta))
        return sdpo_fail(SDPO_ERR_ARG, "eval sampler: batch %d must be >= 1 and eta %g >= 0",
                         c->batch, c->eta);
    if (p->D > SDPO_EVAL_MAX_D)
        return sdpo_fail(SDPO_ERR_ARG, "eval sampler: a sample of %zu elements exceeds the "
                         "%d the noise indexing has room for", p->D, SDPO_EVAL_MAX_D);
    s->policy = p;
    s->cfg = *c;
    const size_t n = (size_t)c->batch * p->D;
    s->x = malloc(n * sizeof(float));
    s->out = malloc(n * sizeof(float));
    s->xhat = malloc(n * sizeof(float));
    s->noise = malloc(p->D * sizeof(float));
    s->eps = malloc(p->D * sizeof(float));
    s->t = malloc((size_t)c->batch * sizeof(int));
    s->cond = malloc((size_t)c->batch * sizeof(int));
    if (!s->x || !s->out || !s->xhat || !s->noise || !s->eps || !s->t || !s->cond) {
        sdpo_eval_sampler_free(s);
        return sdpo_fail(SDPO_ERR_NOMEM, "eval sampler: out of memory (%d samples of %zu)",
                         c->batch, p->D);
    }
    return SDPO_OK;
}

void sdpo_eval_sampler_free(sdpo_eval_sampler *s) {
    free(s->x);
    free(s->out);
    free(s->xhat);
    free(s->noise);
    free(s->eps);
    free(s->t);
    free(s->cond);
    memset(s, 0, sizeof *s);
}

sdpo_status sdpo_eval_sampler_set_steps(sdpo_eval_sampler *s, int T) {
    if (T < 1 || T > SDPO_EVAL_MAX_STEPS)
        return sdpo_fail(SDPO_ERR_ARG, "eval sampler: %d steps outside [1, %d]", T,
                         SDPO_EVAL_MAX_STEPS);
    const sdpo_schedule *sch = &s->policy->schedule;
    sdpo_status rc = sdpo_schedule_timesteps(sch, T, s->timesteps);
    for (int i = 0; rc == SDPO_OK && i < T; i++)
        rc = sdpo_ddim_coeffs_at(sch, s->timesteps[i], T, s->cfg.eta, &s->coeffs[i]);
    s->T = rc == SDPO_OK ? T : 0;
    return rc;
}

/* out [m, D] = model(x, t, cond) in chunks of the policy's batch limit. */
static sdpo_status forward_all(sdpo_eval_sampler *s, int m) {
    sdpo_policy *p = s->policy;
    for (int r0 = 0; r0 < m; r0 += p->max_batch) {
        const int k = m - r0 < p->max_batch ? m - r0 : p->max_batch;
        sdpo_status rc = p->forward(p, k, s->x + (size_t)r0 * p->D, s->t + r0, s->cond + r0,
                                    SDPO_FWD_EVAL, s->out + (size_t)r0 * p->D);
        if (rc != SDPO_OK) return rc;
    }
    return SDPO_OK;
}

/* One DDIM step of sample b of the chunk at step i; x is updated in place. */
static sdpo_status step_one(sdpo_eval_sampler *s, int b, int i, int prompt, int image,
                            float *logp) {
    sdpo_policy *p = s->policy;
    const size_t D = p->D, o = (size_t)b * D;
    const sdpo_ddim_coeffs *c = &s->coeffs[i];
    float *x = s->x + o, *xh = s->xhat + o;
    if (c->sigma > 0) {
        double lp;
        normals_from(s->cfg.seed, SDPO_STREAM_SAMPLER_NOISE,
                     sdpo_eval_step_block(prompt, image, i, D), D, s->noise);
        /* x_prev may not alias x_t: write into eps, then copy back */
        sdpo_status rc = sdpo_ddim_step(&p->schedule, c, D, x, s->out + o, s->noise, s->eps,
                                        xh, &lp, NULL);
        if (rc != SDPO_OK) return rc;
        memcpy(x, s->eps, D * sizeof(float));
        if (logp) *logp = (float)lp;
    } else {
        /* deterministic DDIM (η = 0, or ᾱ_prev = ᾱ_t): x ← √ᾱ_prev·x̂ + √(1−ᾱ_prev)·ε̂ */
        sdpo_predict_x0_eps(&p->schedule, c->alpha_t, D, x, s->out + o, xh, s->eps);
        const double ap = sqrt(c->alpha_prev);
        for (size_t d = 0; d < D; d++) x[d] = (float)(ap * xh[d] + c->dir_coef * s->eps[d]);
        if (logp) *logp = NAN;
    }
    for (size_t d = 0; d < D; d++)
        if (!isfinite(x[d]) || !isfinite(xh[d]))
            return sdpo_fail(SDPO_ERR_NONFINITE, "eval sampler: prompt %d image %d became "
                             "non-finite at step %d of %d (timestep %d)", prompt, image, i, s->T,
                             c->t);
    return SDPO_OK;
}

sdpo_status sdpo_eval_sample(sdpo_eval_sampler *s, int n, const int *prompt, const int *image,
                             float *images, float *xhat_steps, float *logp, float *final) {
    sdpo_policy *p = s->policy;
    const size_t D = p->D, img = (size_t)3 * p->img_h * p->img_w;
    const int T = s->T, B = s->cfg.batch;
    if (T < 1) return sdpo_fail(SDPO_ERR_ARG, "eval sampler: no step count set");
    for (int j = 0; j < n; j++)
        if (prompt[j] < 0 || prompt[j] >= SDPO_EVAL_MAX_PROMPTS || image[j] < 0 ||
            image[j] >= SDPO_EVAL_MAX_IMAGES)
            return sdpo_fail(SDPO_ERR_ARG, "eval sampler: prompt %d / image %d outside [0, %d) "
                             "/ [0, %d)", prompt[j], image[j], SDPO_EVAL_MAX_PROMPTS,
                             SDPO_EVAL_MAX_IMAGES);
    for (int j0 = 0; j0 < n; j0 += B) {
        const int m = n - j0 < B ? n - j0 : B;
        for (int b = 0; b < m; b++) {
            sdpo_eval_initial_noise(s->cfg.seed, prompt[j0 + b], image[j0 + b], D,
                                    s->x + (size_t)b * D);
            s->cond[b] = prompt[j0 + b];
        }
        for (int i = 0; i < T; i++) {
            for (int b = 0; b < m; b++) s->t[b] = s->timesteps[i];
            sdpo_status rc = forward_all(s, m);
            for (int b = 0; b < m && rc == SDPO_OK; b++) {
                const size_t j = (size_t)(j0 + b);
                rc = step_one(s, b, i, prompt[j], image[j], logp ? logp + j * T + i : NULL);
                if (rc == SDPO_OK && xhat_steps)
                    memcpy(xhat_steps + (j * T + i) * D, s->xhat + (size_t)b * D,
                           D * sizeof(float));
            }
            if (rc != SDPO_OK) return rc;
        }
        if (final) memcpy(final + (size_t)j0 * D, s->x, (size_t)m * D * sizeof(float));
        if (!images) continue;
        const float *z = s->cfg.final_image == SDPO_FINAL_SAMPLE ? s->x : s->xhat;
        for (int r0 = 0; r0 < m; r0 += p->max_batch) {
            const int k = m - r0 < p->max_batch ? m - r0 : p->max_batch;
            sdpo_status rc = p->decode(p, k, z + (size_t)r0 * D,
                                       images + ((size_t)j0 + (size_t)r0) * img);
            if (rc != SDPO_OK) return rc;
        }
    }
    return SDPO_OK;
}

/* trainers/policy_toy.c — the Gaussian-mixture policy with a low-rank trainable correction
 * (policy_toy.h). */
#include "trainers/policy_toy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/gaussian_mixture.h"
#include "core/rng.h"
#include "nn/lora.h"

typedef struct {
    int K, rank, n_prompts;
    size_t D, C_in;          /* C_in = D + 1: [x; 1] */
    float scale;             /* alpha / rank */
    float *means;            /* [K, D] */
    double *weights;         /* [n_prompts + 1, K]; row n_prompts is the uniform (uncond) row */
    double var;
    double *scratch;         /* [K] */
    float *down, *up;        /* views into params: [rank, C_in], [D, rank] */
    float *ddown, *dup;      /* their gradients */
    float *saved_f, *saved_h;/* features and h of the last forward: [max_batch, D], [max_batch, rank] */
    float *eps_scratch, *feat_scratch;  /* [D] each */
    int saved_n;             /* batch of the last TRAIN forward */
    nn_params params;
} toy_state;

static void toy_destroy(sdpo_policy *p) {
    toy_state *s = p->state;
    if (!s) return;
    free(s->means);
    free(s->weights);
    free(s->scratch);
    free(s->saved_f);
    free(s->eps_scratch);
    free(s->feat_scratch);
    free(s->saved_h);
    nn_params_free(&s->params);
    free(s);
}

static sdpo_status toy_forward(sdpo_policy *p, int n, const float *x, const int *t,
                               const int *cond, sdpo_fwd_mode mode, float *out) {
    toy_state *s = p->state;
    if (n < 0 || n > p->max_batch)
        return sdpo_fail(SDPO_ERR_ARG, "toy policy: batch %d outside [0, %d]", n, p->max_batch);
    const size_t D = s->D;
    for (int b = 0; b < n; b++) {
        const float *xb = x + (size_t)b * D;
        float *ob = out + (size_t)b * D;
        if (t[b] < 0 || t[b] >= p->schedule.num_train_timesteps)
            return sdpo_fail(SDPO_ERR_ARG, "toy policy: timestep %d out of range", t[b]);
        if (cond[b] < SDPO_POLICY_UNCOND || cond[b] >= s->n_prompts)
            return sdpo_fail(SDPO_ERR_ARG, "toy policy: prompt index %d out of range", cond[b]);
        const int row = cond[b] == SDPO_POLICY_UNCOND ? s->n_prompts : cond[b];
        sdpo_gmm g = {s->K, D, s->means, s->weights + (size_t)row * s->K, s->var};
        const double abar = p->schedule.alphas_cumprod[t[b]];
        sdpo_gmm_eps(&g, abar, xb, ob, s->scratch);
        if (p->schedule.prediction == SDPO_PRED_V) {
            const double sa = sqrt(abar), sb = sqrt(1.0 - abar);
            for (size_t d = 0; d < D; d++) ob[d] = (float)(((double)ob[d] - sb * xb[d]) / sa);
        }
        if (mode == SDPO_FWD_REFERENCE) continue;
        /* features f = [x̂ of the base model; 1] */
        float *f = mode == SDPO_FWD_TRAIN ? s->saved_f + (size_t)b * D : s->feat_scratch;
        sdpo_predict_x0_eps(&p->schedule, abar, D, xb, ob, f, s->eps_scratch);
        float h[64];
        for (int r = 0; r < s->rank; r++) {
            const float *dr = s->down + (size_t)r * s->C_in;
            double acc = dr[D];
            for (size_t d = 0; d < D; d++) acc += (double)dr[d] * f[d];
            h[r] = (float)acc;
        }
        for (size_t d = 0; d < D; d++) {
            const float *ud = s->up + d * (size_t)s->rank;
            double acc = 0.0;
            for (int r = 0; r < s->rank; r++) acc += (double)ud[r] * h[r];
            ob[d] += s->scale * (float)acc;
        }
        if (mode == SDPO_FWD_TRAIN)
            memcpy(s->saved_h + (size_t)b * s->rank, h, (size_t)s->rank * sizeof(float));
    }
    if (mode == SDPO_FWD_TRAIN) s->saved_n = n;
    return SDPO_OK;
}

static sdpo_status toy_backward(sdpo_policy *p, int n, const float *dout) {
    toy_state *s = p->state;
    if (n != s->saved_n)
        return sdpo_fail(SDPO_ERR_ARG, "toy policy: backward over %d samples after a TRAIN "
                         "forward of %d", n, s->saved_n);
    const size_t D = s->D;
    for (int b = 0; b < n; b++) {
        const float *db = dout + (size_t)b * D, *fb = s->saved_f + (size_t)b * D;
        const float *h = s->saved_h + (size_t)b * s->rank;
        float dh[64];
        for (int r = 0; r < s->rank; r++) {
            double acc = 0.0;
            for (size_t d = 0; d < D; d++) acc += (double)s->up[d * (size_t)s->rank + r] * db[d];
            dh[r] = s->scale * (float)acc;
        }
        for (size_t d = 0; d < D; d++)
            for (int r = 0; r < s->rank; r++)
                s->dup[d * (size_t)s->rank + r] += s->scale * db[d] * h[r];
        for (int r = 0; r < s->rank; r++) {
            float *gr = s->ddown + (size_t)r * s->C_in;
            for (size_t d = 0; d < D; d++) gr[d] += dh[r] * fb[d];
            gr[D] += dh[r];
        }
    }
    return SDPO_OK;
}

static sdpo_status toy_decode(sdpo_policy *p, int n, const float *z, float *images) {
    const size_t total = (size_t)n * p->D;
    for (size_t k = 0; k < total; k++) {
        float v = z[k] / 2.0f + 0.5f;
        images[k] = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
    }
    return SDPO_OK;
}

const float *sdpo_policy_toy_mode_mean(const sdpo_policy *p, int k) {
    const toy_state *s = p->state;
    return s->means + (size_t)k * s->D;
}

sdpo_status sdpo_policy_toy_create(const sdpo_toy_config *tc, sdpo_policy **out) {
    *out = NULL;
    if (tc->height < 1 || tc->width < 1 || tc->modes < 1 || tc->rank < 1 || tc->rank > 64 ||
        tc->n_prompts < 1 || tc->max_batch < 1)
        return sdpo_fail(SDPO_ERR_ARG, "toy policy: bad size (height %d, width %d, modes %d, "
                         "rank %d (max 64), prompts %d)", tc->height, tc->width, tc->modes,
                         tc->rank, tc->n_prompts);
    sdpo_policy *p = calloc(1, sizeof *p);
    toy_state *s = calloc(1, sizeof *s);
    if (!p || !s) {
        free(p);
        free(s);
        return sdpo_fail(SDPO_ERR_NOMEM, "toy policy: out of memory");
    }
    p->state = s;
    p->name = "toy";
    p->D = s->D = (size_t)3 * tc->height * tc->width;
    p->img_h = tc->height;
    p->img_w = tc->width;
    p->max_batch = tc->max_batch;
    p->forward = toy_forward;
    p->backward = toy_backward;
    p->decode = toy_decode;
    p->destroy = toy_destroy;
    sdpo_schedule_sd_turbo(&p->schedule);
    p->schedule.prediction = tc->prediction;
    sdpo_status rc = sdpo_schedule_init(&p->schedule);
    s->K = tc->modes;
    s->rank = tc->rank;
    s->n_prompts = tc->n_prompts;
    s->C_in = s->D + 1;
    s->var = tc->mode_var;
    s->scale = nn_lora_scale(tc->lora_alpha > 0 ? tc->lora_alpha : tc->rank, tc->rank);
    const size_t D = s->D;
    s->means = malloc((size_t)s->K * D * sizeof(float));
    s->weights = malloc((size_t)(s->n_prompts + 1) * s->K * sizeof(double));
    s->scratch = malloc((size_t)s->K * sizeof(double));
    s->saved_f = malloc((size_t)tc->max_batch * D * sizeof(float));
    s->eps_scratch = malloc(D * sizeof(float));
    s->feat_scratch = malloc(D * sizeof(float));
    s->saved_h = malloc((size_t)tc->max_batch * s->rank * sizeof(float));
    float *logits = malloc((size_t)s->n_prompts * s->K * sizeof(float));
    if (rc == SDPO_OK && (!s->means || !s->weights || !s->scratch || !s->saved_f || !s->saved_h || !s->eps_scratch ||
                          !s->feat_scratch ||
                          !logits))
        rc = sdpo_fail(SDPO_ERR_NOMEM, "toy policy: out of memory (D = %zu)", D);
    if (rc == SDPO_OK) {
        sdpo_rng world;
        sdpo_rng_init(&world, tc->world_seed, SDPO_STREAM_DATA);
        sdpo_rng_normal_fill(&world, s->means, (size_t)s->K * D);
        for (size_t k = 0; k < (size_t)s->K * D; k++)
            s->means[k] = (float)(s->means[k] * tc->mode_scale);
        sdpo_rng_normal_fill(&world, logits, (size_t)s->n_prompts * s->K);
        for (int c = 0; c < s->n_prompts; c++)
            for (int k = 0; k < s->K; k++)
                s->weights[(size_t)c * s->K + k] =
                    exp(tc->prompt_scale * logits[(size_t)c * s->K + k]);
        for (int k = 0; k < s->K; k++) s->weights[(size_t)s->n_prompts * s->K + k] = 1.0;
        nn_params_init(&s->params);
        rc = nn_params_add(&s->params, "toy.lora.down", 2,
                           (const int64_t[]){s->rank, (int64_t)s->C_in}, 1);
        if (rc == SDPO_OK)
            rc = nn_params_add(&s->params, "toy.lora.up", 2,
                               (const int64_t[]){(int64_t)D, s->rank}, 1);
        if (rc == SDPO_OK) rc = nn_params_finalize(&s->params);
    }
    if (rc == SDPO_OK) {
        nn_param_view vd = nn_params_at(&s->params, 0), vu = nn_params_at(&s->params, 1);
        s->down = vd.value.data;
        s->up = vu.value.data;
        s->ddown = vd.grad;
        s->dup = vu.grad;
        sdpo_rng init;
        sdpo_rng_init(&init, tc->param_seed, SDPO_STREAM_PARAM_INIT);
        nn_lora_init(&init, s->down, s->up, (int)s->C_in, (int)D, s->rank);
        p->params = &s->params;
    }
    free(logits);
    if (rc != SDPO_OK) {
        sdpo_policy_free(p);
        return rc;
    }
    *out = p;
    return SDPO_OK;
}

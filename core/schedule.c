/* core/schedule.c — noise schedule, timestep spacing and DDIM step with log-prob (schedule.h). */
#include "core/schedule.h"

#include <math.h>

void sdpo_schedule_sd_turbo(sdpo_schedule *s) {
    s->num_train_timesteps = 1000;
    s->beta_start = 0.00085;
    s->beta_end = 0.012;
    s->beta_schedule = SDPO_BETA_SCALED_LINEAR;
    s->spacing = SDPO_SPACING_TRAILING;
    s->steps_offset = 1;
    s->prediction = SDPO_PRED_EPSILON;
    sdpo_schedule_init(s);
}

/* torch.linspace(start, end, n, dtype=float32) on the CPU: step = (end − start)/(n − 1) in
 * float; the first half is start + step·i, the second half end − step·(n − 1 − i), each a fused
 * multiply-add (one rounding) in the torch build the fixtures pin (checked bit for bit against
 * tests/data/ddim/alphas_cumprod.txt; unfused arithmetic differs in 145 of 1000 betas). */
static float linspace_f32(float start, float end, int n, int i) {
    float step = (end - start) / (float)(n - 1);
    return i < n / 2 ? fmaf(step, (float)i, start) : fmaf(-step, (float)(n - 1 - i), end);
}

sdpo_status sdpo_schedule_init(sdpo_schedule *s) {
    int n = s->num_train_timesteps;
    if (n < 2 || n > SDPO_MAX_TRAIN_TIMESTEPS)
        return sdpo_fail(SDPO_ERR_ARG, "scheduler: num_train_timesteps = %d is outside [2, %d]",
                         n, SDPO_MAX_TRAIN_TIMESTEPS);
    if (!(s->beta_start > 0 && s->beta_end > s->beta_start && s->beta_end < 1))
        return sdpo_fail(SDPO_ERR_ARG, "scheduler: need 0 < beta_start < beta_end < 1, got %g, %g",
                         s->beta_start, s->beta_end);
    /* torch.cumprod on CPU accumulates float32 in double (acc_type<float>) and stores float. */
    double prod = 1.0;
    for (int i = 0; i < n; i++) {
        float beta;
        if (s->beta_schedule == SDPO_BETA_SCALED_LINEAR) {
            float r = linspace_f32((float)sqrt(s->beta_start), (float)sqrt(s->beta_end), n, i);
            beta = r * r;
        } else {
            beta = linspace_f32((float)s->beta_start, (float)s->beta_end, n, i);
        }
        float alpha = 1.0f - beta;
        prod *= (double)alpha;
        s->alphas_cumprod[i] = (float)prod;
    }
    return SDPO_OK;
}

sdpo_status sdpo_schedule_timesteps(const sdpo_schedule *s, int N, int *t) {
    int n = s->num_train_timesteps;
    if (N < 1 || N > n)
        return sdpo_fail(SDPO_ERR_ARG, "scheduler: num_inference_steps = %d is outside [1, %d]", N, n);
    if (s->spacing == SDPO_SPACING_TRAILING) {
        /* np.round(np.arange(n, 0, −n/N)) − 1; np.round rounds half to even, as rint() does
         * in the default rounding mode. Exactly N entries (numpy's length can be N+1 through
         * float error for N that do not divide n; diffusers later fixed that, so do we). */
        double ratio = (double)n / N;
        for (int k = 0; k < N; k++) t[k] = (int)rint((double)n + k * -ratio) - 1;
    } else {
        int ratio = n / N;
        for (int k = 0; k < N; k++) t[k] = (N - 1 - k) * ratio + s->steps_offset;
    }
    for (int k = 0; k < N; k++)
        if (t[k] < 0 || t[k] >= n)
            return sdpo_fail(SDPO_ERR_ARG, "scheduler: timestep %d of %d steps is outside [0, %d)",
                             t[k], N, n);
    return SDPO_OK;
}

sdpo_status sdpo_ddim_coeffs_at(const sdpo_schedule *s, int t, int N, double eta,
                                sdpo_ddim_coeffs *c) {
    int n = s->num_train_timesteps;
    if (t < 0 || t >= n || N < 1)
        return sdpo_fail(SDPO_ERR_ARG, "ddim: timestep %d or steps %d out of range", t, N);
    int prev = t - n / N;
    if (prev < 0) prev = 0;  /* clamp before the ≥ 0 test: final_alpha_cumprod is never used */
    if (prev > n - 1) prev = n - 1;
    c->t = t;
    c->prev_t = prev;
    c->alpha_t = s->alphas_cumprod[t];
    c->alpha_prev = s->alphas_cumprod[prev];
    double var = (1.0 - c->alpha_prev) / (1.0 - c->alpha_t) * (1.0 - c->alpha_t / c->alpha_prev);
    c->sigma = eta * sqrt(var > 0 ? var : 0);
    double d = 1.0 - c->alpha_prev - c->sigma * c->sigma;
    c->dir_coef = sqrt(d > 0 ? d : 0);
    return SDPO_OK;
}

/* x̂0 and ε of one element from the model output o at x = x_t, a = √ᾱ_t, b = √(1 − ᾱ_t). */
static inline void x0_eps_of(sdpo_prediction p, double a, double b, double x, double o, double *x0,
                             double *e) {
    if (p == SDPO_PRED_EPSILON) {
        *e = o;
        *x0 = (x - b * o) / a;
    } else {
        *x0 = a * x - b * o;
        *e = b * x + a * o;
    }
}

void sdpo_predict_x0_eps(const sdpo_schedule *s, double alpha_t, size_t D, const float *x_t,
                         const float *out, float *x0_hat, float *eps) {
    double a = sqrt(alpha_t), b = sqrt(1.0 - alpha_t);
    for (size_t d = 0; d < D; d++) {
        double x0, e;
        x0_eps_of(s->prediction, a, b, x_t[d], out[d], &x0, &e);
        if (x0_hat) x0_hat[d] = (float)x0;
        if (eps) eps[d] = (float)e;
    }
}

sdpo_status sdpo_ddim_step(const sdpo_schedule *s, const sdpo_ddim_coeffs *c, size_t D,
                           const float *x_t, const float *out, const float *noise,
                           float *x_prev, float *x0_hat, double *logp, float *dlogp_dout) {
    if (!(c->sigma > 0))
        return sdpo_fail(SDPO_ERR_ARG,
                         "ddim: sigma = 0 at timestep %d (eta = 0 or prev_t == t): the step "
                         "log-probability is undefined", c->t);
    if (D == 0) return sdpo_fail(SDPO_ERR_ARG, "ddim: zero elements");
    const double a = sqrt(c->alpha_t), b = sqrt(1.0 - c->alpha_t), ap = sqrt(c->alpha_prev);
    const double sig = c->sigma, inv2var = 1.0 / (2.0 * sig * sig);
    /* ∂μ/∂out: ε-prediction μ = ap·(x − b·ε)/a + dir·ε; v-prediction μ = ap·(a·x − b·v) + dir·(b·x + a·v). */
    const double dmu = s->prediction == SDPO_PRED_EPSILON ? c->dir_coef - ap * b / a
                                                          : c->dir_coef * a - ap * b;
    const double log_norm = log(sig) + 0.91893853320467274178; /* log σ + log √(2π) */
    double sum = 0.0;
    for (size_t d = 0; d < D; d++) {
        double x0, e;
        x0_eps_of(s->prediction, a, b, x_t[d], out[d], &x0, &e);
        double mu = ap * x0 + c->dir_coef * e;
        if (noise) x_prev[d] = (float)(mu + sig * noise[d]);
        double diff = (double)x_prev[d] - mu;
        sum += -diff * diff * inv2var - log_norm;
        if (x0_hat) x0_hat[d] = (float)x0;
        if (dlogp_dout) dlogp_dout[d] = (float)(diff / (sig * sig) * dmu / (double)D);
    }
    *logp = sum / (double)D;
    return SDPO_OK;
}

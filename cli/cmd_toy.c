/* cli/cmd_toy.c — `sdpo toy-trajectories`: real DDIM trajectories (η = 1, trailing spacing,
 * SD-Turbo's schedule) of the exact ε-predictor of a Gaussian mixture (core/gaussian_mixture.h),
 * with every step's x̂ scored by a simple reward. The smallest end-to-end input for
 * `sdpo dense-reward` and `sdpo table3` that needs no trained model. */
#include "cli/commands.h"
#include "core/gaussian_mixture.h"
#include "core/rng.h"
#include "core/schedule.h"
#include "nn/safetensors.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void help(void) {
    printf("usage: sdpo toy-trajectories --out FILE [--n N] [--steps T] [--dim D] [--modes K]\n"
           "                              [--seed S]\n"
           "\n"
           "Samples N DDIM trajectories of T steps (eta = 1, SD-Turbo's trailing schedule) whose\n"
           "noise predictor is the exact E[eps | x_t] of data drawn from a mixture of K Gaussians in\n"
           "D dimensions (means ~ N(0, I), per-mode variance 0.05, from --seed). Every step's x0-hat\n"
           "is scored with reward(x) = -mean((x - mu_0)^2): closeness to the first mode.\n"
           "\n"
           "Writes FILE (safetensors): xhat F32 [N, T, D], reward F32 [N, T], logp F32 [N, T],\n"
           "timesteps I64 [T]. Step 0 is the first (noisiest) step.\n"
           "\n"
           "  --n N       trajectories (default 64)      --steps T  steps (default 50)\n"
           "  --dim D     dimension (default 64)         --modes K  mixture modes (default 4)\n"
           "  --seed S    seed (default 42)\n");
}

static int parse_int(const char *s, int lo, int hi, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || end == s || v < lo || v > hi) return 0;
    *out = (int)v;
    return 1;
}

int cmd_toy(int argc, char **argv) {
    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'}, {"n", required_argument, 0, 'n'},
        {"steps", required_argument, 0, 't'}, {"dim", required_argument, 0, 'd'},
        {"modes", required_argument, 0, 'k'}, {"seed", required_argument, 0, 's'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *out = NULL;
    int N = 64, T = 50, D = 64, K = 4, seed = 42;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'n': if (!parse_int(optarg, 1, 100000, &N)) return cli_usage_error(argv[0], "--n must be 1..100000"); break;
        case 't': if (!parse_int(optarg, 1, 1000, &T)) return cli_usage_error(argv[0], "--steps must be 1..1000"); break;
        case 'd': if (!parse_int(optarg, 1, 1 << 20, &D)) return cli_usage_error(argv[0], "--dim must be 1..1048576"); break;
        case 'k': if (!parse_int(optarg, 1, 64, &K)) return cli_usage_error(argv[0], "--modes must be 1..64"); break;
        case 's': if (!parse_int(optarg, 0, 2147483647, &seed)) return cli_usage_error(argv[0], "--seed must be a non-negative integer"); break;
        case 'h': help(); return SDPO_EXIT_OK;
        default: return cli_usage_error(argv[0], "unknown option");
        }
    }
    if (optind < argc) return cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
    if (!out) return cli_usage_error(argv[0], "--out is required");
    if ((size_t)N * T * D > ((size_t)1 << 28)) return cli_usage_error(argv[0], "N*T*D is too large (max 2^28)");

    sdpo_schedule s;
    sdpo_schedule_sd_turbo(&s);
    size_t nd = (size_t)D;
    float *means = malloc((size_t)K * nd * sizeof(float));
    double *weights = malloc((size_t)K * sizeof(double)), *scratch = malloc((size_t)K * sizeof(double));
    float *xhat = malloc((size_t)N * T * nd * sizeof(float)), *reward = malloc((size_t)N * T * sizeof(float));
    float *logp = malloc((size_t)N * T * sizeof(float));
    float *x = malloc(nd * sizeof(float)), *xn = malloc(nd * sizeof(float)), *eps = malloc(nd * sizeof(float)),
          *z = malloc(nd * sizeof(float));
    int64_t *ts = malloc((size_t)T * sizeof(int64_t));
    int *t = malloc((size_t)T * sizeof(int));
    int rc = SDPO_EXIT_FAIL;
    if (!means || !weights || !scratch || !xhat || !reward || !logp || !x || !xn || !eps || !z || !ts || !t) {
        sdpo_fail(SDPO_ERR_NOMEM, "toy-trajectories: out of memory");
        goto done;
    }
    sdpo_rng data, init, noise;
    sdpo_rng_init(&data, (uint64_t)seed, SDPO_STREAM_DATA);
    sdpo_rng_init(&init, (uint64_t)seed, SDPO_STREAM_INIT_NOISE);
    sdpo_rng_init(&noise, (uint64_t)seed, SDPO_STREAM_SAMPLER_NOISE);
    sdpo_rng_normal_fill(&data, means, (size_t)K * nd);
    for (int k = 0; k < K; k++) weights[k] = 1.0;
    sdpo_gmm g = {K, nd, means, weights, 0.05};
    if (sdpo_schedule_timesteps(&s, T, t) != SDPO_OK) goto done;
    for (int i = 0; i < T; i++) ts[i] = t[i];
    for (int n = 0; n < N; n++) {
        sdpo_rng_normal_fill(&init, x, nd);
        for (int i = 0; i < T; i++) {
            sdpo_ddim_coeffs c;
            double lp;
            float *xh = xhat + ((size_t)n * T + (size_t)i) * nd;
            sdpo_ddim_coeffs_at(&s, t[i], T, 1.0, &c);
            sdpo_gmm_eps(&g, c.alpha_t, x, eps, scratch);
            sdpo_rng_normal_fill(&noise, z, nd);
            if (sdpo_ddim_step(&s, &c, nd, x, eps, z, xn, xh, &lp, NULL) != SDPO_OK) goto done;
            double r = 0.0;
            for (size_t d = 0; d < nd; d++) r += ((double)xh[d] - means[d]) * ((double)xh[d] - means[d]);
            reward[(size_t)n * T + (size_t)i] = (float)(-r / (double)nd);
            logp[(size_t)n * T + (size_t)i] = (float)lp;
            memcpy(x, xn, nd * sizeof(float));
        }
    }
    {
        const int64_t sx[3] = {N, T, D}, sr[2] = {N, T}, st[1] = {T};
        const sdpo_st_entry e[] = {{"xhat", SDPO_ST_F32, 3, sx, xhat},
                                   {"reward", SDPO_ST_F32, 2, sr, reward},
                                   {"logp", SDPO_ST_F32, 2, sr, logp},
                                   {"timesteps", SDPO_ST_I64, 1, st, ts}};
        char seed_s[32];
        snprintf(seed_s, sizeof seed_s, "%d", seed);
        const char *mk[] = {"generator", "seed"}, *mv[] = {"sdpo toy-trajectories (Gaussian-mixture eps, DDIM eta=1, trailing)", seed_s};
        if (sdpo_st_write(out, e, 4, mk, mv, 2) != SDPO_OK) goto done;
    }
    fprintf(stderr, "sdpo toy-trajectories: wrote %d trajectories x %d steps x %d dims to %s\n", N, T, D, out);
    rc = SDPO_EXIT_OK;
done:
    if (rc != SDPO_EXIT_OK) cli_report_error();
    free(means); free(weights); free(scratch); free(xhat); free(reward); free(logp);
    free(x); free(xn); free(eps); free(z); free(ts); free(t);
    return rc;
}

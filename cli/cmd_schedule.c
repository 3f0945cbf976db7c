/* cli/cmd_schedule.c — `sdpo schedule`: the DDIM timesteps and per-step coefficients, so a
 * reviewer can compare them with diffusers' DDIMScheduler at a glance. */
#include "cli/commands.h"
#include "core/schedule.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void help(void) {
    printf("usage: sdpo schedule [--steps N] [--eta E] [--spacing trailing|leading]\n"
           "\n"
           "Prints one CSV row per DDIM step of SD-Turbo's scheduler (scaled_linear betas\n"
           "0.00085..0.012, 1000 training steps): step i (0 = noisiest), timestep t, the clamped\n"
           "previous timestep, alpha_bar_t, alpha_bar_prev and sigma = eta * sqrt(variance).\n"
           "\n"
           "  --steps N     inference steps (default 50)\n"
           "  --eta E       DDIM eta (default 1.0, as DDPO/SDPO sample)\n"
           "  --spacing S   trailing (SD-Turbo, default) or leading (SD 1.x)\n");
}

int cmd_schedule(int argc, char **argv) {
    static const struct option opts[] = {{"steps", required_argument, 0, 's'},
                                         {"eta", required_argument, 0, 'e'},
                                         {"spacing", required_argument, 0, 'p'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int N = 50;
    double eta = 1.0;
    sdpo_schedule s;
    sdpo_schedule_sd_turbo(&s);
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        char *end;
        switch (c) {
        case 's':
            N = (int)strtol(optarg, &end, 10);
            if (*end || N < 1 || N > 1000) return cli_usage_error("schedule", "--steps must be 1..1000");
            break;
        case 'e':
            eta = strtod(optarg, &end);
            if (*end || !(eta >= 0)) return cli_usage_error("schedule", "--eta must be a number >= 0");
            break;
        case 'p':
            if (!strcmp(optarg, "trailing")) s.spacing = SDPO_SPACING_TRAILING;
            else if (!strcmp(optarg, "leading")) s.spacing = SDPO_SPACING_LEADING;
            else return cli_usage_error("schedule", "--spacing must be trailing or leading");
            break;
        case 'h': help(); return SDPO_EXIT_OK;
        default: return cli_usage_error("schedule", "unknown option");
        }
    }
    if (optind < argc) return cli_usage_error("schedule", "unexpected argument '%s'", argv[optind]);
    int *t = malloc((size_t)N * sizeof *t);
    if (!t) return cli_report_error();
    if (sdpo_schedule_timesteps(&s, N, t) != SDPO_OK) {
        free(t);
        return cli_report_error();
    }
    printf("step,timestep,prev_timestep,alpha_bar_t,alpha_bar_prev,sigma\n");
    for (int i = 0; i < N; i++) {
        sdpo_ddim_coeffs c;
        sdpo_ddim_coeffs_at(&s, t[i], N, eta, &c);
        printf("%d,%d,%d,%.9g,%.9g,%.9g\n", i, c.t, c.prev_t, c.alpha_t, c.alpha_prev, c.sigma);
    }
    free(t);
    return SDPO_EXIT_OK;
}

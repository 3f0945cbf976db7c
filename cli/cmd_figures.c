/* cli/cmd_figures.c — `sdpo figures`: the paper's Fig. 3–11 as PNGs, from training run dirs
 * (config.json + train.csv) and eval summary.csv files, through the gnuplot scripts in
 * figures/ (see eval/figures.h for each figure's CSV). */
#include "cli/commands.h"
#include "eval/figures.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void figures_help(void) {
    printf("usage: sdpo figures [--runs DIR ...] [--eval DIR ...] --out DIR\n"
           "                    [--scripts DIR] [--gnuplot PROG]\n"
           "\n"
           "Gathers training runs (--runs: a run dir, or a dir of run subdirs, each with config.json\n"
           "and train.csv) and evaluations (--eval: a dir with summary.csv), writes each figure's\n"
           "joined CSV into OUT and runs gnuplot on its script, giving OUT/<figure>.png:\n"
           "  fig3            Fig. 3: reward of last-step images vs training samples, per method\n"
           "  fig4_<reward>   Fig. 4, 8-11: eval reward vs epoch, one panel per step count\n"
           "  fig5_strategy   Fig. 5 left/middle: dense-reward strategies vs samples and vs hours\n"
           "  fig5_gamma      Fig. 5 right: discount gamma\n"
           "  fig6_norm, fig6_lam, fig6_schedule   Fig. 6: normalisation, weighting, updates\n"
           "  fig7            Fig. 7: baselines with 1-, 2-step or mixed-length trajectories\n"
           "Ablation figures use the SDPO runs whose other ablated keys are at the paper's choice.\n"
           "A figure without data is skipped with a line saying so.\n"
           "\n"
           "options:\n"
           "  --scripts DIR   gnuplot scripts (default: figures, relative to the cwd)\n"
           "  --gnuplot PROG  gnuplot executable (default: gnuplot on PATH)\n"
           "\n"
           "exit status: 0 done; 1 unreadable input or gnuplot failure; 2 usage error.\n");
}

int cmd_figures(int argc, char **argv) {
    static const struct option opts[] = {
        {"runs", required_argument, 0, 'r'},    {"eval", required_argument, 0, 'e'},
        {"out", required_argument, 0, 'o'},     {"scripts", required_argument, 0, 's'},
        {"gnuplot", required_argument, 0, 'g'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char **runs = calloc((size_t)argc, sizeof *runs);
    char **sums = calloc((size_t)argc, sizeof *sums);
    const char *out = NULL, *scripts = "figures", *gnuplot = "gnuplot";
    int nr = 0, ne = 0, c, ret = -1;
    if (!runs || !sums) {
        free(runs);
        free(sums);
        fprintf(stderr, "sdpo figures: out of memory\n");
        return SDPO_EXIT_FAIL;
    }
    optind = 1;
    while (ret < 0 && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'r': runs[nr++] = optarg; break;
        case 'e': {
            size_t len = strlen(optarg) + 16;
            sums[ne] = malloc(len);
            if (sums[ne]) snprintf(sums[ne++], len, "%s/summary.csv", optarg);
            break;
        }
        case 'o': out = optarg; break;
        case 's': scripts = optarg; break;
        case 'g': gnuplot = optarg; break;
        case 'h': figures_help(); ret = SDPO_EXIT_OK; break;
        default: ret = cli_usage_error("figures", "unknown option"); break;
        }
    }
    if (ret < 0 && optind < argc) ret = cli_usage_error("figures", "unexpected argument '%s'", argv[optind]);
    if (ret < 0 && !out) ret = cli_usage_error("figures", "--out is required");
    if (ret < 0 && !nr && !ne) ret = cli_usage_error("figures", "give --runs and/or --eval");
    sdpo_run_set rs = {0};
    static sdpo_figure_data figs[SDPO_MAX_FIGURES];
    int nf = 0;
    if (ret < 0 && (sdpo_runs_load(runs, nr, &rs) != SDPO_OK ||
                    sdpo_figures_write_data(&rs, (const char *const *)sums, ne, out, figs, &nf) != SDPO_OK))
        ret = cli_report_error();
    for (int i = 0; ret < 0 && i < nf; i++) {
        if (!figs[i].rows) {
            printf("%s: skipped (no data)\n", figs[i].name);
            continue;
        }
        char script[4096], assign[8192];
        snprintf(script, sizeof script, "%s/%s", scripts, figs[i].script);
        snprintf(assign, sizeof assign, "data='%s/%s.csv'; out='%s/%s.png'; series='%s'%s%s", out, figs[i].name, out,
                 figs[i].name, figs[i].series, figs[i].extra[0] ? "; " : "", figs[i].extra);
        if (sdpo_figures_run_gnuplot(gnuplot, script, assign) != SDPO_OK) {
            ret = cli_report_error();
            break;
        }
        printf("%s/%s.png (%d rows)\n", out, figs[i].name, figs[i].rows);
    }
    sdpo_runs_free(&rs);
    for (int i = 0; i < ne; i++) free(sums[i]);
    free(sums);
    free(runs);
    return ret < 0 ? SDPO_EXIT_OK : ret;
}

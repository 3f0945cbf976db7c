/* cli/cmd_grid.c — `sdpo grid`: the paper's Fig. 1 / 13–18 image grids (methods × step
 * counts, one prompt and seed) from an eval dir's PNGs, via eval/grid.h. */
#include "cli/commands.h"
#include "eval/figures.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void grid_help(void) {
    printf("usage: sdpo grid --eval DIR --prompt-index P --image-index K --out grid.png\n"
           "                 [--epoch last|N] [--scale S]\n"
           "\n"
           "Lays out DIR/images/<method>/epoch-<NNNNNN>/steps-<S>/p<P>_i<K>.png as a labelled grid:\n"
           "one row per method (base = the pretrained model, ddpo, rebel, d3po, sdpo, then others\n"
           "by name), one column per step count (ascending). --epoch last (default) takes each\n"
           "method's largest epoch; base is shown at its only epoch. Missing cells are grey. --scale upscales cells (default 1).\n"
           "\n"
           "exit status: 0 done; 1 missing or unreadable images; 2 usage error.\n");
}

static int parse_int(const char *s, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < 0 || v > 1000000000) return 0;
    *out = (int)v;
    return 1;
}

int cmd_grid(int argc, char **argv) {
    static const struct option opts[] = {
        {"eval", required_argument, 0, 'e'},         {"prompt-index", required_argument, 0, 'p'},
        {"image-index", required_argument, 0, 'k'},  {"out", required_argument, 0, 'o'},
        {"epoch", required_argument, 0, 'E'},        {"scale", required_argument, 0, 's'},
        {"help", no_argument, 0, 'h'},               {0, 0, 0, 0}};
    const char *eval = NULL, *out = NULL;
    int p = -1, k = -1, epoch = -1, scale = 1, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'e': eval = optarg; break;
        case 'o': out = optarg; break;
        case 'p':
            if (!parse_int(optarg, &p)) return cli_usage_error("grid", "--prompt-index '%s' is not an index", optarg);
            break;
        case 'k':
            if (!parse_int(optarg, &k)) return cli_usage_error("grid", "--image-index '%s' is not an index", optarg);
            break;
        case 'E':
            if (strcmp(optarg, "last") && !parse_int(optarg, &epoch))
                return cli_usage_error("grid", "--epoch '%s' is neither 'last' nor an epoch", optarg);
            if (!strcmp(optarg, "last")) epoch = -1;
            break;
        case 's':
            if (!parse_int(optarg, &scale) || scale < 1 || scale > 64)
                return cli_usage_error("grid", "--scale '%s' is not in [1, 64]", optarg);
            break;
        case 'h': grid_help(); return SDPO_EXIT_OK;
        default: return cli_usage_error("grid", "unknown option");
        }
    }
    if (optind < argc) return cli_usage_error("grid", "unexpected argument '%s'", argv[optind]);
    if (!eval || !out || p < 0 || k < 0)
        return cli_usage_error("grid", "--eval, --prompt-index, --image-index and --out are required");
    if (sdpo_grid_from_eval(eval, p, k, epoch, scale, out) != SDPO_OK) return cli_report_error();
    printf("%s\n", out);
    return SDPO_EXIT_OK;
}

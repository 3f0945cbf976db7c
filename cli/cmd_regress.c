/* cli/cmd_regress.c — `sdpo regress`: a run's CSVs against committed golden files
 * (eval/golden.h). CI runs it after `sdpo repro --smoke` (ci/golden/, tolerances in
 * ci/README.md). */
#include "cli/commands.h"
#include "eval/golden.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IGNORE 32

static void help(void) {
    printf("usage: sdpo regress --golden DIR --run DIR [--atol A] [--rtol R] [--ignore COL,...]\n"
           "\n"
           "Compares every *.csv under the golden DIR (recursively) with the same relative path\n"
           "under the run DIR: same header, same rows, text cells equal, numbers within\n"
           "atol + rtol*|golden|. '#' metadata lines are not compared.\n"
           "\n"
           "options:\n"
           "  --golden DIR   committed golden CSVs (e.g. ci/golden/smoke)\n"
           "  --run DIR      the run to check\n"
           "  --atol A       absolute tolerance (default 0)\n"
           "  --rtol R       relative tolerance (default 0: bitwise-equal text of numbers\n"
           "                 compares as equal values)\n"
           "  --ignore LIST  columns not compared (default wall_s,reward_s,hours: timings)\n"
           "\n"
           "exit status: 0 all within tolerance; 1 a mismatch (the first is printed) or an\n"
           "unreadable file; 2 usage error.\n");
}

int cmd_regress(int argc, char **argv) {
    static const struct option opts[] = {
        {"golden", required_argument, 0, 'g'}, {"run", required_argument, 0, 'r'},
        {"atol", required_argument, 0, 'a'},   {"rtol", required_argument, 0, 't'},
        {"ignore", required_argument, 0, 'i'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *cmd = argv[0], *golden = NULL, *run = NULL;
    char ignore_buf[1024] = "wall_s,reward_s,hours";
    double atol = 0, rtol = 0;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        char *end;
        switch (c) {
        case 'g': golden = optarg; break;
        case 'r': run = optarg; break;
        case 'a':
        case 't': {
            const double v = strtod(optarg, &end);
            if (*end || !(v >= 0))
                return cli_usage_error(cmd, "--%s '%s': want a number >= 0", c == 'a' ? "atol" : "rtol",
                                       optarg);
            if (c == 'a') atol = v;
            else rtol = v;
            break;
        }
        case 'i':
            if (strlen(optarg) >= sizeof ignore_buf) return cli_usage_error(cmd, "--ignore too long");
            strcpy(ignore_buf, optarg);
            break;
        case 'h': help(); return SDPO_EXIT_OK;
        default: return cli_usage_error(cmd, "unknown option");
        }
    }
    if (optind < argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!golden || !run) return cli_usage_error(cmd, "--golden and --run are required");
    const char *ignore[MAX_IGNORE];
    int n_ignore = 0;
    for (char *tok = strtok(ignore_buf, ","); tok; tok = strtok(NULL, ",")) {
        if (n_ignore == MAX_IGNORE) return cli_usage_error(cmd, "at most %d --ignore columns", MAX_IGNORE);
        ignore[n_ignore++] = tok;
    }
    const sdpo_golden_tolerance tol = {atol, rtol, ignore, n_ignore};
    sdpo_golden_report rep = {0};
    int n_files = 0;
    if (sdpo_golden_compare_dir(golden, run, &tol, &rep, &n_files) != SDPO_OK) return cli_report_error();
    if (n_files == 0) {
        fprintf(stderr, "sdpo regress: %s holds no *.csv: nothing to compare\n", golden);
        return SDPO_EXIT_FAIL;
    }
    printf("sdpo regress: %d files, %zu cells, max |diff| %.3g, max rel %.3g (atol %g, rtol %g)\n",
           n_files, rep.cells, rep.max_abs, rep.max_rel, atol, rtol);
    if (rep.mismatches) {
        fprintf(stderr, "sdpo regress: %zu mismatches; first: %s\n", rep.mismatches, rep.first);
        return SDPO_EXIT_FAIL;
    }
    return SDPO_EXIT_OK;
}

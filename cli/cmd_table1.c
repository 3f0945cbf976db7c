/* cli/cmd_table1.c — `sdpo table1`: paper Table 1 (Sec. 4.2, unseen prompts, step
 * generalization) from `sdpo eval` output dirs; see eval/table1.h. */
#include "cli/commands.h"
#include "eval/table1.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void table1_help(void) {
    printf("usage: sdpo table1 --eval DIR [--eval DIR ...] --out OUT\n"
           "\n"
           "Reads DIR/summary.csv (method,epoch,reward,steps,mean,std,sem,n) of each eval dir,\n"
           "keeps each method's final epoch ('base' = the epoch-0 base model is its own row),\n"
           "and writes OUT/table1.csv (method,reward,steps,score; score = mean; the columns of\n"
           "paper_tables/table1_unseen_prompts.csv) and OUT/table1.md (methods as rows,\n"
           "reward x steps columns for the step counts present, best per column in bold).\n"
           "Exit status: 0 ok; 1 unreadable/malformed input or write failure; 2 usage error.\n");
}

int cmd_table1(int argc, char **argv) {
    static const struct option opts[] = {{"eval", required_argument, 0, 'e'},
                                         {"out", required_argument, 0, 'o'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char **evals = calloc((size_t)argc, sizeof *evals);
    if (!evals) {
        fprintf(stderr, "sdpo table1: out of memory\n");
        return SDPO_EXIT_FAIL;
    }
    const char *out = NULL;
    int ne = 0, c, ret = -1;
    optind = 1;
    while (ret < 0 && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'e': evals[ne++] = optarg; break;
        case 'o': out = optarg; break;
        case 'h': table1_help(); ret = SDPO_EXIT_OK; break;
        default: ret = cli_usage_error("table1", "unknown option"); break;
        }
    }
    if (ret < 0 && optind < argc)
        ret = cli_usage_error("table1", "unexpected argument '%s'", argv[optind]);
    if (ret < 0 && !ne) ret = cli_usage_error("table1", "at least one --eval DIR is required");
    if (ret < 0 && !out) ret = cli_usage_error("table1", "--out is required");
    if (ret >= 0) {
        free(evals);
        return ret;
    }
    sdpo_table1 t = {0};
    char path[4096];
    ret = SDPO_EXIT_OK;
    for (int i = 0; i < ne && ret == SDPO_EXIT_OK; i++) {
        snprintf(path, sizeof path, "%s/summary.csv", evals[i]);
        if (sdpo_table1_add_summary(&t, path) != SDPO_OK) ret = cli_report_error();
    }
    if (ret == SDPO_EXIT_OK) {
        snprintf(path, sizeof path, "%s/table1.csv", out);
        if (sdpo_table1_write_csv(&t, path) != SDPO_OK) ret = cli_report_error();
    }
    if (ret == SDPO_EXIT_OK) {
        printf("wrote %s (%zu rows)\n", path, t.n);
        snprintf(path, sizeof path, "%s/table1.md", out);
        if (sdpo_table1_write_md(&t, path) != SDPO_OK) ret = cli_report_error();
        else printf("wrote %s\n", path);
    }
    sdpo_table1_free(&t);
    free(evals);
    return ret;
}

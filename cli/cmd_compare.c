/* cli/cmd_compare.c — `sdpo compare`: our Table 1 / Table 3 beside the paper's, with
 * differences (Sec. 4.2 Table 1, Sec. 4.3 Table 3); see eval/compare.h for name matching. */
#include "cli/commands.h"
#include "eval/compare.h"

#include <getopt.h>
#include <string.h>

static void compare_help(void) {
    printf("usage: sdpo compare --ours CSV [--kind table1|table3] [--paper CSV]\n"
           "\n"
           "Prints our table beside the paper's, one line per key and value column:\n"
           "key,column,ours,paper,diff (diff = ours - paper; '-' where a side is missing).\n"
           "table1 (default): method,reward,steps -> score; --paper defaults to\n"
           "  paper_tables/table1_unseen_prompts.csv. table3: reward,strategy ->\n"
           "  cosine_similarity,l1_distance,l2_distance; --paper defaults to\n"
           "  paper_tables/table3_reward_similarity.csv.\n"
           "Names are lower-cased without punctuation; SD-Turbo -> base, AestheticScore ->\n"
           "aesthetic, the paper's strategy names -> copy, interp2, sim2, sim3-fixed,\n"
           "sim3-random, sim3-adaptive.\n"
           "Exit status: 0 ok; 1 unreadable input; 2 usage error.\n");
}

int cmd_compare(int argc, char **argv) {
    static const struct option opts[] = {{"ours", required_argument, 0, 'o'},
                                         {"paper", required_argument, 0, 'p'},
                                         {"kind", required_argument, 0, 'k'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *ours = NULL, *paper = NULL;
    sdpo_compare_kind kind = SDPO_COMPARE_TABLE1;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': ours = optarg; break;
        case 'p': paper = optarg; break;
        case 'k':
            if (!strcmp(optarg, "table1")) kind = SDPO_COMPARE_TABLE1;
            else if (!strcmp(optarg, "table3")) kind = SDPO_COMPARE_TABLE3;
            else return cli_usage_error("compare", "--kind '%s': expected table1 or table3", optarg);
            break;
        case 'h': compare_help(); return SDPO_EXIT_OK;
        default: return cli_usage_error("compare", "unknown option");
        }
    }
    if (optind < argc) return cli_usage_error("compare", "unexpected argument '%s'", argv[optind]);
    if (!ours) return cli_usage_error("compare", "--ours is required");
    if (!paper)
        paper = kind == SDPO_COMPARE_TABLE1 ? "paper_tables/table1_unseen_prompts.csv"
                                            : "paper_tables/table3_reward_similarity.csv";
    sdpo_compare cmp;
    if (sdpo_compare_tables(kind, ours, paper, &cmp) != SDPO_OK) return cli_report_error();
    printf("key,column,ours,paper,diff\n");
    for (size_t i = 0; i < cmp.n; i++) {
        const sdpo_compare_row *r = &cmp.rows[i];
        printf("\"%s\",%s,", r->key, r->column);
        if (r->has_ours) printf("%.6g,", r->ours); else printf("-,");
        if (r->has_paper) printf("%.6g,", r->paper); else printf("-,");
        if (r->has_ours && r->has_paper) printf("%.6g\n", r->ours - r->paper); else printf("-\n");
    }
    sdpo_compare_free(&cmp);
    return SDPO_EXIT_OK;
}

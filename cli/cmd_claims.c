/* cli/cmd_claims.c — `sdpo claims`: the paper's claims (Table 1, Table 3, Fig. 4–6, 8–11;
 * Sec. 4.2–4.3) checked on our tables; see eval/claims.h for the exact criteria. */
#include "cli/commands.h"
#include "eval/claims.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void claims_help(void) {
    printf("usage: sdpo claims [--table1 F] [--summary F ...] [--table3 F] [--runs DIR ...]\n"
           "                   --out claims.csv\n"
           "\n"
           "Checks the paper's claims on our result tables and writes claims.csv with columns\n"
           "claim,evidence,ours,verdict (verdict: pass | fail | not run). A claim whose data is\n"
           "missing is 'not run', never 'pass'. --summary and --runs may be repeated.\n"
           "\n"
           "claims and criteria:\n"
           "  Table 1        one claim per reward x steps column of table1.csv\n"
           "                 (method,reward,steps,score): SDPO's score strictly above every other\n"
           "                 row of the column (SD-Turbo included, as in the paper)\n"
           "  Fig. 4, 8-11   one claim per reward x {1,2,4,8,16} steps of eval summary.csv\n"
           "                 (method,epoch,reward,steps,mean,...): SDPO's mean at its largest\n"
           "                 epoch strictly above every baseline's at its largest epoch ('base',\n"
           "                 the pretrained model, excluded)\n"
           "  Table 3        one claim per metric of table3.csv (strategy,cosine_similarity,\n"
           "                 l1_distance,l2_distance[,reward]): sim3-adaptive has the highest\n"
           "                 cosine and the lowest L1 and L2 among the strategies except 'full'\n"
           "  Fig. 5, 6      ablations over SDPO run dirs (config.json + train.csv) that differ\n"
           "                 only in the ablated key (run.num_epochs/save_freq/keep_checkpoints/\n"
           "                 threads ignored): reward.dense_strategy sim3-adaptive, train.gamma\n"
           "                 0.99, stats.mode per-step-prompt, train.lam 0.99 (decay weighting),\n"
           "                 train.update_schedule shuffled each has the strictly highest\n"
           "                 reward_last_mean and reward_first_mean at the last epoch every run\n"
           "                 of the group reached\n"
           "\n"
           "A summary table is printed. Exit status: 0 whatever the verdicts; 1 unreadable input;\n"
           "2 usage error.\n");
}

int cmd_claims(int argc, char **argv) {
    static const struct option opts[] = {
        {"table1", required_argument, 0, '1'}, {"summary", required_argument, 0, 's'},
        {"table3", required_argument, 0, '3'}, {"runs", required_argument, 0, 'r'},
        {"out", required_argument, 0, 'o'},    {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char **summaries = calloc((size_t)argc, sizeof *summaries);
    const char **runs = calloc((size_t)argc, sizeof *runs);
    if (!summaries || !runs) {
        free(summaries);
        free(runs);
        fprintf(stderr, "sdpo claims: out of memory\n");
        return SDPO_EXIT_FAIL;
    }
    sdpo_claims_inputs in = {0};
    const char *out = NULL;
    int ns = 0, nr = 0, c, ret = -1;
    optind = 1;
    while (ret < 0 && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case '1': in.table1 = optarg; break;
        case 's': summaries[ns++] = optarg; break;
        case '3': in.table3 = optarg; break;
        case 'r': runs[nr++] = optarg; break;
        case 'o': out = optarg; break;
        case 'h': claims_help(); ret = SDPO_EXIT_OK; break;
        default: ret = cli_usage_error("claims", "unknown option"); break;
        }
    }
    if (ret < 0 && optind < argc) ret = cli_usage_error("claims", "unexpected argument '%s'", argv[optind]);
    if (ret < 0 && !out) ret = cli_usage_error("claims", "--out is required");
    if (ret >= 0) {
        free(summaries);
        free(runs);
        return ret;
    }
    in.summaries = summaries;
    in.n_summaries = ns;
    in.runs = runs;
    in.n_runs = nr;
    sdpo_claim_list l;
    if (sdpo_claims_check(&in, &l) != SDPO_OK || sdpo_claims_write_csv(out, &l) != SDPO_OK) {
        free(summaries);
        free(runs);
        return cli_report_error();
    }
    int counts[3] = {0, 0, 0};
    printf("%-8s  %-18s  %s\n", "verdict", "evidence", "claim");
    for (size_t i = 0; i < l.n; i++) {
        counts[l.items[i].verdict]++;
        printf("%-8s  %-18s  %s\n", sdpo_verdict_name(l.items[i].verdict), l.items[i].evidence, l.items[i].claim);
    }
    printf("%zu claims: %d pass, %d fail, %d not run; details in %s\n", l.n, counts[0], counts[1], counts[2], out);
    sdpo_claim_list_free(&l);
    free(summaries);
    free(runs);
    return SDPO_EXIT_OK;
}

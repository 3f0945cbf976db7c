/* cli/cmd_dense.c — `sdpo dense-reward` and `sdpo table3`: the dense-reward strategies of
 * core/dense_reward.h and the Table 3 metrics of core/table3.h on recorded trajectories.
 * Input contract: xhat F32 [N, T, D] (x̂ of every step, flattened) and reward F32 [N, T]
 * (the reward of every step's x̂); F16/BF16 are accepted and converted. */
#include "cli/commands.h"
#include "core/atomic_file.h"
#include "core/dense_reward.h"
#include "core/table3.h"
#include "nn/safetensors.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int N, T;
    size_t D;
    float *xhat, *reward;
} trajectories;

static void trajectories_free(trajectories *t) {
    free(t->xhat);
    free(t->reward);
}

/* Loads and validates T.safetensors; every failure names the file and tensor. */
static sdpo_status load_trajectories(const char *path, trajectories *out) {
    memset(out, 0, sizeof *out);
    sdpo_safetensors st;
    sdpo_status rc = sdpo_st_open(path, &st);
    if (rc != SDPO_OK) return rc;
    const sdpo_st_tensor *tx, *tr;
    rc = sdpo_st_expect(&st, "xhat", 3, (const int64_t[]){-1, -1, -1}, &tx);
    if (rc == SDPO_OK) {
        const int64_t want[2] = {tx->shape[0], tx->shape[1]};
        rc = sdpo_st_expect(&st, "reward", 2, want, &tr);
    }
    if (rc == SDPO_OK && (tx->shape[0] < 1 || tx->shape[1] < 1 || tx->shape[2] < 1 ||
                          tx->shape[0] > 1 << 24 || tx->shape[1] > 1 << 16))
        rc = sdpo_fail(SDPO_ERR_SHAPE, "%s: tensor 'xhat' needs N, T, D >= 1 (and N < 2^24, T < 2^16)", path);
    if (rc == SDPO_OK) {
        out->N = (int)tx->shape[0];
        out->T = (int)tx->shape[1];
        out->D = (size_t)tx->shape[2];
        out->xhat = malloc(tx->numel * sizeof(float));
        out->reward = malloc(tr->numel * sizeof(float));
        if (!out->xhat || !out->reward)
            rc = sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory for %zu floats", path, tx->numel);
    }
    if (rc == SDPO_OK) rc = sdpo_st_read_f32(&st, tx, out->xhat, 1);
    if (rc == SDPO_OK) rc = sdpo_st_read_f32(&st, tr, out->reward, 1);
    sdpo_st_close(&st);
    if (rc != SDPO_OK) trajectories_free(out);
    return rc;
}

static int parse_u64(const char *s, uint64_t *out) {
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || end == s || s[0] == '-') return 0;
    *out = v;
    return 1;
}

static int parse_anchor_range(const char *s, int *all_steps) {
    if (!strcmp(s, "paper")) *all_steps = 0;
    else if (!strcmp(s, "official")) *all_steps = 1;
    else return 0;
    return 1;
}

static const char *strategy_list =
    "copy, interp2, sim2, sim3-fixed, sim3-random, sim3-adaptive (default), full";

static void dense_help(void) {
    printf("usage: sdpo dense-reward --input T.safetensors --out P.csv [--strategy S]\n"
           "                          [--seed N] [--anchor-range paper|official]\n"
           "\n"
           "Predicts the reward of every step of every trajectory from the rewards at the steps\n"
           "strategy S queries (paper Eq. 9-11, Sec. 4.3), and writes P.csv with columns\n"
           "traj,step,predicted (step 0 = first, noisiest step).\n"
           "\n"
           "  --input F          safetensors with xhat F32 [N,T,D] and reward F32 [N,T]\n"
           "  --out F            output CSV (written to a temporary file, then renamed)\n"
           "  --strategy S       %s\n"
           "  --seed N           seed of the sim3-random anchors (default 42)\n"
           "  --anchor-range R   paper: adaptive anchor in [1, T-2] (default);\n"
           "                     official: argmin over all steps, as the official code\n",
           strategy_list);
}

static void table3_help(void) {
    printf("usage: sdpo table3 --input T.safetensors --out table3.csv [--seed N]\n"
           "                    [--anchor-range paper|official]\n"
           "\n"
           "For each of the seven dense-reward strategies, predicts every step's reward from its\n"
           "queries and compares the prediction with the true per-step rewards as the paper's\n"
           "Table 3 does: per trajectory, both are standardised with the true rewards' mean and\n"
           "population std over the T steps; then cosine similarity, L1 = sum|p - z| and\n"
           "L2 = sqrt(sum (p - z)^2) over all trajectories. Trajectories with constant rewards\n"
           "cannot be standardised and are skipped (counted on stderr).\n"
           "\n"
           "Writes table3.csv: strategy,cosine_similarity,l1_distance,l2_distance; prints it.\n"
           "\n"
           "  --input F          safetensors with xhat F32 [N,T,D] and reward F32 [N,T]\n"
           "  --out F            output CSV (written to a temporary file, then renamed)\n"
           "  --seed N           seed of the sim3-random anchors (default 42)\n"
           "  --anchor-range R   paper (default) or official, as for dense-reward\n");
}

/* Shared option parsing for both commands; returns -1 to continue or an exit status. */
static int parse_common(int argc, char **argv, int with_strategy, const char **in, const char **out,
                        sdpo_dense_config *cfg, uint64_t *seed) {
    static const struct option opts[] = {
        {"input", required_argument, 0, 'i'}, {"out", required_argument, 0, 'o'},
        {"strategy", required_argument, 0, 's'}, {"seed", required_argument, 0, 'r'},
        {"anchor-range", required_argument, 0, 'a'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *cmd = argv[0];
    *in = *out = NULL;
    cfg->strategy = SDPO_DENSE_SIM3_ADAPTIVE;
    cfg->anchor_all_steps = 0;
    *seed = 42;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        switch (c) {
        case 'i': *in = optarg; break;
        case 'o': *out = optarg; break;
        case 's':
            if (!with_strategy) return cli_usage_error(cmd, "table3 runs every strategy; --strategy is not an option");
            if (sdpo_dense_strategy_parse(optarg, &cfg->strategy) != SDPO_OK)
                return cli_usage_error(cmd, "unknown dense-reward strategy '%s' (one of: %s)", optarg, strategy_list);
            break;
        case 'r': if (!parse_u64(optarg, seed)) return cli_usage_error(cmd, "--seed must be a non-negative integer"); break;
        case 'a':
            if (!parse_anchor_range(optarg, &cfg->anchor_all_steps))
                return cli_usage_error(cmd, "--anchor-range must be paper or official");
            break;
        case 'h': with_strategy ? dense_help() : table3_help(); return SDPO_EXIT_OK;
        default: return cli_usage_error(cmd, "unknown option");
        }
    }
    if (optind < argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!*in) return cli_usage_error(cmd, "--input is required");
    if (!*out) return cli_usage_error(cmd, "--out is required");
    return -1;
}

int cmd_dense_reward(int argc, char **argv) {
    const char *in, *out;
    sdpo_dense_config cfg;
    uint64_t seed;
    int rc = parse_common(argc, argv, 1, &in, &out, &cfg, &seed);
    if (rc >= 0) return rc;
    trajectories tj;
    if (load_trajectories(in, &tj) != SDPO_OK) return cli_report_error();
    float *pred = malloc((size_t)tj.N * (size_t)tj.T * sizeof(float));
    sdpo_table3_row row;
    sdpo_atomic_file f;
    rc = SDPO_EXIT_FAIL;
    if (!pred) {
        sdpo_fail(SDPO_ERR_NOMEM, "dense-reward: out of memory");
    } else if (sdpo_table3_strategy(&cfg, tj.N, tj.T, tj.D, tj.xhat, tj.reward, seed, pred, &row) == SDPO_OK &&
               sdpo_atomic_open(&f, out) == SDPO_OK) {
        fprintf(f.fp, "traj,step,predicted\n");
        for (int n = 0; n < tj.N; n++)
            for (int i = 0; i < tj.T; i++)
                fprintf(f.fp, "%d,%d,%.9g\n", n, i, (double)pred[(size_t)n * tj.T + i]);
        if (sdpo_atomic_commit(&f) == SDPO_OK) rc = SDPO_EXIT_OK;
    }
    free(pred);
    trajectories_free(&tj);
    return rc == SDPO_EXIT_OK ? rc : cli_report_error();
}

int cmd_table3(int argc, char **argv) {
    const char *in, *out;
    sdpo_dense_config cfg;
    uint64_t seed;
    int rc = parse_common(argc, argv, 0, &in, &out, &cfg, &seed);
    if (rc >= 0) return rc;
    trajectories tj;
    if (load_trajectories(in, &tj) != SDPO_OK) return cli_report_error();
    sdpo_table3_row rows[SDPO_DENSE_COUNT];
    for (int s = 0; s < SDPO_DENSE_COUNT; s++) {
        cfg.strategy = (sdpo_dense_strategy)s;
        if (sdpo_table3_strategy(&cfg, tj.N, tj.T, tj.D, tj.xhat, tj.reward, seed, NULL, &rows[s]) != SDPO_OK) {
            trajectories_free(&tj);
            return cli_report_error();
        }
    }
    trajectories_free(&tj);
    sdpo_atomic_file f;
    if (sdpo_atomic_open(&f, out) != SDPO_OK) return cli_report_error();
    fprintf(f.fp, "strategy,cosine_similarity,l1_distance,l2_distance\n");
    for (int s = 0; s < SDPO_DENSE_COUNT; s++)
        fprintf(f.fp, "%s,%.9g,%.9g,%.9g\n", sdpo_dense_strategy_name((sdpo_dense_strategy)s),
                rows[s].cosine_similarity, rows[s].l1_distance, rows[s].l2_distance);
    if (sdpo_atomic_commit(&f) != SDPO_OK) return cli_report_error();
    printf("%-14s %10s %12s %12s\n", "strategy", "cosine", "L1", "L2");
    for (int s = 0; s < SDPO_DENSE_COUNT; s++)
        printf("%-14s %10.4f %12.2f %12.3f\n", sdpo_dense_strategy_name((sdpo_dense_strategy)s),
               rows[s].cosine_similarity, rows[s].l1_distance, rows[s].l2_distance);
    if (rows[0].n_skipped > 0)
        fprintf(stderr, "sdpo table3: %d of %d trajectories have constant rewards and were skipped\n",
                rows[0].n_skipped, rows[0].n_skipped + rows[0].n_used);
    printf("wrote %s (%d trajectories x %d steps)\n", out, tj.N, tj.T);
    return SDPO_EXIT_OK;
}

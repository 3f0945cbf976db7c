/* eval/claims.h — checks the paper's headline claims on our own result tables (`sdpo claims`).
 *
 * Claims (paper Sec. 4.2–4.3, Table 1, Table 3, Fig. 4–6, 8–11), each judged pass | fail |
 * not run (no data is never a pass):
 *   - Table 1: SDPO has the highest score in every reward × steps column (one claim per
 *     column; SDPO compared with every other row of the column, SD-Turbo included, as in
 *     the paper).
 *   - Fig. 4 / 8–11: at 1, 2, 4, 8 and 16 steps SDPO's mean reward on its final checkpoint
 *     (largest epoch in summary.csv) is above every baseline's on theirs ("base" excluded);
 *     one claim per reward × steps.
 *   - Table 3: sim3-adaptive has the highest cosine similarity, the lowest L1 and the lowest
 *     L2 distance among the non-oracle strategies ("full" excluded); one claim per metric.
 *   - Fig. 5 / 6 ablations: among SDPO runs whose config.json differ only in the ablated key,
 *     the paper's choice (dense strategy sim3-adaptive; γ = 0.99; per-step-prompt
 *     normalisation; λ = 0.99 decay weighting; shuffled step updates) has the strictly highest
 *     reward_last_mean and reward_first_mean at the last epoch all runs of the group reached. */
#ifndef SDPO_EVAL_CLAIMS_H
#define SDPO_EVAL_CLAIMS_H

#include <stddef.h>

#include "core/error.h"
#include "eval/csv_table.h"

typedef enum { SDPO_VERDICT_PASS, SDPO_VERDICT_FAIL, SDPO_VERDICT_NOT_RUN } sdpo_verdict;

typedef struct {
    char claim[256];
    char evidence[64];
    char ours[1024];
    sdpo_verdict verdict;
} sdpo_claim;

typedef struct {
    sdpo_claim *items;
    size_t n, cap;
} sdpo_claim_list;

typedef struct {
    const char *table1;                 /* NULL: not given */
    const char *const *summaries;
    int n_summaries;
    const char *table3;                 /* NULL: not given */
    const char *const *runs;            /* run dirs, or dirs holding run subdirs */
    int n_runs;
} sdpo_claims_inputs;

/* A training run dir: its flattened config.json ("train.gamma" -> "0.99") and train.csv. */
typedef struct {
    char dir[1024];
    char name[256];                     /* the dir's last path component */
    int nkeys;
    char **keys, **values;
    sdpo_csv_table train;
} sdpo_run;

typedef struct {
    sdpo_run *items;
    int n;
} sdpo_run_set;

const char *sdpo_verdict_name(sdpo_verdict v);

/* Loads every run under dirs: a dir with config.json is a run; otherwise each of its
 * subdirs with a config.json (sorted by name). Missing train.csv/config.json is an error. */
sdpo_status sdpo_runs_load(const char *const *dirs, int n, sdpo_run_set *out);
void sdpo_runs_free(sdpo_run_set *s);
/* The config value of key ("" when absent). */
const char *sdpo_run_get(const sdpo_run *r, const char *key);

sdpo_status sdpo_claims_check(const sdpo_claims_inputs *in, sdpo_claim_list *out);
sdpo_status sdpo_claims_write_csv(const char *path, const sdpo_claim_list *l);
void sdpo_claim_list_free(sdpo_claim_list *l);

#endif

/* eval/table1.h — paper Table 1 (Sec. 4.2, "unseen prompts" / "step generalization") from the
 * summary.csv files that `sdpo eval` writes (columns method,epoch,reward,steps,mean,std,sem,n).
 *
 * For each method the FINAL epoch (largest epoch among its rows) is kept; "base" (the epoch-0
 * base model) is its own method row. Output table1.csv has exactly the columns of
 * paper_tables/table1_unseen_prompts.csv: method,reward,steps,score (score = mean).
 * table1.md: methods as rows, reward × steps as columns (only the step counts present, in
 * ascending order), the best (largest) score per column in bold. */
#ifndef SDPO_EVAL_TABLE1_H
#define SDPO_EVAL_TABLE1_H

#include <stddef.h>

#include "core/error.h"

typedef struct {
    char method[64];
    char reward[64];
    int steps;
    long epoch;
    double score;
} sdpo_table1_row;

typedef struct {
    sdpo_table1_row *rows;
    size_t n, cap;
} sdpo_table1;

/* Adds the final-epoch rows of one summary.csv (path) to t; a method already present from an
 * earlier file with a later epoch wins. Missing columns/bad numbers are SDPO_ERR_FORMAT. */
sdpo_status sdpo_table1_add_summary(sdpo_table1 *t, const char *summary_csv);
sdpo_status sdpo_table1_write_csv(const sdpo_table1 *t, const char *path);
sdpo_status sdpo_table1_write_md(const sdpo_table1 *t, const char *path);
void sdpo_table1_free(sdpo_table1 *t);

#endif

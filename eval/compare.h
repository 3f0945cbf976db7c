/* eval/compare.h — our Table 1 / Table 3 CSVs beside the paper's (paper_tables/), matched by
 * key, with differences (paper Sec. 4.2 Table 1; Sec. 4.3 Table 3).
 *
 * Names are normalized before matching: lower case, non-alphanumerics dropped, so the paper's
 * "ImageReward"/"AestheticScore"/"SDPO" match ours "imagereward"/"aesthetic"/"sdpo"
 * ("aestheticscore" → "aesthetic"); method SD-Turbo → base; Table 3 strategies
 * "1 query & copy"→copy, "2 queries & interpolation"→interp2, "2 queries & similarity"→sim2,
 * "3 queries & similarity & fixed/random/adaptive anchor"→sim3-fixed/-random/-adaptive.
 * table1: key method,reward,steps; value score. table3: key reward,strategy; values
 * cosine_similarity,l1_distance,l2_distance (our table3.csv may lack the reward column: then
 * each of our strategies is matched against every paper reward). */
#ifndef SDPO_EVAL_COMPARE_H
#define SDPO_EVAL_COMPARE_H

#include <stddef.h>

#include "core/error.h"

typedef enum { SDPO_COMPARE_TABLE1, SDPO_COMPARE_TABLE3 } sdpo_compare_kind;

typedef struct {
    char key[160];     /* e.g. "sdpo,imagereward,4" or "imagereward,sim3-adaptive" */
    char column[32];   /* score | cosine_similarity | l1_distance | l2_distance */
    double ours, paper;
    int has_ours, has_paper;
} sdpo_compare_row;

typedef struct {
    sdpo_compare_row *rows;
    size_t n, cap;
} sdpo_compare;

/* Normalized method/reward/strategy name (see above) into out[cap]. */
void sdpo_compare_norm(const char *in, char *out, size_t cap);
sdpo_status sdpo_compare_tables(sdpo_compare_kind kind, const char *ours_csv,
                                const char *paper_csv, sdpo_compare *out);
void sdpo_compare_free(sdpo_compare *c);

#endif

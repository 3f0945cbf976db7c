/* eval/eval_summary.h — summary.csv from images.csv (paper Sec. 4.2, Table 1 / Fig. 4, 8–11):
 * one row per (method, epoch, reward, steps) with mean, SAMPLE std (n−1 denominator; 0 when
 * n = 1), sem = std/√n and n. Input images.csv columns:
 * method,epoch,prompt_index,prompt,image_index,steps,reward,score. Output summary.csv columns:
 * method,epoch,reward,steps,mean,std,sem,n, preceded by the caller's '#' metadata lines; rows
 * in first-seen order of their key. */
#ifndef SDPO_EVAL_SUMMARY_H
#define SDPO_EVAL_SUMMARY_H

#include "core/error.h"

/* metadata: NULL or text whose lines are written first, each prefixed by "# ". */
sdpo_status sdpo_eval_summarize(const char *images_csv, const char *summary_csv,
                                const char *metadata);

#endif

/* eval/golden.h — regression check of a run's CSVs against committed golden files (CI's
 * `sdpo regress`, issue #8: "compares its CSVs with committed golden files, with tolerances
 * stated and justified").
 *
 * Two CSVs match when they have the same header (same columns, same order), the same number of
 * data rows, every non-numeric cell equal as text, and every cell that parses as a number in
 * both files within atol + rtol·|golden|. Columns listed in `ignore` (timings: wall_s, reward_s,
 * hours) are not compared. '#' metadata lines are not compared (they hold the commit and the
 * date). A NaN/Inf cell matches only the same token. */
#ifndef SDPO_EVAL_GOLDEN_H
#define SDPO_EVAL_GOLDEN_H

#include <stddef.h>

#include "core/error.h"

typedef struct {
    double atol, rtol;
    const char *const *ignore;  /* column names skipped */
    int n_ignore;
} sdpo_golden_tolerance;

typedef struct {
    size_t cells;               /* cells compared */
    size_t mismatches;          /* cells out of tolerance (or structural differences) */
    double max_abs, max_rel;    /* over numeric cells: largest |run − golden| and its ratio */
    char first[512];            /* the first mismatch, for the message ("" when none) */
} sdpo_golden_report;

/* Compares run_csv with golden_csv into *rep (accumulating: call on a zeroed report, then on
 * more files). Unreadable files are errors; differences are counted, not errors. */
sdpo_status sdpo_golden_compare_csv(const char *golden_csv, const char *run_csv,
                                    const sdpo_golden_tolerance *tol, sdpo_golden_report *rep);

/* Every *.csv under golden_dir (recursively, relative paths) against the same path under
 * run_dir; a golden file missing from the run is a mismatch. *n_files counts files compared. */
sdpo_status sdpo_golden_compare_dir(const char *golden_dir, const char *run_dir,
                                    const sdpo_golden_tolerance *tol, sdpo_golden_report *rep,
                                    int *n_files);

#endif

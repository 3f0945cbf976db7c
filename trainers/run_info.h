/* trainers/run_info.h — provenance of a run for train.csv's header: the source commit and the
 * build flavour.
 *
 * The commit is read from the git metadata of the working directory or its parents (.git/HEAD,
 * then the ref file or packed-refs) without running git; "unknown" outside a checkout, with
 * "-dirty" never claimed (detecting it needs git). The build says whether assertions were
 * compiled out (NDEBUG) and which sanitizers are on. */
#ifndef SDPO_TRAINERS_RUN_INFO_H
#define SDPO_TRAINERS_RUN_INFO_H

#include <stddef.h>

/* 40-hex commit id, or "unknown". */
void sdpo_run_git_commit(char *out, size_t n);

/* e.g. "optimized (NDEBUG)", "debug asan". */
const char *sdpo_run_build_type(void);

#endif

/* core/atomic_file.h — write-to-temp-then-rename, so no reader ever sees a half-written output.
 *
 * core/ is otherwise pure math; this and error.h are the two cross-cutting utilities every layer
 * needs. Usage:
 *     sdpo_atomic_file f;
 *     if (sdpo_atomic_open(&f, "out.csv") != SDPO_OK) return …;
 *     fprintf(f.fp, …);
 *     return sdpo_atomic_commit(&f);     // or sdpo_atomic_abort(&f) on any error
 * Missing parent directories are created (mkdir -p). The temp file lives in the destination's directory ("<path>.tmp.<pid>"), so rename(2) is
 * atomic; commit flushes, fsyncs and renames, and reports write errors (e.g. disk full). */
#ifndef SDPO_CORE_ATOMIC_FILE_H
#define SDPO_CORE_ATOMIC_FILE_H

#include <stdio.h>

#include "core/error.h"

typedef struct {
    FILE *fp;
    char path[4096];
    char tmp_path[4096 + 32];
} sdpo_atomic_file;

sdpo_status sdpo_atomic_open(sdpo_atomic_file *f, const char *path);
sdpo_status sdpo_atomic_commit(sdpo_atomic_file *f);
void sdpo_atomic_abort(sdpo_atomic_file *f);

/* mkdir -p: creates `dir` and its missing parents (existing ones are fine). */
sdpo_status sdpo_mkdir_p(const char *dir);

/* rm -r: removes `path` and, when it is a directory, everything under it (symbolic links are
 * removed, never followed). A missing path is not an error. */
sdpo_status sdpo_remove_tree(const char *path);

/* Copies `from` to `to` through a temporary file and a rename; with `optional`, a missing
 * source is not an error (nothing is written). Errors name the file. */
sdpo_status sdpo_copy_file(const char *from, const char *to, int optional);

#endif

/* trainers/train_log.c — train.csv (train_log.h). */
#include "trainers/train_log.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/atomic_file.h"

sdpo_status sdpo_train_log_create(const char *path, const char *const *meta, int n_meta) {
    sdpo_atomic_file f;
    sdpo_status rc = sdpo_atomic_open(&f, path);
    if (rc != SDPO_OK) return rc;
    for (int i = 0; i < n_meta; i++) fprintf(f.fp, "# %s\n", meta[i]);
    fprintf(f.fp, "%s\n", SDPO_TRAIN_CSV_COLUMNS);
    return sdpo_atomic_commit(&f);
}

sdpo_status sdpo_train_log_truncate(const char *path, int last_epoch, const char *note) {
    FILE *in = fopen(path, "r");
    if (!in) return sdpo_fail(SDPO_ERR_IO, "%s: cannot open the run's log to resume it", path);
    sdpo_atomic_file f;
    sdpo_status rc = sdpo_atomic_open(&f, path);
    if (rc != SDPO_OK) {
        fclose(in);
        return rc;
    }
    char line[4096];
    int header_seen = 0;
    while (fgets(line, sizeof line, in)) {
        const size_t len = strlen(line);
        if (len == 0 || line[len - 1] != '\n') break; /* a torn last line */
        if (line[0] == '#' || !header_seen) {
            header_seen |= line[0] != '#';
            fputs(line, f.fp);
            continue;
        }
        if (atoi(line) <= last_epoch) fputs(line, f.fp);
    }
    fclose(in);
    if (!header_seen) {
        sdpo_atomic_abort(&f);
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: no column header; not a train.csv", path);
    }
    fprintf(f.fp, "# %s\n", note);
    return sdpo_atomic_commit(&f);
}

sdpo_status sdpo_train_log_append(const char *path, const sdpo_train_row *r) {
    char line[1024];
    int n = snprintf(line, sizeof line,
                     "%d,%d,%lld,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%lld,%lld,%lld,%.3f,%.3f\n",
                     r->epoch, r->num_steps, r->samples, r->reward_last_mean, r->reward_last_std,
                     r->reward_first_mean, r->reward_first_std, r->loss, r->clipfrac,
                     r->grad_norm, r->updates, r->reward_queries, r->log_queries, r->wall_s,
                     r->reward_s);
    int fd = open(path, O_WRONLY | O_APPEND);
    if (fd < 0) return sdpo_fail(SDPO_ERR_IO, "%s: cannot append", path);
    /* One write of the whole line: a crash leaves either the row or a torn tail that resume
     * drops. */
    ssize_t w = write(fd, line, (size_t)n);
    int ok = w == n && fsync(fd) == 0;
    ok &= close(fd) == 0;
    return ok ? SDPO_OK : sdpo_fail(SDPO_ERR_IO, "%s: write failed", path);
}

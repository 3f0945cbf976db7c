/* core/atomic_file.c — see atomic_file.h. */
#include "core/atomic_file.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

sdpo_status sdpo_mkdir_p(const char *dir_path) {
    char dir[4096];
    if (snprintf(dir, sizeof dir, "%s", dir_path) >= (int)sizeof dir)
        return sdpo_fail(SDPO_ERR_ARG, "%.64s…: directory path too long", dir_path);
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(dir, 0777) != 0 && errno != EEXIST)
            return sdpo_fail(SDPO_ERR_IO, "cannot create directory %s: %s", dir, strerror(errno));
        *p = '/';
    }
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return sdpo_fail(SDPO_ERR_IO, "cannot create directory %s: %s", dir, strerror(errno));
    return SDPO_OK;
}

sdpo_status sdpo_remove_tree(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return errno == ENOENT ? SDPO_OK
                               : sdpo_fail(SDPO_ERR_IO, "%s: %s", path, strerror(errno));
    sdpo_status rc = SDPO_OK;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        if (!d) return sdpo_fail(SDPO_ERR_IO, "%s: %s", path, strerror(errno));
        for (struct dirent *e; rc == SDPO_OK && (e = readdir(d));) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char sub[4096];
            if (snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) >= (int)sizeof sub)
                rc = sdpo_fail(SDPO_ERR_ARG, "%.64s…: path too long", sub);
            else
                rc = sdpo_remove_tree(sub);
        }
        closedir(d);
    }
    if (rc == SDPO_OK && remove(path) != 0)
        rc = sdpo_fail(SDPO_ERR_IO, "cannot remove %s: %s", path, strerror(errno));
    return rc;
}

/* mkdir -p of the directory part of `path` (outputs like runs/<id>/table3.csv just work). */
static sdpo_status make_parents(const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return SDPO_OK;
    *slash = '\0';
    sdpo_status rc = sdpo_mkdir_p(dir);
    if (rc != SDPO_OK) return sdpo_fail(rc, "%s: %s", path, sdpo_last_error());
    return SDPO_OK;
}

sdpo_status sdpo_atomic_open(sdpo_atomic_file *f, const char *path) {
    f->fp = NULL;
    if (strlen(path) >= sizeof f->path)
        return sdpo_fail(SDPO_ERR_ARG, "%.64s…: output path too long", path);
    strcpy(f->path, path);
    sdpo_status rc = make_parents(path);
    if (rc != SDPO_OK) return rc;
    snprintf(f->tmp_path, sizeof f->tmp_path, "%s.tmp.%ld", path, (long)getpid());
    f->fp = fopen(f->tmp_path, "wb");
    if (!f->fp)
        return sdpo_fail(SDPO_ERR_IO, "%s: cannot create temporary file: %s", f->tmp_path,
                         strerror(errno));
    return SDPO_OK;
}

sdpo_status sdpo_atomic_commit(sdpo_atomic_file *f) {
    int bad = ferror(f->fp) || fflush(f->fp) != 0 || fsync(fileno(f->fp)) != 0;
    int err = errno;
    bad |= fclose(f->fp) != 0;
    f->fp = NULL;
    if (bad) {
        unlink(f->tmp_path);
        return sdpo_fail(SDPO_ERR_IO, "%s: write failed: %s", f->path, strerror(err));
    }
    if (rename(f->tmp_path, f->path) != 0) {
        err = errno;
        unlink(f->tmp_path);
        return sdpo_fail(SDPO_ERR_IO, "%s: cannot rename temporary file into place: %s", f->path,
                         strerror(err));
    }
    return SDPO_OK;
}

void sdpo_atomic_abort(sdpo_atomic_file *f) {
    if (f->fp) fclose(f->fp);
    f->fp = NULL;
    unlink(f->tmp_path);
}

sdpo_status sdpo_copy_file(const char *from, const char *to, int optional) {
    FILE *in = fopen(from, "rb");
    if (!in) {
        if (optional && errno == ENOENT) return SDPO_OK;
        return sdpo_fail(SDPO_ERR_IO, "%s: cannot open: %s", from, strerror(errno));
    }
    sdpo_atomic_file f;
    sdpo_status st = sdpo_atomic_open(&f, to);
    if (st != SDPO_OK) {
        fclose(in);
        return st;
    }
    char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, f.fp);
    const int bad = ferror(in);
    fclose(in);
    if (bad) {
        sdpo_atomic_abort(&f);
        return sdpo_fail(SDPO_ERR_IO, "%s: read error", from);
    }
    return sdpo_atomic_commit(&f);
}


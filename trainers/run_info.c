/* trainers/run_info.c — commit and build provenance (run_info.h). */
#include "trainers/run_info.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int read_line(const char *path, char *buf, size_t n) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int ok = fgets(buf, (int)n, f) != NULL;
    fclose(f);
    if (ok) buf[strcspn(buf, "\r\n")] = '\0';
    return ok;
}

static int is_sha(const char *s) {
    if (strlen(s) != 40) return 0;
    for (const char *p = s; *p; p++)
        if (!isxdigit((unsigned char)*p)) return 0;
    return 1;
}

/* The sha a "refs/heads/x" ref points to, from the loose ref file or packed-refs. */
static int resolve_ref(const char *git, const char *ref, char *out, size_t n) {
    char path[PATH_MAX + 8 + 512], line[512]; /* git is < PATH_MAX + 8, ref < 512 bytes */
    snprintf(path, sizeof path, "%s/%s", git, ref);
    if (read_line(path, line, sizeof line) && is_sha(line)) {
        snprintf(out, n, "%s", line);
        return 1;
    }
    snprintf(path, sizeof path, "%s/packed-refs", git);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *sp = strchr(line, ' ');
        if (sp && !strcmp(sp + 1, ref)) {
            *sp = '\0';
            if (is_sha(line)) {
                snprintf(out, n, "%s", line);
                found = 1;
            }
        }
    }
    fclose(f);
    return found;
}

void sdpo_run_git_commit(char *out, size_t n) {
    snprintf(out, n, "unknown");
    char dir[PATH_MAX];
    if (!getcwd(dir, sizeof dir)) return;
    for (;;) {
        char git[PATH_MAX + 8], head[PATH_MAX + 16], line[512];
        snprintf(git, sizeof git, "%s/.git", dir);
        snprintf(head, sizeof head, "%s/HEAD", git);
        if (read_line(head, line, sizeof line)) {
            if (is_sha(line)) snprintf(out, n, "%s", line);
            else if (!strncmp(line, "ref: ", 5)) resolve_ref(git, line + 5, out, n);
            return;
        }
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir) return;
        *slash = '\0';
    }
}

const char *sdpo_run_build_type(void) {
#if defined(__SANITIZE_ADDRESS__)
#define SDPO_BUILD_SAN " asan+ubsan"
#else
#define SDPO_BUILD_SAN ""
#endif
#ifdef NDEBUG
    return "optimized (NDEBUG)" SDPO_BUILD_SAN;
#else
    return "debug (assertions on)" SDPO_BUILD_SAN;
#endif
}

/* cli/progress.c — see progress.h. */
#include "cli/progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

double cli_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_progress_begin(cli_progress *p, int quiet) {
    p->start = cli_now_s();
    p->enabled = !quiet && isatty(STDERR_FILENO);
    p->drawn = 0;
}

void cli_progress_draw(cli_progress *p, double fraction, const char *label) {
    if (!p->enabled) return;
    const double f = fraction < 0 ? 0 : fraction > 1 ? 1 : fraction;
    const double elapsed = cli_now_s() - p->start;
    const int eta = f > 0 ? (int)(elapsed * (1.0 - f) / f) : 0;
    const int el = (int)elapsed;
    char bar[31];
    const int filled = (int)(f * 30.0);
    for (int i = 0; i < 30; i++) bar[i] = i < filled ? '#' : '.';
    bar[30] = '\0';
    fprintf(stderr, "\r[%s] %5.1f%% %02d:%02d elapsed, ETA %02d:%02d:%02d  %-40.40s", bar,
            100.0 * f, el / 60, el % 60, eta / 3600, eta / 60 % 60, eta % 60, label ? label : "");
    fflush(stderr);
    p->drawn = 1;
}

void cli_progress_end(cli_progress *p) {
    if (p->drawn) fprintf(stderr, "\n");
    p->drawn = 0;
}

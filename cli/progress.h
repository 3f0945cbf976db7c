/* cli/progress.h — one-line progress bar with ETA on stderr, drawn only on a terminal.
 *
 * The ETA is elapsed · (1 − f)/f for the fraction f done, so callers that know the relative cost
 * of their stages should report a cost-weighted fraction (sdpo repro does). Nothing is drawn when
 * stderr is not a TTY or `quiet` is set, so logs and CI output stay clean. */
#ifndef SDPO_CLI_PROGRESS_H
#define SDPO_CLI_PROGRESS_H

typedef struct {
    double start;      /* monotonic seconds at progress_begin */
    int enabled;       /* stderr is a terminal and not quiet */
    int drawn;         /* a bar is on screen (progress_end prints the newline) */
} cli_progress;

double cli_now_s(void);
void cli_progress_begin(cli_progress *p, int quiet);
/* Redraws the bar: fraction in [0, 1] (clamped) and a short label (stage, epoch …). */
void cli_progress_draw(cli_progress *p, double fraction, const char *label);
/* Ends the line if a bar was drawn. */
void cli_progress_end(cli_progress *p);

#endif

/* trainers/prompts.h — the training prompt list.
 *
 * One prompt per line, trimmed of surrounding whitespace, blank lines skipped; the official
 * prompt functions read the same files (sdpo_pytorch/prompts.py: `[line.strip() for line in
 * f.readlines()]`, then random.choice). Prompts are drawn uniformly with replacement from
 * stream SDPO_STREAM_PROMPT_CHOICE. The prompt string is also the key of the running
 * statistics (the official trackers key by the decoded prompt text). */
#ifndef SDPO_TRAINERS_PROMPTS_H
#define SDPO_TRAINERS_PROMPTS_H

#include "core/error.h"

typedef struct {
    int n;
    char **text;   /* [n], owned */
} sdpo_prompts;

/* Errors name the file: unreadable, no prompts, a line longer than 4095 bytes. */
sdpo_status sdpo_prompts_load(const char *path, sdpo_prompts *out);
void sdpo_prompts_free(sdpo_prompts *p);

#endif

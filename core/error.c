/* core/error.c — thread-local last-error message (see error.h). */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[1024];

sdpo_status sdpo_fail(sdpo_status s, const char *fmt, ...) {
    /* Formatted into a local buffer first, so a message may quote sdpo_last_error() (wrapping
     * a lower layer's error with context). */
    char msg[sizeof last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memcpy(last_error, msg, sizeof msg);
    return s;
}

const char *sdpo_last_error(void) { return last_error; }

void sdpo_clear_error(void) { last_error[0] = '\0'; }

const char *sdpo_status_name(sdpo_status s) {
    switch (s) {
    case SDPO_OK: return "ok";
    case SDPO_ERR_ARG: return "invalid argument";
    case SDPO_ERR_IO: return "I/O error";
    case SDPO_ERR_FORMAT: return "format error";
    case SDPO_ERR_SHAPE: return "shape error";
    case SDPO_ERR_NOMEM: return "out of memory";
    case SDPO_ERR_NONFINITE: return "non-finite value";
    case SDPO_ERR_COUNT: break;
    }
    return "unknown error";
}

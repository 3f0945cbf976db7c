/* core/error.h — status codes and the last-error message.
 *
 * Contract: every library function that can fail returns an sdpo_status. On failure it has
 * recorded, through sdpo_fail(), one message that names the file and field (or argument) at
 * fault, so the CLI can print it and exit. Libraries never exit or print. The message buffer
 * is thread-local, so concurrent callers do not overwrite each other's errors. */
#ifndef SDPO_CORE_ERROR_H
#define SDPO_CORE_ERROR_H

typedef enum {
    SDPO_OK = 0,
    SDPO_ERR_ARG,         /* bad argument or configuration value */
    SDPO_ERR_IO,          /* open/read/write/rename failed */
    SDPO_ERR_FORMAT,      /* malformed or corrupt file content */
    SDPO_ERR_SHAPE,       /* tensor missing or with the wrong shape/dtype */
    SDPO_ERR_NOMEM,       /* allocation failed */
    SDPO_ERR_NONFINITE,   /* NaN or Inf where a finite value is required */
    SDPO_ERR_COUNT
} sdpo_status;

/* Records a printf-style message for status s and returns s, so callers can write
 * `return sdpo_fail(SDPO_ERR_FORMAT, "%s: header field '%s' ...", path, key);`. The message may
 * quote sdpo_last_error() to wrap a lower layer's error with context. */
sdpo_status sdpo_fail(sdpo_status s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The message of the most recent sdpo_fail() on this thread ("" if none). */
const char *sdpo_last_error(void);

/* A short name for a status ("format error", ...). */
const char *sdpo_status_name(sdpo_status s);

void sdpo_clear_error(void);

#endif

/* models/config.h — typed access to the config.json files of a diffusers/transformers folder.
 *
 * Architectures come from these files, never from hard-coded sizes, so a tiny config of the same
 * family and the real SD-Turbo load through the same code. Every getter fails with an error that
 * names the file and the key ("…/unet/config.json: key 'block_out_channels': expected an array
 * of integers"). A key that is absent or JSON null takes the default in the *_or getters (diffusers
 * writes null for "use the default") and is an error in the required ones. */
#ifndef SDPO_MODELS_CONFIG_H
#define SDPO_MODELS_CONFIG_H

#include "core/error.h"

typedef struct {
    char *path;
    void *root; /* json_t*, opaque to users */
} sdpo_config;

sdpo_status sdpo_config_load(const char *path, sdpo_config *c);
void sdpo_config_free(sdpo_config *c);

/* 1 if key is present and not null. */
int sdpo_config_has(const sdpo_config *c, const char *key);

sdpo_status sdpo_config_int(const sdpo_config *c, const char *key, int *out);
sdpo_status sdpo_config_int_or(const sdpo_config *c, const char *key, int def, int *out);
/* Accepts integers too (1 → 1.0). */
sdpo_status sdpo_config_double(const sdpo_config *c, const char *key, double *out);
sdpo_status sdpo_config_double_or(const sdpo_config *c, const char *key, double def, double *out);
sdpo_status sdpo_config_bool_or(const sdpo_config *c, const char *key, int def, int *out);
/* The string stays owned by the config. */
sdpo_status sdpo_config_string(const sdpo_config *c, const char *key, const char **out);
sdpo_status sdpo_config_string_or(const sdpo_config *c, const char *key, const char *def,
                                  const char **out);
/* An array of at most `max` integers; a single integer is accepted as a one-element array only
 * when `scalar_ok` (diffusers allows e.g. attention_head_dim: 8 or [5, 10, 20, 20]). */
sdpo_status sdpo_config_int_array(const sdpo_config *c, const char *key, int *out, int max,
                                  int *n, int scalar_ok);
/* An array of at most `max` strings (owned by the config). */
sdpo_status sdpo_config_string_array(const sdpo_config *c, const char *key, const char **out,
                                     int max, int *n);

#endif

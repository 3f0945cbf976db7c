/* nn/safetensors.h — read (mmap) and write safetensors files, validating every header field.
 *
 * Format (huggingface/safetensors): u64 little-endian header length N, N bytes of JSON
 * {"<name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, …,
 *  "__metadata__": {"key": "string", …}}, then the data buffer; offsets are relative to it.
 * The reader rejects, with an error naming the file and the tensor/field at fault:
 *   a file shorter than 8 bytes or than 8 + N; N > 100 MB (the reference library's limit);
 *   JSON that is not an object, duplicate keys, unknown dtype, non-integer or negative shape
 *   or offset entries, begin > end, end past the buffer, (end − begin) ≠ numel × dtype size,
 *   overlapping tensors, holes between tensors or bytes after the last one (the spec requires
 *   the tensors to cover the buffer exactly).
 * F32, F16 and BF16 (and the integer dtypes, for timesteps/ids) are read into F32. */
#ifndef SDPO_NN_SAFETENSORS_H
#define SDPO_NN_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define SDPO_ST_MAX_DIMS 8

typedef enum {
    SDPO_ST_F32 = 0, SDPO_ST_F16, SDPO_ST_BF16, SDPO_ST_F64,
    SDPO_ST_I64, SDPO_ST_I32, SDPO_ST_I16, SDPO_ST_I8, SDPO_ST_U8, SDPO_ST_BOOL,
    SDPO_ST_DTYPE_COUNT
} sdpo_st_dtype;

const char *sdpo_st_dtype_name(sdpo_st_dtype d);  /* "F32", … as in the header */
size_t sdpo_st_dtype_size(sdpo_st_dtype d);

typedef struct {
    char *name;
    sdpo_st_dtype dtype;
    int ndim;
    int64_t shape[SDPO_ST_MAX_DIMS];
    size_t numel;
    size_t offset, nbytes;   /* within the data buffer */
} sdpo_st_tensor;

typedef struct {
    char *path;
    void *map;
    size_t map_size;
    const uint8_t *data;     /* start of the data buffer inside the mapping */
    size_t data_size;
    int n_tensors;
    sdpo_st_tensor *tensors; /* in file (offset) order */
    int n_meta;
    char **meta_keys, **meta_values;
} sdpo_safetensors;

sdpo_status sdpo_st_open(const char *path, sdpo_safetensors *st);
void sdpo_st_close(sdpo_safetensors *st);

/* NULL if absent. */
const sdpo_st_tensor *sdpo_st_find(const sdpo_safetensors *st, const char *name);
const char *sdpo_st_metadata(const sdpo_safetensors *st, const char *key);

/* Finds `name` and checks its rank and shape; shape[k] < 0 accepts any extent. Errors say
 * "<file>: tensor '<name>' …" with the expected and actual shapes. */
sdpo_status sdpo_st_expect(const sdpo_safetensors *st, const char *name, int ndim,
                           const int64_t *shape, const sdpo_st_tensor **out);

/* Converts tensor t to F32 into out[0 .. t->numel). Rejects NaN/Inf in float data with
 * SDPO_ERR_NONFINITE naming the tensor and element when `require_finite` is set. */
sdpo_status sdpo_st_read_f32(const sdpo_safetensors *st, const sdpo_st_tensor *t, float *out,
                             int require_finite);

/* IEEE half / bfloat16 → float (exact). */
float sdpo_f16_to_f32(uint16_t h);
float sdpo_bf16_to_f32(uint16_t b);

/* One tensor to write; data is little-endian in the given dtype. */
typedef struct {
    const char *name;
    sdpo_st_dtype dtype;
    int ndim;
    const int64_t *shape;
    const void *data;
} sdpo_st_entry;

/* Writes entries in the given order (header padded with spaces to 8 bytes, as the reference
 * writer does) plus optional string metadata pairs, through a temp file and rename. */
sdpo_status sdpo_st_write(const char *path, const sdpo_st_entry *entries, int n,
                          const char *const *meta_keys, const char *const *meta_values,
                          int n_meta);

#endif

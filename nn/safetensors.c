/* nn/safetensors.c — validated safetensors reader (mmap) and atomic writer (safetensors.h). */
#include "nn/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/atomic_file.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; this reader memcpy()s it and needs a little-endian host"
#endif

#define ST_MAX_HEADER (100u * 1000u * 1000u) /* safetensors' own MAX_HEADER_SIZE */

static const struct {
    const char *name;
    size_t size;
} dtypes[SDPO_ST_DTYPE_COUNT] = {
    [SDPO_ST_F32] = {"F32", 4}, [SDPO_ST_F16] = {"F16", 2}, [SDPO_ST_BF16] = {"BF16", 2},
    [SDPO_ST_F64] = {"F64", 8}, [SDPO_ST_I64] = {"I64", 8}, [SDPO_ST_I32] = {"I32", 4},
    [SDPO_ST_I16] = {"I16", 2}, [SDPO_ST_I8] = {"I8", 1},   [SDPO_ST_U8] = {"U8", 1},
    [SDPO_ST_BOOL] = {"BOOL", 1},
};

const char *sdpo_st_dtype_name(sdpo_st_dtype d) {
    return d < SDPO_ST_DTYPE_COUNT ? dtypes[d].name : "?";
}
size_t sdpo_st_dtype_size(sdpo_st_dtype d) { return d < SDPO_ST_DTYPE_COUNT ? dtypes[d].size : 0; }

float sdpo_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: renormalise */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400u));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

float sdpo_bf16_to_f32(uint16_t b) {
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static uint64_t read_le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

void sdpo_st_close(sdpo_safetensors *st) {
    if (st->map) munmap(st->map, st->map_size);
    for (int i = 0; i < st->n_tensors; i++) free(st->tensors[i].name);
    for (int i = 0; i < st->n_meta; i++) {
        free(st->meta_keys[i]);
        free(st->meta_values[i]);
    }
    free(st->tensors);
    free(st->meta_keys);
    free(st->meta_values);
    free(st->path);
    memset(st, 0, sizeof *st);
}

static int cmp_offset(const void *a, const void *b) {
    const sdpo_st_tensor *x = a, *y = b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

/* A non-negative JSON integer that fits in int64, or -1. */
static int64_t json_nonneg(const json_t *v) {
    if (!json_is_integer(v)) return -1;
    json_int_t x = json_integer_value(v);
    return x < 0 ? -1 : (int64_t)x;
}

static sdpo_status parse_tensor(const char *path, const char *name, json_t *obj, size_t data_size,
                                sdpo_st_tensor *t) {
    if (!json_is_object(obj))
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: header entry '%s' is not an object", path, name);
    json_t *jd = json_object_get(obj, "dtype"), *js = json_object_get(obj, "shape"),
           *jo = json_object_get(obj, "data_offsets");
    if (!json_is_string(jd))
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: tensor '%s': missing or non-string 'dtype'", path, name);
    const char *ds = json_string_value(jd);
    int d = 0;
    while (d < SDPO_ST_DTYPE_COUNT && strcmp(ds, dtypes[d].name) != 0) d++;
    if (d == SDPO_ST_DTYPE_COUNT)
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: tensor '%s': unsupported dtype '%s'", path, name, ds);
    t->dtype = (sdpo_st_dtype)d;
    if (!json_is_array(js) || json_array_size(js) > SDPO_ST_MAX_DIMS)
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: tensor '%s': 'shape' must be an array of at most %d integers",
                         path, name, SDPO_ST_MAX_DIMS);
    t->ndim = (int)json_array_size(js);
    size_t numel = 1;
    for (int k = 0; k < t->ndim; k++) {
        int64_t e = json_nonneg(json_array_get(js, (size_t)k));
        if (e < 0)
            return sdpo_fail(SDPO_ERR_FORMAT, "%s: tensor '%s': shape[%d] is not a non-negative integer",
                             path, name, k);
        t->shape[k] = e;
        if (e != 0 && numel > SIZE_MAX / 8 / (size_t)e)
            return sdpo_fail(SDPO_ERR_FORMAT, "%s: tensor '%s': shape overflows", path, name);
        numel *= (size_t)e;
    }
    t->numel = numel;
    if (!json_is_array(jo) || json_array_size(jo) != 2)
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: tensor '%s': 'data_offsets' must be [begin, end]", path, name);
    int64_t b = json_nonneg(json_array_get(jo, 0)), e = json_nonneg(json_array_get(jo, 1));
    if (b < 0 || e < 0)
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: tensor '%s': data_offsets are not non-negative integers",
                         path, name);
    if (b > e)
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: tensor '%s': data_offsets begin %lld > end %lld", path,
                         name, (long long)b, (long long)e);
    if ((uint64_t)e > data_size)
        return sdpo_fail(SDPO_ERR_FORMAT,
                         "%s: tensor '%s': data_offsets end %lld is past the data buffer (%zu bytes; "
                         "file truncated?)", path, name, (long long)e, data_size);
    t->offset = (size_t)b;
    t->nbytes = (size_t)(e - b);
    if (t->nbytes != numel * dtypes[d].size)
        return sdpo_fail(SDPO_ERR_FORMAT,
                         "%s: tensor '%s': %zu bytes in data_offsets but dtype %s x shape needs %zu",
                         path, name, t->nbytes, ds, numel * dtypes[d].size);
    return SDPO_OK;
}

static sdpo_status parse_header(sdpo_safetensors *st, const char *json, size_t len) {
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: header is not valid JSON (%s at byte %d)", st->path,
                         jerr.text, jerr.position);
    sdpo_status rc = SDPO_OK;
    if (!json_is_object(root)) {
        rc = sdpo_fail(SDPO_ERR_FORMAT, "%s: header is not a JSON object", st->path);
        goto done;
    }
    size_t n = json_object_size(root);
    st->tensors = calloc(n ? n : 1, sizeof *st->tensors);
    if (!st->tensors) {
        rc = sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory for %zu tensors", st->path, n);
        goto done;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (!strcmp(key, "__metadata__")) {
            if (!json_is_object(val)) {
                rc = sdpo_fail(SDPO_ERR_FORMAT, "%s: '__metadata__' is not an object", st->path);
                goto done;
            }
            size_t m = json_object_size(val);
            st->meta_keys = calloc(m ? m : 1, sizeof(char *));
            st->meta_values = calloc(m ? m : 1, sizeof(char *));
            if (!st->meta_keys || !st->meta_values) {
                rc = sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory for metadata", st->path);
                goto done;
            }
            const char *mk;
            json_t *mv;
            json_object_foreach(val, mk, mv) {
                if (!json_is_string(mv)) {
                    rc = sdpo_fail(SDPO_ERR_FORMAT, "%s: __metadata__ value '%s' is not a string",
                                   st->path, mk);
                    goto done;
                }
                st->meta_keys[st->n_meta] = strdup(mk);
                st->meta_values[st->n_meta] = strdup(json_string_value(mv));
                st->n_meta++;
            }
            continue;
        }
        sdpo_st_tensor *t = &st->tensors[st->n_tensors];
        rc = parse_tensor(st->path, key, val, st->data_size, t);
        if (rc != SDPO_OK) goto done;
        t->name = strdup(key);
        if (!t->name) {
            rc = sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory", st->path);
            goto done;
        }
        st->n_tensors++;
    }
    /* Tensors must tile the data buffer exactly: no overlap, no hole, nothing after. */
    qsort(st->tensors, (size_t)st->n_tensors, sizeof *st->tensors, cmp_offset);
    size_t pos = 0;
    for (int i = 0; i < st->n_tensors; i++) {
        const sdpo_st_tensor *t = &st->tensors[i];
        if (t->offset < pos) {
            rc = sdpo_fail(SDPO_ERR_FORMAT, "%s: tensor '%s' overlaps tensor '%s' (offset %zu < %zu)",
                           st->path, t->name, st->tensors[i - 1].name, t->offset, pos);
            goto done;
        }
        if (t->offset > pos) {
            rc = sdpo_fail(SDPO_ERR_FORMAT, "%s: hole of %zu bytes before tensor '%s' at offset %zu",
                           st->path, t->offset - pos, t->name, pos);
            goto done;
        }
        pos = t->offset + t->nbytes;
    }
    if (pos != st->data_size)
        rc = sdpo_fail(SDPO_ERR_FORMAT, "%s: %zu bytes after the last tensor (data buffer is %zu bytes)",
                       st->path, st->data_size - pos, st->data_size);
done:
    json_decref(root);
    return rc;
}

sdpo_status sdpo_st_open(const char *path, sdpo_safetensors *st) {
    memset(st, 0, sizeof *st);
    st->path = strdup(path);
    if (!st->path) return sdpo_fail(SDPO_ERR_NOMEM, "out of memory");
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        sdpo_status rc = sdpo_fail(SDPO_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        sdpo_st_close(st);
        return rc;
    }
    struct stat sb;
    sdpo_status rc = SDPO_OK;
    if (fstat(fd, &sb) != 0) {
        rc = sdpo_fail(SDPO_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    } else if (!S_ISREG(sb.st_mode)) {
        rc = sdpo_fail(SDPO_ERR_IO, "%s: not a regular file", path);
    } else if (sb.st_size < 8) {
        rc = sdpo_fail(SDPO_ERR_FORMAT, "%s: file is %lld bytes, shorter than the 8-byte header length",
                       path, (long long)sb.st_size);
    } else {
        st->map_size = (size_t)sb.st_size;
        st->map = mmap(NULL, st->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (st->map == MAP_FAILED) {
            st->map = NULL;
            rc = sdpo_fail(SDPO_ERR_IO, "%s: mmap failed: %s", path, strerror(errno));
        }
    }
    close(fd);
    if (rc != SDPO_OK) {
        sdpo_st_close(st);
        return rc;
    }
    const uint8_t *bytes = st->map;
    uint64_t hlen = read_le64(bytes);
    if (hlen > ST_MAX_HEADER || hlen > st->map_size - 8) {
        rc = sdpo_fail(SDPO_ERR_FORMAT,
                       "%s: header length %llu does not fit the file (%zu bytes; limit %u)", path,
                       (unsigned long long)hlen, st->map_size, ST_MAX_HEADER);
    } else {
        st->data = bytes + 8 + hlen;
        st->data_size = st->map_size - 8 - (size_t)hlen;
        rc = parse_header(st, (const char *)bytes + 8, (size_t)hlen);
    }
    if (rc != SDPO_OK) sdpo_st_close(st);
    return rc;
}

const sdpo_st_tensor *sdpo_st_find(const sdpo_safetensors *st, const char *name) {
    for (int i = 0; i < st->n_tensors; i++)
        if (!strcmp(st->tensors[i].name, name)) return &st->tensors[i];
    return NULL;
}

const char *sdpo_st_metadata(const sdpo_safetensors *st, const char *key) {
    for (int i = 0; i < st->n_meta; i++)
        if (!strcmp(st->meta_keys[i], key)) return st->meta_values[i];
    return NULL;
}

static void format_shape(char *buf, size_t len, int ndim, const int64_t *shape) {
    size_t pos = (size_t)snprintf(buf, len, "[");
    for (int k = 0; k < ndim && pos < len; k++) {
        if (shape[k] < 0)
            pos += (size_t)snprintf(buf + pos, len - pos, "%s*", k ? ", " : "");
        else
            pos += (size_t)snprintf(buf + pos, len - pos, "%s%lld", k ? ", " : "", (long long)shape[k]);
    }
    if (pos < len) snprintf(buf + pos, len - pos, "]");
}

sdpo_status sdpo_st_expect(const sdpo_safetensors *st, const char *name, int ndim,
                           const int64_t *shape, const sdpo_st_tensor **out) {
    const sdpo_st_tensor *t = sdpo_st_find(st, name);
    if (!t) return sdpo_fail(SDPO_ERR_SHAPE, "%s: missing tensor '%s'", st->path, name);
    int ok = t->ndim == ndim;
    for (int k = 0; ok && k < ndim; k++) ok = shape[k] < 0 || shape[k] == t->shape[k];
    if (!ok) {
        char want[128], got[128];
        format_shape(want, sizeof want, ndim, shape);
        format_shape(got, sizeof got, t->ndim, t->shape);
        return sdpo_fail(SDPO_ERR_SHAPE, "%s: tensor '%s' has shape %s, expected %s", st->path, name,
                         got, want);
    }
    if (out) *out = t;
    return SDPO_OK;
}

sdpo_status sdpo_st_read_f32(const sdpo_safetensors *st, const sdpo_st_tensor *t, float *out,
                             int require_finite) {
    const uint8_t *p = st->data + t->offset;
    for (size_t i = 0; i < t->numel; i++) {
        float v;
        switch (t->dtype) {
        case SDPO_ST_F32: memcpy(&v, p + 4 * i, 4); break;
        case SDPO_ST_F16: v = sdpo_f16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8)); break;
        case SDPO_ST_BF16: v = sdpo_bf16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8)); break;
        case SDPO_ST_F64: {
            double d;
            memcpy(&d, p + 8 * i, 8);
            v = (float)d;
            break;
        }
        case SDPO_ST_I64: {
            int64_t x;
            memcpy(&x, p + 8 * i, 8);
            v = (float)x;
            break;
        }
        case SDPO_ST_I32: {
            int32_t x;
            memcpy(&x, p + 4 * i, 4);
            v = (float)x;
            break;
        }
        case SDPO_ST_I16: {
            int16_t x;
            memcpy(&x, p + 2 * i, 2);
            v = (float)x;
            break;
        }
        case SDPO_ST_I8: v = (float)(int8_t)p[i]; break;
        case SDPO_ST_U8:
        case SDPO_ST_BOOL: v = (float)p[i]; break;
        default: return sdpo_fail(SDPO_ERR_FORMAT, "%s: tensor '%s': bad dtype", st->path, t->name);
        }
        if (require_finite && !isfinite(v))
            return sdpo_fail(SDPO_ERR_NONFINITE, "%s: tensor '%s' element %zu is %s", st->path,
                             t->name, i, isnan(v) ? "NaN" : "infinite");
        out[i] = v;
    }
    return SDPO_OK;
}

sdpo_status sdpo_st_write(const char *path, const sdpo_st_entry *entries, int n,
                          const char *const *meta_keys, const char *const *meta_values,
                          int n_meta) {
    json_t *root = json_object();
    if (!root) return sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory", path);
    sdpo_status rc = SDPO_OK;
    size_t offset = 0;
    if (n_meta > 0) {
        json_t *meta = json_object();
        for (int i = 0; i < n_meta; i++) json_object_set_new(meta, meta_keys[i], json_string(meta_values[i]));
        json_object_set_new(root, "__metadata__", meta);
    }
    for (int i = 0; i < n && rc == SDPO_OK; i++) {
        const sdpo_st_entry *e = &entries[i];
        if (e->dtype >= SDPO_ST_DTYPE_COUNT || e->ndim < 0 || e->ndim > SDPO_ST_MAX_DIMS) {
            rc = sdpo_fail(SDPO_ERR_ARG, "%s: tensor '%s': bad dtype or rank", path, e->name);
            break;
        }
        if (json_object_get(root, e->name)) {
            rc = sdpo_fail(SDPO_ERR_ARG, "%s: duplicate tensor name '%s'", path, e->name);
            break;
        }
        size_t numel = 1;
        json_t *shape = json_array();
        for (int k = 0; k < e->ndim; k++) {
            numel *= (size_t)e->shape[k];
            json_array_append_new(shape, json_integer(e->shape[k]));
        }
        size_t nbytes = numel * dtypes[e->dtype].size;
        json_t *obj = json_object();
        json_object_set_new(obj, "dtype", json_string(dtypes[e->dtype].name));
        json_object_set_new(obj, "shape", shape);
        json_object_set_new(obj, "data_offsets",
                            json_pack("[I, I]", (json_int_t)offset, (json_int_t)(offset + nbytes)));
        json_object_set_new(root, e->name, obj);
        offset += nbytes;
    }
    char *header = rc == SDPO_OK ? json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    if (rc != SDPO_OK) return rc;
    if (!header) return sdpo_fail(SDPO_ERR_NOMEM, "%s: cannot serialise header", path);
    size_t hlen = strlen(header), padded = (hlen + 7) / 8 * 8;
    sdpo_atomic_file f;
    rc = sdpo_atomic_open(&f, path);
    if (rc != SDPO_OK) {
        free(header);
        return rc;
    }
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    fwrite(len8, 1, 8, f.fp);
    fwrite(header, 1, hlen, f.fp);
    for (size_t i = hlen; i < padded; i++) fputc(' ', f.fp);
    free(header);
    for (int i = 0; i < n; i++) {
        size_t numel = 1;
        for (int k = 0; k < entries[i].ndim; k++) numel *= (size_t)entries[i].shape[k];
        size_t nbytes = numel * dtypes[entries[i].dtype].size;
        if (nbytes && fwrite(entries[i].data, 1, nbytes, f.fp) != nbytes) break;
    }
    return sdpo_atomic_commit(&f);
}

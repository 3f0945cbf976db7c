/* core/stat_tracker.c — per-(step-)prompt FIFO statistics and their checkpoint format
 * (see stat_tracker.h for the contract and the binary layout).
 *
 * Storage: a sorted array of prompt entries (binary search by strcmp; insertion is O(#prompts),
 * fine for tens of prompts). Each entry owns n_buf ring buffers that grow up to buffer_size, so
 * memory follows the values actually held (and a corrupt buffer_size in a checkpoint cannot
 * force a huge allocation). An update allocates everything it needs before it changes any
 * state, so a failed update leaves the tracker as it was. */
#include "core/stat_tracker.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ε added to σ: PerPromptStatTracker / PerStepPromptStatTracker (1e-6) and the global branch
 * (train L644, 1e-8). */
#define TRACKER_STD_EPS 1e-6
#define GLOBAL_STD_EPS 1e-8

#define FORMAT_MAGIC "SDPOSTAT"
#define FORMAT_VERSION 1u
#define HEADER_BYTES 32u

/* A FIFO of at most `cap` values. Invariant: head != 0 only once the ring is full, and then
 * alloc == cap; before that values sit at v[0..count) and the array may grow. */
typedef struct {
    float *v;
    int alloc;
    int head;   /* slot of the oldest value */
    int count;
} ring;

typedef struct {
    char *key;     /* NUL-terminated copy of the prompt */
    size_t key_len;
    ring *bufs;    /* [n_buf] */
} entry;

struct sdpo_stat_tracker {
    sdpo_norm_mode mode;
    int T, buffer_size, min_count;
    int n_buf;          /* buffers per prompt: T, 1, or 0 (global) */
    entry *entries;     /* sorted by strcmp(key) */
    int n_entries, cap_entries;
};

typedef struct {
    double mean, std;
} moments;

static const char *const norm_names[] = {"per-step-prompt", "per-prompt", "global"};
enum { N_NORM_MODES = sizeof norm_names / sizeof norm_names[0] };

sdpo_status sdpo_norm_mode_parse(const char *s, sdpo_norm_mode *out) {
    for (int k = 0; s && k < N_NORM_MODES; k++) {
        if (strcmp(s, norm_names[k]) == 0) {
            *out = (sdpo_norm_mode)k;
            return SDPO_OK;
        }
    }
    return sdpo_fail(SDPO_ERR_ARG,
                     "normalisation: unknown mode '%s' (valid: per-step-prompt, per-prompt, global)",
                     s ? s : "(null)");
}

const char *sdpo_norm_mode_name(sdpo_norm_mode mode) {
    return (unsigned)mode < N_NORM_MODES ? norm_names[mode] : "unknown";
}

/* ---------------------------------------------------------------------------------------------
 * statistics */

/* Two-pass mean and population std of x[0], x[stride], … (n >= 1 values). */
static moments strided_moments(const float *x, size_t n, size_t stride) {
    double s = 0.0;
    for (size_t k = 0; k < n; k++) s += x[k * stride];
    double mean = s / (double)n, ss = 0.0;
    for (size_t k = 0; k < n; k++) {
        double d = x[k * stride] - mean;
        ss += d * d;
    }
    return (moments){mean, sqrt(ss / (double)n)};
}

static float ring_at(const ring *r, int k) { return r->v[(r->head + k) % r->alloc]; }

/* The same two passes over a ring, oldest value first. */
static moments ring_moments(const ring *r) {
    double s = 0.0;
    for (int k = 0; k < r->count; k++) s += ring_at(r, k);
    double mean = s / r->count, ss = 0.0;
    for (int k = 0; k < r->count; k++) {
        double d = ring_at(r, k) - mean;
        ss += d * d;
    }
    return (moments){mean, sqrt(ss / r->count)};
}

static float standardise(float v, moments m, double eps) {
    return (float)(((double)v - m.mean) / (m.std + eps));
}

/* ---------------------------------------------------------------------------------------------
 * rings and entries */

/* Makes room for `total` values in a ring of capacity cap (total is clipped to cap). Growth
 * happens only before the first eviction (head == 0), so realloc keeps the FIFO order. */
static int ring_reserve(ring *r, int cap, size_t total) {
    int need = total < (size_t)cap ? (int)total : cap;
    if (r->alloc >= need) return 1;
    int grown = r->alloc > cap / 2 ? cap : 2 * r->alloc;
    int n = grown > need ? grown : need;
    float *v = realloc(r->v, (size_t)n * sizeof *v);
    if (!v) return 0;
    r->v = v;
    r->alloc = n;
    return 1;
}

/* deque(maxlen=cap).append(x); room must have been reserved. */
static void ring_push(ring *r, int cap, float x) {
    if (r->count < cap) {
        r->v[r->count++] = x;
    } else {
        r->v[r->head] = x;
        r->head = (r->head + 1) % cap;
    }
}

static void entry_free(entry *e, int n_buf) {
    if (e->bufs)
        for (int b = 0; b < n_buf; b++) free(e->bufs[b].v);
    free(e->bufs);
    free(e->key);
}

/* Index of key, or −(insertion point) − 1 when absent. */
static int find_entry(const sdpo_stat_tracker *tr, const char *key) {
    int lo = 0, hi = tr->n_entries;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(tr->entries[mid].key, key);
        if (c == 0) return mid;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -lo - 1;
}

/* Inserts an empty entry for key_len bytes of key at position pos; 0 on allocation failure. */
static int insert_entry(sdpo_stat_tracker *tr, int pos, const char *key, size_t key_len) {
    if (tr->n_entries == tr->cap_entries) {
        int cap = tr->cap_entries ? 2 * tr->cap_entries : 8;
        entry *e = realloc(tr->entries, (size_t)cap * sizeof *e);
        if (!e) return 0;
        tr->entries = e;
        tr->cap_entries = cap;
    }
    entry fresh = {malloc(key_len + 1), key_len, calloc((size_t)tr->n_buf, sizeof(ring))};
    if (!fresh.key || !fresh.bufs) {
        entry_free(&fresh, 0);
        return 0;
    }
    memcpy(fresh.key, key, key_len);
    fresh.key[key_len] = '\0';
    memmove(tr->entries + pos + 1, tr->entries + pos,
            (size_t)(tr->n_entries - pos) * sizeof *tr->entries);
    tr->entries[pos] = fresh;
    tr->n_entries++;
    return 1;
}

/* Every stored buffer holds >= 1 value, so an all-empty entry was inserted by the update that
 * is failing: dropping those restores the tracker's previous contents. */
static void drop_empty_entries(sdpo_stat_tracker *tr) {
    int kept = 0;
    for (int k = 0; k < tr->n_entries; k++) {
        entry *e = &tr->entries[k];
        int empty = 1;
        for (int b = 0; b < tr->n_buf; b++) empty &= e->bufs[b].count == 0;
        if (empty) entry_free(e, tr->n_buf);
        else tr->entries[kept++] = *e;
    }
    tr->n_entries = kept;
}

/* ---------------------------------------------------------------------------------------------
 * lifecycle */

sdpo_status sdpo_stat_tracker_new(sdpo_norm_mode mode, int T, int buffer_size, int min_count,
                                  sdpo_stat_tracker **out) {
    if (!out) return sdpo_fail(SDPO_ERR_ARG, "stat tracker: out must not be NULL");
    if ((unsigned)mode >= N_NORM_MODES)
        return sdpo_fail(SDPO_ERR_ARG, "stat tracker: invalid mode %d", (int)mode);
    if (T < 1) return sdpo_fail(SDPO_ERR_ARG, "stat tracker: T = %d must be >= 1", T);
    if (buffer_size < 1)
        return sdpo_fail(SDPO_ERR_ARG, "stat tracker: buffer_size = %d must be >= 1", buffer_size);
    if (min_count < 0)
        return sdpo_fail(SDPO_ERR_ARG, "stat tracker: min_count = %d must be >= 0", min_count);
    sdpo_stat_tracker *tr = calloc(1, sizeof *tr);
    if (!tr) return sdpo_fail(SDPO_ERR_NOMEM, "stat tracker: out of memory");
    tr->mode = mode;
    tr->T = T;
    tr->buffer_size = buffer_size;
    tr->min_count = min_count;
    tr->n_buf = mode == SDPO_NORM_PER_STEP_PROMPT ? T : mode == SDPO_NORM_PER_PROMPT ? 1 : 0;
    *out = tr;
    return SDPO_OK;
}

void sdpo_stat_tracker_free(sdpo_stat_tracker *tr) {
    if (!tr) return;
    for (int k = 0; k < tr->n_entries; k++) entry_free(&tr->entries[k], tr->n_buf);
    free(tr->entries);
    free(tr);
}

int sdpo_stat_tracker_num_prompts(const sdpo_stat_tracker *tr) { return tr ? tr->n_entries : 0; }

sdpo_status sdpo_stat_tracker_buffer(const sdpo_stat_tracker *tr, const char *prompt, int step,
                                     float *out, int *count) {
    if (!tr || !prompt || !count)
        return sdpo_fail(SDPO_ERR_ARG, "stat tracker: tracker, prompt and count must not be NULL");
    if (step < 0 || step >= tr->n_buf)
        return sdpo_fail(SDPO_ERR_ARG, "stat tracker: step %d out of range [0, %d) for mode %s",
                         step, tr->n_buf, sdpo_norm_mode_name(tr->mode));
    int k = find_entry(tr, prompt);
    *count = 0;
    if (k < 0) return SDPO_OK;
    const ring *r = &tr->entries[k].bufs[step];
    *count = r->count;
    if (out)
        for (int j = 0; j < r->count; j++) out[j] = ring_at(r, j);
    return SDPO_OK;
}

/* ---------------------------------------------------------------------------------------------
 * update */

typedef struct {
    const char *prompt;
    int row;
} row_ref;

/* Groups rows by prompt; ties keep row order, so each buffer receives its rows in order. */
static int cmp_row_ref(const void *pa, const void *pb) {
    const row_ref *a = pa, *b = pb;
    int c = strcmp(a->prompt, b->prompt);
    return c ? c : (a->row > b->row) - (a->row < b->row);
}

static sdpo_status check_update_args(const sdpo_stat_tracker *tr, int N,
                                     const char *const *prompts, const float *values,
                                     const float *advantages) {
    if (!tr) return sdpo_fail(SDPO_ERR_ARG, "stat tracker: tracker must not be NULL");
    if (N < 0) return sdpo_fail(SDPO_ERR_ARG, "stat tracker: N = %d must be >= 0", N);
    if (N == 0) return SDPO_OK;
    if (!values || !advantages)
        return sdpo_fail(SDPO_ERR_ARG, "stat tracker: values/advantages must not be NULL");
    if (tr->mode != SDPO_NORM_GLOBAL) {
        if (!prompts) return sdpo_fail(SDPO_ERR_ARG, "stat tracker: prompts must not be NULL");
        for (int n = 0; n < N; n++)
            if (!prompts[n])
                return sdpo_fail(SDPO_ERR_ARG, "stat tracker: prompts[%d] is NULL", n);
    }
    for (int n = 0; n < N; n++)
        for (int i = 0; i < tr->T; i++)
            if (!isfinite(values[(size_t)n * tr->T + i]))
                return sdpo_fail(SDPO_ERR_NONFINITE, "stat tracker: values[%d][%d] is not finite",
                                 n, i);
    return SDPO_OK;
}

/* Phase 1: an entry for every prompt of the batch and room for all its new values. */
static int reserve_groups(sdpo_stat_tracker *tr, const row_ref *refs, int N) {
    for (int g = 0; g < N;) {
        int end = g + 1;
        while (end < N && strcmp(refs[end].prompt, refs[g].prompt) == 0) end++;
        int k = find_entry(tr, refs[g].prompt);
        if (k < 0) {
            k = -k - 1;
            if (!insert_entry(tr, k, refs[g].prompt, strlen(refs[g].prompt))) return 0;
        }
        size_t rows = (size_t)(end - g);
        size_t per_buf = tr->mode == SDPO_NORM_PER_PROMPT ? rows * (size_t)tr->T : rows;
        for (int b = 0; b < tr->n_buf; b++) {
            ring *r = &tr->entries[k].bufs[b];
            if (!ring_reserve(r, tr->buffer_size, (size_t)r->count + per_buf)) return 0;
        }
        g = end;
    }
    return 1;
}

/* Phase 2 for one group of rows refs[g..end) sharing a prompt (no allocation). */
static void update_group(sdpo_stat_tracker *tr, const row_ref *refs, int g, int end,
                         const float *values, float *advantages, moments batch,
                         const moments *column) {
    const int T = tr->T;
    entry *e = &tr->entries[find_entry(tr, refs[g].prompt)];
    if (tr->mode == SDPO_NORM_PER_PROMPT) {
        /* extend() with the group's values, row-major, then the statistics (DDPO L20–27). */
        ring *r = &e->bufs[0];
        for (int k = g; k < end; k++)
            for (int i = 0; i < T; i++)
                ring_push(r, tr->buffer_size, values[(size_t)refs[k].row * T + i]);
        moments m = r->count < tr->min_count ? batch : ring_moments(r);
        for (int k = g; k < end; k++)
            for (int i = 0; i < T; i++) {
                size_t at = (size_t)refs[k].row * T + i;
                advantages[at] = standardise(values[at], m, TRACKER_STD_EPS);
            }
        return;
    }
    /* Per step i: extend buffer (c, i), then its statistics or column i's (SDPO L25–40). */
    for (int i = 0; i < T; i++) {
        ring *r = &e->bufs[i];
        for (int k = g; k < end; k++)
            ring_push(r, tr->buffer_size, values[(size_t)refs[k].row * T + i]);
        moments m = r->count < tr->min_count ? column[i] : ring_moments(r);
        for (int k = g; k < end; k++) {
            size_t at = (size_t)refs[k].row * T + i;
            advantages[at] = standardise(values[at], m, TRACKER_STD_EPS);
        }
    }
}

sdpo_status sdpo_stat_tracker_update(sdpo_stat_tracker *tr, int N, const char *const *prompts,
                                     const float *values, float *advantages) {
    sdpo_status st = check_update_args(tr, N, prompts, values, advantages);
    if (st != SDPO_OK || N == 0) return st;
    const int T = tr->T;
    const size_t NT = (size_t)N * T;
    /* Batch statistics first: `advantages` may alias `values`. */
    moments batch = strided_moments(values, NT, 1);
    if (tr->mode == SDPO_NORM_GLOBAL) {
        for (size_t k = 0; k < NT; k++) advantages[k] = standardise(values[k], batch, GLOBAL_STD_EPS);
        return SDPO_OK;
    }
    row_ref *refs = malloc((size_t)N * sizeof *refs);
    moments *column = tr->mode == SDPO_NORM_PER_STEP_PROMPT ? malloc((size_t)T * sizeof *column)
                                                            : NULL;
    if (!refs || (tr->mode == SDPO_NORM_PER_STEP_PROMPT && !column)) {
        free(refs);
        free(column);
        return sdpo_fail(SDPO_ERR_NOMEM, "stat tracker: out of memory (N = %d)", N);
    }
    if (column)
        for (int i = 0; i < T; i++) column[i] = strided_moments(values + i, (size_t)N, (size_t)T);
    for (int n = 0; n < N; n++) refs[n] = (row_ref){prompts[n], n};
    qsort(refs, (size_t)N, sizeof *refs, cmp_row_ref);
    if (!reserve_groups(tr, refs, N)) {
        drop_empty_entries(tr);
        free(refs);
        free(column);
        return sdpo_fail(SDPO_ERR_NOMEM, "stat tracker: out of memory growing buffers");
    }
    for (int g = 0; g < N;) {
        int end = g + 1;
        while (end < N && strcmp(refs[end].prompt, refs[g].prompt) == 0) end++;
        update_group(tr, refs, g, end, values, advantages, batch, column);
        g = end;
    }
    free(refs);
    free(column);
    return SDPO_OK;
}

/* ---------------------------------------------------------------------------------------------
 * checkpoint format */

/* CRC-32, reflected polynomial 0xEDB88320 (the zlib/PNG CRC); bitwise, the data is small. */
static uint32_t crc32_ieee(const unsigned char *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t k = 0; k < n; k++) {
        c ^= p[k];
        for (int b = 0; b < 8; b++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

static void put_u32(unsigned char *p, uint32_t v) {
    for (int b = 0; b < 4; b++) p[b] = (unsigned char)(v >> (8 * b));
}

static uint32_t get_u32_at(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t float_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

sdpo_status sdpo_stat_tracker_serialize(const sdpo_stat_tracker *tr, unsigned char **buf,
                                        size_t *len) {
    if (!tr || !buf || !len)
        return sdpo_fail(SDPO_ERR_ARG, "stat tracker: serialize arguments must not be NULL");
    size_t size = HEADER_BYTES + 4;
    for (int k = 0; k < tr->n_entries; k++) {
        size += 4 + tr->entries[k].key_len;
        for (int b = 0; b < tr->n_buf; b++) size += 4 + 4 * (size_t)tr->entries[k].bufs[b].count;
    }
    unsigned char *p = malloc(size);
    if (!p) return sdpo_fail(SDPO_ERR_NOMEM, "stat tracker: out of memory (%zu bytes)", size);
    memcpy(p, FORMAT_MAGIC, 8);
    put_u32(p + 8, FORMAT_VERSION);
    put_u32(p + 12, (uint32_t)tr->mode);
    put_u32(p + 16, (uint32_t)tr->T);
    put_u32(p + 20, (uint32_t)tr->buffer_size);
    put_u32(p + 24, (uint32_t)tr->min_count);
    put_u32(p + 28, (uint32_t)tr->n_entries);
    size_t off = HEADER_BYTES;
    for (int k = 0; k < tr->n_entries; k++) {
        const entry *e = &tr->entries[k];
        put_u32(p + off, (uint32_t)e->key_len);
        memcpy(p + off + 4, e->key, e->key_len);
        off += 4 + e->key_len;
        for (int b = 0; b < tr->n_buf; b++) {
            const ring *r = &e->bufs[b];
            put_u32(p + off, (uint32_t)r->count);
            off += 4;
            for (int j = 0; j < r->count; j++, off += 4) put_u32(p + off, float_bits(ring_at(r, j)));
        }
    }
    put_u32(p + off, crc32_ieee(p, off));
    *buf = p;
    *len = size;
    return SDPO_OK;
}

/* A bounds-checked cursor: every read names the field it is for. */
typedef struct {
    const unsigned char *p;
    size_t len, off;
} reader;

static sdpo_status read_u32(reader *rd, const char *field, uint32_t *v) {
    if (rd->len - rd->off < 4)
        return sdpo_fail(SDPO_ERR_FORMAT, "stat tracker checkpoint: truncated at field '%s' "
                         "(offset %zu of %zu bytes)", field, rd->off, rd->len);
    *v = get_u32_at(rd->p + rd->off);
    rd->off += 4;
    return SDPO_OK;
}

static sdpo_status bad_field(const char *field, size_t off, const char *why, uint64_t v) {
    return sdpo_fail(SDPO_ERR_FORMAT, "stat tracker checkpoint: field '%s' at offset %zu: %s "
                     "(value %llu)", field, off, why, (unsigned long long)v);
}

/* Reads and range-checks magic and the six header words (version … n_keys) into h. */
static sdpo_status read_header(reader *rd, uint32_t h[6]) {
    static const char *const names[6] = {"version", "mode", "T", "buffer_size", "min_count",
                                         "n_keys"};
    if (rd->len < 8)
        return sdpo_fail(SDPO_ERR_FORMAT, "stat tracker checkpoint: truncated at field 'magic' "
                         "(%zu bytes)", rd->len);
    if (memcmp(rd->p, FORMAT_MAGIC, 8) != 0)
        return sdpo_fail(SDPO_ERR_FORMAT, "stat tracker checkpoint: field 'magic' is not "
                         "\"" FORMAT_MAGIC "\"");
    rd->off = 8;
    for (int f = 0; f < 6; f++) {
        sdpo_status st = read_u32(rd, names[f], &h[f]);
        if (st != SDPO_OK) return st;
    }
    if (h[0] != FORMAT_VERSION) return bad_field("version", 8, "unsupported version", h[0]);
    if (h[1] >= N_NORM_MODES) return bad_field("mode", 12, "not 0, 1 or 2", h[1]);
    if (h[2] < 1 || h[2] > INT_MAX) return bad_field("T", 16, "must be in [1, INT_MAX]", h[2]);
    if (h[3] < 1 || h[3] > INT_MAX)
        return bad_field("buffer_size", 20, "must be in [1, INT_MAX]", h[3]);
    if (h[4] > INT_MAX) return bad_field("min_count", 24, "must be <= INT_MAX", h[4]);
    return SDPO_OK;
}

/* Reads one key record into a freshly inserted last entry of tr. */
static sdpo_status read_entry(reader *rd, sdpo_stat_tracker *tr) {
    size_t at = rd->off;
    uint32_t key_len;
    sdpo_status st = read_u32(rd, "key_len", &key_len);
    if (st != SDPO_OK) return st;
    if (key_len > rd->len - rd->off) return bad_field("key_len", at, "runs past the end", key_len);
    const char *key = (const char *)rd->p + rd->off;
    if (memchr(key, '\0', key_len)) return bad_field("key", rd->off, "contains a NUL byte", key_len);
    if (!insert_entry(tr, tr->n_entries, key, key_len))
        return sdpo_fail(SDPO_ERR_NOMEM, "stat tracker: out of memory reading checkpoint");
    entry *e = &tr->entries[tr->n_entries - 1];
    if (tr->n_entries > 1 && strcmp(tr->entries[tr->n_entries - 2].key, e->key) >= 0)
        return bad_field("key", rd->off, "not in strictly ascending order", key_len);
    rd->off += key_len;
    for (int b = 0; b < tr->n_buf; b++) {
        ring *r = &e->bufs[b];
        uint32_t count;
        at = rd->off;
        if ((st = read_u32(rd, "count", &count)) != SDPO_OK) return st;
        if (count < 1 || count > (uint32_t)tr->buffer_size)
            return bad_field("count", at, "must be in [1, buffer_size]", count);
        if ((rd->len - rd->off) / 4 < count)
            return bad_field("values", rd->off, "run past the end; count", count);
        r->v = malloc((size_t)count * sizeof *r->v);
        if (!r->v) return sdpo_fail(SDPO_ERR_NOMEM, "stat tracker: out of memory reading checkpoint");
        r->alloc = (int)count;
        for (uint32_t j = 0; j < count; j++, rd->off += 4) {
            uint32_t u = get_u32_at(rd->p + rd->off);
            float f;
            memcpy(&f, &u, sizeof f);
            if (!isfinite(f)) return bad_field("values", rd->off, "not finite; bits", u);
            r->v[r->count++] = f;
        }
    }
    return SDPO_OK;
}

sdpo_status sdpo_stat_tracker_deserialize(const unsigned char *buf, size_t len,
                                          sdpo_stat_tracker **out) {
    if (!buf || !out) return sdpo_fail(SDPO_ERR_ARG, "stat tracker: deserialize arguments NULL");
    reader rd = {buf, len, 0};
    uint32_t h[6];
    sdpo_status st = read_header(&rd, h);
    if (st != SDPO_OK) return st;
    sdpo_stat_tracker *tr;
    st = sdpo_stat_tracker_new((sdpo_norm_mode)h[1], (int)h[2], (int)h[3], (int)h[4], &tr);
    if (st != SDPO_OK) return st;
    uint32_t n_keys = h[5];
    /* Each record takes at least key_len + n_buf counts: bound n_keys before allocating. */
    size_t min_record = 4 + 4 * (size_t)tr->n_buf;
    if (tr->mode == SDPO_NORM_GLOBAL && n_keys != 0)
        st = bad_field("n_keys", 28, "must be 0 in global mode", n_keys);
    else if (n_keys > (len - rd.off) / min_record)
        st = bad_field("n_keys", 28, "more than the data holds", n_keys);
    if (st != SDPO_OK) {
        sdpo_stat_tracker_free(tr);
        return st;
    }
    if (n_keys > 0) {
        tr->entries = malloc((size_t)n_keys * sizeof *tr->entries);
        if (!tr->entries) {
            sdpo_stat_tracker_free(tr);
            return sdpo_fail(SDPO_ERR_NOMEM, "stat tracker: out of memory reading checkpoint");
        }
        tr->cap_entries = (int)n_keys;
    }
    for (uint32_t k = 0; k < n_keys && st == SDPO_OK; k++) st = read_entry(&rd, tr);
    if (st == SDPO_OK) {
        size_t at = rd.off;
        uint32_t crc;
        st = read_u32(&rd, "crc32", &crc);
        if (st == SDPO_OK && rd.off != len)
            st = bad_field("trailing bytes", rd.off, "data after the crc32; bytes", len - rd.off);
        else if (st == SDPO_OK && crc != crc32_ieee(buf, at))
            st = bad_field("crc32", at, "checksum mismatch; stored", crc);
    }
    if (st != SDPO_OK) {
        sdpo_stat_tracker_free(tr);
        return st;
    }
    *out = tr;
    return SDPO_OK;
}

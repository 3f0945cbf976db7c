/* models/tokenizer_clip.c — CLIP byte-level BPE (see tokenizer_clip.h for the exact pipeline
 * and how it relates to transformers' CLIPTokenizer, HF tokenizers and open_clip).
 *
 * The BPE is openai/CLIP's `bpe()` (simple_tokenizer.py) on vocabulary ids instead of strings:
 * repeatedly take the adjacent pair with the lowest merge rank and merge all its occurrences
 * left to right. HF tokenizers' priority-queue BPE gives the same result, because a merge that
 * uses a symbol always ranks after the merge that made it. */
#include "models/tokenizer_clip.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------------
 * hash tables (open addressing, linear probing, power-of-two capacity, never more than half
 * full) */

struct sdpo_clip_vocab_map {
    size_t cap;       /* slots */
    int32_t *slot;    /* token id, or −1 when empty; key is tokens[id] */
};

struct sdpo_clip_merge_map {
    size_t cap;
    uint64_t *key;    /* left id << 32 | right id; UINT64_MAX when empty */
    int32_t *rank, *merged;
};

static uint64_t hash_bytes(const char *s, size_t n) {   /* FNV-1a */
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static uint64_t hash_u64(uint64_t x) {   /* splitmix64 finaliser */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static size_t table_cap(int n) {
    size_t cap = 16;
    while (cap < 2 * (size_t)n) cap *= 2;
    return cap;
}

/* id of the n-byte string s, or −1. */
static int32_t vocab_get(const sdpo_clip_tokenizer *t, const char *s, size_t n) {
    const sdpo_clip_vocab_map *m = t->vocab;
    for (size_t i = hash_bytes(s, n) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        int32_t id = m->slot[i];
        if (id < 0) return -1;
        if (strlen(t->tokens[id]) == n && memcmp(t->tokens[id], s, n) == 0) return id;
    }
}

static void vocab_put(sdpo_clip_tokenizer *t, int32_t id) {
    sdpo_clip_vocab_map *m = t->vocab;
    const char *s = t->tokens[id];
    size_t i = hash_bytes(s, strlen(s)) & (m->cap - 1);
    while (m->slot[i] >= 0) i = (i + 1) & (m->cap - 1);
    m->slot[i] = id;
}

static size_t merge_slot(const sdpo_clip_merge_map *m, uint64_t key) {
    size_t i = hash_u64(key) & (m->cap - 1);
    while (m->key[i] != UINT64_MAX && m->key[i] != key) i = (i + 1) & (m->cap - 1);
    return i;
}

static uint64_t pair_key(int32_t a, int32_t b) { return (uint64_t)(uint32_t)a << 32 | (uint32_t)b; }

/* ---------------------------------------------------------------------------------------------
 * loading */

void sdpo_clip_tokenizer_free(sdpo_clip_tokenizer *t) {
    if (t->tokens)
        for (int i = 0; i < t->n_vocab; i++) free(t->tokens[i]);
    free(t->tokens);
    if (t->vocab) free(t->vocab->slot);
    free(t->vocab);
    if (t->merges) {
        free(t->merges->key);
        free(t->merges->rank);
        free(t->merges->merged);
    }
    free(t->merges);
    for (int i = 0; i < t->n_specials; i++) free(t->special_text[i]);
    memset(t, 0, sizeof *t);
}

static sdpo_status load_vocab(const char *path, sdpo_clip_tokenizer *t) {
    json_error_t err;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        if (err.line < 0) return sdpo_fail(SDPO_ERR_IO, "%s: cannot read (%s)", path, err.text);
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: not valid JSON (%s, line %d)", path, err.text,
                         err.line);
    }
    sdpo_status st = SDPO_OK;
    size_t n = json_is_object(root) ? json_object_size(root) : 0;
    if (n == 0 || n > (1u << 30)) {
        st = sdpo_fail(SDPO_ERR_FORMAT, "%s: expected a non-empty object token → id", path);
        goto done;
    }
    t->n_vocab = (int)n;
    t->tokens = calloc(n, sizeof *t->tokens);
    t->vocab = calloc(1, sizeof *t->vocab);
    if (t->vocab) t->vocab->cap = table_cap((int)n);
    if (t->vocab) t->vocab->slot = malloc(t->vocab->cap * sizeof *t->vocab->slot);
    if (!t->tokens || !t->vocab || !t->vocab->slot) {
        st = sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory for %zu tokens", path, n);
        goto done;
    }
    memset(t->vocab->slot, 0xff, t->vocab->cap * sizeof *t->vocab->slot);
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        json_int_t id = json_is_integer(v) ? json_integer_value(v) : -1;
        if (id < 0 || id >= (json_int_t)n || t->tokens[id]) {
            st = sdpo_fail(SDPO_ERR_FORMAT,
                           "%s: token '%s' has id %s; ids must be the distinct integers 0..%zu",
                           path, key, json_is_integer(v) ? "out of range or repeated" : "not an integer",
                           n - 1);
            goto done;
        }
        if (!(t->tokens[id] = strdup(key))) {
            st = sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory", path);
            goto done;
        }
        vocab_put(t, (int32_t)id);
    }
done:
    json_decref(root);
    return st;
}

static sdpo_status load_merges(const char *path, sdpo_clip_tokenizer *t) {
    FILE *f = fopen(path, "r");
    if (!f) return sdpo_fail(SDPO_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    int n = 0;
    char line[1024];
    while (fgets(line, sizeof line, f)) n++;
    rewind(f);
    sdpo_clip_merge_map *m = t->merges = calloc(1, sizeof *m);
    sdpo_status st = SDPO_OK;
    if (m) {
        m->cap = table_cap(n);
        m->key = malloc(m->cap * sizeof *m->key);
        m->rank = malloc(m->cap * sizeof *m->rank);
        m->merged = malloc(m->cap * sizeof *m->merged);
    }
    if (!m || !m->key || !m->rank || !m->merged) {
        fclose(f);
        return sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory for %d merges", path, n);
    }
    memset(m->key, 0xff, m->cap * sizeof *m->key);
    for (int lineno = 1; st == SDPO_OK && fgets(line, sizeof line, f); lineno++) {
        size_t len = strcspn(line, "\r\n");
        if (line[len] == '\0' && !feof(f)) {
            st = sdpo_fail(SDPO_ERR_FORMAT, "%s: line %d is longer than %zu bytes", path, lineno,
                           sizeof line - 2);
            break;
        }
        line[len] = '\0';
        if (len == 0 || (lineno == 1 && strncmp(line, "#version", 8) == 0)) continue;
        char *sp = strchr(line, ' ');
        if (!sp || sp == line || !sp[1] || strchr(sp + 1, ' ')) {
            st = sdpo_fail(SDPO_ERR_FORMAT, "%s: line %d: expected two tokens 'a b', got '%s'",
                           path, lineno, line);
            break;
        }
        size_t la = (size_t)(sp - line), lb = len - la - 1;
        int32_t a = vocab_get(t, line, la), b = vocab_get(t, sp + 1, lb);
        memmove(sp, sp + 1, lb + 1);   /* line is now "ab" */
        int32_t ab = vocab_get(t, line, la + lb);
        if (a < 0 || b < 0 || ab < 0) {
            st = sdpo_fail(SDPO_ERR_FORMAT,
                           "%s: line %d: merge of '%.*s' uses a token that is not in vocab.json",
                           path, lineno, (int)(la + lb), line);
            break;
        }
        size_t i = merge_slot(m, pair_key(a, b));
        if (m->key[i] != UINT64_MAX) continue;   /* a repeated merge keeps its first rank */
        m->key[i] = pair_key(a, b);
        m->rank[i] = t->n_merges++;
        m->merged[i] = ab;
    }
    fclose(f);
    return st;
}

/* The token string of tokenizer_config.json / special_tokens_map.json key `key`: a string or
 * an AddedToken object {"content": …}; NULL when absent or null. */
static const char *token_content(json_t *root, const char *key) {
    json_t *v = json_object_get(root, key);
    if (json_is_object(v)) v = json_object_get(v, "content");
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static json_t *load_json_object(const char *path, int required, sdpo_status *st) {
    *st = SDPO_OK;
    json_error_t err;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        if (err.line < 0 && !required) return NULL;   /* optional file that does not exist */
        *st = err.line < 0 ? sdpo_fail(SDPO_ERR_IO, "%s: cannot read (%s)", path, err.text)
                           : sdpo_fail(SDPO_ERR_FORMAT, "%s: not valid JSON (%s, line %d)", path,
                                       err.text, err.line);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        *st = sdpo_fail(SDPO_ERR_FORMAT, "%s: top level is not a JSON object", path);
        return NULL;
    }
    return root;
}

static sdpo_status add_special(sdpo_clip_tokenizer *t, const char *text, const char *file,
                               const char *key, int32_t *id) {
    *id = vocab_get(t, text, strlen(text));
    if (*id < 0)
        return sdpo_fail(SDPO_ERR_FORMAT, "%s: %s '%s' is not in vocab.json", file, key, text);
    for (int i = 0; i < t->n_specials; i++)
        if (!strcmp(t->special_text[i], text)) return SDPO_OK;
    for (const char *c = text; *c; c++)   /* matched code point by code point (find_special) */
        if ((unsigned char)*c >= 0x80)
            return sdpo_fail(SDPO_ERR_FORMAT, "%s: %s '%s' is not ASCII", file, key, text);
    if (!(t->special_text[t->n_specials] = strdup(text)))
        return sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory", file);
    t->special_id[t->n_specials++] = *id;
    return SDPO_OK;
}

static sdpo_status load_config(const char *dir, sdpo_clip_tokenizer *t) {
    char cfg_path[4096], map_path[4096];
    snprintf(cfg_path, sizeof cfg_path, "%s/tokenizer_config.json", dir);
    snprintf(map_path, sizeof map_path, "%s/special_tokens_map.json", dir);
    sdpo_status st;
    json_t *cfg = load_json_object(cfg_path, 1, &st);
    if (!cfg) return st;
    json_t *map = load_json_object(map_path, 0, &st);
    if (st != SDPO_OK) {
        json_decref(cfg);
        return st;
    }
    t->max_length = 77;   /* openai/CLIP's context length, when the config does not say */
    json_t *ml = json_object_get(cfg, "model_max_length");
    if (ml && !json_is_null(ml)) {
        if (!json_is_integer(ml) || json_integer_value(ml) < 2 || json_integer_value(ml) > 4096)
            st = sdpo_fail(SDPO_ERR_FORMAT,
                           "%s: key 'model_max_length': expected an integer in 2..4096", cfg_path);
        else
            t->max_length = (int)json_integer_value(ml);
    }
    /* Defaults are CLIPTokenizer's constructor defaults (pad "<|endoftext|>" as in SD 1.x). */
    static const char *const keys[4] = {"bos_token", "eos_token", "unk_token", "pad_token"};
    static const char *const defaults[4] = {"<|startoftext|>", "<|endoftext|>", "<|endoftext|>",
                                            "<|endoftext|>"};
    int32_t unk_id, *ids[4] = {&t->bos_id, &t->eos_id, &unk_id, &t->pad_id};
    for (int k = 0; k < 4 && st == SDPO_OK; k++) {
        const char *text = map ? token_content(map, keys[k]) : NULL;
        const char *file = map_path;
        if (!text) {
            text = token_content(cfg, keys[k]);
            file = cfg_path;
        }
        if (!text) text = defaults[k];
        st = add_special(t, text, file, keys[k], ids[k]);
    }
    json_decref(cfg);
    json_decref(map);
    return st;
}

/* bytes_to_unicode() of openai/CLIP (= GPT-2): printable Latin-1 bytes map to themselves, the
 * other 68 to U+0100… in byte order. Writes the UTF-8 of byte b's symbol (2 bytes max). */
static size_t byte_symbol(int b, char out[3]) {
    int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    unsigned cp = (unsigned)b;
    if (!printable) {
        cp = 256;
        for (int x = 0; x < b; x++)
            if (!((x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF)))
                cp++;
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

sdpo_status sdpo_clip_tokenizer_load(const char *dir, sdpo_clip_tokenizer *t) {
    memset(t, 0, sizeof *t);
    char path[4096];
    snprintf(path, sizeof path, "%s/vocab.json", dir);
    sdpo_status st = load_vocab(path, t);
    for (int b = 0; b < 256 && st == SDPO_OK; b++) {
        char sym[3 + 4];
        size_t n = byte_symbol(b, sym);
        memcpy(sym + n, "</w>", 4);
        t->byte_id[b] = vocab_get(t, sym, n);
        t->byte_eow_id[b] = vocab_get(t, sym, n + 4);
        if (t->byte_id[b] < 0 || t->byte_eow_id[b] < 0)
            st = sdpo_fail(SDPO_ERR_FORMAT,
                           "%s: the byte-level symbol of byte 0x%02X (or it + '</w>') is missing; "
                           "not a CLIP vocabulary", path, b);
    }
    if (st == SDPO_OK) {
        snprintf(path, sizeof path, "%s/merges.txt", dir);
        st = load_merges(path, t);
    }
    if (st == SDPO_OK) st = load_config(dir, t);
    if (st != SDPO_OK) sdpo_clip_tokenizer_free(t);
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * encoding */

/* Decodes UTF-8 into cp[] (capacity ≥ strlen); −1 with *bad = byte offset when invalid. */
static long utf8_decode(const char *s, uint32_t *cp, size_t *bad) {
    const unsigned char *p = (const unsigned char *)s;
    long n = 0;
    for (size_t i = 0; p[i];) {
        unsigned c = p[i];
        int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        uint32_t v = len == 1 ? c : len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
        for (int k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80) {
                len = 0;
                break;
            }
            v = v << 6 | (p[i + k] & 0x3F);
        }
        static const uint32_t min_of_len[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (len == 0 || v < min_of_len[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
            *bad = i;
            return -1;
        }
        cp[n++] = v;
        i += (size_t)len;
    }
    return n;
}

static size_t utf8_encode(uint32_t v, unsigned char *out) {
    if (v < 0x80) {
        out[0] = (unsigned char)v;
        return 1;
    }
    if (v < 0x800) {
        out[0] = (unsigned char)(0xC0 | v >> 6);
        out[1] = (unsigned char)(0x80 | (v & 0x3F));
        return 2;
    }
    if (v < 0x10000) {
        out[0] = (unsigned char)(0xE0 | v >> 12);
        out[1] = (unsigned char)(0x80 | ((v >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (v & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | v >> 18);
    out[1] = (unsigned char)(0x80 | ((v >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((v >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (v & 0x3F));
    return 4;
}

/* Step 2: NFC (adjacent canonical pairs), \s+ → ' ', lowercase; in [n], out [2n] (lowercasing
 * can lengthen: U+0130 → 2 code points). Returns the normalised length. */
static long normalize(const uint32_t *in, long n, uint32_t *out) {
    long m = 0;   /* composed and whitespace-collapsed code points, in out[n … n + m) */
    uint32_t *mid = out + n;
    int in_space = 0;
    for (long i = 0; i < n; i++) {
        uint32_t c = m > 0 && !in_space ? sdpo_unicode_compose(mid[m - 1], in[i]) : 0;
        if (c) {
            mid[m - 1] = c;
        } else if (sdpo_unicode_is_space(in[i])) {
            if (!in_space) mid[m++] = ' ';
            in_space = 1;
        } else {
            mid[m++] = in[i];
            in_space = 0;
        }
    }
    long r = 0;   /* writes stay behind the reads: r ≤ 2i < n + i */
    for (long i = 0; i < m; i++) {
        uint32_t low[2];
        int c = sdpo_unicode_to_lower(mid[i], low);
        for (int j = 0; j < c; j++) out[r++] = low[j];
    }
    return r;
}

typedef struct {
    int64_t *ids;   /* content ids, capacity cap */
    int count, cap;
    int total;      /* content ids produced, kept or not */
} id_sink;

static void emit_id(id_sink *s, int32_t id) {
    if (s->count < s->cap) s->ids[s->count++] = id;
    s->total++;
}

/* Step 4 on one pre-token's bytes; sym is scratch for n ids. */
static void bpe(const sdpo_clip_tokenizer *t, const unsigned char *bytes, size_t n, int32_t *sym,
                id_sink *out) {
    for (size_t i = 0; i < n; i++) sym[i] = i + 1 < n ? t->byte_id[bytes[i]] : t->byte_eow_id[bytes[i]];
    const sdpo_clip_merge_map *m = t->merges;
    for (;;) {
        int32_t best_rank = INT32_MAX, best_a = -1, best_b = -1, best_ab = -1;
        for (size_t i = 0; i + 1 < n; i++) {
            size_t s = merge_slot(m, pair_key(sym[i], sym[i + 1]));
            if (m->key[s] != UINT64_MAX && m->rank[s] < best_rank) {
                best_rank = m->rank[s];
                best_a = sym[i];
                best_b = sym[i + 1];
                best_ab = m->merged[s];
            }
        }
        if (best_ab < 0) break;
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (i + 1 < n && sym[i] == best_a && sym[i + 1] == best_b) {
                sym[k++] = best_ab;
                i++;
            } else {
                sym[k++] = sym[i];
            }
        }
        n = k;
    }
    for (size_t i = 0; i < n; i++) emit_id(out, sym[i]);
}

/* Length of the pre-token starting at cp[0] (n > 0, cp[0] not a space), per CLIP's regex with
 * its alternatives tried in order. */
static long pretoken_len(const uint32_t *cp, long n) {
    if (cp[0] == '\'' && n >= 2) {
        static const char *const contractions[] = {"s", "t", "re", "ve", "m", "ll", "d"};
        for (int k = 0; k < 7; k++) {
            long len = (long)strlen(contractions[k]);
            if (len < n) {
                long j = 0;
                while (j < len && cp[1 + j] == (uint32_t)contractions[k][j]) j++;
                if (j == len) return len + 1;
            }
        }
    }
    if (sdpo_unicode_is_letter(cp[0])) {
        long j = 1;
        while (j < n && sdpo_unicode_is_letter(cp[j])) j++;
        return j;
    }
    if (sdpo_unicode_is_number(cp[0])) return 1;
    long j = 1;
    while (j < n && !sdpo_unicode_is_space(cp[j]) && !sdpo_unicode_is_letter(cp[j]) &&
           !sdpo_unicode_is_number(cp[j]))
        j++;
    return j;
}

/* Step 3 + 4 on a special-free span. bytes/sym are scratch of ≥ 4n entries. */
static void encode_span(const sdpo_clip_tokenizer *t, const uint32_t *cp, long n,
                        unsigned char *bytes, int32_t *sym, id_sink *out) {
    for (long i = 0; i < n;) {
        if (sdpo_unicode_is_space(cp[i])) {
            i++;
            continue;
        }
        long len = pretoken_len(cp + i, n - i);
        size_t nb = 0;
        for (long j = 0; j < len; j++) nb += utf8_encode(cp[i + j], bytes + nb);
        bpe(t, bytes, nb, sym, out);
        i += len;
    }
}

/* Leftmost-longest special token at or after position i: its start (n when none). */
static long find_special(const sdpo_clip_tokenizer *t, const uint32_t *cp, long n, long i,
                         int *which, long *len) {
    for (; i < n; i++) {
        long best = 0;
        for (int s = 0; s < t->n_specials; s++) {
            const unsigned char *txt = (const unsigned char *)t->special_text[s];
            long j = 0;
            while (txt[j] && i + j < n && cp[i + j] == txt[j]) j++;   /* ASCII special tokens */
            if (!txt[j] && j > best) {
                best = j;
                *which = s;
            }
        }
        if (best > 0) {
            *len = best;
            return i;
        }
    }
    return n;
}

sdpo_status sdpo_clip_tokenize(const sdpo_clip_tokenizer *t, const char *text, int64_t *ids,
                               int *n_tokens, int *truncated) {
    size_t len = strlen(text);
    /* cp: decoded text; norm: normalised (≤ 2× the code points after lowercasing);
     * bytes/sym: one pre-token's UTF-8 bytes and BPE symbols (≤ 4 bytes per code point). */
    uint32_t *cp = malloc((len + 1) * sizeof *cp);
    uint32_t *norm = malloc((2 * len + 1) * sizeof *norm);
    unsigned char *bytes = malloc(8 * len + 1);
    int32_t *sym = malloc((8 * len + 1) * sizeof *sym);
    sdpo_status st = SDPO_OK;
    if (!cp || !norm || !bytes || !sym) {
        st = sdpo_fail(SDPO_ERR_NOMEM, "tokenizer: out of memory for a %zu-byte prompt", len);
        goto done;
    }
    size_t bad = 0;
    long n = utf8_decode(text, cp, &bad);
    if (n < 0) {
        st = sdpo_fail(SDPO_ERR_ARG, "prompt is not valid UTF-8 (byte offset %zu)", bad);
        goto done;
    }
    n = normalize(cp, n, norm);
    id_sink out = {.ids = ids + 1, .cap = t->max_length - 2};
    for (long i = 0; i < n;) {
        int which = 0;
        long slen = 0, s = find_special(t, norm, n, i, &which, &slen);
        encode_span(t, norm + i, s - i, bytes, sym, &out);
        if (s < n) emit_id(&out, t->special_id[which]);
        i = s + slen;
    }
    ids[0] = t->bos_id;
    ids[1 + out.count] = t->eos_id;
    for (int i = out.count + 2; i < t->max_length; i++) ids[i] = t->pad_id;
    if (n_tokens) *n_tokens = out.count + 2;
    if (truncated) *truncated = out.total > out.count;
done:
    free(cp);
    free(norm);
    free(bytes);
    free(sym);
    return st;
}

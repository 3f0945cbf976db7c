/* models/tokenizer_wordpiece.c — BERT WordPiece tokenization (tokenizer_wordpiece.h), after
 * transformers' tokenization_bert.py (BasicTokenizer.tokenize, WordpieceTokenizer.tokenize) and
 * PreTrainedTokenizer's split on special tokens. */
#include "models/tokenizer_wordpiece.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/tokenizer_clip.h"

/* WordpieceTokenizer.max_input_chars_per_word. */
#define MAX_WORD_CHARS 100

static const char *const special_text[SDPO_WORDPIECE_SPECIALS] = {
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]", "[ENC]"};

/* ---------------------------------------------------------------------------------------------
 * token → id hash map (open addressing, FNV-1a) */

struct sdpo_wordpiece_map {
    size_t cap;          /* power of two */
    int32_t *slot;       /* id or −1 */
};

static uint64_t fnv1a(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

/* Id of the n-byte token s, or −1. */
static int32_t lookup(const sdpo_wordpiece *t, const char *s, size_t n) {
    const sdpo_wordpiece_map *m = t->map;
    for (size_t i = fnv1a(s, n) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        int32_t id = m->slot[i];
        if (id < 0) return -1;
        if (strlen(t->tokens[id]) == n && !memcmp(t->tokens[id], s, n)) return id;
    }
}

/* Inserts id unless its token is already present (BertTokenizer keeps the last duplicate line's
 * id in its dict; vocab.txt files have no duplicates, and the first wins here). */
static void insert(sdpo_wordpiece *t, int32_t id) {
    const char *s = t->tokens[id];
    size_t n = strlen(s);
    sdpo_wordpiece_map *m = t->map;
    for (size_t i = fnv1a(s, n) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (m->slot[i] < 0) {
            m->slot[i] = id;
            return;
        }
        if (!strcmp(t->tokens[m->slot[i]], s)) return;
    }
}

/* ---------------------------------------------------------------------------------------------
 * loading */

void sdpo_wordpiece_free(sdpo_wordpiece *t) {
    if (t->tokens)
        for (int i = 0; i < t->n_vocab; i++) free(t->tokens[i]);
    free(t->tokens);
    if (t->map) free(t->map->slot);
    free(t->map);
    memset(t, 0, sizeof *t);
}

sdpo_status sdpo_wordpiece_load(const char *vocab_path, int max_length, sdpo_wordpiece *t) {
    memset(t, 0, sizeof *t);
    if (max_length < 2)
        return sdpo_fail(SDPO_ERR_ARG, "wordpiece: max_length %d leaves no room for [CLS] [SEP]",
                         max_length);
    FILE *f = fopen(vocab_path, "rb");
    if (!f) return sdpo_fail(SDPO_ERR_IO, "%s: cannot open: %s", vocab_path, strerror(errno));
    sdpo_status rc = SDPO_OK;
    int cap = 0;
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t len;
    while (rc == SDPO_OK && (len = getline(&line, &line_cap, f)) >= 0) {
        /* BertTokenizer's load_vocab: token = line.rstrip("\n") */
        if (len > 0 && line[len - 1] == '\n') line[--len] = 0;
        if (t->n_vocab + SDPO_WORDPIECE_SPECIALS >= cap) {
            cap = cap ? 2 * cap : 32768;
            char **grown = realloc(t->tokens, (size_t)cap * sizeof *grown);
            if (!grown) rc = sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory", vocab_path);
            else t->tokens = grown;
        }
        if (rc == SDPO_OK && !(t->tokens[t->n_vocab] = strdup(line)))
            rc = sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory", vocab_path);
        if (rc == SDPO_OK) t->n_vocab++;
    }
    free(line);
    fclose(f);
    if (rc == SDPO_OK && t->n_vocab == 0) rc = sdpo_fail(SDPO_ERR_FORMAT, "%s: empty vocabulary", vocab_path);
    /* BLIP init_tokenizer: add_special_tokens({'bos_token': '[DEC]'}) and
     * ({'additional_special_tokens': ['[ENC]']}) append them after the vocabulary. */
    for (int k = 5; k < SDPO_WORDPIECE_SPECIALS && rc == SDPO_OK; k++) {
        if (!(t->tokens[t->n_vocab] = strdup(special_text[k])))
            rc = sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory", vocab_path);
        else t->n_vocab++;
    }
    if (rc == SDPO_OK) {
        t->map = calloc(1, sizeof *t->map);
        size_t mcap = 1;
        while (mcap < 2 * (size_t)t->n_vocab) mcap <<= 1;
        if (t->map) t->map->slot = malloc(mcap * sizeof *t->map->slot);
        if (!t->map || !t->map->slot) rc = sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory", vocab_path);
        else {
            t->map->cap = mcap;
            memset(t->map->slot, 0xff, mcap * sizeof *t->map->slot);
            for (int i = 0; i < t->n_vocab; i++) insert(t, i);
        }
    }
    for (int k = 0; k < SDPO_WORDPIECE_SPECIALS && rc == SDPO_OK; k++) {
        t->special_id[k] = lookup(t, special_text[k], strlen(special_text[k]));
        if (t->special_id[k] < 0)
            rc = sdpo_fail(SDPO_ERR_FORMAT, "%s: special token %s is not in the vocabulary",
                           vocab_path, special_text[k]);
    }
    if (rc != SDPO_OK) {
        sdpo_wordpiece_free(t);
        return rc;
    }
    t->pad_id = t->special_id[0];
    t->unk_id = t->special_id[1];
    t->cls_id = t->special_id[2];
    t->sep_id = t->special_id[3];
    t->max_length = max_length;
    return SDPO_OK;
}

/* ---------------------------------------------------------------------------------------------
 * tokenization */

/* A growable array of code points or ids. */
typedef struct {
    int64_t *v;
    size_t n, cap;
} vec;

static int push(vec *a, int64_t x) {
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 64;
        int64_t *g = realloc(a->v, cap * sizeof *g);
        if (!g) return 0;
        a->v = g;
        a->cap = cap;
    }
    a->v[a->n++] = x;
    return 1;
}

/* Decodes one UTF-8 sequence at s (strict: no overlongs, surrogates or > U+10FFFF); returns
 * its length, 0 if invalid. */
static int utf8_decode(const unsigned char *s, uint32_t *cp) {
    if (s[0] < 0x80) return *cp = s[0], 1;
    int n = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;
    if (!n || s[0] > 0xF4) return 0;
    uint32_t c = s[0] & (0x7F >> n);
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < min[n] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    *cp = c;
    return n;
}

static size_t utf8_encode(uint32_t c, char *out) {
    if (c < 0x80) return out[0] = (char)c, 1;
    if (c < 0x800) {
        out[0] = (char)(0xC0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (c >> 18));
    out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* WordpieceTokenizer on one word (code points w[0..n)) → ids. */
static int wordpiece(const sdpo_wordpiece *t, const int64_t *w, size_t n, vec *ids, char *buf) {
    if (n > MAX_WORD_CHARS) return push(ids, t->unk_id);
    size_t first = ids->n, start = 0;
    while (start < n) {
        int32_t id = -1;
        size_t end = n;
        for (; end > start; end--) {
            size_t len = 0;
            if (start > 0) buf[len++] = '#', buf[len++] = '#';
            for (size_t i = start; i < end; i++) len += utf8_encode((uint32_t)w[i], buf + len);
            if ((id = lookup(t, buf, len)) >= 0) break;
        }
        if (id < 0) {   /* is_bad: the whole word becomes [UNK] */
            ids->n = first;
            return push(ids, t->unk_id);
        }
        if (!push(ids, id)) return 0;
        start = end;
    }
    return 1;
}

/* BasicTokenizer + WordPiece on text[0..len) (no special tokens inside) → ids. */
static sdpo_status basic_and_wordpiece(const sdpo_wordpiece *t, const char *text, size_t len,
                                       size_t offset, vec *ids) {
    vec cps = {0}, word = {0};
    sdpo_status rc = SDPO_OK;
    int ok = 1;
    /* _clean_text and _tokenize_chinese_chars; words are separated by ' ' in cps. */
    for (size_t i = 0; i < len && ok;) {
        uint32_t c;
        int k = utf8_decode((const unsigned char *)text + i, &c);
        if (!k) {
            rc = sdpo_fail(SDPO_ERR_ARG, "wordpiece: invalid UTF-8 at byte %zu", offset + i);
            break;
        }
        i += (size_t)k;
        if (c == 0 || c == 0xFFFD || sdpo_wordpiece_is_control(c)) continue;
        if (sdpo_wordpiece_is_whitespace(c) || c == 0x2028 || c == 0x2029) ok = push(&cps, ' ');
        else if (sdpo_wordpiece_is_chinese(c)) ok = push(&cps, ' ') && push(&cps, c) && push(&cps, ' ');
        else ok = push(&cps, c);
    }
    ok = ok && push(&cps, ' ');
    char *buf = malloc(4 * MAX_WORD_CHARS + 8);
    if (!buf) ok = 0;
    for (size_t i = 0; i < cps.n && ok && rc == SDPO_OK; i++) {
        uint32_t c = (uint32_t)cps.v[i];
        if (c != ' ') {
            /* lowercase, then strip accents (NFD without Mn), code point by code point */
            uint32_t low[2], st[3];
            int nl = sdpo_unicode_to_lower(c, low);
            for (int a = 0; a < nl && ok; a++) {
                int ns = sdpo_wordpiece_strip_accents(low[a], st);
                for (int b = 0; b < ns && ok; b++) ok = push(&word, st[b]);
            }
            continue;
        }
        /* end of a whitespace word: split off punctuation, WordPiece each piece */
        size_t s = 0;
        for (size_t j = 0; j <= word.n && ok; j++) {
            int punct = j < word.n && sdpo_wordpiece_is_punctuation((uint32_t)word.v[j]);
            if (j == word.n || punct) {
                if (j > s) ok = wordpiece(t, word.v + s, j - s, ids, buf);
                if (punct && ok) ok = wordpiece(t, word.v + j, 1, ids, buf);
                s = j + 1;
            }
        }
        word.n = 0;
    }
    free(buf);
    free(cps.v);
    free(word.v);
    if (rc == SDPO_OK && !ok) rc = sdpo_fail(SDPO_ERR_NOMEM, "wordpiece: out of memory");
    return rc;
}

sdpo_status sdpo_wordpiece_tokenize(const sdpo_wordpiece *t, const char *text, int64_t *ids,
                                    int64_t *mask, int *n_tokens) {
    vec out = {0};
    sdpo_status rc = SDPO_OK;
    size_t len = strlen(text), s = 0;
    /* Split on the special tokens (leftmost, then longest), tokenizing the text between. */
    for (size_t i = 0; i <= len && rc == SDPO_OK;) {
        int hit = -1;
        size_t hit_len = 0;
        for (int k = 0; i < len && k < SDPO_WORDPIECE_SPECIALS; k++) {
            size_t n = strlen(special_text[k]);
            if (n > hit_len && !strncmp(text + i, special_text[k], n)) hit = k, hit_len = n;
        }
        if (hit < 0 && i < len) {
            i++;
            continue;
        }
        if (i > s) rc = basic_and_wordpiece(t, text + s, i - s, s, &out);
        if (rc == SDPO_OK && hit >= 0 && !push(&out, t->special_id[hit]))
            rc = sdpo_fail(SDPO_ERR_NOMEM, "wordpiece: out of memory");
        i += hit >= 0 ? hit_len : 1;
        s = i;
    }
    if (rc == SDPO_OK) {
        const size_t keep = out.n < (size_t)t->max_length - 2 ? out.n : (size_t)t->max_length - 2;
        int n = 0;
        ids[n++] = t->cls_id;
        for (size_t k = 0; k < keep; k++) ids[n++] = out.v[k];
        ids[n++] = t->sep_id;
        if (n_tokens) *n_tokens = n;
        for (int k = 0; k < t->max_length; k++) {
            if (k >= n) ids[k] = t->pad_id;
            mask[k] = k < n;
        }
    }
    free(out.v);
    return rc;
}

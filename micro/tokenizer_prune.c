/* micro/tokenizer_prune.c — prune a CLIP BPE tokenizer to the tokens of given texts
 * (tokenizer_prune.h).
 *
 * The full tokenizer (models/tokenizer_clip.c) does normalisation, pre-tokenisation and BPE;
 * its output ids mark where each pre-token ends (its last token carries "</w>"). Each pre-token
 * is then re-run here through a string BPE over merges.txt that records which merges fire,
 * and the replay must reproduce the tokenizer's own tokens (checked), so the kept merges are
 * exactly the ones the real tokenizer applies. */
#include "micro/tokenizer_prune.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/atomic_file.h"
#include "models/tokenizer_clip.h"

/* ---- a string → int hash table (open addressing, at most half full) ------------------- */

typedef struct {
    size_t cap;
    char **key;   /* owned copies; NULL = empty */
    int *val;
} str_map;

static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static sdpo_status map_init(str_map *m, size_t n) {
    m->cap = 16;
    while (m->cap < 2 * n + 2) m->cap *= 2;
    m->key = calloc(m->cap, sizeof *m->key);
    m->val = calloc(m->cap, sizeof *m->val);
    return m->key && m->val ? SDPO_OK : sdpo_fail(SDPO_ERR_NOMEM, "tokenizer prune: out of memory");
}

static void map_free(str_map *m) {
    if (m->key)
        for (size_t i = 0; i < m->cap; i++) free(m->key[i]);
    free(m->key);
    free(m->val);
    memset(m, 0, sizeof *m);
}

static size_t map_slot(const str_map *m, const char *k) {
    size_t i = fnv1a(k) & (m->cap - 1);
    while (m->key[i] && strcmp(m->key[i], k) != 0) i = (i + 1) & (m->cap - 1);
    return i;
}

/* −1 when absent. */
static int map_get(const str_map *m, const char *k) {
    size_t i = map_slot(m, k);
    return m->key[i] ? m->val[i] : -1;
}

/* Inserts k → v unless k is present (then returns 0 and keeps the old value); −1: no memory. */
static int map_put(str_map *m, const char *k, int v) {
    size_t i = map_slot(m, k);
    if (m->key[i]) return 0;
    if (!(m->key[i] = strdup(k))) return -1;
    m->val[i] = v;
    return 1;
}

/* ---- merges.txt, ranked as the loader ranks it ----------------------------------------- */

typedef struct {
    int n;            /* distinct merges */
    char **line;      /* [n] "a b" in rank order */
    str_map rank;     /* "a b" → rank */
} merge_list;

static void merges_free(merge_list *ml) {
    for (int i = 0; i < ml->n; i++) free(ml->line[i]);
    free(ml->line);
    map_free(&ml->rank);
}

static sdpo_status merges_read(const char *path, merge_list *ml) {
    memset(ml, 0, sizeof *ml);
    FILE *f = fopen(path, "r");
    if (!f) return sdpo_fail(SDPO_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    int lines = 0;
    char buf[1024];
    while (fgets(buf, sizeof buf, f)) lines++;
    rewind(f);
    sdpo_status st = map_init(&ml->rank, (size_t)lines);
    if (st == SDPO_OK && !(ml->line = calloc((size_t)lines + 1, sizeof *ml->line)))
        st = sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory", path);
    for (int lineno = 1; st == SDPO_OK && fgets(buf, sizeof buf, f); lineno++) {
        buf[strcspn(buf, "\r\n")] = '\0';
        /* as models/tokenizer_clip.c load_merges: a leading "#version" line and empty lines are
         * skipped, a repeated merge keeps its first rank */
        if (buf[0] == '\0' || (lineno == 1 && strncmp(buf, "#version", 8) == 0)) continue;
        const char *sp = strchr(buf, ' ');
        if (!sp || sp == buf || !sp[1] || strchr(sp + 1, ' '))
            st = sdpo_fail(SDPO_ERR_FORMAT, "%s: line %d: expected two tokens 'a b'", path,
                           lineno);
        int r = st == SDPO_OK ? map_put(&ml->rank, buf, ml->n) : 0;
        if (r < 0) st = sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory", path);
        if (r > 0 && !(ml->line[ml->n++] = strdup(buf)))
            st = sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory", path);
    }
    fclose(f);
    if (st != SDPO_OK) merges_free(ml);
    return st;
}

/* ---- replaying the BPE of one pre-token ------------------------------------------------ */

/* Symbols of a pre-token given as its byte-level string with the trailing "</w>": one symbol per
 * UTF-8 character (each is one byte symbol), "</w>" glued to the last. −1 (nothing left
 * allocated) when out of memory. */
static int split_symbols(const char *word, char **sym) {
    const size_t len = strlen(word) - 4;   /* without "</w>" */
    int n = 0;
    for (size_t i = 0; i < len;) {
        const unsigned char c = (unsigned char)word[i];
        size_t cl = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
        if (i + cl > len) cl = len - i;
        const int last = i + cl == len;
        sym[n] = malloc(cl + (last ? 5 : 1));
        if (!sym[n]) {
            for (int j = 0; j < n; j++) free(sym[j]);
            return -1;
        }
        memcpy(sym[n], word + i, cl);
        strcpy(sym[n] + cl, last ? "</w>" : "");
        n++;
        i += cl;
    }
    return n;
}

/* BPE of sym[0..n) (strings, replaced in place), marking used[rank]; returns the final count or
 * −1 when out of memory (every symbol then freed). Same algorithm as the loader's bpe(): lowest rank first, all its
 * occurrences merged left to right. */
static int replay_bpe(const merge_list *ml, char **sym, int n, unsigned char *used) {
    char pair[1024];
    for (;;) {
        int best = INT_MAX;
        for (int i = 0; i + 1 < n; i++) {
            const size_t la = strlen(sym[i]), lb = strlen(sym[i + 1]);
            if (la + lb + 2 > sizeof pair) continue;   /* longer than any merges.txt line */
            memcpy(pair, sym[i], la);
            pair[la] = ' ';
            memcpy(pair + la + 1, sym[i + 1], lb + 1);
            int r = map_get(&ml->rank, pair);
            if (r >= 0 && r < best) best = r;
        }
        if (best == INT_MAX) return n;
        used[best] = 1;
        const char *line = ml->line[best], *sp = strchr(line, ' ');
        const size_t la = (size_t)(sp - line);
        int k = 0;
        for (int i = 0; i < n; i++) {
            if (i + 1 < n && strlen(sym[i]) == la && !strncmp(sym[i], line, la) &&
                !strcmp(sym[i + 1], sp + 1)) {
                char *m = malloc(strlen(sym[i]) + strlen(sym[i + 1]) + 1);
                if (!m) {   /* free what is left: sym[0..k) and sym[i..n) */
                    for (int j = 0; j < k; j++) free(sym[j]);
                    for (int j = i; j < n; j++) free(sym[j]);
                    return -1;
                }
                strcpy(m, sym[i]);
                strcat(m, sym[i + 1]);
                free(sym[i]);
                free(sym[i + 1]);
                sym[k++] = m;
                i++;
            } else {
                sym[k++] = sym[i];
            }
        }
        n = k;
    }
}

/* ---- files ------------------------------------------------------------------------------- */

static sdpo_status write_outputs(const char *full_dir, const char *out_dir,
                                 const sdpo_clip_tokenizer *t, const unsigned char *keep_id,
                                 const merge_list *ml, const unsigned char *used) {
    char path[4096], from[4096];
    json_t *vocab = json_object();
    int next = 0;
    for (int id = 0; vocab && id < t->n_vocab; id++)
        if (keep_id[id] && json_object_set_new(vocab, t->tokens[id], json_integer(next++)) != 0) {
            json_decref(vocab);
            vocab = NULL;
        }
    char *text = vocab ? json_dumps(vocab, JSON_COMPACT) : NULL;
    json_decref(vocab);
    if (!text) return sdpo_fail(SDPO_ERR_NOMEM, "tokenizer prune: out of memory for vocab.json");
    snprintf(path, sizeof path, "%s/vocab.json", out_dir);
    sdpo_atomic_file f;
    sdpo_status st = sdpo_atomic_open(&f, path);
    if (st == SDPO_OK) {
        fputs(text, f.fp);
        st = sdpo_atomic_commit(&f);
    }
    free(text);
    snprintf(path, sizeof path, "%s/merges.txt", out_dir);
    if (st == SDPO_OK && (st = sdpo_atomic_open(&f, path)) == SDPO_OK) {
        fputs("#version: 0.2\n", f.fp);
        for (int r = 0; r < ml->n; r++)
            if (used[r]) fprintf(f.fp, "%s\n", ml->line[r]);
        st = sdpo_atomic_commit(&f);
    }
    snprintf(from, sizeof from, "%s/tokenizer_config.json", full_dir);
    snprintf(path, sizeof path, "%s/tokenizer_config.json", out_dir);
    if (st == SDPO_OK) st = sdpo_copy_file(from, path, 0);
    snprintf(from, sizeof from, "%s/special_tokens_map.json", full_dir);
    snprintf(path, sizeof path, "%s/special_tokens_map.json", out_dir);
    if (st == SDPO_OK) st = sdpo_copy_file(from, path, 1);
    return st;
}

/* ---- the pruning ------------------------------------------------------------------------ */

typedef struct {
    sdpo_clip_tokenizer tok;
    merge_list ml;
    str_map id_of;             /* token string → full id */
    unsigned char *keep_id;    /* [n_vocab] */
    unsigned char *used;       /* [n merges] */
    int64_t *ids;
    char **sym;
} prune_state;

static void prune_free(prune_state *p) {
    sdpo_clip_tokenizer_free(&p->tok);
    merges_free(&p->ml);
    map_free(&p->id_of);
    free(p->keep_id);
    free(p->used);
    free(p->ids);
    free(p->sym);
}

static int is_special(const sdpo_clip_tokenizer *t, int64_t id) {
    if (id == t->bos_id || id == t->eos_id || id == t->pad_id) return 1;
    for (int i = 0; i < t->n_specials; i++)
        if (id == t->special_id[i]) return 1;
    return 0;
}

/* One pre-token: the concatenated token strings `word` (ending in "</w>") whose full-tokenizer
 * tokens are ids[0..n). Replays its BPE, checks it, keeps its merges and tokens. */
static sdpo_status prune_word(prune_state *p, const char *word, const int64_t *ids, int n,
                              const char *text) {
    const int ns = split_symbols(word, p->sym);
    if (ns < 0) return sdpo_fail(SDPO_ERR_NOMEM, "tokenizer prune: out of memory");
    /* every intermediate symbol of the replay is a token too: mark them as merges fire */
    const int nf = replay_bpe(&p->ml, p->sym, ns, p->used);
    sdpo_status st = nf < 0 ? sdpo_fail(SDPO_ERR_NOMEM, "tokenizer prune: out of memory")
                            : SDPO_OK;
    if (st == SDPO_OK && nf != n)
        st = sdpo_fail(SDPO_ERR_FORMAT, "tokenizer prune: replayed BPE of a word of '%s' gives %d "
                       "tokens, the tokenizer %d", text, nf, n);
    for (int i = 0; st == SDPO_OK && i < n; i++)
        if (strcmp(p->sym[i], p->tok.tokens[ids[i]]) != 0)
            st = sdpo_fail(SDPO_ERR_FORMAT, "tokenizer prune: replayed BPE of a word of '%s' gives "
                           "'%s' where the tokenizer gives '%s'", text, p->sym[i],
                           p->tok.tokens[ids[i]]);
    for (int i = 0; i < nf; i++) free(p->sym[i]);
    return st;
}

static sdpo_status prune_text(prune_state *p, const char *text) {
    const size_t len = strlen(text);
    if (len + 2 > (size_t)INT_MAX / 2)
        return sdpo_fail(SDPO_ERR_ARG, "tokenizer prune: text of %zu bytes is too long", len);
    /* every byte yields at most one token: max_length len + 2 never truncates */
    p->tok.max_length = (int)len + 2;
    int64_t *ids = realloc(p->ids, ((size_t)p->tok.max_length) * sizeof *ids);
    char **sym = realloc(p->sym, (len * 4 + 8) * sizeof *sym);
    if (ids) p->ids = ids;
    if (sym) p->sym = sym;
    if (!ids || !sym) return sdpo_fail(SDPO_ERR_NOMEM, "tokenizer prune: out of memory");
    int n_tokens, truncated;
    sdpo_status st = sdpo_clip_tokenize(&p->tok, text, ids, &n_tokens, &truncated);
    if (st != SDPO_OK) return st;
    char *word = malloc(len * 8 + 16);
    if (!word) return sdpo_fail(SDPO_ERR_NOMEM, "tokenizer prune: out of memory");
    word[0] = '\0';
    int start = -1;
    for (int i = 0; st == SDPO_OK && i < n_tokens; i++) {
        const int64_t id = ids[i];
        p->keep_id[id] = 1;
        if (is_special(&p->tok, id)) {
            if (start >= 0)
                st = sdpo_fail(SDPO_ERR_FORMAT, "tokenizer prune: a special token inside a word "
                               "of '%s'", text);
            continue;
        }
        if (start < 0) start = i;
        strcat(word, p->tok.tokens[id]);
        const size_t wl = strlen(word);
        if (wl >= 4 && !strcmp(word + wl - 4, "</w>")) {
            st = prune_word(p, word, ids + start, i - start + 1, text);
            word[0] = '\0';
            start = -1;
        }
    }
    if (st == SDPO_OK && start >= 0)
        st = sdpo_fail(SDPO_ERR_FORMAT, "tokenizer prune: '%s' ends inside a word", text);
    free(word);
    return st;
}

sdpo_status sdpo_micro_tokenizer_prune(const char *full_dir, const char *const *texts,
                                       int n_texts, const char *out_dir, int *n_vocab,
                                       int *n_merges) {
    prune_state p;
    memset(&p, 0, sizeof p);
    char path[4096];
    snprintf(path, sizeof path, "%s/merges.txt", full_dir);
    sdpo_status st = sdpo_clip_tokenizer_load(full_dir, &p.tok);
    if (st == SDPO_OK) st = merges_read(path, &p.ml);
    if (st == SDPO_OK && p.ml.n != p.tok.n_merges)
        st = sdpo_fail(SDPO_ERR_FORMAT, "%s: %d merges here, %d for the tokenizer", path, p.ml.n,
                       p.tok.n_merges);
    if (st == SDPO_OK) st = map_init(&p.id_of, (size_t)p.tok.n_vocab);
    if (st == SDPO_OK) {
        p.keep_id = calloc((size_t)p.tok.n_vocab, 1);
        p.used = calloc((size_t)p.ml.n + 1, 1);
        if (!p.keep_id || !p.used) st = sdpo_fail(SDPO_ERR_NOMEM, "tokenizer prune: out of memory");
    }
    for (int id = 0; st == SDPO_OK && id < p.tok.n_vocab; id++)
        if (map_put(&p.id_of, p.tok.tokens[id], id) < 0)
            st = sdpo_fail(SDPO_ERR_NOMEM, "tokenizer prune: out of memory");
    if (st == SDPO_OK) {
        for (int b = 0; b < 256; b++) p.keep_id[p.tok.byte_id[b]] = p.keep_id[p.tok.byte_eow_id[b]] = 1;
        p.keep_id[p.tok.bos_id] = p.keep_id[p.tok.eos_id] = p.keep_id[p.tok.pad_id] = 1;
        for (int i = 0; i < p.tok.n_specials; i++) p.keep_id[p.tok.special_id[i]] = 1;
    }
    for (int i = 0; st == SDPO_OK && i < n_texts; i++) st = prune_text(&p, texts[i]);
    /* the product of every used merge is a token the pruned vocabulary needs */
    int kept_merges = 0;
    for (int r = 0; st == SDPO_OK && r < p.ml.n; r++) {
        if (!p.used[r]) continue;
        kept_merges++;
        char merged[1024];
        const char *line = p.ml.line[r], *sp = strchr(line, ' ');
        const size_t la = (size_t)(sp - line), lb = strlen(sp + 1);
        if (la + lb >= sizeof merged) {
            st = sdpo_fail(SDPO_ERR_FORMAT, "%s: merge '%s' is too long", path, line);
            break;
        }
        memcpy(merged, line, la);
        memcpy(merged + la, sp + 1, lb + 1);
        const int id = map_get(&p.id_of, merged);
        if (id < 0)
            st = sdpo_fail(SDPO_ERR_FORMAT, "%s: merge '%s' makes a token that is not in "
                           "vocab.json", path, line);
        else
            p.keep_id[id] = 1;
    }
    if (st == SDPO_OK && mkdir(out_dir, 0777) != 0 && errno != EEXIST)
        st = sdpo_fail(SDPO_ERR_IO, "%s: cannot create: %s", out_dir, strerror(errno));
    if (st == SDPO_OK) st = write_outputs(full_dir, out_dir, &p.tok, p.keep_id, &p.ml, p.used);
    if (st == SDPO_OK) {
        int kept = 0;
        for (int id = 0; id < p.tok.n_vocab; id++) kept += p.keep_id[id];
        if (n_vocab) *n_vocab = kept;
        if (n_merges) *n_merges = kept_merges;
    }
    prune_free(&p);
    return st;
}

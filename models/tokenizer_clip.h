/* models/tokenizer_clip.h — the CLIP byte-level BPE tokenizer of SD-Turbo's `tokenizer/` folder.
 *
 * Reproduces the ids of transformers' CLIPTokenizer (the `tokenizers`-backed one that
 * transformers ≥ 5 always uses and 4.x uses as CLIPTokenizerFast) called as the SD-2 pipelines
 * call it: tokenizer(text, padding="max_length", max_length=77, truncation=True).input_ids.
 * tests/data/sd_fixtures/tokenizer_ids.json holds those ids for every string we test.
 *
 *   1. special tokens: every occurrence of bos "<|startoftext|>", eos "<|endoftext|>", unk and
 *      pad (SD-2's pad token is "!", so EVERY "!" in a prompt becomes id 0, as in HF) is cut out
 *      of the text first (leftmost-longest) and becomes that token's id;
 *   2. normalisation of the rest, as the tokenizers normaliser Sequence[NFC, Replace(\s+, " "),
 *      Lowercase]: canonical composition, whitespace runs → one space, Unicode lowercase;
 *   3. pre-tokenisation with CLIP's regex 's|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
 *      (whitespace separates and is dropped);
 *   4. byte-level BPE of each piece's UTF-8 bytes (bytes_to_unicode symbols, "</w>" appended to
 *      the last symbol, merges.txt ranks, lowest rank first);
 *   5. [bos] + ids + [eos], the ids truncated so that the total is ≤ model_max_length (eos kept),
 *      padded with the pad token's id up to model_max_length.
 *
 * Differences from other CLIP tokenizers (documented, not bugs):
 *   - No ftfy and no html.unescape: openai/open_clip's SimpleTokenizer and transformers 4.x's slow
 *     CLIPTokenizer (when ftfy is installed) first run ftfy.fix_text (mojibake repair such as
 *     "cafÃ©" → "café", NFKC-style fixes such as the "ﬁ" ligature → "fi") and unescape HTML
 *     entities ("&amp;" → "&"). The tokenizers-backed CLIPTokenizer that diffusers uses under
 *     transformers ≥ 5 does neither, and neither do we; such prompts get the ids HF gives them,
 *     which differ from open_clip's (tokenizer_ids.json marks them same_as_open_clip = false).
 *     open_clip also treats "!" as ordinary text and forces the last id to eot on truncation.
 *   - NFC is approximated: a code point is composed with the one before it when the pair has a
 *     canonical composition (the full Unicode table, Hangul syllables algorithmically), which
 *     is exact for text whose combining marks directly follow their base. Not done: canonical
 *     reordering of several marks, composition past an intervening mark, and singleton or
 *     exclusion mappings (e.g. U+212B ANGSTROM SIGN stays U+212B where NFC gives U+00C5).
 *   - Character classes (\p{L}, \p{N}, \s, lowercase) come from Unicode 14 (see
 *     tokenizer_clip_unicode.c); Oniguruma in `tokenizers` may use a slightly newer version.
 *   - Input must be valid UTF-8 (Python strings cannot hold invalid sequences either). */
#ifndef SDPO_MODELS_TOKENIZER_CLIP_H
#define SDPO_MODELS_TOKENIZER_CLIP_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Hash tables are opaque; see tokenizer_clip.c. */
typedef struct sdpo_clip_vocab_map sdpo_clip_vocab_map;
typedef struct sdpo_clip_merge_map sdpo_clip_merge_map;

#define SDPO_CLIP_MAX_SPECIALS 4

typedef struct {
    int n_vocab;
    char **tokens;                 /* [n_vocab] id → token string (byte-level symbols) */
    sdpo_clip_vocab_map *vocab;    /* token string → id */
    int n_merges;
    sdpo_clip_merge_map *merges;   /* (left id, right id) → (rank, merged id) */
    int32_t byte_id[256];          /* id of byte b's symbol */
    int32_t byte_eow_id[256];      /* id of byte b's symbol + "</w>" (end of word) */
    int32_t bos_id, eos_id, pad_id;
    int max_length;                /* model_max_length (77) */
    int n_specials;                /* strings cut out before normalisation, with their ids */
    char *special_text[SDPO_CLIP_MAX_SPECIALS];
    int32_t special_id[SDPO_CLIP_MAX_SPECIALS];
} sdpo_clip_tokenizer;

/* Loads dir/vocab.json, dir/merges.txt and dir/tokenizer_config.json (model_max_length and the
 * bos/eos/unk/pad tokens; dir/special_tokens_map.json, when present, overrides the latter, as
 * transformers does). Every error names the file (and line or key) at fault. */
sdpo_status sdpo_clip_tokenizer_load(const char *dir, sdpo_clip_tokenizer *t);
void sdpo_clip_tokenizer_free(sdpo_clip_tokenizer *t);

/* ids [t->max_length] receives the padded ids. *n_tokens (may be NULL) = ids before padding,
 * bos and eos included; *truncated (may be NULL) = 1 when content was cut. SDPO_ERR_ARG when
 * text is not valid UTF-8 (naming the byte offset); SDPO_ERR_NOMEM. */
sdpo_status sdpo_clip_tokenize(const sdpo_clip_tokenizer *t, const char *text, int64_t *ids,
                               int *n_tokens, int *truncated);

/* ---------------------------------------------------------------------------------------------
 * Unicode classes and mappings of steps 2–3 (tokenizer_clip_unicode.c), exposed for tests. */

/* General category L* (\p{L}) / N* (\p{N}). */
int sdpo_unicode_is_letter(uint32_t cp);
int sdpo_unicode_is_number(uint32_t cp);
/* Oniguruma's Unicode \s: U+0009–U+000D, U+0085 and the categories Zs, Zl, Zp. */
int sdpo_unicode_is_space(uint32_t cp);
/* Full lowercase mapping of one code point (Rust char::to_lowercase, Python str.lower):
 * writes 1 code point, or 2 for U+0130 (→ "i" U+0307); returns the count. */
int sdpo_unicode_to_lower(uint32_t cp, uint32_t out[2]);
/* The canonical composition of the pair (a, b), or 0 when there is none. */
uint32_t sdpo_unicode_compose(uint32_t a, uint32_t b);

#endif

/* models/tokenizer_wordpiece.h — the BERT WordPiece tokenizer (bert-base-uncased) as ImageReward's
 * BLIP calls it: BertTokenizer.from_pretrained("bert-base-uncased") plus the added special
 * tokens [DEC] (bos) and [ENC], then tokenizer(prompt, padding="max_length", truncation=True,
 * max_length=35).
 *
 * Reproduces transformers' slow BertTokenizer (tokenization_bert.py, the class BLIP used under
 * transformers 4.x):
 *   1. special tokens: exact occurrences of [PAD] [UNK] [CLS] [SEP] [MASK] [DEC] [ENC] are cut
 *      out first (PreTrainedTokenizer.tokenize splits on them) and become their ids;
 *   2. BasicTokenizer on the rest: drop NUL, U+FFFD and control characters (category C*, except
 *      \t \n \r), map whitespace (' ', \t, \n, \r, Zs) to ' ', put spaces around CJK ideographs,
 *      split on whitespace (' ' and U+2028/U+2029, what str.split() still sees), lowercase each
 *      word (full Unicode lowercase, str.lower), strip accents (NFD, drop Mn), split every
 *      punctuation character (ASCII 33-47, 58-64, 91-96, 123-126, category P*) into its own word;
 *   3. WordpieceTokenizer: greedy longest-match-first with the "##" continuation prefix; a word
 *      longer than 100 code points, or with a piece not in the vocabulary, becomes [UNK];
 *   4. [CLS] + ids[:max_length − 2] + [SEP], padded with [PAD] (0) to max_length; the
 *      attention mask is 1 on the real tokens.
 * Unicode classes come from Python 3.11's unicodedata (Unicode 14), generated into
 * tokenizer_wordpiece_unicode.c; lowercasing reuses models/tokenizer_clip.h's table.
 * tests/data/reward_fixtures/wordpiece_ids.json holds the slow tokenizer's ids (transformers
 * 4.57.6) for the 45 training prompts, the 4 unseen prompts and tricky strings, and whether the
 * fast (tokenizers) BertTokenizer of transformers 5 agrees (it does on all of them). */
#ifndef SDPO_MODELS_TOKENIZER_WORDPIECE_H
#define SDPO_MODELS_TOKENIZER_WORDPIECE_H

#include <stdint.h>

#include "core/error.h"

typedef struct sdpo_wordpiece_map sdpo_wordpiece_map;

#define SDPO_WORDPIECE_SPECIALS 7

typedef struct {
    int n_vocab;                  /* vocab.txt lines + the added [DEC], [ENC] */
    char **tokens;                /* [n_vocab] id → token */
    sdpo_wordpiece_map *map;      /* token → id */
    int32_t pad_id, unk_id, cls_id, sep_id;
    int32_t special_id[SDPO_WORDPIECE_SPECIALS];   /* ids of [PAD] [UNK] [CLS] [SEP] [MASK] [DEC] [ENC] */
    int max_length;               /* 35 for ImageReward */
} sdpo_wordpiece;

/* Loads vocab.txt (one token per line, id = line number, as BertTokenizer reads it) and appends
 * [DEC] and [ENC] (BLIP init_tokenizer). [PAD], [UNK], [CLS], [SEP] and [MASK] must be in it.
 * Errors name the file (and line). */
sdpo_status sdpo_wordpiece_load(const char *vocab_path, int max_length, sdpo_wordpiece *t);
void sdpo_wordpiece_free(sdpo_wordpiece *t);

/* ids and mask [t->max_length]; *n_tokens (may be NULL) = real tokens incl. [CLS]/[SEP].
 * SDPO_ERR_ARG for invalid UTF-8 (naming the byte offset), SDPO_ERR_NOMEM. */
sdpo_status sdpo_wordpiece_tokenize(const sdpo_wordpiece *t, const char *text, int64_t *ids,
                                    int64_t *mask, int *n_tokens);

/* Character classes of step 2 (tokenizer_wordpiece_unicode.c, generated). */
int sdpo_wordpiece_is_control(uint32_t cp);
int sdpo_wordpiece_is_whitespace(uint32_t cp);
int sdpo_wordpiece_is_punctuation(uint32_t cp);
int sdpo_wordpiece_is_chinese(uint32_t cp);
/* NFD of cp without its Mn marks into out (0 to 3 code points); returns the count. */
int sdpo_wordpiece_strip_accents(uint32_t cp, uint32_t out[3]);

#endif

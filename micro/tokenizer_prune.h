/* micro/tokenizer_prune.h — a CLIP BPE tokenizer cut down to the words a model will ever read.
 *
 * The micro model (issue #8) keeps SD-Turbo's tokenizer family (models/tokenizer_clip.h) but
 * not its 49408-token vocabulary: with a 64-wide text encoder the full embedding table alone
 * would be 12.6 MB. The pruned tokenizer keeps
 *   - every byte-level symbol and byte symbol + "</w>" (512 tokens: the loader requires them,
 *     and they make every text tokenizable),
 *   - every token that the full BPE creates (intermediate or final) on the given texts, and
 *     exactly the merges it applies there, in their original relative order,
 *   - the special tokens (bos, eos, unk, pad),
 * renumbered densely in the original id order (so the byte symbols keep ids 0..511, SD-2's pad
 * "!" stays 0, and eos "<|endoftext|>" stays the largest id: CLIP's argmax pooling still finds
 * it).
 *
 * Why the BPE output is unchanged on the given texts: at every step the full BPE merges the
 * adjacent pair of lowest rank among the pairs of the word that have a merge. That pair's merge
 * is kept, and every other kept merge present in the word ranked after it in the full list, so
 * it ranks after it in the pruned list too: the pruned BPE makes the same choice at every step,
 * and ends where the full one ends (no merge of the pruned list applies where none of the full
 * list did). Other texts still tokenize (down to bytes in the worst case), but may get other
 * tokens than the full tokenizer gives them. */
#ifndef SDPO_MICRO_TOKENIZER_PRUNE_H
#define SDPO_MICRO_TOKENIZER_PRUNE_H

#include "core/error.h"

/* Reads the CLIP tokenizer folder full_dir (vocab.json, merges.txt, tokenizer_config.json,
 * special_tokens_map.json), runs its BPE on every text, and writes the pruned folder to out_dir
 * (created if missing; each file through a temp file + rename): vocab.json, merges.txt,
 * tokenizer_config.json (the full one's, model_max_length unchanged) and special_tokens_map.json
 * (copied when the full folder has one). *n_vocab, *n_merges (either may be NULL) receive the
 * pruned sizes. Texts are tokenized without truncation. SDPO_ERR_FORMAT when the replayed BPE
 * disagrees with the tokenizer's own (a merges.txt the loader reads differently). */
sdpo_status sdpo_micro_tokenizer_prune(const char *full_dir, const char *const *texts,
                                       int n_texts, const char *out_dir, int *n_vocab,
                                       int *n_merges);

#endif

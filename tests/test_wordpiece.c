/* tests/test_wordpiece.c — the BERT WordPiece tokenizer against transformers' slow
 * BertTokenizer (+ BLIP's [DEC]/[ENC]) on the 45 training prompts, the 4 unseen prompts and
 * tricky strings (punctuation, digits, accents, CJK, control and space characters, special
 * tokens, a 120-letter word, truncation to 35): tests/data/reward_fixtures/wordpiece_ids.json,
 * written by reference/reward_blip.py with a small vocabulary that keeps the real special ids. */
#include "models/tokenizer_wordpiece.h"
#include "tests/check_util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FIX "tests/data/reward_fixtures/"

START_TEST(ids_match_hf) {
    json_error_t err;
    json_t *root = json_load_file(FIX "wordpiece_ids.json", 0, &err);
    ck_assert_msg(root != NULL, "wordpiece_ids.json: %s", err.text);
    const int max_length = (int)json_integer_value(json_object_get(root, "max_length"));
    ck_assert_int_eq(max_length, 35);
    sdpo_wordpiece t;
    ck_assert_msg(sdpo_wordpiece_load(FIX "imagereward/vocab.txt", max_length, &t) == SDPO_OK, "%s",
                  sdpo_last_error());
    ck_assert_int_eq(t.pad_id, 0);
    ck_assert_int_eq(t.unk_id, 100);
    ck_assert_int_eq(t.cls_id, 101);
    ck_assert_int_eq(t.sep_id, 102);
    ck_assert_int_eq(t.special_id[5], t.n_vocab - 2);   /* [DEC] appended */
    json_t *cases = json_object_get(root, "cases");
    size_t i;
    json_t *c;
    int64_t ids[35], mask[35];
    json_array_foreach(cases, i, c) {
        const char *text = json_string_value(json_object_get(c, "text"));
        json_t *want = json_object_get(c, "input_ids"), *want_mask = json_object_get(c, "attention_mask");
        ck_assert_int_eq((int)json_array_size(want), max_length);
        int n;
        ck_assert_msg(sdpo_wordpiece_tokenize(&t, text, ids, mask, &n) == SDPO_OK, "%s", sdpo_last_error());
        for (int k = 0; k < max_length; k++) {
            long long w = json_integer_value(json_array_get(want, (size_t)k));
            long long wm = json_integer_value(json_array_get(want_mask, (size_t)k));
            ck_assert_msg(ids[k] == w && mask[k] == wm,
                          "case %zu \"%s\": position %d: id %lld mask %lld, HF %lld / %lld", i, text,
                          k, (long long)ids[k], (long long)mask[k], w, wm);
        }
    }
    ck_assert_int_ge((int)json_array_size(cases), 49 + 20);
    sdpo_wordpiece_free(&t);
    json_decref(root);
}
END_TEST

START_TEST(bad_inputs_are_errors) {
    sdpo_wordpiece t;
    ck_assert_int_eq(sdpo_wordpiece_load("/nonexistent/vocab.txt", 35, &t), SDPO_ERR_IO);
    ck_assert(strstr(sdpo_last_error(), "/nonexistent/vocab.txt") != NULL);
    char path[64];
    const char vocab[] = "[PAD]\n[UNK]\n[CLS]\ncat\n";
    ck_write_temp(path, vocab, sizeof vocab - 1);
    ck_assert_int_eq(sdpo_wordpiece_load(path, 35, &t), SDPO_ERR_FORMAT);
    ck_assert_msg(strstr(sdpo_last_error(), "[SEP]") != NULL, "%s", sdpo_last_error());
    unlink(path);
    ck_assert(sdpo_wordpiece_load(FIX "imagereward/vocab.txt", 35, &t) == SDPO_OK);
    int64_t ids[35], mask[35];
    ck_assert_int_eq(sdpo_wordpiece_tokenize(&t, "bad \xC3\x28 utf8", ids, mask, NULL), SDPO_ERR_ARG);
    ck_assert_msg(strstr(sdpo_last_error(), "byte 4") != NULL, "%s", sdpo_last_error());
    sdpo_wordpiece_free(&t);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("wordpiece");
    TCase *tc = tcase_create("hf");
    tcase_add_test(tc, ids_match_hf);
    tcase_add_test(tc, bad_inputs_are_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

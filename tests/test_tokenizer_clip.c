/* tests/test_tokenizer_clip.c — the CLIP BPE tokenizer against transformers' ids.
 *
 * tests/data/sd_fixtures/tokenizer_ids.json holds, for the 45 training prompts, the 4 unseen
 * prompts and tricky strings (punctuation, contractions, accents, CJK, emoji, HTML entities,
 * mojibake, NBSP/zero-width space, literal special tokens, 75/76-token and long prompts),
 * CLIPTokenizer(text, padding="max_length", max_length=77, truncation=True).input_ids as
 * transformers 5.24 computes them with the SD-2 tokenizer folder (pad "!" = 0). The ids must match
 * exactly: any difference changes the text conditioning. */
#include "models/tokenizer_clip.h"
#include "tests/check_util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TOK_DIR "tests/data/sd_fixtures/tokenizer"
#define IDS_JSON "tests/data/sd_fixtures/tokenizer_ids.json"

static sdpo_clip_tokenizer tok;

static void load_tokenizer(void) {
    ck_assert_msg(sdpo_clip_tokenizer_load(TOK_DIR, &tok) == SDPO_OK, "%s", sdpo_last_error());
}

static void free_tokenizer(void) { sdpo_clip_tokenizer_free(&tok); }

START_TEST(config_of_the_sd2_tokenizer) {
    ck_assert_int_eq(tok.n_vocab, 49408);
    ck_assert_int_eq(tok.n_merges, 48894);
    ck_assert_int_eq(tok.max_length, 77);
    ck_assert_int_eq(tok.bos_id, 49406);
    ck_assert_int_eq(tok.eos_id, 49407);
    ck_assert_int_eq(tok.pad_id, 0);   /* SD-2 pads with "!" */
    ck_assert_int_eq(tok.byte_id['a'], 64);
    ck_assert_int_eq(tok.byte_eow_id['a'], 256 + 64);
}
END_TEST

START_TEST(every_fixture_string_matches_hf) {
    json_error_t err;
    json_t *root = json_load_file(IDS_JSON, 0, &err);
    ck_assert_msg(root != NULL, "%s: %s", IDS_JSON, err.text);
    ck_assert_int_eq(json_integer_value(json_object_get(root, "pad_id")), 0);
    json_t *entries = json_object_get(root, "entries");
    size_t i;
    json_t *e;
    int groups[3] = {0, 0, 0};
    json_array_foreach(entries, i, e) {
        const char *text = json_string_value(json_object_get(e, "text"));
        const char *group = json_string_value(json_object_get(e, "group"));
        json_t *want = json_object_get(e, "input_ids");
        ck_assert_int_eq(json_array_size(want), 77);
        int64_t ids[77];
        int n = 0, trunc = -1;
        ck_assert_msg(sdpo_clip_tokenize(&tok, text, ids, &n, &trunc) == SDPO_OK, "%s",
                      sdpo_last_error());
        for (int k = 0; k < 77; k++) {
            json_int_t w = json_integer_value(json_array_get(want, (size_t)k));
            ck_assert_msg(ids[k] == w, "entry %zu (%s) '%s': id[%d] = %lld, HF gives %lld", i,
                          group, text, k, (long long)ids[k], (long long)w);
        }
        ck_assert_int_eq(n, json_integer_value(json_object_get(e, "n_tokens")));
        ck_assert_int_eq(trunc, json_is_true(json_object_get(e, "truncated")));
        groups[!strcmp(group, "train") ? 0 : !strcmp(group, "unseen") ? 1 : 2]++;
    }
    ck_assert_int_eq(groups[0], 45);
    ck_assert_int_eq(groups[1], 4);
    ck_assert_int_ge(groups[2], 20);
    json_decref(root);
}
END_TEST

START_TEST(pad_exclamation_and_truncation) {
    int64_t ids[77];
    int n, trunc;
    /* Every "!" is the pad token (id 0), as HF's added-token split makes it. */
    ck_assert(sdpo_clip_tokenize(&tok, "hi!", ids, &n, &trunc) == SDPO_OK);
    ck_assert_int_eq(n, 4);
    ck_assert_int_eq(ids[2], 0);
    ck_assert_int_eq(ids[3], 49407);
    ck_assert_int_eq(ids[4], 0);
    /* 200 words: 75 kept, eos last. */
    char text[1200] = "";
    for (int k = 0; k < 200; k++) strcat(text, "dog ");
    ck_assert(sdpo_clip_tokenize(&tok, text, ids, &n, &trunc) == SDPO_OK);
    ck_assert_int_eq(n, 77);
    ck_assert_int_eq(trunc, 1);
    ck_assert_int_eq(ids[75], ids[1]);
    ck_assert_int_eq(ids[76], 49407);
}
END_TEST

START_TEST(invalid_utf8_is_an_argument_error) {
    int64_t ids[77];
    ck_assert(sdpo_clip_tokenize(&tok, "caf\xc3", ids, NULL, NULL) == SDPO_ERR_ARG);
    ck_assert_msg(strstr(sdpo_last_error(), "byte offset 3"), "%s", sdpo_last_error());
    ck_assert(sdpo_clip_tokenize(&tok, "\xed\xa0\x80", ids, NULL, NULL) == SDPO_ERR_ARG);   /* surrogate */
    ck_assert(sdpo_clip_tokenize(&tok, "\xc0\xaf", ids, NULL, NULL) == SDPO_ERR_ARG);       /* overlong */
}
END_TEST

START_TEST(unicode_classes) {
    /* letters: Latin-1, Greek, Cyrillic, kana, CJK, Hangul, modifier letter, fullwidth */
    const uint32_t letters[] = {'a', 'Z', 0xAA, 0xE9, 0x3A3, 0x416, 0x306E, 0x4E2D, 0xD55C, 0x2B0, 0xFF21, 0x20000};
    for (size_t i = 0; i < sizeof letters / sizeof *letters; i++)
        ck_assert_msg(sdpo_unicode_is_letter(letters[i]), "U+%04X", letters[i]);
    /* not letters: digits, combining marks, punctuation, symbols, emoji, ZWSP */
    const uint32_t others[] = {'0', '!', 0x301, 0xD7, 0x2019, 0x20AC, 0x1F431, 0x200B, 0x93F};
    for (size_t i = 0; i < sizeof others / sizeof *others; i++)
        ck_assert_msg(!sdpo_unicode_is_letter(others[i]), "U+%04X", others[i]);
    const uint32_t numbers[] = {'7', 0xB2, 0xBD, 0x661, 0x2163, 0xFF11, 0x1D7CE};
    for (size_t i = 0; i < sizeof numbers / sizeof *numbers; i++)
        ck_assert_msg(sdpo_unicode_is_number(numbers[i]), "U+%04X", numbers[i]);
    ck_assert(!sdpo_unicode_is_number('x'));
    ck_assert(sdpo_unicode_is_space(0xA0) && sdpo_unicode_is_space(0x3000) && sdpo_unicode_is_space('\t'));
    ck_assert(!sdpo_unicode_is_space(0x200B) && !sdpo_unicode_is_space(0x1C));
    uint32_t low[2];
    ck_assert(sdpo_unicode_to_lower('Q', low) == 1 && low[0] == 'q');
    ck_assert(sdpo_unicode_to_lower(0xC5, low) == 1 && low[0] == 0xE5);
    ck_assert(sdpo_unicode_to_lower(0x3A3, low) == 1 && low[0] == 0x3C3);
    ck_assert(sdpo_unicode_to_lower(0x401, low) == 1 && low[0] == 0x451);
    ck_assert(sdpo_unicode_to_lower(0x100, low) == 1 && low[0] == 0x101);
    ck_assert(sdpo_unicode_to_lower(0x101, low) == 1 && low[0] == 0x101);
    ck_assert(sdpo_unicode_to_lower(0xFF21, low) == 1 && low[0] == 0xFF41);
    ck_assert(sdpo_unicode_to_lower(0x130, low) == 2 && low[0] == 'i' && low[1] == 0x307);
    ck_assert_uint_eq(sdpo_unicode_compose('e', 0x301), 0xE9);
    ck_assert_uint_eq(sdpo_unicode_compose(0x1EA1, 0x302), 0x1EAD);   /* ạ + ̂ → ậ */
    ck_assert_uint_eq(sdpo_unicode_compose(0x1112, 0x1161), 0xD558);  /* Hangul L + V */
    ck_assert_uint_eq(sdpo_unicode_compose(0xD558, 0x11AB), 0xD55C);  /* LV + T → 한 */
    ck_assert_uint_eq(sdpo_unicode_compose('x', 0x301), 0);
}
END_TEST

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    ck_assert(f != NULL);
    fputs(text, f);
    fclose(f);
}

START_TEST(load_errors_name_the_file) {
    char dir[] = "/tmp/sdpo_tok_XXXXXX", path[128];
    ck_assert(mkdtemp(dir) != NULL);
    sdpo_clip_tokenizer t;
    ck_assert(sdpo_clip_tokenizer_load(dir, &t) == SDPO_ERR_IO);
    ck_assert_msg(strstr(sdpo_last_error(), "vocab.json"), "%s", sdpo_last_error());
    /* A vocabulary without the byte-level symbols is not CLIP's. */
    snprintf(path, sizeof path, "%s/vocab.json", dir);
    write_text(path, "{\"a\": 0, \"b\": 1}");
    ck_assert(sdpo_clip_tokenizer_load(dir, &t) == SDPO_ERR_FORMAT);
    ck_assert_msg(strstr(sdpo_last_error(), "not a CLIP vocabulary"), "%s", sdpo_last_error());
    /* The real vocabulary with a merge that makes an unknown token: the line is named. */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cp " TOK_DIR "/vocab.json %s/ && printf '#version: 0.2\\ni n\\nq zz\\n' > %s/merges.txt",
             dir, dir);
    ck_assert(system(cmd) == 0);
    ck_assert(sdpo_clip_tokenizer_load(dir, &t) == SDPO_ERR_FORMAT);
    ck_assert_msg(strstr(sdpo_last_error(), "merges.txt: line 3"), "%s", sdpo_last_error());
    /* Merges fine, tokenizer_config.json missing. */
    snprintf(cmd, sizeof cmd, "printf '#version: 0.2\\ni n\\n' > %s/merges.txt", dir);
    ck_assert(system(cmd) == 0);
    ck_assert(sdpo_clip_tokenizer_load(dir, &t) == SDPO_ERR_IO);
    ck_assert_msg(strstr(sdpo_last_error(), "tokenizer_config.json"), "%s", sdpo_last_error());
    /* SD-1.x style config: pad defaults to <|endoftext|>; a pad token outside the vocabulary
     * is an error naming the key. */
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    write_text(path, "{\"model_max_length\": 77}");
    ck_assert_msg(sdpo_clip_tokenizer_load(dir, &t) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert_int_eq(t.pad_id, 49407);
    sdpo_clip_tokenizer_free(&t);
    write_text(path, "{\"model_max_length\": 77, \"pad_token\": \"<pad>\"}");
    ck_assert(sdpo_clip_tokenizer_load(dir, &t) == SDPO_ERR_FORMAT);
    ck_assert_msg(strstr(sdpo_last_error(), "tokenizer_config.json: pad_token '<pad>'"), "%s",
                  sdpo_last_error());
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert(system(cmd) == 0);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("tokenizer_clip");
    TCase *tc = tcase_create("sd2");
    tcase_add_unchecked_fixture(tc, load_tokenizer, free_tokenizer);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, config_of_the_sd2_tokenizer);
    tcase_add_test(tc, every_fixture_string_matches_hf);
    tcase_add_test(tc, pad_exclamation_and_truncation);
    tcase_add_test(tc, invalid_utf8_is_an_argument_error);
    suite_add_tcase(s, tc);
    TCase *tu = tcase_create("unicode_and_errors");
    tcase_set_timeout(tu, 120);
    tcase_add_test(tu, unicode_classes);
    tcase_add_test(tu, load_errors_name_the_file);
    suite_add_tcase(s, tu);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

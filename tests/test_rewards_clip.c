/* tests/test_rewards_clip.c — the CLIP-family rewards end to end (PNG → [0, 1] floats → uint8 →
 * preprocessing → towers → score) through the reward registry, against the reference scores of
 * reference/make_reward_fixtures.py on tiny random models: aesthetic (HF CLIPModel QuickGELU +
 * the LAION head converted by convert_aesthetic.py), PickScore (HF CLIPModel GELU, exp(logit_scale)
 * · cos) and HPSv2 (open_clip state dict converted by convert_hpsv2.py, cos ×100). Also the
 * errors a user meets: no model folder, a PyTorch pickle, a missing or misshapen tensor. */
#include "nn/safetensors.h"
#include "rewards/image.h"
#include "rewards/reward.h"
#include "tests/check_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <string.h>
#include <unistd.h>

#define FIX "tests/data/reward_fixtures/"
#define B 3

static const char *const prompts[B] = {"cat", "A dog on the moon",
                                       "Four wolves in the park, at night!"};

/* The fixture images differ in size, so each is scored alone (batching is checked by
 * batch_equals_single_images). */
typedef struct {
    int H, W;
    float *chw;
} image;

static image load_image(int i) {
    char path[128];
    snprintf(path, sizeof path, FIX "images/image%d.png", i);
    image im;
    uint8_t *rgb;
    ck_assert_msg(sdpo_png_read(path, &im.H, &im.W, &rgb) == SDPO_OK, "%s", sdpo_last_error());
    im.chw = malloc((size_t)3 * im.H * im.W * sizeof *im.chw);
    sdpo_image_from_rgb8(im.H, im.W, rgb, im.chw);
    free(rgb);
    return im;
}

static void golden_scores(const char *file, const char *name, double want[B]) {
    char path[128];
    snprintf(path, sizeof path, FIX "golden/%s", file);
    sdpo_safetensors st;
    ck_assert_msg(sdpo_st_open(path, &st) == SDPO_OK, "%s", sdpo_last_error());
    const sdpo_st_tensor *t;
    ck_assert(sdpo_st_expect(&st, name, 1, (const int64_t[]){B}, &t) == SDPO_OK);
    float f[B];
    ck_assert(sdpo_st_read_f32(&st, t, f, 1) == SDPO_OK);
    for (int i = 0; i < B; i++) want[i] = f[i];
    sdpo_st_close(&st);
}

/* Scores each fixture image with its prompt. */
static void score_all(sdpo_reward *r, float got[B]) {
    for (int i = 0; i < B; i++) {
        image im = load_image(i);
        ck_assert_msg(r->score(r, 1, im.H, im.W, im.chw, &prompts[i], &got[i]) == SDPO_OK, "%s",
                      sdpo_last_error());
        free(im.chw);
    }
}

/* Tolerances: the embeddings agree with torch to ~1e-6 (test_vit.c); a cosine of two such
 * vectors to ~1e-6, the aesthetic head (weights ~1/√fan_in) keeps errors ~1e-6. PickScore
 * multiplies the cosine by exp(4.6) ≈ 99.5, so its absolute tolerance is 100× the cosine's. */
START_TEST(aesthetic_matches_reference) {
    sdpo_reward *r;
    ck_assert_msg(sdpo_reward_create("aesthetic", FIX "aesthetic", &r) == SDPO_OK, "%s",
                  sdpo_last_error());
    ck_assert(strstr(r->scale, "aesthetic") != NULL);
    double want[B];
    float got[B];
    golden_scores("aesthetic.safetensors", "scores", want);
    score_all(r, got);
    ck_assert_array_close("aesthetic", got, want, B, 2e-5, 2e-5);
    sdpo_reward_free(r);
}
END_TEST

START_TEST(pickscore_matches_reference) {
    sdpo_reward *r;
    ck_assert_msg(sdpo_reward_create("pickscore", FIX "pickscore", &r) == SDPO_OK, "%s",
                  sdpo_last_error());
    double want[B], cosine[B];
    float got[B];
    golden_scores("pickscore.safetensors", "scores", want);
    golden_scores("pickscore.safetensors", "cosine", cosine);
    score_all(r, got);
    ck_assert_array_close("pickscore", got, want, B, 2e-3, 2e-5);
    sdpo_reward_free(r);
    /* --official-scale: SDPO's raw cosine. */
    sdpo_reward_options opt = {.official_scale = 1};
    ck_assert(sdpo_reward_create_with("pickscore", FIX "pickscore", &opt, &r) == SDPO_OK);
    ck_assert(strstr(r->scale, "raw cosine") != NULL);
    score_all(r, got);
    ck_assert_array_close("pickscore raw", got, cosine, B, 2e-5, 2e-5);
    sdpo_reward_free(r);
}
END_TEST

START_TEST(hpsv2_matches_reference) {
    sdpo_reward *r;
    ck_assert_msg(sdpo_reward_create("hpsv2", FIX "hpsv2", &r) == SDPO_OK, "%s", sdpo_last_error());
    double want[B];
    float got[B];
    golden_scores("hpsv2.safetensors", "scores", want);   /* raw cosines, HPSv2's own scale */
    score_all(r, got);
    for (int i = 0; i < B; i++) got[i] /= 100.0f;
    ck_assert_array_close("hpsv2 / 100", got, want, B, 2e-5, 2e-5);
    sdpo_reward_free(r);
    sdpo_reward_options opt = {.official_scale = 1};
    ck_assert(sdpo_reward_create_with("hpsv2", FIX "hpsv2", &opt, &r) == SDPO_OK);
    score_all(r, got);
    ck_assert_array_close("hpsv2 raw", got, want, B, 2e-5, 2e-5);
    sdpo_reward_free(r);
}
END_TEST

START_TEST(batch_equals_single_images) {
    /* Two copies of image 0 plus a flipped one in one batch: each score equals its single-image
     * score (batching is exact: the towers run per image in the same chunk). */
    sdpo_reward *r;
    ck_assert(sdpo_reward_create("pickscore", FIX "pickscore", &r) == SDPO_OK);
    image im = load_image(0);
    const size_t n = (size_t)3 * im.H * im.W;
    float *batch = malloc(3 * n * sizeof *batch), single[3], got[3];
    memcpy(batch, im.chw, n * sizeof *batch);
    memcpy(batch + n, im.chw, n * sizeof *batch);
    for (size_t k = 0; k < n; k++) batch[2 * n + k] = 1.0f - im.chw[k];
    const char *p3[3] = {prompts[0], prompts[1], prompts[2]};
    ck_assert(r->score(r, 3, im.H, im.W, batch, p3, got) == SDPO_OK);
    for (int i = 0; i < 3; i++)
        ck_assert(r->score(r, 1, im.H, im.W, batch + i * n, &p3[i], &single[i]) == SDPO_OK);
    for (int i = 0; i < 3; i++) CK_CLOSE(got[i], single[i], 1e-5, 1e-6);
    /* A missing prompt is an error naming the image. */
    const char *none[1] = {NULL};
    ck_assert_int_eq(r->score(r, 1, im.H, im.W, batch, none, got), SDPO_ERR_ARG);
    free(batch);
    free(im.chw);
    sdpo_reward_free(r);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */

static char made[8][64];
static int n_made;

static char *make_dir(void) {
    ck_assert(n_made < 8);
    char *d = made[n_made++];
    snprintf(d, 64, "/tmp/sdpo_reward_XXXXXX");
    ck_assert(mkdtemp(d) != NULL);
    return d;
}

static void remove_made_dirs(void) {
    for (int i = 0; i < n_made; i++) {
        DIR *dir = opendir(made[i]);
        for (struct dirent *e; dir && (e = readdir(dir));) {
            char path[1024];
            if (e->d_name[0] == '.') continue;
            snprintf(path, sizeof path, "%s/%s", made[i], e->d_name);
            unlink(path);
        }
        if (dir) closedir(dir);
        rmdir(made[i]);
    }
    n_made = 0;
}

static void copy_file(const char *from, const char *dir, const char *name) {
    char to[256];
    snprintf(to, sizeof to, "%s/%s", dir, name);
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    ck_assert(in && out);
    char buf[1 << 14];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) ck_assert(fwrite(buf, 1, n, out) == n);
    fclose(in);
    fclose(out);
}

static void write_bytes(const char *dir, const char *name, const char *text) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert(f != NULL);
    fputs(text, f);
    fclose(f);
}

/* Copies every tensor of src except `drop` (and with `reshape` given a new first extent) to dst. */
static void rewrite_safetensors(const char *src, const char *dst, const char *drop,
                                const char *reshape) {
    sdpo_safetensors st;
    ck_assert(sdpo_st_open(src, &st) == SDPO_OK);
    sdpo_st_entry *e = calloc((size_t)st.n_tensors, sizeof *e);
    int64_t (*shapes)[SDPO_ST_MAX_DIMS] = calloc((size_t)st.n_tensors, sizeof *shapes);
    int n = 0;
    for (int i = 0; i < st.n_tensors; i++) {
        const sdpo_st_tensor *t = &st.tensors[i];
        if (drop && !strcmp(t->name, drop)) continue;
        memcpy(shapes[n], t->shape, sizeof shapes[n]);
        const void *data = st.data + t->offset;
        if (reshape && !strcmp(t->name, reshape)) {
            ck_assert(t->ndim == 2 && t->shape[0] > 1);
            shapes[n][0] = t->shape[0] - 1;   /* drop the last row: a prefix of the data */
        }
        e[n] = (sdpo_st_entry){t->name, t->dtype, t->ndim, shapes[n], data};
        n++;
    }
    ck_assert_msg(sdpo_st_write(dst, e, n, NULL, NULL, 0) == SDPO_OK, "%s", sdpo_last_error());
    free(e);
    free(shapes);
    sdpo_st_close(&st);
}

static void expect_error(const char *name, const char *dir, sdpo_status want, const char *frag1,
                         const char *frag2) {
    sdpo_reward *r = NULL;
    sdpo_status rc = sdpo_reward_create(name, dir, &r);
    ck_assert_msg(rc == want, "%s in %s: status %d, want %d (%s)", name, dir, rc, want,
                  sdpo_last_error());
    ck_assert_msg(strstr(sdpo_last_error(), frag1) != NULL, "'%s' lacks '%s'", sdpo_last_error(), frag1);
    if (frag2)
        ck_assert_msg(strstr(sdpo_last_error(), frag2) != NULL, "'%s' lacks '%s'", sdpo_last_error(), frag2);
}

START_TEST(bad_model_folders_are_errors) {
    sdpo_reward *r = NULL;
    ck_assert_int_eq(sdpo_reward_create("pickscore", NULL, &r), SDPO_ERR_ARG);
    ck_assert(strstr(sdpo_last_error(), "needs a model folder") != NULL);
    ck_assert_int_eq(sdpo_reward_create("hpsv3", NULL, &r), SDPO_ERR_ARG);
    expect_error("aesthetic", "/nonexistent/dir", SDPO_ERR_IO, "/nonexistent/dir/config.json", NULL);

    /* A PyTorch pickle instead of safetensors: refused with the conversion hint. */
    char *d = make_dir();
    copy_file(FIX "aesthetic/config.json", d, "config.json");
    write_bytes(d, "pytorch_model.bin", "PK\x03\x04 not executed");
    expect_error("aesthetic", d, SDPO_ERR_IO, "pytorch_model.bin is a PyTorch pickle", "convert");

    /* The LAION .pth without its converted safetensors: the hint names the converter. */
    d = make_dir();
    copy_file(FIX "aesthetic/config.json", d, "config.json");
    copy_file(FIX "aesthetic/model.safetensors", d, "model.safetensors");
    expect_error("aesthetic", d, SDPO_ERR_IO, "aesthetic_head.safetensors",
                 "reference/convert_aesthetic.py");

    /* A head whose first layer does not take the CLIP embedding width. */
    char path[256];
    snprintf(path, sizeof path, "%s/aesthetic_head.safetensors", d);
    rewrite_safetensors(FIX "aesthetic/aesthetic_head.safetensors", path, NULL, "layers.2.weight");
    expect_error("aesthetic", d, SDPO_ERR_SHAPE, "layers.2.bias", path);

    /* A vision tensor missing from the CLIPModel file. */
    d = make_dir();
    copy_file(FIX "pickscore/config.json", d, "config.json");
    static const char *tok[] = {"vocab.json", "merges.txt", "tokenizer_config.json",
                                "special_tokens_map.json"};
    for (int i = 0; i < 4; i++) {
        char from[128];
        snprintf(from, sizeof from, FIX "pickscore/%s", tok[i]);
        copy_file(from, d, tok[i]);
    }
    snprintf(path, sizeof path, "%s/model.safetensors", d);
    rewrite_safetensors(FIX "pickscore/model.safetensors", path,
                        "vision_model.encoder.layers.1.mlp.fc2.bias", NULL);
    expect_error("pickscore", d, SDPO_ERR_SHAPE, "vision_model.encoder.layers.1.mlp.fc2.bias", path);

    /* A tensor with the wrong shape (HPSv2's fused in_proj one row short). */
    d = make_dir();
    static const char *hps[] = {"open_clip_config.json", "vocab.json", "merges.txt",
                                "tokenizer_config.json", "special_tokens_map.json"};
    for (int i = 0; i < 5; i++) {
        char from[128];
        snprintf(from, sizeof from, FIX "hpsv2/%s", hps[i]);
        copy_file(from, d, hps[i]);
    }
    snprintf(path, sizeof path, "%s/model.safetensors", d);
    rewrite_safetensors(FIX "hpsv2/model.safetensors", path, NULL,
                        "visual.transformer.resblocks.0.attn.in_proj_weight");
    expect_error("hpsv2", d, SDPO_ERR_SHAPE, "visual.transformer.resblocks.0.attn.in_proj_weight",
                 path);
    remove_made_dirs();
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("rewards_clip");
    TCase *tc = tcase_create("scores");
    tcase_add_test(tc, aesthetic_matches_reference);
    tcase_add_test(tc, pickscore_matches_reference);
    tcase_add_test(tc, hpsv2_matches_reference);
    tcase_add_test(tc, batch_equals_single_images);
    tcase_add_test(tc, bad_model_folders_are_errors);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

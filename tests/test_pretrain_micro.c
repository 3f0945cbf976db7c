/* tests/test_pretrain_micro.c — the micro model (micro/model.h), its pruned tokenizer
 * (micro/tokenizer_prune.h), pretraining and export (micro/pretrain.h), and the pixel-space
 * UNet policy (trainers/policy_unet.h).
 *
 * Runs use a tiny model of the micro family (UNet channels [8, 16], cross-attention at 16×16,
 * text encoder width 16 with one layer, the committed pruned tokenizer) at the world's 32×32,
 * batch 4, so each run takes milliseconds per step. Determinism and resume compare checkpoint
 * files byte for byte and the log rows with their wall_s column removed. */
#include "micro/model.h"
#include "micro/pretrain.h"
#include "micro/tokenizer_prune.h"
#include "models/tokenizer_clip.h"
#include "nn/safetensors.h"
#include "tests/check_util.h"
#include "core/atomic_file.h"
#include "trainers/policy_unet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MICRO "data/micro/model"
#define FULL_TOKENIZER "tests/data/sd_fixtures/tokenizer"
#define BATCH 4
#define RATIO 0.7

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    ck_assert(b != NULL);
    ck_assert(fread(b, 1, (size_t)n, f) == (size_t)n);
    b[n] = '\0';
    fclose(f);
    if (len) *len = (size_t)n;
    return b;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

static void copy(const char *from, const char *to) {
    size_t n;
    char *b = read_all(from, &n);
    FILE *f = fopen(to, "wb");
    ck_assert(f != NULL);
    ck_assert(fwrite(b, 1, n, f) == n);
    fclose(f);
    free(b);
}

static void same_bytes(const char *a, const char *b) {
    size_t na, nb;
    char *x = read_all(a, &na), *y = read_all(b, &nb);
    ck_assert_msg(na == nb && memcmp(x, y, na) == 0, "%s and %s differ", a, b);
    free(x);
    free(y);
}

/* Both files hold the same tensors (names, shapes, F32 values), metadata aside. */
static void same_tensors(const char *a, const char *b) {
    sdpo_safetensors x, y;
    ck_assert_msg(sdpo_st_open(a, &x) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert_msg(sdpo_st_open(b, &y) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert_int_eq(x.n_tensors, y.n_tensors);
    for (int i = 0; i < x.n_tensors; i++) {
        const sdpo_st_tensor *t = &x.tensors[i], *u = sdpo_st_find(&y, t->name);
        ck_assert_msg(u != NULL, "%s: no tensor '%s'", b, t->name);
        ck_assert_msg(t->dtype == u->dtype && t->nbytes == u->nbytes &&
                          memcmp(x.data + t->offset, y.data + u->offset, t->nbytes) == 0,
                      "tensor '%s' differs between %s and %s", t->name, a, b);
    }
    sdpo_st_close(&x);
    sdpo_st_close(&y);
}

/* The tiny model folder: the micro model's model_index, scheduler and tokenizer, a tiny UNet
 * and text encoder of the same families. */
static void make_tiny_model(const char *dir) {
    char p[512], q[512];
    static const char *const sub[] = {"unet", "text_encoder", "tokenizer", "scheduler"};
    mkdir(dir, 0777);
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, sub[i]);
        mkdir(p, 0777);
    }
    static const char *const same[] = {"model_index.json", "scheduler/scheduler_config.json",
                                       "tokenizer/vocab.json", "tokenizer/merges.txt",
                                       "tokenizer/tokenizer_config.json",
                                       "tokenizer/special_tokens_map.json"};
    for (int i = 0; i < 6; i++) {
        snprintf(p, sizeof p, MICRO "/%s", same[i]);
        snprintf(q, sizeof q, "%s/%s", dir, same[i]);
        copy(p, q);
    }
    snprintf(p, sizeof p, "%s/unet/config.json", dir);
    write_text(p, "{\"_class_name\": \"UNet2DConditionModel\", \"act_fn\": \"silu\","
                  " \"attention_head_dim\": [1, 2], \"block_out_channels\": [8, 16],"
                  " \"cross_attention_dim\": 16, \"down_block_types\": [\"DownBlock2D\","
                  " \"CrossAttnDownBlock2D\"], \"up_block_types\": [\"CrossAttnUpBlock2D\","
                  " \"UpBlock2D\"], \"in_channels\": 3, \"out_channels\": 3, \"layers_per_block\": 1,"
                  " \"norm_num_groups\": 4, \"norm_eps\": 1e-05, \"sample_size\": 32,"
                  " \"use_linear_projection\": true, \"flip_sin_to_cos\": true, \"freq_shift\": 0}\n");
    sdpo_clip_tokenizer tok;
    snprintf(p, sizeof p, "%s/tokenizer", dir);
    ck_assert_msg(sdpo_clip_tokenizer_load(p, &tok) == SDPO_OK, "%s", sdpo_last_error());
    char te[1024];
    snprintf(te, sizeof te,
             "{\"architectures\": [\"CLIPTextModel\"], \"eos_token_id\": 2, \"hidden_act\": \"gelu\","
             " \"hidden_size\": 16, \"intermediate_size\": 32, \"layer_norm_eps\": 1e-05,"
             " \"max_position_embeddings\": 77, \"num_attention_heads\": 2,"
             " \"num_hidden_layers\": 1, \"projection_dim\": 16, \"vocab_size\": %d}\n", tok.n_vocab);
    sdpo_clip_tokenizer_free(&tok);
    snprintf(p, sizeof p, "%s/text_encoder/config.json", dir);
    write_text(p, te);
}

/* The world, opened once for the test case (an unchecked fixture: the forked tests inherit
 * it); NULL when the emoji font is missing, which open_world reports in every test. */
static sdpo_world *g_world;
static char g_world_error[512];

static void world_setup(void) {
    if (sdpo_world_open(NULL, &g_world) != SDPO_OK)
        snprintf(g_world_error, sizeof g_world_error, "%s", sdpo_last_error());
}

static void world_teardown(void) {
    if (g_world) sdpo_world_close(g_world);
    g_world = NULL;
}

static sdpo_world *open_world(void) {
    ck_assert_msg(g_world != NULL, "%s", g_world_error);
    return g_world;
}

static sdpo_pretrain_config tiny_config(const char *model, const char *out, const sdpo_world *w) {
    sdpo_pretrain_config c = sdpo_pretrain_defaults();
    c.model_dir = model;
    c.out_dir = out;
    c.seed = 7;
    c.batch = BATCH;
    c.lr = 1e-3;
    c.warmup_steps = 2;
    c.save_every = 0;
    c.threads = 1;
    c.world = w;
    return c;
}

/* The log's data rows without the last column (wall_s), concatenated. */
static char *log_rows(const char *run) {
    char path[512];
    snprintf(path, sizeof path, "%s/pretrain_log.csv", run);
    char *all = read_all(path, NULL), *out = calloc(strlen(all) + 1, 1);
    ck_assert(out != NULL);
    int header = 0;
    for (char *line = strtok(all, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#') continue;
        if (!header) {
            header = 1;
            continue;
        }
        char *last = strrchr(line, ',');
        ck_assert(last != NULL);
        strncat(out, line, (size_t)(last - line));
        strcat(out, "\n");
    }
    free(all);
    return out;
}

static void same_checkpoint(const char *run_a, const char *run_b, int step) {
    static const char *const files[] = {"weights.safetensors", "optimizer.safetensors",
                                        "state.json", "config.json"};
    for (int i = 0; i < 4; i++) {
        char a[512], b[512];
        snprintf(a, sizeof a, "%s/checkpoints/epoch-%06d/%s", run_a, step, files[i]);
        snprintf(b, sizeof b, "%s/checkpoints/epoch-%06d/%s", run_b, step, files[i]);
        same_bytes(a, b);
    }
}

static void run_ok(const sdpo_pretrain_config *c, sdpo_pretrain_result *r) {
    ck_assert_msg(sdpo_pretrain_run(c, r) == SDPO_OK, "%s", sdpo_last_error());
}

/* ---- the target and loss --------------------------------------------------------------- */

/* The v target is what the sampler inverts: from x_t and v, core/schedule.h's v-prediction
 * x̂0/ε̂ (the DDIM step of the policy) recover x0 and ε. Exact in real numbers (a² + b² = 1);
 * in float the round trip costs a few ulp of values ≤ ~5, so 1e-5 absolute. */
START_TEST(test_v_target_inverts) {
    sdpo_schedule s;
    sdpo_schedule_sd_turbo(&s);
    s.prediction = SDPO_PRED_V;
    ck_assert(sdpo_schedule_init(&s) == SDPO_OK);
    enum { D = 64 };
    float x0[D], eps[D], xt[D], v[D], x0h[D], epsh[D];
    sdpo_rng r;
    sdpo_rng_init(&r, 3, SDPO_STREAM_DATA);
    sdpo_rng_normal_fill(&r, eps, D);
    for (int d = 0; d < D; d++) x0[d] = 2.0f * sdpo_rng_uniform(&r) - 1.0f;
    static const int ts[] = {0, 1, 250, 500, 999};
    for (int k = 0; k < 5; k++) {
        sdpo_pretrain_target(&s, ts[k], D, x0, eps, xt, v);
        sdpo_predict_x0_eps(&s, s.alphas_cumprod[ts[k]], D, xt, v, x0h, epsh);
        for (int d = 0; d < D; d++) {
            CK_CLOSE(x0h[d], x0[d], 1e-5, 0);
            CK_CLOSE(epsh[d], eps[d], 1e-5, 0);
        }
    }
    /* ε-prediction: the target is ε itself */
    s.prediction = SDPO_PRED_EPSILON;
    sdpo_pretrain_target(&s, 500, D, x0, eps, xt, v);
    ck_assert(memcmp(v, eps, sizeof v) == 0);
}
END_TEST

/* dout of the MSE against central finite differences of the loss (double loss, h = 1e-3 on
 * float inputs of size ~1: the quadratic's FD is exact up to the float rounding of out ± h,
 * ~1e-7 relative, so 1e-4 relative tolerance). */
START_TEST(test_mse_gradient) {
    enum { N = 12 };
    float out[N], tg[N], dout[N], tmp[N];
    for (int i = 0; i < N; i++) {
        out[i] = 0.3f * (float)i - 1.1f;
        tg[i] = 0.5f - 0.07f * (float)(i * i % 5);
    }
    double want = 0;
    for (int i = 0; i < N; i++) want += ((double)out[i] - tg[i]) * ((double)out[i] - tg[i]);
    CK_CLOSE(sdpo_pretrain_mse(N, out, tg, dout), want / N, 1e-12, 1e-9);
    for (int i = 0; i < N; i++) {
        const float h = 1e-3f;
        memcpy(tmp, out, sizeof out);
        tmp[i] = out[i] + h;
        float scratch[N];
        const double lp = sdpo_pretrain_mse(N, tmp, tg, scratch);
        tmp[i] = out[i] - h;
        const double lm = sdpo_pretrain_mse(N, tmp, tg, scratch);
        CK_CLOSE(dout[i], (lp - lm) / ((double)(out[i] + h) - (double)(out[i] - h)), 1e-7, 1e-4);
    }
}
END_TEST

/* ---- FLOPs ------------------------------------------------------------------------------- */

/* One level, C = 8 (time embedding T = 32), 4×4 input (N = 16), L = 1 text token of width 4.
 * By hand, 2 FLOPs per multiply-add:
 *   time MLP            2·8·32 + 2·32·32                        =   2560
 *   conv_in 3→8         2·16·3·8·9                              =   6912
 *   down resnet 8→8     2·(2·16·8·8·9) + temb 2·32·8            =  37376
 *   mid: 2 resnets                                              =  74752
 *        transformer    proj 4·16·64, attn1 qkvo 8·16·64 and products 4·16·16·8,
 *                       attn2 q,o 4·16·64, k,v 4·1·4·8, products 4·16·1·8,
 *                       GEGLU 2·16·8·64 + 2·16·32·8             =  49792
 *   up: 2 resnets 16→8  conv1 2·16·16·8·9, conv2 2·16·8·8·9, 1×1 2·16·16·8, temb 512,
 *                       each 59904                              = 119808
 *   conv_out 8→3        2·16·8·3·9                              =   6912
 *   total                                                       = 298112 */
START_TEST(test_flops_by_hand) {
    sdpo_unet_config c;
    memset(&c, 0, sizeof c);
    c.in_channels = c.out_channels = 3;
    c.n_levels = 1;
    c.block_out_channels[0] = 8;
    c.layers_per_block[0] = 1;
    c.heads[0] = 1;
    c.transformer_layers[0] = 1;
    c.cross_attention_dim = 4;
    c.time_embed_dim = 32;
    ck_assert_double_eq(sdpo_micro_unet_flops(&c, 4, 4, 1), 298112.0);
    /* one more text token adds, per transformer, attn2 k,v 4·Dc·C and products 4·N·C */
    ck_assert_double_eq(sdpo_micro_unet_flops(&c, 4, 4, 2) - 298112.0, 4.0 * 4 * 8 + 4.0 * 16 * 8);
}
END_TEST

/* ---- the pruned tokenizer ------------------------------------------------------------------ */

/* The committed data/micro/model/tokenizer is what `sdpo pretrain-micro --prune-tokenizer`
 * writes (regenerated here, byte for byte), and on every text it was built for it gives the
 * same tokens as the full CLIP tokenizer: token strings compared one by one (ids differ by
 * renumbering). */
START_TEST(test_pruned_tokenizer_matches_full) {
    sdpo_world *w = open_world();
    char **texts;
    int n;
    ck_assert_msg(sdpo_micro_vocabulary_texts(w, "data/prompts", 20000, &texts, &n) == SDPO_OK,
                  "%s", sdpo_last_error());
    char dir[] = "/tmp/sdpo_tokprune_XXXXXX";
    ck_assert(mkdtemp(dir) != NULL);
    int nv, nm;
    ck_assert_msg(sdpo_micro_tokenizer_prune(FULL_TOKENIZER, (const char *const *)texts, n, dir,
                                             &nv, &nm) == SDPO_OK, "%s", sdpo_last_error());
    static const char *const files[] = {"vocab.json", "merges.txt", "tokenizer_config.json",
                                        "special_tokens_map.json"};
    for (int i = 0; i < 4; i++) {
        char a[512], b[512];
        snprintf(a, sizeof a, "%s/%s", dir, files[i]);
        snprintf(b, sizeof b, MICRO "/tokenizer/%s", files[i]);
        same_bytes(a, b);
    }
    sdpo_clip_tokenizer full, small;
    ck_assert(sdpo_clip_tokenizer_load(FULL_TOKENIZER, &full) == SDPO_OK);
    ck_assert_msg(sdpo_clip_tokenizer_load(MICRO "/tokenizer", &small) == SDPO_OK, "%s",
                  sdpo_last_error());
    ck_assert_int_eq(small.n_vocab, nv);
    ck_assert_int_lt(small.n_vocab, 4096);
    ck_assert_int_eq(small.n_merges, nm);
    /* eos stays the largest id (CLIP's argmax pooling) and the pad "!" stays 0 */
    ck_assert_int_eq(small.eos_id, small.n_vocab - 1);
    ck_assert_int_eq(small.pad_id, 0);
    int64_t a[77], b[77];
    for (int i = 0; i < n; i++) {
        int na, nb;
        ck_assert(sdpo_clip_tokenize(&full, texts[i], a, &na, NULL) == SDPO_OK);
        ck_assert(sdpo_clip_tokenize(&small, texts[i], b, &nb, NULL) == SDPO_OK);
        ck_assert_msg(na == nb, "'%s': %d tokens, full tokenizer %d", texts[i], nb, na);
        for (int k = 0; k < 77; k++)
            ck_assert_msg(!strcmp(full.tokens[a[k]], small.tokens[b[k]]),
                          "'%s' token %d: '%s', full tokenizer '%s'", texts[i], k,
                          small.tokens[b[k]], full.tokens[a[k]]);
    }
    /* a word outside the texts still tokenizes, into smaller pieces than the full BPE makes */
    int na, nb;
    ck_assert(sdpo_clip_tokenize(&full, "photosynthesis", a, &na, NULL) == SDPO_OK);
    ck_assert(sdpo_clip_tokenize(&small, "photosynthesis", b, &nb, NULL) == SDPO_OK);
    ck_assert_int_gt(nb, na);
    sdpo_clip_tokenizer_free(&full);
    sdpo_clip_tokenizer_free(&small);
    sdpo_micro_texts_free(texts, n);
    sdpo_remove_tree(dir);
}
END_TEST

/* ---- runs ------------------------------------------------------------------------------------ */

/* Two fresh runs with the same settings: identical checkpoints and logs. */
START_TEST(test_deterministic) {
    char root[] = "/tmp/sdpo_pretrain_XXXXXX", model[256], a[256], b[256];
    ck_assert(mkdtemp(root) != NULL);
    snprintf(model, sizeof model, "%s/model", root);
    snprintf(a, sizeof a, "%s/a", root);
    snprintf(b, sizeof b, "%s/b", root);
    make_tiny_model(model);
    sdpo_world *w = open_world();
    sdpo_pretrain_config c = tiny_config(model, a, w);
    c.max_images = 3 * BATCH;
    sdpo_pretrain_result r;
    run_ok(&c, &r);
    ck_assert_int_eq(r.step, 3);
    ck_assert_int_eq(r.images, 3 * BATCH);
    ck_assert(isfinite(r.loss));
    c.out_dir = b;
    run_ok(&c, &r);
    same_checkpoint(a, b, 3);
    char *ra = log_rows(a), *rb = log_rows(b);
    ck_assert_str_eq(ra, rb);
    ck_assert_int_eq((int)strlen(ra) > 0, 1);
    /* a fresh run refuses a directory that holds a run */
    ck_assert_int_eq(sdpo_pretrain_run(&c, &r), SDPO_ERR_ARG);
    /* another seed gives other weights */
    char cdir[256], p1[512], p2[512];
    snprintf(cdir, sizeof cdir, "%s/c", root);
    c.out_dir = cdir;
    c.seed = 8;
    run_ok(&c, &r);
    snprintf(p1, sizeof p1, "%s/checkpoints/epoch-000003/weights.safetensors", a);
    snprintf(p2, sizeof p2, "%s/checkpoints/epoch-000003/weights.safetensors", cdir);
    size_t n1, n2;
    char *w1 = read_all(p1, &n1), *w2 = read_all(p2, &n2);
    ck_assert(n1 == n2 && memcmp(w1, w2, n1) != 0);
    free(w1), free(w2), free(ra), free(rb);
    sdpo_remove_tree(root);
}
END_TEST

typedef struct {
    volatile sig_atomic_t *stop;
    int at;
} stopper;

static void stop_at(const sdpo_pretrain_progress *p, void *user) {
    stopper *s = user;
    if (p->step == s->at) *s->stop = 1;
}

/* Stopped by the stop flag after step 2 (as SIGINT does), then resumed to step 5: the same
 * checkpoint and log rows as 5 uninterrupted steps. A resume with another setting is refused. */
START_TEST(test_resume_equals_uninterrupted) {
    char root[] = "/tmp/sdpo_pretrain_XXXXXX", model[256], a[256], b[256];
    ck_assert(mkdtemp(root) != NULL);
    snprintf(model, sizeof model, "%s/model", root);
    snprintf(a, sizeof a, "%s/a", root);
    snprintf(b, sizeof b, "%s/b", root);
    make_tiny_model(model);
    sdpo_world *w = open_world();
    sdpo_pretrain_config c = tiny_config(model, a, w);
    c.max_images = 5 * BATCH;
    c.save_every = 2;
    sdpo_pretrain_result r;
    run_ok(&c, &r);
    ck_assert_int_eq(r.step, 5);

    volatile sig_atomic_t flag = 0;
    stopper s = {&flag, 2};
    c.out_dir = b;
    c.stop = &flag;
    c.progress = stop_at;
    c.progress_user = &s;
    run_ok(&c, &r);
    ck_assert_int_eq(r.step, 2);
    ck_assert_int_eq(r.stopped, 1);
    flag = 0;
    c.resume = 1;
    c.lr = 2e-3;   /* not the run's: refused, naming the setting */
    ck_assert_int_eq(sdpo_pretrain_run(&c, &r), SDPO_ERR_ARG);
    ck_assert_msg(strstr(sdpo_last_error(), "lr") != NULL, "%s", sdpo_last_error());
    c.lr = 1e-3;
    run_ok(&c, &r);
    ck_assert_int_eq(r.step, 5);
    ck_assert_int_eq(r.stopped, 0);
    same_checkpoint(a, b, 5);
    char *ra = log_rows(a), *rb = log_rows(b);
    ck_assert_str_eq(ra, rb);
    free(ra), free(rb);
    /* the run's model folder holds the newest checkpoint's weights */
    char m1[512], m2[512];
    snprintf(m1, sizeof m1, "%s/model/unet/diffusion_pytorch_model.safetensors", a);
    snprintf(m2, sizeof m2, "%s/model/unet/diffusion_pytorch_model.safetensors", b);
    same_bytes(m1, m2);
    sdpo_remove_tree(root);
}
END_TEST

/* The lr column of step `step`'s log row. */
static double log_lr(const char *run, int step) {
    char *rows = log_rows(run);
    double lr = -1;
    for (char *line = strtok(rows, "\n"); line; line = strtok(NULL, "\n")) {
        int s;
        long long im;
        double loss, gn, l;
        if (sscanf(line, "%d,%lld,%lf,%lf,%lf", &s, &im, &loss, &gn, &l) == 5 && s == step) lr = l;
    }
    free(rows);
    ck_assert_msg(lr >= 0, "%s: no log row of step %d", run, step);
    return lr;
}

/* An anneal of K = 3 steps asked for by a resume at step 2: steps 3, 4, 5 use lr·3/4, 2/4, 1/4
 * and the run ends at 5 whatever its other limits; a second anneal is refused while one is
 * recorded; a later resume trains no further. Stopped inside the anneal (after step 4) and
 * resumed without the option, it finishes the same anneal: the same checkpoint and log rows. */
START_TEST(test_anneal) {
    char root[] = "/tmp/sdpo_pretrain_XXXXXX", model[256], a[256], b[256];
    ck_assert(mkdtemp(root) != NULL);
    snprintf(model, sizeof model, "%s/model", root);
    snprintf(a, sizeof a, "%s/a", root);
    snprintf(b, sizeof b, "%s/b", root);
    make_tiny_model(model);
    sdpo_world *w = open_world();
    sdpo_pretrain_result r;
    for (int k = 0; k < 2; k++) {
        sdpo_pretrain_config c = tiny_config(model, k ? b : a, w);
        c.max_images = 2 * BATCH;
        run_ok(&c, &r);
        ck_assert_int_eq(r.step, 2);
        c.resume = 1;
        c.anneal_steps = 3;
        c.max_images = 100 * BATCH;
        volatile sig_atomic_t flag = 0;
        stopper s = {&flag, 4};
        if (k) {
            c.stop = &flag;
            c.progress = stop_at;
            c.progress_user = &s;
        }
        run_ok(&c, &r);
        ck_assert_int_eq(r.step, k ? 4 : 5);
        if (k) {
            c.stop = NULL;
            c.anneal_steps = 0;
            run_ok(&c, &r);
            ck_assert_int_eq(r.step, 5);
        }
    }
    same_checkpoint(a, b, 5);
    char *ra = log_rows(a), *rb = log_rows(b);
    ck_assert_str_eq(ra, rb);
    free(ra), free(rb);
    /* the checkpoint the anneal started from is kept outside the rotation */
    char kept[512], orig[512];
    snprintf(kept, sizeof kept, "%s/pre-anneal/epoch-000002/weights.safetensors", a);
    snprintf(orig, sizeof orig, "%s/pre-anneal/epoch-000002/optimizer.safetensors", b);
    ck_assert_int_eq(access(kept, F_OK), 0);
    ck_assert_int_eq(access(orig, F_OK), 0);
    snprintf(orig, sizeof orig, "%s/checkpoints/epoch-000002/weights.safetensors", a);
    same_bytes(kept, orig);
    const double lr = tiny_config(model, a, w).lr;
    ck_assert_double_eq_tol(log_lr(a, 2), lr, 1e-15);
    for (int s = 3; s <= 5; s++)
        ck_assert_double_eq_tol(log_lr(a, s), lr * (6 - s) / 4.0, 1e-15);

    sdpo_pretrain_config c = tiny_config(model, a, w);
    c.resume = 1;
    c.max_images = 100 * BATCH;
    c.anneal_steps = 2;
    ck_assert_int_eq(sdpo_pretrain_run(&c, &r), SDPO_ERR_ARG);
    ck_assert_msg(strstr(sdpo_last_error(), "annealing already (from step 2 over 3 steps)"), "%s",
                  sdpo_last_error());
    c.anneal_steps = 0;
    run_ok(&c, &r);
    ck_assert_int_eq(r.step, 5);
    sdpo_remove_tree(root);
}
END_TEST

/* Largest |a − b| over the tensors of two safetensors files with the same names and shapes. */
static double max_tensor_diff(const char *a, const char *b) {
    sdpo_safetensors x, y;
    ck_assert_msg(sdpo_st_open(a, &x) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert_msg(sdpo_st_open(b, &y) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert_int_eq(x.n_tensors, y.n_tensors);
    double m = 0;
    for (int i = 0; i < x.n_tensors; i++) {
        const sdpo_st_tensor *t = &x.tensors[i], *u = sdpo_st_find(&y, t->name);
        ck_assert_msg(u != NULL && t->dtype == SDPO_ST_F32 && u->dtype == SDPO_ST_F32 &&
                          t->nbytes == u->nbytes, "tensor '%s' of %s vs %s", t->name, a, b);
        const float *p = (const float *)(x.data + t->offset), *q = (const float *)(y.data + u->offset);
        for (size_t j = 0; j < t->nbytes / sizeof(float); j++) {
            const double d = fabs((double)p[j] - (double)q[j]);
            if (d > m) m = d;
        }
    }
    sdpo_st_close(&x);
    sdpo_st_close(&y);
    return m;
}

/* --init-from: a run started from an exported model's weights. With lr 1e-9 its first step
 * moves no weight by more than ~1e-9 (AdamW's step is at most lr per weight, decay lr·wd·|w|),
 * so after it the UNet is the source's within 1e-6, while the seeded init differs by O(0.1);
 * the frozen text encoder is the source's exactly. The source's log travels with the run and
 * its export. Stopped and resumed, an init run (whose text encoder now comes from OUT/model)
 * matches the uninterrupted one bit for bit; a resume without the run's mix is refused naming
 * it. The mix reaches the world: the default weights given explicitly train on the same scenes
 * as no mix (the same log rows), single scenes only on others. */
START_TEST(test_init_from_weights_and_mix) {
    char root[] = "/tmp/sdpo_pretrain_XXXXXX", model[256], a[256], src[256], b[256], c2[256],
        d[256], e[256], p1[512], p2[512];
    ck_assert(mkdtemp(root) != NULL);
    snprintf(model, sizeof model, "%s/model", root);
    snprintf(a, sizeof a, "%s/a", root);
    snprintf(src, sizeof src, "%s/src", root);
    snprintf(b, sizeof b, "%s/b", root);
    snprintf(c2, sizeof c2, "%s/c", root);
    snprintf(d, sizeof d, "%s/d", root);
    snprintf(e, sizeof e, "%s/e", root);
    make_tiny_model(model);
    sdpo_world *w = open_world();
    sdpo_pretrain_result r;
    sdpo_pretrain_config c = tiny_config(model, a, w);
    c.max_images = 2 * BATCH;
    run_ok(&c, &r);
    ck_assert_msg(sdpo_pretrain_export(a, src) == SDPO_OK, "%s", sdpo_last_error());

    c = tiny_config(src, b, w);
    c.seed = 8;
    c.init_weights = 1;
    c.lr = 1e-9;
    c.max_images = BATCH;
    run_ok(&c, &r);
    snprintf(p1, sizeof p1, "%s/unet/diffusion_pytorch_model.safetensors", src);
    snprintf(p2, sizeof p2, "%s/model/unet/diffusion_pytorch_model.safetensors", b);
    ck_assert_double_le(max_tensor_diff(p1, p2), 1e-6);
    snprintf(p2, sizeof p2, "%s/model/unet/diffusion_pytorch_model.safetensors", a);
    ck_assert_double_eq(max_tensor_diff(p1, p2), 0);   /* the export is the run's weights */
    snprintf(p1, sizeof p1, "%s/text_encoder/model.safetensors", src);
    snprintf(p2, sizeof p2, "%s/model/text_encoder/model.safetensors", b);
    same_tensors(p1, p2);
    snprintf(p1, sizeof p1, "%s/pretrain_log.csv", src);
    snprintf(p2, sizeof p2, "%s/init_pretrain_log.csv", b);
    same_bytes(p1, p2);
    snprintf(p1, sizeof p1, "%s/pretrain_log.csv", b);
    char *log = read_all(p1, NULL);
    ck_assert_msg(strstr(log, "# init: the trained UNet and text-encoder weights of ") != NULL, "%s", log);
    free(log);
    /* a seeded init (seed 8, no init) is far from the source */
    c.init_weights = 0;
    c.model_dir = model;
    c.out_dir = c2;
    run_ok(&c, &r);
    snprintf(p1, sizeof p1, "%s/unet/diffusion_pytorch_model.safetensors", src);
    snprintf(p2, sizeof p2, "%s/model/unet/diffusion_pytorch_model.safetensors", c2);
    ck_assert_double_gt(max_tensor_diff(p1, p2), 0.01);
    /* the export ships both logs and says so */
    snprintf(p1, sizeof p1, "%s/export", b);
    ck_assert_msg(sdpo_pretrain_export(b, p1) == SDPO_OK, "%s", sdpo_last_error());
    snprintf(p2, sizeof p2, "%s/export/init_pretrain_log.csv", b);
    ck_assert_int_eq(access(p2, F_OK), 0);
    snprintf(p2, sizeof p2, "%s/export/README.md", b);
    char *readme = read_all(p2, NULL);
    ck_assert_msg(strstr(readme, "| training, first run | 2 optimizer steps, 8 images") != NULL,
                  "%s", readme);
    ck_assert_msg(strstr(readme, "| training, in all | 12 images") != NULL, "%s", readme);
    free(readme);
    /* that export was itself continued: continuing it again is refused, naming its init log */
    c = tiny_config(p1, d, w);
    c.init_weights = 1;
    c.max_images = BATCH;
    ck_assert_int_eq(sdpo_pretrain_run(&c, &r), SDPO_ERR_ARG);
    ck_assert_msg(strstr(sdpo_last_error(), "init_pretrain_log.csv") != NULL, "%s", sdpo_last_error());
    sdpo_remove_tree(d);

    /* resume equals uninterrupted for an init run with a mix */
    sdpo_world_mix single = {{1, 0, 0, 0, 0}};
    for (int k = 0; k < 2; k++) {
        c = tiny_config(src, k ? e : d, w);
        c.seed = 8;
        c.init_weights = 1;
        c.has_mix = 1;
        c.mix = single;
        c.max_images = (k ? 1 : 3) * BATCH;
        run_ok(&c, &r);
        if (k) {
            c.init_weights = 0;
            c.resume = 1;
            c.max_images = 3 * BATCH;
            c.has_mix = 0;
            ck_assert_int_eq(sdpo_pretrain_run(&c, &r), SDPO_ERR_ARG);
            ck_assert_msg(strstr(sdpo_last_error(), "mix") != NULL, "%s", sdpo_last_error());
            c.has_mix = 1;
            run_ok(&c, &r);
            ck_assert_int_eq(r.step, 3);
            c.init_weights = 1;   /* a resumed run has its weights */
            ck_assert_int_eq(sdpo_pretrain_run(&c, &r), SDPO_ERR_ARG);
        }
    }
    same_checkpoint(d, e, 3);
    char *rd = log_rows(d), *re = log_rows(e);
    ck_assert_str_eq(rd, re);
    free(re);
    sdpo_remove_tree(root);

    /* the mix reaches the world: default weights given explicitly = no mix; single only ≠ */
    strcpy(root, "/tmp/sdpo_pretrain_XXXXXX");
    ck_assert(mkdtemp(root) != NULL);
    snprintf(model, sizeof model, "%s/model", root);
    make_tiny_model(model);
    char *rows[3];
    const sdpo_world_mix mixes[3] = {{{0.5f, 0.125f, 0.125f, 0.125f, 0.125f}}, {{0}}, {{1, 0, 0, 0, 0}}};
    for (int k = 0; k < 3; k++) {
        snprintf(d, sizeof d, "%s/m%d", root, k);
        c = tiny_config(model, d, w);
        c.max_images = 3 * BATCH;
        c.has_mix = k != 1;
        c.mix = mixes[k];
        run_ok(&c, &r);
        rows[k] = log_rows(d);
    }
    ck_assert_str_eq(rows[0], rows[1]);
    ck_assert_str_ne(rows[1], rows[2]);
    for (int k = 0; k < 3; k++) free(rows[k]);
    free(rd);
    sdpo_remove_tree(root);
}
END_TEST

/* Always the same 4 scenes (index mod 4 of world seed 0): the loss must fall when the model
 * can memorise them. Paired comparison: a run with lr 1e-9 (no learning) sees the very same
 * scenes, timesteps and noise at every step (they depend on the step index only), so the
 * per-step losses differ only by what was learnt. Measured (seed 7, 60 steps at lr 3e-3):
 * the learning run's mean loss over the last 20 steps was 0.422, the frozen run's on the same
 * steps 0.976 (ratio 0.43; over the first 20 steps 0.546 vs 0.942). Requiring a ratio below
 * RATIO = 0.7 leaves room for platform rounding differences, while a run that learns nothing
 * sits at 1 (the frozen run's lr 1e-9 moves no weight by more than ~1e-9). */
static sdpo_status fixed_batch(void *user, uint64_t seed, uint64_t index,
                               char caption[SDPO_WORLD_CAPTION_MAX], float *chw) {
    (void)seed;
    sdpo_scene sc;
    sdpo_status st = sdpo_world_sample((const sdpo_world *)user, 0, index % BATCH, NULL, &sc, chw);
    memcpy(caption, sc.caption, SDPO_WORLD_CAPTION_MAX);
    return st;
}

#define FIXED_STEPS 60

typedef struct {
    double loss[FIXED_STEPS];
    int n;
} loss_trace;

static void trace(const sdpo_pretrain_progress *p, void *user) {
    loss_trace *t = user;
    if (t->n < FIXED_STEPS) t->loss[t->n++] = p->loss;
}

static void fixed_run(const char *root, const char *name, const sdpo_world *w, double lr,
                      loss_trace *t) {
    char model[256], out[256];
    snprintf(model, sizeof model, "%s/model", root);
    snprintf(out, sizeof out, "%s/%s", root, name);
    sdpo_pretrain_config c = tiny_config(model, out, w);
    c.data = fixed_batch;
    c.data_user = (void *)w;
    c.lr = lr;
    c.warmup_steps = 0;
    c.max_images = FIXED_STEPS * BATCH;
    t->n = 0;
    c.progress = trace;
    c.progress_user = t;
    sdpo_pretrain_result r;
    run_ok(&c, &r);
    ck_assert_int_eq(t->n, FIXED_STEPS);
}

START_TEST(test_loss_decreases_on_fixed_batch) {
    char root[] = "/tmp/sdpo_pretrain_XXXXXX", model[256];
    ck_assert(mkdtemp(root) != NULL);
    snprintf(model, sizeof model, "%s/model", root);
    make_tiny_model(model);
    sdpo_world *w = open_world();
    loss_trace learn, frozen;
    fixed_run(root, "learn", w, 3e-3, &learn);
    fixed_run(root, "frozen", w, 1e-9, &frozen);
    double a = 0, b = 0;
    for (int i = 0; i < 20; i++) {
        a += learn.loss[FIXED_STEPS - 20 + i];
        b += frozen.loss[FIXED_STEPS - 20 + i];
    }
    ck_assert_msg(a < RATIO * b, "last 20 steps: mean loss %.4f learning, %.4f frozen", a / 20,
                  b / 20);
    sdpo_remove_tree(root);
}
END_TEST

/* The exported folder loads as a pixel-space policy: samples are the [3, 32, 32] images,
 * decode is clamp(x/2 + 0.5, 0, 1), the forward gives the UNet's output (finite, varying with
 * the prompt), and the export holds the trained weights and a README naming the FLOPs. */
START_TEST(test_export_loads_as_pixel_policy) {
    char root[] = "/tmp/sdpo_pretrain_XXXXXX", model[256], a[256], dest[256], path[512];
    ck_assert(mkdtemp(root) != NULL);
    snprintf(model, sizeof model, "%s/model", root);
    snprintf(a, sizeof a, "%s/a", root);
    snprintf(dest, sizeof dest, "%s/export", root);
    make_tiny_model(model);
    sdpo_world *w = open_world();
    sdpo_pretrain_config c = tiny_config(model, a, w);
    c.max_images = 2 * BATCH;
    sdpo_pretrain_result r;
    run_ok(&c, &r);
    /* a step logged after the newest checkpoint (a sitting still running) is not exported */
    snprintf(path, sizeof path, "%s/pretrain_log.csv", a);
    FILE *lf = fopen(path, "a");
    ck_assert(lf != NULL);
    fprintf(lf, "3,%d,0.5,1,0.001,9.9\n", 3 * BATCH);
    fclose(lf);
    /* exported twice: the second replaces the first as a whole */
    ck_assert_msg(sdpo_pretrain_export(a, dest) == SDPO_OK, "%s", sdpo_last_error());
    snprintf(path, sizeof path, "%s/stale.txt", dest);
    write_text(path, "x");
    ck_assert_msg(sdpo_pretrain_export(a, dest) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert_int_ne(access(path, F_OK), 0);
    char p1[512];
    snprintf(p1, sizeof p1, "%s/checkpoints/epoch-000002/weights.safetensors", a);
    snprintf(path, sizeof path, "%s/unet/diffusion_pytorch_model.safetensors", dest);
    same_tensors(p1, path);
    snprintf(path, sizeof path, "%s/README.md", dest);
    char *readme = read_all(path, NULL);
    ck_assert_msg(strstr(readme, "GFLOP per 32×32 sample") != NULL, "%s", readme);
    ck_assert_msg(strstr(readme, "| 2 optimizer steps, ") != NULL, "%s", readme);
    free(readme);
    char *rows = log_rows(dest);
    ck_assert_msg(strstr(rows, "\n3,") == NULL && strncmp(rows, "3,", 2), "%s", rows);
    ck_assert_msg(strstr(rows, "2,") != NULL, "%s", rows);
    free(rows);

    const char *prompts[] = {"cat", "a photo of a dog"};
    const sdpo_unet_policy_config pc = {dest, 0, 0, 0, 2, prompts, 2, 2, 1, 0};
    sdpo_policy *p;
    ck_assert_msg(sdpo_policy_unet_create(&pc, &p) == SDPO_OK, "%s", sdpo_last_error());
    ck_assert_uint_eq(p->D, 3 * 32 * 32);
    ck_assert_int_eq(p->img_h, 32);
    ck_assert_int_eq(p->img_w, 32);
    ck_assert_int_eq(p->schedule.prediction, SDPO_PRED_V);
    const size_t D = p->D;
    float *x = malloc(2 * D * sizeof(float)), *out = malloc(2 * D * sizeof(float)),
          *img = malloc(2 * D * sizeof(float));
    ck_assert(x && out && img);
    sdpo_rng rng;
    sdpo_rng_init(&rng, 1, SDPO_STREAM_INIT_NOISE);
    sdpo_rng_normal_fill(&rng, x, D);
    memcpy(x + D, x, D * sizeof(float));
    const int t[2] = {999, 999}, cond[2] = {0, 1};
    ck_assert_msg(p->forward(p, 2, x, t, cond, SDPO_FWD_EVAL, out) == SDPO_OK, "%s",
                  sdpo_last_error());
    double diff = 0;
    for (size_t i = 0; i < D; i++) {
        ck_assert(isfinite(out[i]) && isfinite(out[D + i]));
        diff += fabs((double)out[i] - out[D + i]);
    }
    ck_assert_msg(diff > 0, "the two prompts give the same output");
    x[0] = -3.0f, x[1] = -1.0f, x[2] = 0.5f, x[3] = 1.0f, x[4] = 2.5f;
    ck_assert(p->decode(p, 2, x, img) == SDPO_OK);
    const float want[5] = {0.0f, 0.0f, 0.75f, 1.0f, 1.0f};
    for (int i = 0; i < 5; i++) ck_assert_float_eq(img[i], want[i]);
    for (size_t i = 0; i < 2 * D; i++) {
        ck_assert(img[i] >= 0.0f && img[i] <= 1.0f);
        const float v = x[i] / 2.0f + 0.5f;
        ck_assert_float_eq(img[i], v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v);
    }
    free(x), free(out), free(img);
    sdpo_policy_free(p);
    sdpo_remove_tree(root);
}
END_TEST

/* The shipped model folder's configs load and fit together: the text encoder's vocabulary is
 * the pruned tokenizer's, its width the UNet's cross_attention_dim, and the scheduler is
 * v-prediction DDIM. */
START_TEST(test_micro_configs) {
    sdpo_unet_config u;
    ck_assert_msg(sdpo_unet_config_load(MICRO "/unet/config.json", &u) == SDPO_OK, "%s",
                  sdpo_last_error());
    ck_assert_int_eq(u.in_channels, 3);
    ck_assert_int_eq(u.out_channels, 3);
    ck_assert_int_eq(u.sample_size, SDPO_WORLD_SIZE);
    sdpo_config tc;
    sdpo_clip_text_config t;
    ck_assert(sdpo_config_load(MICRO "/text_encoder/config.json", &tc) == SDPO_OK);
    ck_assert_msg(sdpo_clip_text_config_load(&tc, &t) == SDPO_OK, "%s", sdpo_last_error());
    sdpo_config_free(&tc);
    sdpo_clip_tokenizer tok;
    ck_assert(sdpo_clip_tokenizer_load(MICRO "/tokenizer", &tok) == SDPO_OK);
    ck_assert_int_eq(t.vocab_size, tok.n_vocab);
    ck_assert_int_ge(t.max_positions, tok.max_length);
    sdpo_clip_tokenizer_free(&tok);
    ck_assert_int_eq(t.hidden_size, u.cross_attention_dim);
    sdpo_config sc;
    const char *pred, *spacing;
    ck_assert(sdpo_config_load(MICRO "/scheduler/scheduler_config.json", &sc) == SDPO_OK);
    ck_assert(sdpo_config_string(&sc, "prediction_type", &pred) == SDPO_OK);
    ck_assert(sdpo_config_string(&sc, "timestep_spacing", &spacing) == SDPO_OK);
    ck_assert_str_eq(pred, "v_prediction");
    ck_assert_str_eq(spacing, "trailing");
    sdpo_config_free(&sc);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("pretrain_micro");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_unchecked_fixture(tc, world_setup, world_teardown);
    tcase_add_test(tc, test_v_target_inverts);
    tcase_add_test(tc, test_mse_gradient);
    tcase_add_test(tc, test_flops_by_hand);
    tcase_add_test(tc, test_micro_configs);
    tcase_add_test(tc, test_pruned_tokenizer_matches_full);
    tcase_add_test(tc, test_deterministic);
    tcase_add_test(tc, test_resume_equals_uninterrupted);
    tcase_add_test(tc, test_anneal);
    tcase_add_test(tc, test_init_from_weights_and_mix);
    tcase_add_test(tc, test_loss_decreases_on_fixed_batch);
    tcase_add_test(tc, test_export_loads_as_pixel_policy);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }

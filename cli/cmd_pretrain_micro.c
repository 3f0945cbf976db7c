/* cli/cmd_pretrain_micro.c — `sdpo pretrain-micro`: pretrain the micro text-to-image model on
 * the micro world (micro/pretrain.h), export it as the diffusers folder data/micro/model, draw
 * a labelled sheet of its samples, and (once) build its pruned tokenizer (micro/tokenizer_prune.h). */
#include "cli/commands.h"
#include "cli/progress.h"
#include "eval/grid.h"
#include "eval/sample_eval.h"
#include "micro/model.h"
#include "micro/pretrain.h"
#include "micro/tokenizer_prune.h"
#include "rewards/image.h"
#include "trainers/policy_unet.h"
#include "world/world.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_PROMPTS 512
/* Plain progress lines (no terminal): one every this many steps. */
#define LINE_EVERY 10

static void help(void) {
    printf(
        "usage: sdpo pretrain-micro --out RUN (--images N | --minutes M) [options]\n"
        "       sdpo pretrain-micro --out RUN --resume (--images N | --minutes M) [options]\n"
        "       sdpo pretrain-micro --out RUN --export DIR [--sample-grid FILE.png]\n"
        "       sdpo pretrain-micro --prune-tokenizer FULL_DIR [--model DIR] [--scenes K]\n"
        "\n"
        "Pretrains the micro text-to-image model (issue #8) with every UNet parameter trainable,\n"
        "on the CPU, deterministically: scenes of the micro world (sdpo world), v-prediction\n"
        "diffusion loss, AdamW with gradient clipping; see micro/pretrain.h for the exact\n"
        "objective. The model folder (--model, default data/micro/model) gives the architecture:\n"
        "unet/, text_encoder/ and scheduler/ configs and the tokenizer; the UNet starts from\n"
        "PyTorch's default init and the text encoder is frozen at a seeded random init\n"
        "(micro/model.h). A run stops at --images or after --minutes of this sitting (or on\n"
        "SIGINT/SIGTERM), always with a checkpoint, and --resume continues it bit for bit at the\n"
        "same --threads. Set OMP_WAIT_POLICY=passive in the environment on a machine with few\n"
        "cores (bench/README.md: OpenMP threads otherwise spin against OpenBLAS's).\n"
        "\n"
        "options:\n"
        "  --out RUN          run directory: RUN/model (the diffusers folder being trained, its\n"
        "                     UNet weights those of the newest checkpoint), RUN/checkpoints/,\n"
        "                     RUN/pretrain_log.csv ('#' metadata, then step,images,loss,\n"
        "                     grad_norm,lr,wall_s per optimizer step)\n"
        "  --model DIR        configs + tokenizer to train (fresh runs; default data/micro/model)\n"
        "  --init-from DIR    fresh runs: train DIR's configs + tokenizer starting from its\n"
        "                     trained UNet and text-encoder weights (e.g. data/micro/model) instead\n"
        "                     of the init; the run records their hash and keeps DIR's\n"
        "                     pretrain_log.csv as RUN/init_pretrain_log.csv (export ships it).\n"
        "                     Use a new --seed to see scenes the weights have not seen\n"
        "  --mix K=W,...      relative frequency of the scene kinds (single, color, count,\n"
        "                     composition, location; kinds not named weigh 0), e.g.\n"
        "                     single=0.8,color=0.05,count=0.05,composition=0.05,location=0.05;\n"
        "                     default the world's mix (single 0.5, the others 0.125 each)\n"
        "  --images N         stop once N images have been seen (over all sittings)\n"
        "  --minutes M        stop after M minutes of training in this sitting\n"
        "  --batch B          images per optimizer step (default 64)\n"
        "  --lr X             AdamW learning rate (default 3e-4), reached by a linear warm-up\n"
        "  --warmup K         warm-up steps (default 20; 0: none)\n"
        "  --anneal-steps K   anneal: the K steps from where this sitting starts use lr scaled\n"
        "                     linearly down to 1/(K+1), and the run ends after them (a limit\n"
        "                     like --images). Recorded in every later checkpoint: resume an\n"
        "                     annealing run without it (with --images or --minutes) to finish it\n"
        "  --weight-decay X   AdamW decoupled weight decay (default 0.01, torch's)\n"
        "  --max-grad-norm X  gradient clipping (default 1.0)\n"
        "  --seed S           world scenes, noise, timesteps and init (default 0)\n"
        "  --resume           continue RUN from its newest checkpoint (same settings required)\n"
        "  --threads N        CPU threads (default 2)\n"
        "  --save-every K     checkpoint every K steps (default 100; also at every stop)\n"
        "  --export DIR       no training: write RUN's model as the diffusers folder DIR (configs,\n"
        "                     tokenizer, F32 weights, pretrain_log.csv, generated README.md);\n"
        "                     DIR is replaced as a whole\n"
        "  --sample-grid F    after training or export: a labelled PNG sheet of RUN/model's samples,\n"
        "                     per prompt the training emoji (when the prompt names a world animal)\n"
        "                     then images 0-2 of `sdpo eval --eta 0 --seed 0 --steps 50` (what\n"
        "                     scripts/micro-recognition.sh scores), 7 prompts a row\n"
        "  --prompts FILE     prompts of the grid (default data/prompts/simple_animals_45.txt)\n"
        "  --prune-tokenizer FULL_DIR  no training: write DIR/tokenizer (DIR = --model) pruned from\n"
        "                     the CLIP tokenizer FULL_DIR (e.g. tests/data/sd_fixtures/tokenizer)\n"
        "                     to the words of data/prompts/*.txt and of --scenes world captions\n"
        "  --scenes K         world captions scanned by --prune-tokenizer (default 20000)\n"
        "  --quiet            no progress output\n"
        "\n"
        "exit status: 0 done (a limit was reached); 1 failure or stopped by a signal (the\n"
        "checkpoint is written either way); 2 usage error.\n");
}

static volatile sig_atomic_t g_stop = 0;
static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

static int parse_double(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v)) return 0;
    *out = v;
    return 1;
}

static int parse_ll(const char *s, long long lo, long long hi, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

/* "single=0.8,color=0.05,...": kinds not named weigh 0. 0 on a malformed list. */
static int parse_mix(const char *s, sdpo_world_mix *mix) {
    memset(mix, 0, sizeof *mix);
    char buf[256];
    if (strlen(s) >= sizeof buf) return 0;
    strcpy(buf, s);
    double total = 0;
    unsigned seen = 0;   /* a kind named twice is refused */
    for (char *save, *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        double w;
        if (!eq) return 0;
        *eq = '\0';
        const int k = sdpo_world_kind_parse(item);
        if (k < 0 || (seen >> k & 1) || !parse_double(eq + 1, &w) || !(w >= 0)) return 0;
        seen |= 1u << k;
        mix->weight[k] = (float)w;
        total += w;
    }
    return total > 0;
}

typedef struct {
    cli_progress bar;
    int quiet;
    double max_minutes;
    long long max_images;
} progress_state;

static void on_progress(const sdpo_pretrain_progress *p, void *user) {
    progress_state *s = user;
    if (s->quiet) return;
    char label[96];
    snprintf(label, sizeof label, "step %d, %lld img, loss %.4f, %.1f img/s", p->step, p->images,
             p->loss, p->img_per_s);
    if (s->bar.enabled) {
        cli_progress_draw(&s->bar, p->fraction, label);
    } else if (p->step % LINE_EVERY == 0) {
        const double eta = p->fraction > 0 ? p->sitting_s * (1.0 - p->fraction) / p->fraction : 0;
        fprintf(stderr, "pretrain-micro: %s, lr %.3g, %.0f s this sitting, ETA %.0f s\n", label,
                p->lr, p->sitting_s, eta);
        fflush(stderr);
    }
}

/* Lines of a prompt file into a malloc'd buffer; *n prompts. */
static int read_prompts(const char *path, char *buf, size_t cap, const char **prompts, int *n) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t used = 0;
    *n = 0;
    char line[512];
    while (fgets(line, sizeof line, f) && *n < MAX_PROMPTS) {
        line[strcspn(line, "\r\n")] = '\0';
        const size_t len = strlen(line);
        if (!len || used + len + 1 > cap) continue;
        memcpy(buf + used, line, len + 1);
        prompts[(*n)++] = buf + used;
        used += len + 1;
    }
    fclose(f);
    return *n > 0;
}

/* The sheet of --sample-grid: one labelled cell per prompt, a strip of SHEET_K + 1 images 1 px
 * apart — a single-animal training scene of the prompt's animal (grey when the prompt names none;
 * world seed 0, scene index = animal, as `sdpo world --animals`), then SHEET_K samples at
 * SHEET_STEPS DDIM steps — so a reader judges each sample beside what it should look like. */
#define SHEET_K 3
#define SHEET_STEPS 50
#define SHEET_COLS 7

static sdpo_status reference_strip_cell(const sdpo_world *w, const char *prompt, int h, int wd,
                                        uint8_t *rgb) {
    if (h != SDPO_WORLD_SIZE || wd != SDPO_WORLD_SIZE) {
        memset(rgb, 200, (size_t)h * wd * 3);
        return SDPO_OK;
    }
    int a = -1;
    for (int i = 0; i < SDPO_WORLD_N_ANIMALS && a < 0; i++)
        if (!strcmp(prompt, sdpo_world_animal_name(i))) a = i;
    if (a < 0) {
        memset(rgb, 200, (size_t)h * wd * 3);
        return SDPO_OK;
    }
    static float chw[SDPO_WORLD_PIXELS];
    sdpo_scene sc = {SDPO_SCENE_SINGLE, {a, -1}, 1, -1, -1, ""};
    sdpo_status st = sdpo_world_render(w, &sc, 0, (uint64_t)a, chw);
    if (st != SDPO_OK) return st;
    for (int p = 0; p < SDPO_WORLD_PIXELS; p++) chw[p] = 0.5f * chw[p] + 0.5f;
    sdpo_image_to_rgb8(h, wd, chw, rgb);
    return SDPO_OK;
}

/* Image k < SHEET_K of every prompt, as `sdpo eval --eta 0 --seed 0 --steps SHEET_STEPS` draws
 * it (eval/sample_eval.h: x_T by (prompt, image), the decoded x̂ of the last step, batches of
 * SHEET_BATCH as eval's default), so the sheet shows the very images scripts/micro-recognition.sh
 * scores. *rgb: RGB8 [n·SHEET_K, h, w, 3], sample i·SHEET_K + k; the caller frees it. */
#define SHEET_BATCH 8
static sdpo_status sheet_samples(const char *model, const char *const *prompts, int n, int threads,
                                 uint8_t **rgb, int *h, int *w) {
    *rgb = NULL;
    const sdpo_unet_policy_config pc = {model, 0, 0, 0, n, prompts, SHEET_BATCH, 1, threads, 0};
    sdpo_policy *p;
    sdpo_status st = sdpo_policy_unet_create(&pc, &p);
    if (st != SDPO_OK) return st;
    const sdpo_eval_sampler_config sc = {0, 0.0, SDPO_FINAL_XHAT, SHEET_BATCH};
    sdpo_eval_sampler s;
    const int N = n * SHEET_K;
    const size_t px = (size_t)3 * p->img_h * p->img_w;
    float *img = malloc(SHEET_BATCH * px * sizeof(float));
    uint8_t *out = malloc((size_t)N * px);
    if (!img || !out) st = sdpo_fail(SDPO_ERR_NOMEM, "sample sheet: out of memory");
    if (st == SDPO_OK && (st = sdpo_eval_sampler_init(&s, p, &sc)) == SDPO_OK) {
        st = sdpo_eval_sampler_set_steps(&s, SHEET_STEPS);
        for (int j0 = 0; st == SDPO_OK && j0 < N; j0 += SHEET_BATCH) {
            const int m = N - j0 < SHEET_BATCH ? N - j0 : SHEET_BATCH;
            int prompt[SHEET_BATCH], image[SHEET_BATCH];
            for (int j = 0; j < m; j++) prompt[j] = (j0 + j) / SHEET_K, image[j] = (j0 + j) % SHEET_K;
            st = sdpo_eval_sample(&s, m, prompt, image, img, NULL, NULL, NULL);
            for (int j = 0; st == SDPO_OK && j < m; j++)
                sdpo_image_to_rgb8(p->img_h, p->img_w, img + j * px, out + (size_t)(j0 + j) * px);
        }
        sdpo_eval_sampler_free(&s);
    }
    *h = p->img_h;
    *w = p->img_w;
    sdpo_policy_free(p);
    free(img);
    if (st != SDPO_OK) free(out);
    else *rgb = out;
    return st;
}

static int sample_grid(const char *model, const char *prompts_file, const char *png, int threads) {
    static char buf[1 << 16];
    const char *prompts[MAX_PROMPTS];
    int n;
    if (!read_prompts(prompts_file, buf, sizeof buf, prompts, &n)) {
        fprintf(stderr, "sdpo: %s: cannot read prompts\n", prompts_file);
        return SDPO_EXIT_FAIL;
    }
    uint8_t *samples = NULL, *strips = NULL, *ref = NULL;
    const uint8_t **cells = NULL;
    const char **labels = NULL;
    sdpo_world *w = NULL;
    int h, wd, rc = SDPO_EXIT_OK;
    if (sheet_samples(model, prompts, n, threads, &samples, &h, &wd) != SDPO_OK ||
        sdpo_world_open(NULL, &w) != SDPO_OK)
        goto fail;
    const int SW = (SHEET_K + 1) * wd + SHEET_K, cols = n < SHEET_COLS ? n : SHEET_COLS,
              rows = (n + cols - 1) / cols;
    strips = malloc((size_t)rows * cols * h * SW * 3); /* cells past the last prompt stay white */
    ref = malloc((size_t)h * wd * 3);
    cells = calloc((size_t)rows * cols, sizeof *cells);
    labels = calloc((size_t)rows * cols, sizeof *labels);
    if (!strips || !ref || !cells || !labels) {
        fprintf(stderr, "sdpo: sample grid: out of memory\n");
        rc = SDPO_EXIT_FAIL;
        goto done;
    }
    memset(strips, 255, (size_t)rows * cols * h * SW * 3);
    for (int i = 0; i < rows * cols; i++) {
        uint8_t *strip = strips + (size_t)i * h * SW * 3;
        cells[i] = strip;
        labels[i] = i < n ? prompts[i] : "";
        if (i >= n) continue;
        if (reference_strip_cell(w, prompts[i], h, wd, ref) != SDPO_OK) goto fail;
        for (int k = 0; k <= SHEET_K; k++) {
            const uint8_t *src = k ? samples + ((size_t)i * SHEET_K + k - 1) * h * wd * 3 : ref;
            for (int y = 0; y < h; y++)
                memcpy(strip + ((size_t)y * SW + (size_t)k * (wd + 1)) * 3, src + (size_t)y * wd * 3,
                       (size_t)wd * 3);
        }
    }
    char title[640];
    snprintf(title, sizeof title, "%s: per prompt the training emoji, then %d samples at %d DDIM "
             "steps (eta 0)", model, SHEET_K, SHEET_STEPS);
    sdpo_grid_layout L = {rows, cols, h, SW, 2, title, NULL, NULL, labels};
    if (sdpo_grid_write_png(png, &L, cells) != SDPO_OK) goto fail;
    printf("pretrain-micro: samples of %s at %d steps: %s\n", model, SHEET_STEPS, png);
    goto done;
fail:
    rc = cli_report_error();
done:
    free(samples), free(strips), free(ref), free(cells), free(labels);
    sdpo_world_close(w);
    return rc;
}

static int prune_tokenizer(const char *full, const char *model, long long scenes) {
    sdpo_world *w;
    if (sdpo_world_open(NULL, &w) != SDPO_OK) return cli_report_error();
    char **texts;
    int n;
    sdpo_status st = sdpo_micro_vocabulary_texts(w, "data/prompts", (int)scenes, &texts, &n);
    sdpo_world_close(w);
    if (st != SDPO_OK) return cli_report_error();
    char out[4096];
    snprintf(out, sizeof out, "%s/tokenizer", model);
    int nv, nm;
    st = sdpo_micro_tokenizer_prune(full, (const char *const *)texts, n, out, &nv, &nm);
    sdpo_micro_texts_free(texts, n);
    if (st != SDPO_OK) return cli_report_error();
    printf("pretrain-micro: %s: %d tokens, %d merges (from %s, %d texts); set "
           "text_encoder/config.json vocab_size to %d\n", out, nv, nm, full, n, nv);
    return SDPO_EXIT_OK;
}

/* argv joined with spaces (for the log), quoting arguments that hold spaces. */
static void join_command(int argc, char **argv, char *out, size_t n) {
    size_t used = (size_t)snprintf(out, n, "sdpo");
    for (int i = 0; i < argc && used < n; i++) {
        const int q = strchr(argv[i], ' ') != NULL;
        used += (size_t)snprintf(out + used, n - used, q ? " '%s'" : " %s", argv[i]);
    }
}

int cmd_pretrain_micro(int argc, char **argv) {
    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'},        {"model", required_argument, 0, 'm'},
        {"images", required_argument, 0, 'i'},     {"minutes", required_argument, 0, 'M'},
        {"batch", required_argument, 0, 'b'},      {"lr", required_argument, 0, 'l'},
        {"warmup", required_argument, 0, 'w'},     {"weight-decay", required_argument, 0, 'W'},
        {"max-grad-norm", required_argument, 0, 'g'}, {"seed", required_argument, 0, 's'},
        {"resume", no_argument, 0, 'r'},           {"threads", required_argument, 0, 't'},
        {"save-every", required_argument, 0, 'k'}, {"export", required_argument, 0, 'e'},
        {"sample-grid", required_argument, 0, 'G'}, {"prompts", required_argument, 0, 'p'},
        {"prune-tokenizer", required_argument, 0, 'P'}, {"scenes", required_argument, 0, 'S'},
        {"anneal-steps", required_argument, 0, 'A'}, {"init-from", required_argument, 0, 'I'},
        {"mix", required_argument, 0, 'X'},
        {"quiet", no_argument, 0, 'q'},            {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *cmd = argv[0], *export_dir = NULL, *grid = NULL, *prune = NULL;
    const char *prompts = "data/prompts/simple_animals_45.txt";
    sdpo_pretrain_config c = sdpo_pretrain_defaults();
    c.threads = 2;
    long long v, scenes = 20000;
    double d;
    int quiet = 0, have_limit = 0, have_model = 0;
    optind = 1;
    for (int o; (o = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        switch (o) {
        case 'o': c.out_dir = optarg; break;
        case 'm':
            if (c.init_weights) return cli_usage_error(cmd, "--model and --init-from exclude each other");
            c.model_dir = optarg;
            have_model = 1;
            break;
        case 'I':
            if (have_model) return cli_usage_error(cmd, "--model and --init-from exclude each other");
            c.model_dir = optarg;
            c.init_weights = 1;
            break;
        case 'X':
            if (!parse_mix(optarg, &c.mix))
                return cli_usage_error(cmd, "--mix: expected KIND=WEIGHT[,KIND=WEIGHT...] with "
                                       "KIND single, color, count, composition or location and "
                                       "each kind once, weights >= 0, not all 0; got '%s'", optarg);
            c.has_mix = 1;
            break;
        case 'i':
            if (!parse_ll(optarg, 1, (long long)1 << 50, &v))
                return cli_usage_error(cmd, "--images: expected a positive integer, got '%s'", optarg);
            c.max_images = v;
            have_limit = 1;
            break;
        case 'M':
            if (!parse_double(optarg, &d) || !(d > 0))
                return cli_usage_error(cmd, "--minutes: expected a positive number, got '%s'", optarg);
            c.max_minutes = d;
            have_limit = 1;
            break;
        case 'b':
            if (!parse_ll(optarg, 1, 4096, &v))
                return cli_usage_error(cmd, "--batch: expected 1..4096, got '%s'", optarg);
            c.batch = (int)v;
            break;
        case 'l':
            if (!parse_double(optarg, &d) || !(d > 0))
                return cli_usage_error(cmd, "--lr: expected a positive number, got '%s'", optarg);
            c.lr = d;
            break;
        case 'w':
            if (!parse_ll(optarg, 0, 1 << 30, &v))
                return cli_usage_error(cmd, "--warmup: expected an integer >= 0, got '%s'", optarg);
            c.warmup_steps = (int)v;
            break;
        case 'A':
            if (!parse_ll(optarg, 1, 100000000, &v))
                return cli_usage_error(cmd, "--anneal-steps: expected 1..1e8, got '%s'", optarg);
            c.anneal_steps = (int)v;
            have_limit = 1;
            break;
        case 'W':
            if (!parse_double(optarg, &d) || !(d >= 0))
                return cli_usage_error(cmd, "--weight-decay: expected a number >= 0, got '%s'", optarg);
            c.weight_decay = d;
            break;
        case 'g':
            if (!parse_double(optarg, &d) || !(d > 0))
                return cli_usage_error(cmd, "--max-grad-norm: expected a positive number, got '%s'",
                                       optarg);
            c.max_grad_norm = d;
            break;
        case 's':
            if (!parse_ll(optarg, 0, LLONG_MAX, &v))
                return cli_usage_error(cmd, "--seed: expected an integer >= 0, got '%s'", optarg);
            c.seed = (uint64_t)v;
            break;
        case 'r': c.resume = 1; break;
        case 't':
            if (!parse_ll(optarg, 1, 256, &v))
                return cli_usage_error(cmd, "--threads: expected 1..256, got '%s'", optarg);
            c.threads = (int)v;
            break;
        case 'k':
            if (!parse_ll(optarg, 0, 1 << 30, &v))
                return cli_usage_error(cmd, "--save-every: expected an integer >= 0, got '%s'", optarg);
            c.save_every = (int)v;
            break;
        case 'e': export_dir = optarg; break;
        case 'G': grid = optarg; break;
        case 'p': prompts = optarg; break;
        case 'P': prune = optarg; break;
        case 'S':
            if (!parse_ll(optarg, 0, 10000000, &scenes))
                return cli_usage_error(cmd, "--scenes: expected 0..10000000, got '%s'", optarg);
            break;
        case 'q': quiet = 1; break;
        case 'h': help(); return SDPO_EXIT_OK;
        default: return cli_usage_error(cmd, "unknown option");
        }
    }
    if (optind < argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (prune) {
        if (c.out_dir || export_dir || grid || have_limit || c.resume || c.init_weights || c.has_mix)
            return cli_usage_error(cmd, "--prune-tokenizer takes only --model and --scenes");
        return prune_tokenizer(prune, c.model_dir, scenes);
    }
    if (!c.out_dir) return cli_usage_error(cmd, "--out RUN is required");
    char model[4096];
    snprintf(model, sizeof model, "%s/model", c.out_dir);
    if (export_dir) {
        if (have_limit || c.resume || c.init_weights || c.has_mix)
            return cli_usage_error(cmd, "--export does not train: no --images, --minutes, "
                                   "--anneal-steps, --resume, --init-from or --mix");
        if (sdpo_pretrain_export(c.out_dir, export_dir) != SDPO_OK) return cli_report_error();
        printf("pretrain-micro: exported %s to %s\n", model, export_dir);
        return grid ? sample_grid(export_dir, prompts, grid, c.threads) : SDPO_EXIT_OK;
    }
    if (!have_limit) return cli_usage_error(cmd, "--images, --minutes or --anneal-steps is required");
    if (c.resume && c.init_weights)
        return cli_usage_error(cmd, "--init-from starts a run; a resumed run has its weights");

    char command[4096];
    join_command(argc, argv, command, sizeof command);
    c.command = command;
    sdpo_world *w;
    if (sdpo_world_open(NULL, &w) != SDPO_OK) return cli_report_error();
    c.world = w;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND;   /* a second signal kills at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    c.stop = &g_stop;
    progress_state ps = {.quiet = quiet, .max_minutes = c.max_minutes, .max_images = c.max_images};
    cli_progress_begin(&ps.bar, quiet);
    c.progress = on_progress;
    c.progress_user = &ps;
    sdpo_pretrain_result r;
    sdpo_status st = sdpo_pretrain_run(&c, &r);
    cli_progress_end(&ps.bar);
    sdpo_world_close(w);
    if (st != SDPO_OK) return cli_report_error();
    printf("pretrain-micro: step %d, %lld images, loss %.5f, %.1f img/s this sitting, %.1f min "
           "of training in all; UNet %lld parameters, %.4g GFLOP per forward; model %s\n",
           r.step, r.images, r.loss, r.img_per_s, r.wall_s / 60.0, r.unet_params,
           r.flops_per_forward * 1e-9, model);
    if (r.stopped) {
        fprintf(stderr, "sdpo: pretrain-micro stopped by a signal at step %d (checkpoint written; "
                "--resume continues)\n", r.step);
        return SDPO_EXIT_FAIL;
    }
    return grid ? sample_grid(model, prompts, grid, c.threads) : SDPO_EXIT_OK;
}

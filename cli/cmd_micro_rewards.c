/* cli/cmd_micro_rewards.c — `sdpo train-micro-rewards`: trains the micro CLIP
 * (micro/clip_train.h) and then the micro quality predictor on its image tower
 * (micro/quality_train.h) on the micro world, and writes the two reward folders that
 * `micro-clip` and `micro-quality` load (rewards/reward.h). */
#include "cli/commands.h"
#include "cli/progress.h"
#include "core/atomic_file.h"
#include "micro/clip_train.h"
#include "micro/model.h"
#include "micro/quality_train.h"
#include "micro/tokenizer_prune.h"
#include "world/world.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Captions sampled for the tokenizer's vocabulary (every fixed word of the grammar appears many
 * times in this many scenes; animal, colour and place words are added explicitly anyway). */
#define VOCAB_SCENES 2000

/* Share of the progress bar (and, roughly, of the time) the CLIP stage takes. */
#define CLIP_SHARE 0.85

static void help(void) {
    sdpo_micro_clip_config c = sdpo_micro_clip_defaults();
    sdpo_micro_quality_config q = sdpo_micro_quality_defaults(c.projection_dim);
    printf(
        "usage: sdpo train-micro-rewards --out DIR [--seed S] [--steps N | --minutes M]\n"
        "                                [--quality-steps N] [--threads N] [--tokenizer DIR]\n"
        "                                [--prompts DIR] [--quiet]\n"
        "\n"
        "Trains the micro study's two learned rewards on the micro world (sdpo world) and writes\n"
        "them as reward folders:\n"
        "  DIR/clip/     micro CLIP, the PickScore/HPSv2 stand-in: a transformers CLIPModel\n"
        "                (ViT %d layers x %d wide, patch %d on 32x32; text transformer %d x %d\n"
        "                over a pruned CLIP BPE; projection %d), trained with a symmetric InfoNCE\n"
        "                on scene captions. Scored as exp(logit_scale) * cos(image, text) by the\n"
        "                PickScore code (reward micro-clip).\n"
        "  DIR/quality/  micro quality predictor, the aesthetic-predictor stand-in: a linear head\n"
        "                (widths %d-%d-%d-%d-%d-%d, no activations, like LAION's) on the\n"
        "                L2-normalised image embedding of the micro CLIP's image tower, both\n"
        "                fine-tuned on clean vs degraded renders of the same scene; score = logit\n"
        "                that the image is clean (reward micro-quality, the aesthetic code).\n"
        "Each folder holds a train_log.csv ('#' metadata: the command, seed, settings, result;\n"
        "then one row per validation). Folders are written under DIR/.NAME.tmp.PID and renamed\n"
        "into place when complete, replacing an earlier one. Results are a function of the seed,\n"
        "the step counts and --threads.\n"
        "\n"
        "options:\n"
        "  --out DIR          output parent folder (created)\n"
        "  --seed S           0 <= S < 2^32 (default %llu): initialisation and training scenes\n"
        "  --steps N          CLIP training steps of %d scenes (default %d)\n"
        "  --minutes M        instead: as many CLIP steps as M minutes allow, timed over the\n"
        "                     first warmup steps; the log records the count, so --steps N\n"
        "                     reproduces the run\n"
        "  --quality-steps N  quality steps of %d clean/degraded pairs (default %d)\n"
        "  --threads N        CPU threads (default %d)\n"
        "  --tokenizer DIR    the full CLIP tokenizer to prune (default\n"
        "                     tests/data/sd_fixtures/tokenizer, SD-Turbo's)\n"
        "  --prompts DIR      prompt lists whose words the pruned tokenizer keeps (default\n"
        "                     data/prompts)\n"
        "  --quiet            no progress bar (shown only when stderr is a terminal anyway)\n"
        "\n"
        "exit status: 0 trained and written; 1 runtime failure; 2 usage error.\n",
        c.vision_layers, c.vision_width, c.patch_size, c.text_layers, c.text_width,
        c.projection_dim, q.dims[0], q.dims[1], q.dims[2], q.dims[3], q.dims[4], q.dims[5],
        (unsigned long long)c.seed, c.batch, c.steps, q.batch, q.steps, c.threads);
}

typedef struct {
    cli_progress bar;
    double base, share;
} progress_ctx;

static void on_progress(void *user, double fraction, const char *label) {
    progress_ctx *p = user;
    cli_progress_draw(&p->bar, p->base + p->share * fraction, label);
}

/* "a b c" of argv (the command recorded in the logs and weights metadata). */
static char *join_args(int argc, char **argv) {
    size_t n = 8;
    for (int i = 0; i < argc; i++) n += strlen(argv[i]) + 1;
    char *s = malloc(n);
    if (!s) return NULL;
    strcpy(s, "sdpo");
    for (int i = 0; i < argc; i++) strcat(strcat(s, " "), argv[i]);
    return s;
}

static sdpo_status open_log(const char *dir, sdpo_atomic_file *f) {
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/train_log.csv", dir) >= sizeof path)
        return sdpo_fail(SDPO_ERR_ARG, "%s/train_log.csv: path too long", dir);
    return sdpo_atomic_open(f, path);
}

/* The CLIP stage: pruned tokenizer, training, folder. */
static sdpo_status train_clip(const char *out, const sdpo_world *w, sdpo_micro_clip_config cfg,
                              const char *tokenizer, const char *prompts, const char *command,
                              progress_ctx *pc, sdpo_micro_clip *m,
                              sdpo_micro_clip_result *res) {
    char tmp[4096];
    sdpo_status rc = sdpo_micro_dir_begin(out, "clip", tmp, sizeof tmp);
    if (rc != SDPO_OK) return rc;
    char **texts = NULL;
    int n_texts = 0, n_vocab = 0, n_merges = 0;
    rc = sdpo_micro_vocabulary_texts(w, prompts, VOCAB_SCENES, &texts, &n_texts);
    if (rc == SDPO_OK)
        rc = sdpo_micro_tokenizer_prune(tokenizer, (const char *const *)texts, n_texts, tmp,
                                        &n_vocab, &n_merges);
    sdpo_micro_texts_free(texts, n_texts);
    if (rc == SDPO_OK) rc = sdpo_micro_clip_init(m, &cfg, tmp);
    sdpo_atomic_file log = {0};
    if (rc == SDPO_OK) rc = open_log(tmp, &log);
    if (rc == SDPO_OK) {
        fprintf(log.fp,
                "# micro CLIP (PickScore/HPSv2 stand-in), trained by sdpo train-micro-rewards\n"
                "# command: %s\n# seed: %llu\n# threads: %d\n"
                "# vision: image 32, patch %d, width %d, layers %d, heads %d, mlp %d, %s\n"
                "# text: width %d, layers %d, heads %d, mlp %d, %s, pruned CLIP BPE vocabulary "
                "%d tokens (%d merges) from %s\n"
                "# projection_dim: %d; logit_scale init 2.6592, clamp [0, ln 100]\n"
                "# training: batch %d, %s, AdamW lr %g (warmup %d, cosine to %g x), weight decay "
                "%g, grad clip %g\n"
                "# data: world scenes step*%d + b of stream seed %llu (default mix); validation: "
                "top-1 among the 45 names on %d single-animal scenes of stream %llu\n",
                command, (unsigned long long)cfg.seed, cfg.threads, cfg.patch_size,
                cfg.vision_width, cfg.vision_layers, cfg.vision_heads, cfg.vision_mlp,
                m->vc.quick_gelu ? "quick_gelu" : "gelu", cfg.text_width, cfg.text_layers,
                cfg.text_heads, cfg.text_mlp,
                m->tc.act == SDPO_CLIP_ACT_QUICK_GELU ? "quick_gelu" : "gelu", n_vocab, n_merges,
                tokenizer, cfg.projection_dim, cfg.batch,
                cfg.steps > 0 ? "fixed step count" : "step count from the time budget", cfg.lr,
                cfg.warmup, cfg.final_lr_frac, cfg.weight_decay, cfg.clip_grad, cfg.batch,
                (unsigned long long)cfg.seed, cfg.val_scenes,
                (unsigned long long)(cfg.seed + SDPO_MICRO_VAL_SEED_OFFSET));
        rc = sdpo_micro_clip_train(m, w, log.fp, on_progress, pc, res);
    }
    if (rc == SDPO_OK) {
        fprintf(log.fp, "# result: %d steps in %.1f s, final batch loss %.4f, validation top-1 "
                "%.4f\n", res->steps, res->seconds, res->final_loss, res->val_top1);
        m->cfg.steps = res->steps;   /* recorded in the weights' metadata */
        rc = sdpo_atomic_commit(&log);
    } else if (log.fp) {
        sdpo_atomic_abort(&log);
    }
    if (rc == SDPO_OK) rc = sdpo_micro_clip_save(m, tmp, command);
    if (rc == SDPO_OK) rc = sdpo_micro_dir_commit(tmp, out, "clip");
    if (rc != SDPO_OK) sdpo_micro_dir_remove(tmp);
    return rc;
}

/* The quality stage on the trained CLIP's image tower. */
static sdpo_status train_quality(const char *out, const sdpo_world *w, sdpo_micro_clip *m,
                                 int steps, const char *command, progress_ctx *pc,
                                 sdpo_micro_quality_result *res) {
    sdpo_micro_quality_config cfg = sdpo_micro_quality_defaults(m->vc.embed_dim);
    cfg.seed = m->cfg.seed;
    cfg.threads = m->cfg.threads;
    if (steps > 0) cfg.steps = steps;
    if (cfg.warmup >= cfg.steps) cfg.warmup = cfg.steps / 10;
    char tmp[4096];
    sdpo_status rc = sdpo_micro_dir_begin(out, "quality", tmp, sizeof tmp);
    if (rc != SDPO_OK) return rc;
    sdpo_micro_quality q;
    rc = sdpo_micro_quality_init(&q, &cfg, &m->vc, &m->params);
    sdpo_atomic_file log = {0};
    if (rc == SDPO_OK) rc = open_log(tmp, &log);
    if (rc == SDPO_OK) {
        fprintf(log.fp,
                "# micro quality predictor (aesthetic stand-in), trained by sdpo "
                "train-micro-rewards\n# command: %s\n# seed: %llu\n# threads: %d\n"
                "# head: %d-%d-%d-%d-%d-%d linear layers, no activations, on the L2-normalised "
                "image embedding; image tower: the micro CLIP's (../clip), fine-tuned here\n"
                "# loss: softplus(-(s_clean - s_degraded)) + (softplus(-s_clean) + "
                "softplus(s_degraded))/2; score = logit P(clean)\n"
                "# data: step s uses pairs s*%d + k of stream %llu (default mix; scene and its "
                "sdpo_world_degrade copy); %d steps, AdamW lr %g (tower) / %g (head), warmup %d, "
                "cosine to 5%%, weight decay %g, grad clip %g per group; validation: %d pairs of "
                "stream %llu\n",
                command, (unsigned long long)cfg.seed, cfg.threads, cfg.dims[0], cfg.dims[1],
                cfg.dims[2], cfg.dims[3], cfg.dims[4], cfg.dims[5], cfg.batch,
                (unsigned long long)(cfg.seed + SDPO_MICRO_QUALITY_SEED_OFFSET), cfg.steps,
                cfg.lr_tower, cfg.lr_head, cfg.warmup, cfg.weight_decay, cfg.clip_grad,
                cfg.val_pairs, (unsigned long long)(cfg.seed + SDPO_MICRO_QUALITY_VAL_SEED_OFFSET));
        rc = sdpo_micro_quality_train(&q, w, log.fp, on_progress, pc, res);
    }
    if (rc == SDPO_OK) {
        fprintf(log.fp, "# result: %.1f s, final batch loss %.4f, validation pair accuracy %.4f\n",
                res->seconds, res->final_loss, res->val_pair_acc);
        rc = sdpo_atomic_commit(&log);
    } else if (log.fp) {
        sdpo_atomic_abort(&log);
    }
    if (rc == SDPO_OK) rc = sdpo_micro_quality_save(&q, m, tmp, command);
    if (rc == SDPO_OK) rc = sdpo_micro_dir_commit(tmp, out, "quality");
    if (rc != SDPO_OK) sdpo_micro_dir_remove(tmp);
    sdpo_micro_quality_free(&q);
    return rc;
}

int cmd_train_micro_rewards(int argc, char **argv) {
    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'},     {"seed", required_argument, 0, 's'},
        {"minutes", required_argument, 0, 'm'}, {"steps", required_argument, 0, 'n'},
        {"threads", required_argument, 0, 't'}, {"tokenizer", required_argument, 0, 'k'},
        {"prompts", required_argument, 0, 'p'}, {"quiet", no_argument, 0, 'q'},
        {"quality-steps", required_argument, 0, 'S'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    const char *cmd = argv[0], *out = NULL, *tokenizer = "tests/data/sd_fixtures/tokenizer",
               *prompts = "data/prompts";
    sdpo_micro_clip_config cfg = sdpo_micro_clip_defaults();
    int quiet = 0, have_minutes = 0, have_steps = 0, q_steps = 0;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        char *end = NULL;
        switch (c) {
        case 'o': out = optarg; break;
        case 's': {
            unsigned long long v = strtoull(optarg, &end, 10);
            if (!*optarg || *end || optarg[0] == '-' || v >= (1ull << 32))
                return cli_usage_error(cmd, "--seed '%s': want an integer in [0, 2^32)", optarg);
            cfg.seed = v;
            break;
        }
        case 'm':
            cfg.steps = 0;
            cfg.minutes = strtod(optarg, &end);
            if (!*optarg || *end || !(cfg.minutes > 0) || cfg.minutes > 1e4)
                return cli_usage_error(cmd, "--minutes '%s': want a number of minutes > 0", optarg);
            have_minutes = 1;
            break;
        case 'n': {
            long v = strtol(optarg, &end, 10);
            if (!*optarg || *end || v < 1 || v > 1000000)
                return cli_usage_error(cmd, "--steps '%s': want an integer in [1, 1000000]", optarg);
            cfg.steps = (int)v;
            have_steps = 1;
            break;
        }
        case 't': {
            long v = strtol(optarg, &end, 10);
            if (!*optarg || *end || v < 1 || v > 256)
                return cli_usage_error(cmd, "--threads '%s': want an integer in [1, 256]", optarg);
            cfg.threads = (int)v;
            break;
        }
        case 'S': {
            long v = strtol(optarg, &end, 10);
            if (!*optarg || *end || v < 1 || v > 1000000)
                return cli_usage_error(cmd, "--quality-steps '%s': want an integer in [1, 1000000]",
                                       optarg);
            q_steps = (int)v;
            break;
        }
        case 'k': tokenizer = optarg; break;
        case 'p': prompts = optarg; break;
        case 'q': quiet = 1; break;
        case 'h': help(); return SDPO_EXIT_OK;
        default: return cli_usage_error(cmd, "unknown option");
        }
    }
    if (optind < argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!out) return cli_usage_error(cmd, "--out is required");
    if (have_minutes && have_steps) return cli_usage_error(cmd, "--minutes and --steps exclude "
                                                           "each other");
    if (cfg.steps > 0 && cfg.warmup >= cfg.steps) cfg.warmup = cfg.steps / 10;
    char *command = join_args(argc, argv);
    if (!command) return cli_usage_error(cmd, "out of memory");
    sdpo_world *w = NULL;
    sdpo_micro_clip m = {0};
    sdpo_micro_clip_result cres = {0};
    sdpo_micro_quality_result qres = {0};
    progress_ctx pc = {.base = 0.0, .share = CLIP_SHARE};
    cli_progress_begin(&pc.bar, quiet);
    sdpo_status rc = sdpo_mkdir_p(out);
    if (rc == SDPO_OK) rc = sdpo_world_open(NULL, &w);
    if (rc == SDPO_OK) rc = train_clip(out, w, cfg, tokenizer, prompts, command, &pc, &m, &cres);
    pc.base = CLIP_SHARE;
    pc.share = 1.0 - CLIP_SHARE;
    if (rc == SDPO_OK) rc = train_quality(out, w, &m, q_steps, command, &pc, &qres);
    cli_progress_end(&pc.bar);
    sdpo_micro_clip_free(&m);
    sdpo_world_close(w);
    free(command);
    if (rc != SDPO_OK) return cli_report_error();
    printf("%s/clip: %d steps in %.1f s, validation top-1 %.4f\n", out, cres.steps, cres.seconds,
           cres.val_top1);
    printf("%s/quality: %.1f s, validation pair accuracy %.4f\n", out, qres.seconds,
           qres.val_pair_acc);
    return SDPO_EXIT_OK;
}

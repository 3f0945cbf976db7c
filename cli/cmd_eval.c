/* cli/cmd_eval.c — `sdpo eval`: sample training checkpoints (or a model) at several step counts
 * on fixed seeds and score every image with every reward (eval/evaluate.h): the data of the
 * paper's Table 1 and Fig. 4, 8–11. */
#include "cli/commands.h"
#include "cli/progress.h"
#include "eval/evaluate.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ITEMS 64

static void help(void) {
    printf(
        "usage: sdpo eval --run [NAME=]DIR [--run ...] [--checkpoints last|all|EPOCHS]\n"
        "                 --rewards LIST --out DIR [options]\n"
        "       sdpo eval --model DIR|CONFIG.json [--lora NAME=PATH ...] --rewards LIST\n"
        "                 --out DIR [options]\n"
        "\n"
        "Samples every prompt of --prompts K times at every step count of --steps with each model,\n"
        "scores every image with every reward and writes per-image rows and per (method, epoch,\n"
        "reward, steps) aggregates. The same (seed, prompt, image) starts from the same x_T (and\n"
        "draws the same per-step noise) for every method, checkpoint and step count, so images\n"
        "and scores are comparable across them (paper Fig. 1, 4, 8-11, Table 1).\n"
        "\n"
        "models:\n"
        "  --run [NAME=]DIR   a training run (sdpo train --out DIR): its model from config.json,\n"
        "                     its rows labelled with train.method (or NAME); repeatable. The\n"
        "                     epoch-0 checkpoint is the base model, written once as method 'base',\n"
        "                     epoch 0, however many runs are given (they must share the base model)\n"
        "  --checkpoints last|all|EPOCHS  the newest checkpoint of each run (default), every\n"
        "                     one (the step-generalisation curves of Fig. 4, 8-11), or the\n"
        "                     epochs listed (e.g. 10,20,40; each run must have them); base always\n"
        "  --model DIR|CONFIG.json  a diffusers folder (unet policy) or a training config whose\n"
        "                     model keys build the policy (e.g. configs/toy/sdpo.json for the toy\n"
        "                     policy); without --lora its rows are method 'base', epoch 0\n"
        "  --lora [NAME=]PATH with --model: a training checkpoint dir (epoch-NNNNNN) or a\n"
        "                     diffusers/peft LoRA .safetensors file (unet), its rows labelled\n"
        "                     NAME; repeatable, each one a model of its own\n"
        "  --method NAME      the rows' name of a single --lora PATH given without NAME=\n"
        "  --epoch N          with --model: the rows' epoch (default: the checkpoint's, else 0)\n"
        "\n"
        "sampling:\n"
        "  --prompts FILE     one prompt a line (default data/prompts/dpok_unseen_prompts_4.txt,\n"
        "                     DPOK's unseen prompts of Table 1)\n"
        "  --steps LIST       step counts (default 1,2,4,8,16,50), each 1..%d\n"
        "  --images-per-prompt K  images per prompt and step count (default 4)\n"
        "  --seed N           seed of x_T and the step noise (default 0)\n"
        "  --eta X            DDIM eta (default 1). The official code has no evaluation script;\n"
        "                     the only sampler it has, which produced its logged 50-step and\n"
        "                     1-step rewards, is pipeline_with_logprob with eta = 1 (config\n"
        "                     sample.eta), so that is the default; --eta 0 is deterministic DDIM\n"
        "  --final-image xhat|sample  the scored image: decode of the last step's x0-hat\n"
        "                     (default; the official pipeline's images[-1]) or of the final sample\n"
        "                     (the DDPO/D3PO pipelines' image)\n"
        "  Guidance is 1 (SD-Turbo has no CFG) and the timesteps are the model's scheduler's\n"
        "  (SD-Turbo: trailing DDIM).\n"
        "\n"
        "rewards:\n"
        "  --rewards LIST     comma-separated, every image scored by each: %s\n"
        "                     (toy-mode: toy policy only, the mode of the model's toy.target_mode)\n"
        "  --reward-model-dir NAME=DIR  the model folder of a learned reward (repeatable)\n"
        "  --official-scale   PickScore/HPSv2 raw cosines, ImageReward unnormalised (as the\n"
        "                     official code logs); default: the published scales\n"
        "\n"
        "outputs (each written to a temporary file and renamed):\n"
        "  --out DIR          must not hold an evaluation (images.csv) already\n"
        "  DIR/images.csv     '#' metadata (seed, eta, steps, prompts, rewards and scales, every\n"
        "                     model's source, git commit, build), then one row per image x reward:\n"
        "                     method,epoch,prompt_index,prompt,image_index,steps,reward,score\n"
        "  DIR/summary.csv    method,epoch,reward,steps,mean,std,sem,n (sample std, sem = std/sqrt n)\n"
        "  --save-images N|all  PNGs of the first N prompts (all: every prompt; default 0: none) at\n"
        "                     DIR/images/<method>/epoch-<NNNNNN>/steps-<S>/p<prompt>_i<image>.png,\n"
        "                     what 'sdpo grid' lays out\n"
        "\n"
        "other:\n"
        "  --batch-size B     images per model pass (default 8); the toy policy's results do not\n"
        "                     depend on it, the UNet's only in the last float bits\n"
        "  --threads N        model threads (default 1)\n"
        "  --quiet            no progress bar (drawn only when stderr is a terminal anyway)\n"
        "\n"
        "exit status: 0 done; 1 runtime failure (unreadable run or model, missing reward model);\n"
        "2 usage error (bad option value, unknown reward).\n",
        SDPO_EVAL_MAX_STEPS, sdpo_eval_reward_names());
}

/* "1,2,4" → out[], at most max items, each in [lo, hi], no duplicates. Returns the count, or
 * -1 after printing a usage error naming the bad item. */
static int parse_int_list(const char *opt, const char *s, int lo, int hi, int *out, int max) {
    int n = 0;
    const char *p = s;
    for (;;) {
        char *end;
        const long v = strtol(p, &end, 10);
        if (end == p || (*end && *end != ',') || v < lo || v > hi) {
            cli_usage_error("eval", "%s '%s': '%.*s' is not an integer in [%d, %d]", opt, s,
                            (int)strcspn(p, ","), p, lo, hi);
            return -1;
        }
        for (int i = 0; i < n; i++)
            if (out[i] == v) {
                cli_usage_error("eval", "%s '%s': %ld is listed twice", opt, s, v);
                return -1;
            }
        if (n == max) {
            cli_usage_error("eval", "%s '%s': more than %d values", opt, s, max);
            return -1;
        }
        out[n++] = (int)v;
        if (!*end) return n;
        p = end + 1;
    }
}

static int parse_long(const char *s, long lo, long hi, long *out) {
    char *end;
    const long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

/* NAME=PATH when the part before the first '=' is a plain name (no '/'): 1, and the name into
 * name[SDPO_EVAL_NAME_MAX] and *path past the '=' (either may be NULL); else 0 (all a path). */
static int split_name(const char *arg, char *name, const char **path) {
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || memchr(arg, '/', (size_t)(eq - arg)) ||
        (size_t)(eq - arg) >= SDPO_EVAL_NAME_MAX)
        return 0;
    if (name) snprintf(name, SDPO_EVAL_NAME_MAX, "%.*s", (int)(eq - arg), arg);
    if (path) *path = eq + 1;
    return 1;
}

static void draw(double f, const char *label, void *user) {
    cli_progress_draw(user, f, label);
}

int cmd_eval(int argc, char **argv) {
    enum { O_RUN = 256, O_CKPT, O_MODEL, O_LORA, O_METHOD, O_EPOCH, O_PROMPTS, O_STEPS, O_K,
           O_SEED, O_ETA, O_FINAL, O_REWARDS, O_RDIR, O_OFFICIAL, O_OUT, O_SAVE, O_BATCH,
           O_THREADS, O_QUIET };
    static const struct option opts[] = {
        {"run", required_argument, 0, O_RUN},          {"checkpoints", required_argument, 0, O_CKPT},
        {"model", required_argument, 0, O_MODEL},      {"lora", required_argument, 0, O_LORA},
        {"method", required_argument, 0, O_METHOD},    {"epoch", required_argument, 0, O_EPOCH},
        {"prompts", required_argument, 0, O_PROMPTS},  {"steps", required_argument, 0, O_STEPS},
        {"images-per-prompt", required_argument, 0, O_K},
        {"seed", required_argument, 0, O_SEED},        {"eta", required_argument, 0, O_ETA},
        {"final-image", required_argument, 0, O_FINAL},
        {"rewards", required_argument, 0, O_REWARDS},  {"reward-model-dir", required_argument, 0, O_RDIR},
        {"official-scale", no_argument, 0, O_OFFICIAL},{"out", required_argument, 0, O_OUT},
        {"save-images", required_argument, 0, O_SAVE}, {"batch-size", required_argument, 0, O_BATCH},
        {"threads", required_argument, 0, O_THREADS},  {"quiet", no_argument, 0, O_QUIET},
        {"help", no_argument, 0, 'h'},                 {0, 0, 0, 0}};
    const char *runs[MAX_ITEMS], *rdirs[MAX_ITEMS], *loras[MAX_ITEMS];
    int n_runs = 0, n_rdirs = 0, n_loras = 0, n_sel = 0, sel[MAX_ITEMS], quiet = 0, epoch = -1;
    const char *model = NULL, *method = NULL, *rewards_arg = NULL;
    sdpo_eval_config c;
    memset(&c, 0, sizeof c);
    c.prompts_file = "data/prompts/dpok_unseen_prompts_4.txt";
    c.images_per_prompt = 4;
    c.n_steps = 6;
    memcpy(c.steps, (const int[]){1, 2, 4, 8, 16, 50}, 6 * sizeof(int));
    c.sampler = (sdpo_eval_sampler_config){0, 1.0, SDPO_FINAL_XHAT, 8};
    c.threads = 1;
    long v;
    optind = 1;
    for (int o; (o = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        switch (o) {
        case O_RUN:
            if (n_runs == MAX_ITEMS) return cli_usage_error("eval", "more than %d --run", MAX_ITEMS);
            runs[n_runs++] = optarg;
            break;
        case O_CKPT:
            if (!strcmp(optarg, "last"))
                n_sel = 0;
            else if (!strcmp(optarg, "all"))
                n_sel = SDPO_EVAL_ALL_CHECKPOINTS;
            else if (strspn(optarg, "0123456789,") == strlen(optarg)) {
                const int k = parse_int_list("--checkpoints", optarg, 0, 100000000, sel, MAX_ITEMS);
                if (k < 0) return SDPO_EXIT_USAGE;
                n_sel = k;
            } else
                return cli_usage_error("eval", "--checkpoints '%s' is neither 'last', 'all' nor "
                                       "a list of epochs", optarg);
            break;
        case O_MODEL: model = optarg; break;
        case O_LORA:
            if (n_loras == MAX_ITEMS) return cli_usage_error("eval", "more than %d --lora", MAX_ITEMS);
            loras[n_loras++] = optarg;
            break;
        case O_METHOD: method = optarg; break;
        case O_EPOCH:
            if (!parse_long(optarg, 0, 100000000, &v))
                return cli_usage_error("eval", "--epoch '%s' is not an epoch", optarg);
            epoch = (int)v;
            break;
        case O_PROMPTS: c.prompts_file = optarg; break;
        case O_STEPS:
            c.n_steps = parse_int_list("--steps", optarg, 1, SDPO_EVAL_MAX_STEPS, c.steps,
                                       SDPO_EVAL_MAX_STEP_COUNTS);
            if (c.n_steps < 0) return SDPO_EXIT_USAGE;
            break;
        case O_K:
            if (!parse_long(optarg, 1, SDPO_EVAL_MAX_IMAGES, &v))
                return cli_usage_error("eval", "--images-per-prompt '%s' is not in [1, %d]",
                                       optarg, SDPO_EVAL_MAX_IMAGES);
            c.images_per_prompt = (int)v;
            break;
        case O_SEED:
            if (!parse_long(optarg, 0, 2147483647L, &v))
                return cli_usage_error("eval", "--seed '%s' is not a non-negative integer", optarg);
            c.sampler.seed = (uint64_t)v;
            break;
        case O_ETA: {
            char *end;
            c.sampler.eta = strtod(optarg, &end);
            if (end == optarg || *end || !(c.sampler.eta >= 0.0 && c.sampler.eta <= 1.0))
                return cli_usage_error("eval", "--eta '%s' is not in [0, 1]", optarg);
            break;
        }
        case O_FINAL:
            if (strcmp(optarg, "xhat") && strcmp(optarg, "sample"))
                return cli_usage_error("eval", "--final-image '%s' is neither 'xhat' nor 'sample'", optarg);
            c.sampler.final_image = strcmp(optarg, "xhat") ? SDPO_FINAL_SAMPLE : SDPO_FINAL_XHAT;
            break;
        case O_REWARDS: rewards_arg = optarg; break;
        case O_RDIR:
            if (!strchr(optarg, '=') || optarg[0] == '=')
                return cli_usage_error("eval", "--reward-model-dir '%s' is not NAME=DIR", optarg);
            if (n_rdirs == MAX_ITEMS) return cli_usage_error("eval", "too many --reward-model-dir");
            rdirs[n_rdirs++] = optarg;
            break;
        case O_OFFICIAL: c.official_scale = 1; break;
        case O_OUT: c.out_dir = optarg; break;
        case O_SAVE:
            if (!strcmp(optarg, "all"))
                c.save_images = -1;
            else if (parse_long(optarg, 0, SDPO_EVAL_MAX_PROMPTS, &v))
                c.save_images = (int)v;
            else
                return cli_usage_error("eval", "--save-images '%s' is neither a prompt count nor 'all'", optarg);
            break;
        case O_BATCH:
            if (!parse_long(optarg, 1, 4096, &v))
                return cli_usage_error("eval", "--batch-size '%s' is not in [1, 4096]", optarg);
            c.sampler.batch = (int)v;
            break;
        case O_THREADS:
            if (!parse_long(optarg, 1, 256, &v))
                return cli_usage_error("eval", "--threads '%s' is not in [1, 256]", optarg);
            c.threads = (int)v;
            break;
        case O_QUIET: quiet = 1; break;
        case 'h': help(); return SDPO_EXIT_OK;
        default: return cli_usage_error("eval", "unknown option");
        }
    }
    if (optind < argc) return cli_usage_error("eval", "unexpected argument '%s'", argv[optind]);
    if (!c.out_dir) return cli_usage_error("eval", "--out is required");
    if (!n_runs && !model) return cli_usage_error("eval", "give --run DIR or --model DIR");
    if (!rewards_arg) return cli_usage_error("eval", "--rewards is required");
    if ((n_loras || method || epoch >= 0) && !model)
        return cli_usage_error("eval", "--lora, --method and --epoch go with --model");
    if (method && (n_loras != 1 || split_name(loras[0], NULL, NULL)))
        return cli_usage_error("eval", "--method names the rows of a single --lora PATH; give "
                               "each of several --lora its name as NAME=PATH");
    for (int i = 0; i < n_loras; i++)
        if (!method && !split_name(loras[i], NULL, NULL))
            return cli_usage_error("eval", "--lora '%s' needs a name for its rows: --lora "
                                   "NAME=PATH (or --method NAME)", loras[i]);

    /* rewards: split the list, check every name, attach model folders */
    char *rlist = strdup(rewards_arg);
    const char *rnames[MAX_ITEMS], *rdir_of[MAX_ITEMS];
    int nr = 0, ret = -1;
    if (!rlist) return cli_report_error();
    for (char *save = NULL, *tok = strtok_r(rlist, ",", &save); tok && ret < 0;
         tok = strtok_r(NULL, ",", &save)) {
        if (!sdpo_eval_reward_known(tok))
            ret = cli_usage_error("eval", "unknown reward '%s' in --rewards (known: %s)", tok,
                                  sdpo_eval_reward_names());
        else if (nr == MAX_ITEMS)
            ret = cli_usage_error("eval", "more than %d rewards", MAX_ITEMS);
        else {
            rdir_of[nr] = NULL;
            rnames[nr++] = tok;
        }
    }
    if (ret < 0 && nr == 0) ret = cli_usage_error("eval", "--rewards '%s' names no reward", rewards_arg);
    for (int i = 0; ret < 0 && i < n_rdirs; i++) {
        const size_t k = strcspn(rdirs[i], "=");
        int found = 0;
        for (int r = 0; r < nr; r++)
            if (strlen(rnames[r]) == k && !strncmp(rnames[r], rdirs[i], k)) {
                rdir_of[r] = rdirs[i] + k + 1;
                found = 1;
            }
        if (!found)
            ret = cli_usage_error("eval", "--reward-model-dir '%s': '%.*s' is not in --rewards",
                                  rdirs[i], (int)k, rdirs[i]);
    }
    c.n_rewards = nr;
    c.rewards = rnames;
    c.reward_dirs = rdir_of;

    sdpo_eval_targets tg = {NULL, 0, 0};
    for (int i = 0; ret < 0 && i < n_runs; i++) {
        char name[SDPO_EVAL_NAME_MAX];
        const char *dir = runs[i];
        const int named = split_name(runs[i], name, &dir);
        if (sdpo_eval_targets_add_run(&tg, dir, named ? name : NULL, sel, n_sel) != SDPO_OK)
            ret = cli_report_error();
    }
    if (ret < 0 && model && !n_loras &&
        sdpo_eval_targets_add_model(&tg, model, NULL, NULL, epoch) != SDPO_OK)
        ret = cli_report_error();
    for (int i = 0; ret < 0 && i < n_loras; i++) {
        char name[SDPO_EVAL_NAME_MAX];
        const char *path = loras[i];
        const int named = split_name(loras[i], name, &path);
        if (sdpo_eval_targets_add_model(&tg, model, path, named ? name : method, epoch) != SDPO_OK)
            ret = cli_report_error();
    }
    if (ret < 0) {
        cli_progress bar;
        cli_progress_begin(&bar, quiet);
        c.progress = draw;
        c.progress_user = &bar;
        const sdpo_status rc = sdpo_eval_run(&c, &tg);
        cli_progress_end(&bar);
        if (rc != SDPO_OK) {
            ret = cli_report_error();
        } else {
            printf("%s/images.csv\n%s/summary.csv\n", c.out_dir, c.out_dir);
            printf("eval: %d model(s), %d step count(s), %d image(s) per prompt, %d reward(s) "
                   "in %.1f s\n", tg.n, c.n_steps, c.images_per_prompt, nr,
                   cli_now_s() - bar.start);
            ret = SDPO_EXIT_OK;
        }
    }
    sdpo_eval_targets_free(&tg);
    free(rlist);
    return ret;
}

/* cli/cmd_record.c — `sdpo record-trajectories`: DDIM trajectories of a checkpoint or model with
 * the reward of EVERY step's x̂ (eval/evaluate.h), the input of `sdpo table3` and
 * `sdpo dense-reward` (paper App. C, Table 3). */
#include "cli/commands.h"
#include "cli/progress.h"
#include "eval/evaluate.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void help(void) {
    printf(
        "usage: sdpo record-trajectories (--run DIR [--epoch N] | --model DIR|CONFIG.json\n"
        "                                [--lora PATH]) --reward R --out FILE.safetensors\n"
        "                                [--steps T] [--n N] [--prompts FILE] [--seed S] [options]\n"
        "\n"
        "Samples N DDIM trajectories of T steps and scores the decoded x0-hat of EVERY step with\n"
        "reward R (Table 3 compares each dense-reward strategy's predictions with these), and the\n"
        "final image (decode of the last sample). Trajectory j is prompt j mod P, image j div P of\n"
        "the P prompts; x_T and the step noise come from the same (seed, prompt, image, step)\n"
        "positions as in 'sdpo eval'.\n"
        "\n"
        "model:\n"
        "  --run DIR          a training run: its newest checkpoint, or --epoch N's (0: the base)\n"
        "  --model DIR|CONFIG.json [--lora PATH]   as in 'sdpo eval'\n"
        "\n"
        "options:\n"
        "  --steps T          steps per trajectory (default 50, the paper's T), 1..%d\n"
        "  --n N              trajectories (default 64)\n"
        "  --prompts FILE     default data/prompts/simple_animals_45.txt (the training prompts)\n"
        "  --reward R         one of: %s\n"
        "  --reward-model-dir DIR  the learned reward's model folder\n"
        "  --official-scale   the official code's reward scales (see 'sdpo eval --help')\n"
        "  --seed S           default 0\n"
        "  --eta X            DDIM eta (default 1, the training sampler's)\n"
        "  --batch-size B     trajectories per model pass (default 8)\n"
        "  --threads N        model threads (default 1)\n"
        "  --quiet            no progress bar\n"
        "\n"
        "output (safetensors, temporary file + rename): xhat F32 [N, T, D], reward F32 [N, T]\n"
        "(step 0 = the first, noisiest step), final_reward F32 [N], logp F32 [N, T] (eta > 0),\n"
        "timesteps I64 [T], prompt_index I64 [N], image_index I64 [N]; metadata: reward, seed,\n"
        "eta, steps, prompts, model, git_commit. 'sdpo table3 --input FILE' reads it.\n"
        "\n"
        "exit status: 0 done; 1 runtime failure; 2 usage error.\n",
        SDPO_EVAL_MAX_STEPS, sdpo_eval_reward_names());
}

static int parse_long(const char *s, long lo, long hi, long *out) {
    char *end;
    const long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

static void draw(double f, const char *label, void *user) {
    cli_progress_draw(user, f, label);
}

int cmd_record_trajectories(int argc, char **argv) {
    enum { O_RUN = 256, O_EPOCH, O_MODEL, O_LORA, O_STEPS, O_N, O_PROMPTS, O_REWARD, O_RDIR,
           O_OFFICIAL, O_SEED, O_ETA, O_BATCH, O_THREADS, O_QUIET, O_OUT };
    static const struct option opts[] = {
        {"run", required_argument, 0, O_RUN},         {"epoch", required_argument, 0, O_EPOCH},
        {"model", required_argument, 0, O_MODEL},     {"lora", required_argument, 0, O_LORA},
        {"steps", required_argument, 0, O_STEPS},     {"n", required_argument, 0, O_N},
        {"prompts", required_argument, 0, O_PROMPTS}, {"reward", required_argument, 0, O_REWARD},
        {"reward-model-dir", required_argument, 0, O_RDIR},
        {"official-scale", no_argument, 0, O_OFFICIAL},
        {"seed", required_argument, 0, O_SEED},       {"eta", required_argument, 0, O_ETA},
        {"batch-size", required_argument, 0, O_BATCH},{"threads", required_argument, 0, O_THREADS},
        {"quiet", no_argument, 0, O_QUIET},           {"out", required_argument, 0, O_OUT},
        {"help", no_argument, 0, 'h'},                {0, 0, 0, 0}};
    const char *cmd = "record-trajectories";
    const char *run = NULL, *model = NULL, *lora = NULL;
    int epoch = -1, quiet = 0;
    sdpo_record_config c;
    memset(&c, 0, sizeof c);
    c.prompts_file = "data/prompts/simple_animals_45.txt";
    c.T = 50;
    c.N = 64;
    c.sampler = (sdpo_eval_sampler_config){0, 1.0, SDPO_FINAL_XHAT, 8};
    c.threads = 1;
    long v;
    optind = 1;
    for (int o; (o = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        switch (o) {
        case O_RUN: run = optarg; break;
        case O_EPOCH:
            if (!parse_long(optarg, 0, 100000000, &v))
                return cli_usage_error(cmd, "--epoch '%s' is not an epoch", optarg);
            epoch = (int)v;
            break;
        case O_MODEL: model = optarg; break;
        case O_LORA: lora = optarg; break;
        case O_STEPS:
            if (!parse_long(optarg, 1, SDPO_EVAL_MAX_STEPS, &v))
                return cli_usage_error(cmd, "--steps '%s' is not in [1, %d]", optarg, SDPO_EVAL_MAX_STEPS);
            c.T = (int)v;
            break;
        case O_N:
            if (!parse_long(optarg, 1, 1000000, &v))
                return cli_usage_error(cmd, "--n '%s' is not in [1, 1000000]", optarg);
            c.N = (int)v;
            break;
        case O_PROMPTS: c.prompts_file = optarg; break;
        case O_REWARD:
            if (!sdpo_eval_reward_known(optarg))
                return cli_usage_error(cmd, "unknown reward '%s' (known: %s)", optarg, sdpo_eval_reward_names());
            c.reward = optarg;
            break;
        case O_RDIR: c.reward_dir = optarg; break;
        case O_OFFICIAL: c.official_scale = 1; break;
        case O_SEED:
            if (!parse_long(optarg, 0, 2147483647L, &v))
                return cli_usage_error(cmd, "--seed '%s' is not a non-negative integer", optarg);
            c.sampler.seed = (uint64_t)v;
            break;
        case O_ETA: {
            char *end;
            c.sampler.eta = strtod(optarg, &end);
            if (end == optarg || *end || !(c.sampler.eta >= 0.0 && c.sampler.eta <= 1.0))
                return cli_usage_error(cmd, "--eta '%s' is not in [0, 1]", optarg);
            break;
        }
        case O_BATCH:
            if (!parse_long(optarg, 1, 4096, &v))
                return cli_usage_error(cmd, "--batch-size '%s' is not in [1, 4096]", optarg);
            c.sampler.batch = (int)v;
            break;
        case O_THREADS:
            if (!parse_long(optarg, 1, 256, &v))
                return cli_usage_error(cmd, "--threads '%s' is not in [1, 256]", optarg);
            c.threads = (int)v;
            break;
        case O_QUIET: quiet = 1; break;
        case O_OUT: c.out_path = optarg; break;
        case 'h': help(); return SDPO_EXIT_OK;
        default: return cli_usage_error(cmd, "unknown option");
        }
    }
    if (optind < argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!c.out_path) return cli_usage_error(cmd, "--out is required");
    if (!c.reward) return cli_usage_error(cmd, "--reward is required");
    if (!run == !model) return cli_usage_error(cmd, "give exactly one of --run DIR and --model DIR");
    if (lora && !model) return cli_usage_error(cmd, "--lora goes with --model");
    if (epoch >= 0 && !run) return cli_usage_error(cmd, "--epoch goes with --run");

    sdpo_eval_targets tg = {NULL, 0, 0};
    /* a run: its checkpoint of --epoch, else its newest; a model: itself */
    sdpo_status rc = run ? sdpo_eval_targets_add_run(&tg, run, NULL, &epoch, epoch >= 0)
                         : sdpo_eval_targets_add_model(&tg, model, lora, lora ? "lora" : NULL, -1);
    const sdpo_eval_target *target = rc == SDPO_OK ? &tg.items[tg.n - 1] : NULL;
    int ret;
    if (rc != SDPO_OK) {
        ret = cli_report_error();
    } else {
        cli_progress bar;
        cli_progress_begin(&bar, quiet);
        c.progress = draw;
        c.progress_user = &bar;
        rc = sdpo_eval_record_trajectories(&c, target);
        cli_progress_end(&bar);
        if (rc != SDPO_OK) {
            ret = cli_report_error();
        } else {
            printf("%s\n", c.out_path);
            ret = SDPO_EXIT_OK;
        }
    }
    sdpo_eval_targets_free(&tg);
    return ret;
}

/* cli/cmd_train.c — `sdpo train`: SDPO, DDPO, REBEL or D3PO from a JSON config with
 * command-line overrides, checkpoints and resume (trainers/trainer.h). The help text's key
 * reference is generated from the same table that validates configs (trainers/train_config.h),
 * so every accepted key is documented and nothing undocumented is accepted. */
#include "cli/commands.h"
#include "trainers/train_config.h"
#include "trainers/train_log.h"
#include "trainers/trainer.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_FILES 16
#define MAX_SETS 256

/* Prints `text` wrapped at `width` columns, every line indented by `indent`. */
static void print_wrapped(const char *text, int indent, int width) {
    const char *p = text;
    while (*p) {
        int avail = width - indent, len = (int)strlen(p);
        int cut = len;
        if (len > avail) {
            cut = avail;
            while (cut > 0 && p[cut] != ' ') cut--;
            if (cut == 0) cut = avail;
        }
        printf("%*s%.*s\n", indent, "", cut, p);
        p += cut;
        while (*p == ' ') p++;
    }
}

static void help(void) {
    printf(
        "usage: sdpo train --config FILE [--config FILE ...] [--set KEY=VALUE ...] --out DIR\n"
        "       sdpo train --resume DIR [--set run.num_epochs=N ...]\n"
        "       sdpo train --config FILE [--set KEY=VALUE ...] --check\n"
        "\n"
        "Finetunes a diffusion policy with SDPO (the paper's Algorithm 1) or one of the baselines\n"
        "DDPO, REBEL, D3PO, on one sampling pipeline (DDIM, eta = 1, trailing timesteps) with\n"
        "fixed seeds. A run is a deterministic function of its config: the same config gives a\n"
        "byte-identical train.csv apart from its two timing columns, and --resume continues a\n"
        "stopped run exactly as if it had not stopped.\n"
        "\n"
        "options:\n"
        "  --config FILE    JSON config of nested objects, e.g. {\"train\": {\"method\": \"sdpo\"}};\n"
        "                   several files apply in order (later ones override)\n"
        "  --set KEY=VALUE  override one key after the files (repeatable); lists as 1,2,4\n"
        "  --out DIR        output directory; must not hold a run already\n"
        "  --resume DIR     continue the run in DIR from its newest complete checkpoint; only\n"
        "                   run.num_epochs, run.save_freq, run.keep_checkpoints may be --set\n"
        "  --check          validate, print the resolved config as JSON, and exit\n"
        "  --quiet          no progress bar (shown only when stderr is a terminal anyway)\n"
        "\n"
        "outputs:\n"
        "  DIR/config.json  the resolved config (every key that applies to the run)\n"
        "  DIR/train.csv    '#' metadata lines (method, seed, config hash, git commit, threads,\n"
        "                   build), then one row per epoch:\n"
        "                   %s\n"
        "                   reward_last_* is the reward of the last step's image (the training\n"
        "                   '50-step' curve), reward_first_* that of the first step's x-hat (the\n"
        "                   official '1-step' curve); loss and clipfrac are means over the epoch's\n"
        "                   minibatch passes; grad_norm the mean pre-clip norm per optimizer step;\n"
        "                   the last two columns are seconds (epoch wall time, reward decoding +\n"
        "                   scoring) and are the only nondeterministic ones\n"
        "  DIR/checkpoints/epoch-NNNNNN/  weights, AdamW state, every random stream's position,\n"
        "                   the running statistics; written to a temporary directory and renamed\n"
        "                   when complete; epoch 0 (the initial state) is always saved\n"
        "\n"
        "exit status: 0 done; 1 runtime failure (a non-finite loss, gradient or sample stops the\n"
        "run with a message, and the last good checkpoint stays); 2 usage or config error (the\n"
        "message names the key and the file or --set).\n"
        "\n"
        "where the paper and the official code differ, the default is the official code's:\n"
        "  reward.anchor_range       official: argmin over all steps; paper: [1, T-2] (Eq. 10)\n"
        "  train.gradient_accumulation_steps  official: grad_acc minibatches per optimizer step\n"
        "                            (Table 2); Algorithm 1's T updates per epoch = the number\n"
        "                            of minibatches per epoch\n"
        "  reward.log_first_step     official logs the first step's x-hat reward as '1-step'; the\n"
        "                            paper's 1-step curves are separate 1-step samples (eval)\n"
        "  reward.official_scale     official: raw PickScore/HPSv2 cosines and unnormalised\n"
        "                            ImageReward; false: the published scales\n"
        "  dense rewards             Eq. 11 as the official code computes it: a similarity-weighted\n"
        "                            average (the figure shows the sum), queried steps exact\n"
        "  baselines                 not in the official repo; their upstream codes decide:\n"
        "                            reward.final_image (x_0), sample.shared_init_noise (REBEL:\n"
        "                            independent), train.max_grad_norm (REBEL: no clipping); the\n"
        "                            REBEL loss is the intended per-pair sum, not RLCM's batch-sum bug\n"
        "\n"
        "config keys (type and range; default, per method where they differ; the methods and\n"
        "models that use it — setting a key a run does not use is an error):\n",
        SDPO_TRAIN_CSV_COLUMNS);
    char buf[1024];
    for (int k = 0; k < sdpo_train_config_num_keys(); k++) {
        sdpo_train_key_doc d;
        sdpo_train_config_key_doc(k, &d, buf, sizeof buf);
        printf("\n  %s\n", d.name);
        char line[512];
        snprintf(line, sizeof line, "%s%s%s; default %s; %s", d.type, d.range[0] ? " " : "",
                 d.range, d.defaults, d.applies);
        print_wrapped(line, 6, 96);
        print_wrapped(d.doc, 6, 96);
    }
}

/* ---- progress bar ------------------------------------------------------------------- */

typedef struct {
    double start;
    int first_epoch;       /* epochs already done when this process started */
    int drawn;             /* the bar is on screen (end it with a newline) */
} progress_state;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void progress_bar(const sdpo_train_progress *p, void *user) {
    progress_state *s = user;
    const double total = (double)(p->num_epochs - s->first_epoch);
    const double done = (double)(p->epoch - 1 - s->first_epoch) + p->epoch_fraction;
    const double frac = total > 0 ? done / total : 1.0;
    const double elapsed = now_s() - s->start;
    const double eta = frac > 0 ? elapsed * (1.0 - frac) / frac : 0.0;
    char bar[31];
    const int filled = (int)(frac * 30.0);
    for (int i = 0; i < 30; i++) bar[i] = i < filled ? '#' : '.';
    bar[30] = '\0';
    const int e = (int)eta;
    fprintf(stderr, "\r[%s] epoch %d/%d %-6s %5.1f%% ETA %02d:%02d:%02d", bar, p->epoch,
            p->num_epochs, p->phase, 100.0 * frac, e / 3600, e / 60 % 60, e % 60);
    fflush(stderr);
    s->drawn = 1;
}

/* ---- the command -------------------------------------------------------------------- */

int cmd_train(int argc, char **argv) {
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'}, {"set", required_argument, 0, 's'},
        {"out", required_argument, 0, 'o'},    {"resume", required_argument, 0, 'r'},
        {"check", no_argument, 0, 'k'},        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    const char *cmd = argv[0];
    const char *files[MAX_FILES], *sets[MAX_SETS], *out = NULL, *resume = NULL;
    int n_files = 0, n_sets = 0, check = 0, quiet = 0;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        switch (c) {
        case 'c':
            if (n_files == MAX_FILES) return cli_usage_error(cmd, "at most %d --config files", MAX_FILES);
            files[n_files++] = optarg;
            break;
        case 's':
            if (n_sets == MAX_SETS) return cli_usage_error(cmd, "at most %d --set options", MAX_SETS);
            sets[n_sets++] = optarg;
            break;
        case 'o': out = optarg; break;
        case 'r': resume = optarg; break;
        case 'k': check = 1; break;
        case 'q': quiet = 1; break;
        case 'h': help(); return SDPO_EXIT_OK;
        default: return cli_usage_error(cmd, "unknown option");
        }
    }
    if (optind < argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (resume && (n_files || out || check))
        return cli_usage_error(cmd, "--resume DIR takes no --config, --out or --check (the run's "
                               "own config is used)");
    if (!resume && !n_files) return cli_usage_error(cmd, "--config is required (or --resume)");
    if (!resume && !check && !out) return cli_usage_error(cmd, "--out is required");

    sdpo_trainer *t = NULL;
    if (resume) {
        for (int i = 0; i < n_sets; i++) {
            char key[256];
            snprintf(key, sizeof key, "%.*s", (int)strcspn(sets[i], "="), sets[i]);
            if (!sdpo_train_config_key_is_resumable(key))
                return cli_usage_error(cmd, "--set %s: only run.num_epochs, run.save_freq and "
                                       "run.keep_checkpoints can change when resuming", key);
        }
        if (sdpo_trainer_resume(resume, sets, n_sets, &t) != SDPO_OK) return cli_report_error();
    } else {
        sdpo_train_config *cfg = malloc(sizeof *cfg);
        if (!cfg) return cli_report_error();
        sdpo_train_config_defaults(cfg);
        sdpo_status rc = SDPO_OK;
        for (int i = 0; rc == SDPO_OK && i < n_files; i++)
            rc = sdpo_train_config_load_file(cfg, files[i]);
        for (int i = 0; rc == SDPO_OK && i < n_sets; i++) rc = sdpo_train_config_set(cfg, sets[i]);
        if (rc == SDPO_OK) rc = sdpo_train_config_finalize(cfg);
        if (rc != SDPO_OK) {
            free(cfg);
            return cli_usage_error(cmd, "%s", sdpo_last_error());
        }
        if (check) {
            char *json;
            rc = sdpo_train_config_to_json(cfg, &json);
            free(cfg);
            if (rc != SDPO_OK) return cli_report_error();
            printf("%s\n", json);
            free(json);
            return SDPO_EXIT_OK;
        }
        rc = sdpo_trainer_create(cfg, out, &t);
        free(cfg);
        if (rc != SDPO_OK) return cli_report_error();
    }
    progress_state ps = {now_s(), sdpo_trainer_epochs_done(t), 0};
    const int show = !quiet && isatty(STDERR_FILENO);
    sdpo_status rc = sdpo_trainer_run(t, show ? progress_bar : NULL, &ps);
    if (ps.drawn) fprintf(stderr, "\n");
    const int epochs = sdpo_trainer_epochs_done(t);
    sdpo_trainer_free(t);
    if (rc != SDPO_OK) return cli_report_error();
    fprintf(stderr, "sdpo train: %d epochs done; wrote %s/train.csv\n", epochs,
            resume ? resume : out);
    return SDPO_EXIT_OK;
}

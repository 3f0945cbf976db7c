/* cli/main.c — `sdpo`: one binary, one subcommand per job (see commands.h). */
#include "cli/commands.h"
#include "core/error.h"

#include <stdarg.h>
#include <string.h>

static const sdpo_command commands[] = {
    {"schedule", "print the DDIM timesteps, alphas and sigmas of a schedule", cmd_schedule},
    {"toy-trajectories", "sample DDIM trajectories of an exact Gaussian-mixture model", cmd_toy},
    {"dense-reward", "predict dense per-step rewards from recorded trajectories (Eq. 9-11)",
     cmd_dense_reward},
    {"table3", "reward-prediction similarity of every strategy (the paper's Table 3)",
     cmd_table3},
    {"train", "finetune with SDPO, DDPO, REBEL or D3PO from a config (checkpoints, resume)",
     cmd_train},
    {"run-unet", "run the UNet once on tensors from a safetensors file (port debugging)",
     cmd_run_unet},
    {"score", "score PNG images with a reward (aesthetic, imagereward, hpsv2, pickscore, jpeg)", cmd_score},
    {"inspect-model", "list a diffusers model folder's components, parameters and weight files",
     cmd_inspect_model},
    {"run-text-encoder", "prompts -> CLIP ids -> the SD text conditioning (prompt_embeds)",
     cmd_run_text_encoder},
    {"run-vae-decode", "decode latents to images with the VAE of a model folder",
     cmd_run_vae_decode},
    {"claims", "check the paper's claims on our tables (claims.csv: pass/fail/not run)", cmd_claims},
    {"figures", "the paper's Fig. 3-11 from run dirs and eval summaries (gnuplot PNGs)", cmd_figures},
    {"grid", "image grid of eval PNGs: methods x step counts (Fig. 1, 13-18)", cmd_grid},
    {"table1", "paper Table 1 (table1.csv/.md) from sdpo eval summary.csv dirs", cmd_table1},
    {"compare", "our Table 1 / Table 3 CSV beside the paper's, with differences", cmd_compare},
    {"eval", "sample unseen prompts at 1/2/4/8/16/50 steps per checkpoint and score every image",
     cmd_eval},
    {"record-trajectories", "sample trajectories scoring x-hat at every step (input of table3)",
     cmd_record_trajectories},
    {"world", "render the micro world: captioned emoji scenes (grid PNG or dataset)", cmd_world},
    {"pretrain-micro", "pretrain the micro text-to-image model on the micro world (resumable)",
     cmd_pretrain_micro},
    {"train-micro-rewards", "train the micro CLIP and micro quality predictor on the micro world",
     cmd_train_micro_rewards},
    {"repro", "the whole study on the micro world: train, eval, tables, claims, figures, grids",
     cmd_repro},
    {"regress", "compare a run's CSVs with committed golden files (CI regression check)",
     cmd_regress},
};
static const int n_commands = (int)(sizeof commands / sizeof commands[0]);

static void usage(FILE *f) {
    fprintf(f,
            "usage: sdpo <command> [options]\n"
            "\n"
            "sdpo-harness: reproduce Stepwise Diffusion Policy Optimization (SDPO) and its\n"
            "baselines DDPO, REBEL and D3PO. 'sdpo <command> --help' documents each command.\n"
            "\n"
            "commands:\n");
    for (int i = 0; i < n_commands; i++)
        fprintf(f, "  %-18s %s\n", commands[i].name, commands[i].summary);
}

int cli_report_error(void) {
    fprintf(stderr, "sdpo: error: %s\n", sdpo_last_error());
    return SDPO_EXIT_FAIL;
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "sdpo %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "; see 'sdpo %s --help'\n", cmd);
    va_end(ap);
    return SDPO_EXIT_USAGE;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return SDPO_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return SDPO_EXIT_OK;
    }
    for (int i = 0; i < n_commands; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "sdpo: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return SDPO_EXIT_USAGE;
}

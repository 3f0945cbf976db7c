/* cli/commands.h — the `sdpo` subcommands. Each takes argc/argv starting at the subcommand
 * name, parses with getopt_long, and returns the process exit status:
 * 0 success, 1 runtime failure (message printed), 2 usage error. Only this layer exits. */
#ifndef SDPO_CLI_COMMANDS_H
#define SDPO_CLI_COMMANDS_H

#include <stdio.h>

enum { SDPO_EXIT_OK = 0, SDPO_EXIT_FAIL = 1, SDPO_EXIT_USAGE = 2 };

typedef struct {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} sdpo_command;

int cmd_schedule(int argc, char **argv);
int cmd_toy(int argc, char **argv);
int cmd_dense_reward(int argc, char **argv);
int cmd_table3(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_run_unet(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_inspect_model(int argc, char **argv);
int cmd_run_text_encoder(int argc, char **argv);
int cmd_run_vae_decode(int argc, char **argv);
int cmd_claims(int argc, char **argv);
int cmd_figures(int argc, char **argv);
int cmd_grid(int argc, char **argv);
int cmd_table1(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_record_trajectories(int argc, char **argv);
int cmd_world(int argc, char **argv);
int cmd_pretrain_micro(int argc, char **argv);
int cmd_train_micro_rewards(int argc, char **argv);
int cmd_repro(int argc, char **argv);
int cmd_regress(int argc, char **argv);

/* Prints "sdpo: <last library error>" to stderr and returns SDPO_EXIT_FAIL. */
int cli_report_error(void);

/* Prints "sdpo <cmd>: <msg>; see 'sdpo <cmd> --help'" and returns SDPO_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

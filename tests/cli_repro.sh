#!/usr/bin/env bash
# `sdpo repro` plan handling (cli/cmd_repro.c): bad plans are refused before anything runs,
# with exit 2 and a message naming the plan file and field; a failing stage stops the study
# with exit 1 naming the stage and its log; commands.sh lists every stage as a command.
set -u
SDPO=${1:?usage: cli_repro.sh path/to/sdpo}
. tests/cli_lib.sh
plan() { printf '%s\n' "$1" >"$tmp/plan.json"; }
P=(--plan "$tmp/plan.json" --quiet)

expect 2 "exclude each other" "$SDPO" repro --full --smoke
expect 2 "--threads '0'" "$SDPO" repro --threads 0
plan '{"runs": [}'
expect 2 "$tmp/plan.json: line 1" "$SDPO" repro "${P[@]}" --out "$tmp/o"
plan '{"runz": []}'
expect 2 "$tmp/plan.json: runz is not a plan field" "$SDPO" repro "${P[@]}" --out "$tmp/o"
plan '{"runs": []}'
expect 2 "$tmp/plan.json: runs must be a non-empty array" "$SDPO" repro "${P[@]}" --out "$tmp/o"
plan '{"runs": [{"name": "a/b", "configs": ["x.json"]}]}'
expect 2 "runs[0].name must be a plain directory name" "$SDPO" repro "${P[@]}" --out "$tmp/o"
plan '{"runs": [{"name": "a", "configs": []}]}'
expect 2 "runs[0].configs must be a non-empty array" "$SDPO" repro "${P[@]}" --out "$tmp/o"
plan '{"runs": [{"name": "a", "configs": ["x.json"], "set": ["nokey"]}]}'
expect 2 "runs[0].set must hold KEY=VALUE" "$SDPO" repro "${P[@]}" --out "$tmp/o"
plan '{"runs": [{"name": "a", "configs": ["x.json"]}], "eval": {"prompts": "data/prompts/dpok_unseen_prompts_4.txt", "steps": [1], "rewards": ["brightness"]}}'
expect 2 "eval is given but no run has \"eval\": true" "$SDPO" repro "${P[@]}" --out "$tmp/o"
plan '{"runs": [{"name": "a", "configs": ["x.json"], "eval": true}], "eval": {"prompts": "data/prompts/dpok_unseen_prompts_4.txt", "steps": [0], "rewards": ["brightness"]}}'
expect 2 "eval.steps must hold integers in [1, 1000]" "$SDPO" repro "${P[@]}" --out "$tmp/o"
plan '{"runs": [{"name": "a", "configs": ["x.json"], "eval": true}], "eval": {"steps": [1], "rewards": ["brightness"]}}'
expect 2 "eval.prompts is required" "$SDPO" repro "${P[@]}" --out "$tmp/o"
plan '{"runs": [{"name": "a", "configs": ["x.json"]}], "table3": {"model": "m", "prompts": "p", "reward": "r", "steps": 1}}'
expect 2 "table3[0].steps must be an integer in [2, 1000]" "$SDPO" repro "${P[@]}" --out "$tmp/o"
[ ! -e "$tmp/o" ] && ok || bad "a refused plan created $tmp/o"

# A failing stage stops the study: exit 1, naming the stage and its log.
plan '{"runs": [{"name": "a", "configs": ["'"$tmp"'/missing.json"]}, {"name": "b", "configs": ["configs/toy/ddpo.json"]}]}'
expect 1 "stage train-a failed" "$SDPO" repro "${P[@]}" --out "$tmp/o"
grep -qF "$tmp/o/logs/train-a.log" "$tmp/err" && ok || bad "failure message lacks the log path: $(cat "$tmp/err")"
[ ! -e "$tmp/o/train/b" ] && ok || bad "the stage after a failed one ran"
grep -qF "build/sdpo train --config $tmp/missing.json" "$tmp/o/commands.sh" && ok || bad "commands.sh: $(cat "$tmp/o/commands.sh")"

# A toy study end to end (the plan format without the micro model): two runs, reports.
plan '{"runs": [{"name": "sdpo", "configs": ["configs/toy/sdpo.json"], "set": ["run.num_epochs=2"]},
                {"name": "ddpo", "configs": ["configs/toy/ddpo.json"], "set": ["run.num_epochs=2"]}]}'
expect 0 "" "$SDPO" repro "${P[@]}" --out "$tmp/t"
for f in train/sdpo/train.csv train/ddpo/train.csv claims.csv summary.md figures/fig3.png commands.sh; do
  [ -s "$tmp/t/$f" ] && ok || bad "toy study lacks $f"
done
grep -q "^## Claims: " "$tmp/out" && ok || bad "summary not printed: $(head -5 "$tmp/out")"
# Rerunning on a finished study resumes (nothing to train) and redoes the reports.
expect 0 "" "$SDPO" repro "${P[@]}" --out "$tmp/t"
grep -qF -- "train --resume $tmp/t/train/sdpo" "$tmp/t/commands.sh" && ok || bad "rerun did not resume: $(cat "$tmp/t/commands.sh")"
[ "$(grep -vc '^#' "$tmp/t/train/sdpo/train.csv")" -eq 3 ] && ok || bad "rerun changed train.csv rows"

finish

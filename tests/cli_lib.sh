# tests/cli_lib.sh — the harness every tests/cli_*.sh sources (from the repository root, where
# CTest runs them): a temporary directory $tmp removed at exit, pass/fail counters, and
#   ok / bad MESSAGE            count a pass / a failure (printed as "FAIL: MESSAGE")
#   check 'SHELL TEST' MESSAGE  ok if the test (eval'd) succeeds, else bad MESSAGE
#   expect CODE FRAGMENT CMD…   runs CMD with stdout → $tmp/out, stderr → $tmp/err; passes when
#                               it exits CODE and FRAGMENT ('' = anything) is in its stderr
#                               (in stderr or stdout when EXPECT_STDOUT=1)
#   finish                      prints "NAME: P passed, F failed in S s"; its status is the
#                               script's (0 only when nothing failed)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
cli_lib_start=$SECONDS
EXPECT_STDOUT=${EXPECT_STDOUT:-0}

ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
check() { if eval "$1"; then ok; else bad "$2"; fi; }

expect() {
  local want=$1 frag=$2; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"; local got=$?
  if [ "$got" -ne "$want" ]; then bad "'$*' exited $got, want $want; stderr: $(cat "$tmp/err")"; return; fi
  local where=("$tmp/err")
  [ "$EXPECT_STDOUT" = 1 ] && where+=("$tmp/out")
  if [ -n "$frag" ] && ! grep -qF -- "$frag" "${where[@]}"; then
    bad "'$*' output lacks '$frag': $(cat "${where[@]}")"; return
  fi
  ok
}

finish() {
  echo "$(basename "$0" .sh): $pass passed, $fail failed in $((SECONDS - cli_lib_start)) s"
  [ "$fail" -eq 0 ]
}

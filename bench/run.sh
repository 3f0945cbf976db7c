#!/usr/bin/env bash
# bench/run.sh — runs bench_ops (ours) and bench/peer_torch.py (PyTorch) at the same thread count
# and prints both CSVs, then one line per op/shape with the ratios ours/torch (of the median
# rates, and of the fastest calls) and ours/ceiling (ceiling = the sgemm_ceiling row of the
# same run: OpenBLAS for ours, torch.mm for torch).
#
#   BUILD=build-dir PY=/path/to/venv/bin/python THREADS=2 REPS=10 WARMUP=3 bash bench/run.sh
#
# Run from the repository root after building the bench_ops target (bench/README.md).
# OMP_WAIT_POLICY defaults to passive: with spinning OpenMP threads, OpenBLAS's pthreads and
# libgomp's take turns on the cores between loops and sgemm calls (README).
set -euo pipefail
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

BUILD=${BUILD:-build}
PY=${PY:-python3}
THREADS=${THREADS:-2}
REPS=${REPS:-10}
WARMUP=${WARMUP:-3}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -m) $(nproc) cpus, load average $(load)"
"$BUILD/bench_ops" --threads "$THREADS" --reps "$REPS" --warmup "$WARMUP" | tee "$tmp/ours.csv"
"$PY" bench/peer_torch.py --threads "$THREADS" --reps "$REPS" --warmup "$WARMUP" 2>/dev/null |
    tee "$tmp/torch.csv"
echo "# load average after: $(load)"
echo
# columns: impl,op,shape,threads,gflop,median_ms,min_ms,gflops
awk -F, '
    /^#/ || $1 == "impl" { next }
    FNR == NR {
        torch[$2 "," $3] = $8; tmin[$2 "," $3] = $7
        if ($2 == "sgemm_ceiling") tceil = $8
        next
    }
    $2 == "sgemm_ceiling" { oceil = $8 }
    { key[++n] = $2 "," $3; ours[n] = $8; omin[n] = $7 }
    END {
        print "op,shape,ours_gflops,torch_gflops,ours/torch,ours/torch@min," \
              "ours/ours_ceiling,torch/torch_ceiling"
        for (i = 1; i <= n; i++) {
            k = key[i]
            if (!(k in torch)) {
                printf "%s,%.2f,NA,NA,NA,%.2f,NA\n", k, ours[i], ours[i] / oceil
                continue
            }
            printf "%s,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f\n", k, ours[i], torch[k], ours[i] / torch[k],
                   tmin[k] / omin[i], ours[i] / oceil, torch[k] / tceil
        }
    }' "$tmp/torch.csv" "$tmp/ours.csv"

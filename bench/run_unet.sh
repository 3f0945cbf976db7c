#!/usr/bin/env bash
# bench/run_unet.sh — runs bench_unet (ours) and bench/peer_unet_torch.py (diffusers on PyTorch)
# at the same thread count, prints both CSVs, then one line per config/mode with the ratio of
# the median wall times ours/torch (> 1: ours is slower) and of the fastest calls.
#
#   BUILD=build-dir PY=/work/venv-ref/bin/python THREADS=2 REPS=5 WARMUP=2 bash bench/run_unet.sh
#
# Run from the repository root after building the bench_unet target (bench/README.md, "UNet").
set -euo pipefail

BUILD=${BUILD:-build}
PY=${PY:-python3}
THREADS=${THREADS:-2}
REPS=${REPS:-5}
WARMUP=${WARMUP:-2}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -m) $(nproc) cpus, load average $(load)"
"$BUILD/bench_unet" --threads "$THREADS" --reps "$REPS" --warmup "$WARMUP" | tee "$tmp/ours.csv"
HF_HUB_OFFLINE=1 "$PY" bench/peer_unet_torch.py --threads "$THREADS" --reps "$REPS" \
    --warmup "$WARMUP" 2>/dev/null | tee "$tmp/torch.csv"
echo "# load average after: $(load)"
echo
# columns: impl,config,mode,shape,threads,params,median_ms,min_ms
awk -F, '
    /^#/ || $1 == "impl" { next }
    FNR == NR { tmed[$2 "," $3] = $7; tmin[$2 "," $3] = $8; next }
    { key[++n] = $2 "," $3; omed[n] = $7; omin[n] = $8 }
    END {
        print "config,mode,ours_ms,torch_ms,ours/torch,ours/torch@min"
        for (i = 1; i <= n; i++) {
            k = key[i]
            if (!(k in tmed)) { printf "%s,%.2f,NA,NA,NA\n", k, omed[i]; continue }
            printf "%s,%.2f,%.2f,%.2f,%.2f\n", k, omed[i], tmed[k], omed[i] / tmed[k],
                   omin[i] / tmin[k]
        }
    }' "$tmp/torch.csv" "$tmp/ours.csv"

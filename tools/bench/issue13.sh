#!/usr/bin/env bash
# Issue 13's transformer figures in one run, each repeat back to back (docs/benchmarks.md, "Issue 13"):
# diffusers vs one Diffuse rank at the same threads (fp32 linears in oneDNN, the default, and in OpenBLAS,
# diffuse.linear.backend = blas, the engine before the change), Ring 2 against Ulysses 2 (1 thread per
# rank), and Ring 2 with the joint (text) partials all-gathered (--before: a distribution built before
# that change) against the new joint slices, linears held equal (blas) so only the Ring scheme differs.
# Prints the CPU and the load average before every run. Needs a diffusers checkout's src/ on PYTHONPATH.
#
# Usage (repository root, after mvn -DskipTests package -pl distribution -am):
#   PYTHONPATH=/work/diffusers-src/src tools/bench/issue13.sh [--before DIST_DIR] [--repeat 2] [--threads 2]
#       [--warmup 1] [--iterations 3] [--work DIR]
set -euo pipefail
THREADS=2 WARMUP=1 ITERATIONS=3 REPEAT=2 WORK=/tmp/diffuse-bench-transformer-full BEFORE=
while [ $# -gt 0 ]; do
  case "$1" in
    --before) BEFORE=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --iterations) ITERATIONS=$2; shift 2 ;;
    --repeat) REPEAT=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
AFTER=distribution/target/diffuse
BENCH_PY=tools/bench/transformer_diffusers.py
[ -x "$AFTER/bin/diffuse" ] || { echo "build the distribution first: mvn -B -q -DskipTests package -pl distribution -am" >&2; exit 2; }
if [ ! -f "$WORK/inputs.safetensors" ]; then
  python3 "$BENCH_PY" make --out "$WORK" --case full
fi
load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(load)"

run() {  # run DIST LABEL ARGS... : one bench row; the median in $MEDIAN, MB sent in $MB
  local dist=$1 label=$2; shift 2
  local l out row
  l=$(load)
  out=$("$dist/bin/diffuse" bench transformer --model "$WORK" --inputs "$WORK/inputs.safetensors" --warmup "$WARMUP" \
        --iterations "$ITERATIONS" --label "$label" "$@" 2>&1) || { echo "$out" >&2; exit 1; }
  row=$(echo "$out" | sed 's/^\[rank 0\] //' | grep "^| $label |")
  echo "$row load $l"
  MEDIAN=$(echo "$row" | awk -F'|' '{print $4}' | xargs)
  MB=$(echo "$row" | awk -F'|' '{print $7}' | xargs)
}
ratio() { echo "scale=3; $1 / $2" | bc; }

echo "| plan | dtype | median ms | mean ms | min ms | MB sent / fwd / rank | collectives / fwd | RSS rank 0 MiB before -> after | RSS all ranks MiB after |"
for r in $(seq 1 "$REPEAT"); do
  echo "## repeat $r of $REPEAT ($THREADS threads, warm-up $WARMUP, $ITERATIONS timed forwards)"
  l=$(load)
  py=$(python3 "$BENCH_PY" time --out "$WORK" --threads "$THREADS" --warmup "$WARMUP" --iterations "$ITERATIONS")
  echo "$(echo "$py" | grep '^| diffusers') load $l"
  PY=$(echo "$py" | grep '^| diffusers' | awk -F'|' '{print $4}' | xargs)
  run "$AFTER" "1 rank x $THREADS, linears onednn" --threads "$THREADS"; ONE=$MEDIAN
  run "$AFTER" "1 rank x $THREADS, linears blas" --threads "$THREADS" -C diffuse.linear.backend=blas; ONE_BLAS=$MEDIAN
  run "$AFTER" "ulysses 2 x 1, onednn" --nproc 2 --ulysses 2 --threads 1 --vae-parallel 1; U2=$MEDIAN
  run "$AFTER" "ring 2 x 1, onednn" --nproc 2 --ring 2 --threads 1 --vae-parallel 1; R2=$MEDIAN
  run "$AFTER" "ring 2 x 1, blas, joint slices" --nproc 2 --ring 2 --threads 1 --vae-parallel 1 \
      -C diffuse.linear.backend=blas; R2_BLAS=$MEDIAN; R2_MB=$MB
  if [ -n "$BEFORE" ]; then
    run "$BEFORE" "ring 2 x 1, blas, joint partials all-gathered (before)" --nproc 2 --ring 2 --threads 1 \
        --vae-parallel 1; R2_OLD=$MEDIAN; R2_OLD_MB=$MB
  fi
  echo "ratios: 1 rank onednn / diffusers $(ratio "$ONE" "$PY"); 1 rank blas / diffusers $(ratio "$ONE_BLAS" "$PY");" \
       "onednn / blas $(ratio "$ONE" "$ONE_BLAS"); ring 2 / ulysses 2 $(ratio "$R2" "$U2")"
  if [ -n "$BEFORE" ]; then
    echo "ring 2 joint slices / joint all-gather (both blas): $(ratio "$R2_BLAS" "$R2_OLD"); MB sent / fwd / rank $R2_MB (before $R2_OLD_MB)"
  fi
done
echo "load after: $(load)"

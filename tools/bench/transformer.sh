#!/usr/bin/env bash
# Transformer forward benchmark: diffusers and Diffuse on the same mid-size random model and inputs,
# in the same run, one after the other, with the same intra-op thread count; then the sequence-parallel
# plans of Diffuse (ranks as processes with one thread each) against one rank with the same total threads.
# Multi-rank plans pass --vae-parallel 1 (the transformer needs no VAE executor; the default, all
# ranks, would look up patch-parallel). See docs/benchmarks.md. Needs a diffusers checkout's src/ on PYTHONPATH (tools/reference/README.md).
#
# Usage (from the repository root):
#   PYTHONPATH=/tmp/diffusers/src tools/bench/transformer.sh [--case full|padded] [--threads 2] [--warmup 1]
#       [--iterations 3] [--repeat 3] [--work DIR] [--no-usp] [--rss N]
#   --rss N: instead of timing, run Diffuse for N forwards (no warm-up) and print its RSS every 10.
set -euo pipefail
CASE=full THREADS=2 WARMUP=1 ITERATIONS=3 REPEAT=3 USP=1 RSS=0 WORK=
while [ $# -gt 0 ]; do
  case "$1" in
    --case) CASE=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --iterations) ITERATIONS=$2; shift 2 ;;
    --repeat) REPEAT=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    --no-usp) USP=0; shift ;;
    --rss) RSS=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
WORK=${WORK:-/tmp/diffuse-bench-transformer-$CASE}
DIFFUSE=distribution/target/diffuse/bin/diffuse
BENCH_PY=tools/bench/transformer_diffusers.py

if [ ! -x "$DIFFUSE" ]; then
  echo "building the distribution (mvn -B -o -q -DskipTests package)"
  mvn -B -o -q -DskipTests package
fi
if [ ! -f "$WORK/inputs.safetensors" ]; then
  python3 "$BENCH_PY" make --out "$WORK" --case "$CASE"
fi
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB RAM, load $(cut -d' ' -f1-3 /proc/loadavg)"

jbench() {  # jbench LABEL ARGS... : one Diffuse bench run; prints its row and extra lines, returns the median in $MEDIAN
  local label=$1; shift
  local out
  out=$("$DIFFUSE" bench transformer --model "$WORK" --inputs "$WORK/inputs.safetensors" --warmup "$WARMUP" \
        --iterations "$ITERATIONS" --label "$label" "$@" 2>&1) || { echo "$out" >&2; exit 1; }
  echo "$out" | sed 's/^\[rank 0\] //' | grep -v '^\[launcher\]' | grep -v '\[Gloo\]' | grep -v '^|---' | grep -v '^| plan'
  MEDIAN=$(echo "$out" | sed 's/^\[rank 0\] //' | grep "^| $label |" | awk -F'|' '{print $4}' | xargs)
}

if [ "$RSS" -gt 0 ]; then
  "$DIFFUSE" bench transformer --model "$WORK" --inputs "$WORK/inputs.safetensors" --warmup 0 --iterations "$RSS" \
      --rss-every 10 --threads "$THREADS" --label "Diffuse, 1 rank x $THREADS threads, $RSS forwards"
  exit 0
fi

echo "| plan | dtype | median ms | mean ms | min ms | MB sent / fwd / rank | collectives / fwd | RSS rank 0 MiB before -> after | RSS all ranks MiB after |"
echo "|---|---|---|---|---|---|---|---|---|"
for r in $(seq 1 "$REPEAT"); do
  echo "## repeat $r of $REPEAT (case $CASE, $THREADS threads, warm-up $WARMUP, $ITERATIONS timed forwards; load $(cut -d' ' -f1 /proc/loadavg))"
  py=$(python3 "$BENCH_PY" time --out "$WORK" --threads "$THREADS" --warmup "$WARMUP" --iterations "$ITERATIONS")
  echo "$py" | grep '^| diffusers'
  PY_MEDIAN=$(echo "$py" | grep '^| diffusers' | awk -F'|' '{print $4}' | xargs)
  jbench "Diffuse, 1 rank x $THREADS threads" --threads "$THREADS"
  ONE=$MEDIAN
  echo "ratio Diffuse / diffusers (median, $THREADS threads): $(echo "scale=3; $ONE / $PY_MEDIAN" | bc)"
  if [ "$USP" = 1 ]; then
    jbench "ulysses 2 (2 ranks x 1 thread)" --nproc 2 --ulysses 2 --threads 1 --vae-parallel 1
    U2=$MEDIAN
    jbench "ring 2 (2 ranks x 1 thread)" --nproc 2 --ring 2 --threads 1 --vae-parallel 1
    R2=$MEDIAN
    jbench "usp 2x2 (4 ranks x 1 thread, oversubscribed)" --nproc 4 --ulysses 2 --ring 2 --threads 1 --vae-parallel 1
    echo "ratio ulysses 2 / 1 rank x $THREADS threads: $(echo "scale=3; $U2 / $ONE" | bc); ring 2 / 1 rank: $(echo "scale=3; $R2 / $ONE" | bc)"
  fi
done

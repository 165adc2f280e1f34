#!/usr/bin/env bash
# Step-cache benchmark: the same T2V generation (mid-size random transformer, tools/bench/cache_pipeline.py)
# uncached and with step-cache policies, one after the other in the same run; prints per run the
# end-to-end wall time, the process's CPU time, the denoise time, the forwards skipped and the max |latents - uncached latents|;
# the uncached run is repeated last.
# See docs/benchmarks.md. Needs a diffusers checkout's src/ on PYTHONPATH to build the model once.
#
# Usage (from the repository root):
#   PYTHONPATH=/tmp/diffusers/src tools/bench/cache_bench.sh [--steps 50] [--size 256] [--frames 5] [--threads 2]
#       [--work DIR] [POLICY:THRESHOLD ...]      (default: first-block:0.05 first-block:0.1 first-block:0.2)
set -euo pipefail
STEPS=50 SIZE=256 FRAMES=5 THREADS=2 WORK=/tmp/diffuse-bench-cache RUNS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) STEPS=$2; shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    --frames) FRAMES=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) RUNS+=("$1"); shift ;;
  esac
done
[ ${#RUNS[@]} -gt 0 ] || RUNS=(first-block:0.05 first-block:0.1 first-block:0.2)
DIFFUSE=distribution/target/diffuse/bin/diffuse
if [ ! -x "$DIFFUSE" ]; then
  echo "building the distribution (mvn -B -o -q -DskipTests package)"
  mvn -B -o -q -DskipTests package
fi
if [ ! -f "$WORK/embeds.safetensors" ]; then
  PYTHONPATH="${PYTHONPATH:-}:tools/reference:tools/bench" python3 tools/bench/cache_pipeline.py --out "$WORK"
fi
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "T2V ${SIZE}x${SIZE}, $FRAMES frames, $STEPS steps, guidance 6, $THREADS threads"

run() {  # run LABEL CACHE-FLAGS...
  local label=$1; shift
  local log="$WORK/$label.log" start end
  start=$(date +%s.%N)
  # CPU seconds (user + system) of the process: other jobs on a shared host disturb them far less than wall time.
  JAVA_OPTS=-Dio.diffuse.log.level=INFO /usr/bin/time -f '%U %S' -o "$WORK/$label.cpu" "$DIFFUSE" generate --model "$WORK" --prompt-embeds "$WORK/embeds.safetensors" \
    --height "$SIZE" --width "$SIZE" --num-frames "$FRAMES" --num-inference-steps "$STEPS" --guidance-scale 6 --seed 1 \
    --threads "$THREADS" --output-tensors "$WORK/$label.safetensors" "$@" > "$log" 2>&1
  end=$(date +%s.%N)
  local denoise skipped
  denoise=$(grep -o 'denoise done in [0-9.]* s' "$log" | tail -1 | grep -o '[0-9.]*' || echo "?")
  skipped=$(grep -c ': reuse' "$log" || true)
  local diff
  diff=$(python3 -c "
from safetensors.torch import load_file
a = load_file('$WORK/$label.safetensors')['latents']; b = load_file('$WORK/none.safetensors')['latents']
print(f'{(a - b).abs().max().item():.3g}')")
  local cpu
  cpu=$(awk '{printf "%.1f", $1 + $2}' "$WORK/$label.cpu")
  printf '| %s | %.1f | %s | %s | %s of %d | %s | load %s |\n' "$label" "$(echo "$end - $start" | bc)" "$cpu" "$denoise" \
    "$skipped" $((2 * STEPS)) "$diff" "$(cut -d' ' -f1 /proc/loadavg)"
}

echo "| run | end to end (s) | CPU (s) | denoise (s) | forwards skipped | max abs latent diff to uncached | |"
echo "|---|---|---|---|---|---|---|"
run none
for r in "${RUNS[@]}"; do
  run "${r%%:*}-${r##*:}" -C "cache.policy=${r%%:*}" -C "cache.threshold=${r##*:}"
done
# Uncached again: on a shared machine the drift between the two uncached runs bounds what the others can show.
run none-again

#!/usr/bin/env bash
# Time to the first denoising step on 1, 2 and 4 local ranks, before and after a change, alternating
# per run (docs/benchmarks.md, "Fast start"); also the time a bad request takes to fail, and the first
# start of an installation (which writes its class archive). Prints the CPU and load before each run.
#
# Usage (repository root): tools/bench/fast_start.sh BEFORE_DIST [--rounds 3]
#   BEFORE_DIST: an assembled distribution folder of the engine before the change (e.g. a worktree of
#   an earlier commit after `mvn -B -q -o -DskipTests package -pl distribution -am`); after = this tree's.
set -euo pipefail
BEFORE=$1; shift
ROUNDS=3
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
AFTER=distribution/target/diffuse
[ -x "$AFTER/bin/diffuse" ] || { echo "build the distribution first: mvn -B -q -DskipTests package -pl distribution -am" >&2; exit 2; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(java -version 2>&1 | head -1)"
# Both sides warm: natives unpacked, the after side's class archive made (its first start is timed below).
"$BEFORE/bin/diffuse" --version >/dev/null
"$AFTER/bin/diffuse" --version >/dev/null
for round in $(seq 1 "$ROUNDS"); do
  for n in 1 2 4; do
    for side in before after; do
      dist=$BEFORE; [ "$side" = after ] && dist=$AFTER
      printf '%s round=%s load=%s ' "$side" "$round" "$(cut -d' ' -f1 /proc/loadavg)"
      python3 tools/bench/first_step.py "$dist/bin/diffuse" "$n"
    done
  done
done
echo "## a bad request (--num-frames 10) on 2 ranks: wall seconds until the one-line error"
for round in $(seq 1 "$ROUNDS"); do
  for side in before after; do
    dist=$BEFORE; [ "$side" = after ] && dist=$AFTER
    /usr/bin/time -f "$side %e s" "$dist/bin/diffuse" generate --num-frames 10 --nproc 2 --output /tmp/fast-start-bad.mp4 \
      2>&1 >/dev/null | tail -1 || true
  done
done
echo "## the first start of an installation (no class archive yet) and the next one: bin/diffuse --version"
cache=$(mktemp -d)
for i in 1 2; do
  XDG_CACHE_HOME=$cache /usr/bin/time -f "start $i: %e s wall, %U s user" "$AFTER/bin/diffuse" --version 2>&1 >/dev/null | tail -1 || true
done
rm -rf "$cache"

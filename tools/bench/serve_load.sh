#!/usr/bin/env bash
# Serving under load: for each scheduling policy, starts one `diffuse serve` on N ranks, loads it with
# `diffuse bench serve` at each concurrency, stops it, and writes one Markdown table of all runs.
# Usage (repository root; builds distribution/target/diffuse if it is missing):
#   tools/bench/serve_load.sh [--ranks 2] [--threads 1] [--policy default|latency|throughput|auto]...
#       [--lane-size L] [--concurrency 1,2,4,8] [--requests 16] [--model builtin:demo] [--out DIR]
#       [-- BENCH_SERVE_OPTIONS...]   (request body, e.g. --size 128x128 --frames 17 --steps 8 --seed 1)
# Policy `default` passes no policy key (the server's own behaviour; before lanes: one job at a time);
# any other is passed as -C diffuse.serve.scheduler.policy=P (and --lane-size as ...lane-size=L).
set -euo pipefail
RANKS=2; THREADS=1; POLICIES=(); LANE_SIZE=""; LEVELS=1,2,4,8; REQUESTS=16; MODEL=builtin:demo; OUT=""
BODY=(--size 128x128 --frames 17 --steps 8 --seed 1)
while [ $# -gt 0 ]; do
  case "$1" in
    --ranks) RANKS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --policy) POLICIES+=("$2"); shift 2 ;;
    --lane-size) LANE_SIZE=$2; shift 2 ;;
    --concurrency) LEVELS=$2; shift 2 ;;
    --requests) REQUESTS=$2; shift 2 ;;
    --model) MODEL=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --) shift; BODY=("$@"); break ;;
    *) echo "error: unknown option $1 (see the usage at the top of $0)" >&2; exit 2 ;;
  esac
done
[ ${#POLICIES[@]} -gt 0 ] || POLICIES=(default)
command -v jq >/dev/null || { echo "error: jq is needed for the table (apt-get install jq)" >&2; exit 2; }
DIFFUSE=distribution/target/diffuse/bin/diffuse
[ -x "$DIFFUSE" ] || mvn -B -q -DskipTests install
OUT=${OUT:-$(mktemp -d /tmp/serve-load.XXXXXX)}
mkdir -p "$OUT"

SERVER=""
stop_server() {
  if [ -n "$SERVER" ] && kill -0 "$SERVER" 2>/dev/null; then
    kill -TERM -- "-$SERVER" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$SERVER" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$SERVER" 2>/dev/null || true
  fi
  SERVER=""
}
trap stop_server EXIT

for policy in "${POLICIES[@]}"; do
  keys=()
  if [ "$policy" != default ]; then
    keys+=(-C "diffuse.serve.scheduler.policy=$policy")
    [ -z "$LANE_SIZE" ] || keys+=(-C "diffuse.serve.scheduler.lane-size=$LANE_SIZE")
  fi
  log="$OUT/serve-$policy.log"
  # Its own session, so stopping it stops the launcher and every rank.
  setsid "$DIFFUSE" serve --model "$MODEL" --nproc "$RANKS" --threads "$THREADS" --port 0 \
      --output-dir "$OUT/videos-$policy" -C diffuse.serve.max-queue=1000 "${keys[@]}" >"$log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 600); do
    grep -q 'diffuse serve: ready' "$log" && break
    kill -0 "$SERVER" 2>/dev/null || { echo "error: serve ($policy) exited; its log:" >&2; tail -20 "$log" >&2; exit 1; }
    sleep 0.5
  done
  grep -q 'diffuse serve: ready' "$log" || { echo "error: serve ($policy) not ready in 300 s; see $log" >&2; exit 1; }
  url=$(grep -o 'listening on http://[0-9.:]*' "$log" | head -1 | sed 's/listening on //')
  # One untimed request first: the first job of a server pays one-time costs.
  "$DIFFUSE" bench serve --url "$url" -n 1 "${BODY[@]}" >/dev/null
  IFS=, read -ra levels <<<"$LEVELS"
  for c in "${levels[@]}"; do
    "$DIFFUSE" bench serve --url "$url" -n "$REQUESTS" --concurrency "$c" --label "$policy c$c" \
        --result-json "$OUT/$policy-c$c.json" "${BODY[@]}" | head -4 >&2
  done
  stop_server
done

{
  echo "| policy | concurrency | requests | completed | failed | videos/min | latency p50 s | p95 s | p99 s | queue wait p50 s | p95 s |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  for policy in "${POLICIES[@]}"; do
    IFS=, read -ra levels <<<"$LEVELS"
    for c in "${levels[@]}"; do
      jq -r --arg p "$policy" 'def f: if . == null then "-" else (. * 100 | round / 100 | tostring) end;
        "| \($p) | \(.concurrency) | \(.requests) | \(.completed) | \(.failed) | \(.videos_per_minute | f) | \(.latency_s.p50 | f) | \(.latency_s.p95 | f) | \(.latency_s.p99 | f) | \(.queue_wait_s.p50 | f) | \(.queue_wait_s.p95 | f) |"' \
        "$OUT/$policy-c$c.json"
    done
  done
} | tee "$OUT/table.md"
echo "results: $OUT" >&2

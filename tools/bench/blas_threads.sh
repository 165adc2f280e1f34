#!/usr/bin/env bash
# BLAS thread policies for linears and attention in one process (tools/bench/BlasThreadsBench.java):
# linear 3,097 x 512 -> 2,048 and SDPA 4 heads x 3,097 x 128 under OpenBLAS 1 thread, N threads, scoped
# (N for linears, 1 for attention) and oneDNN. See docs/benchmarks.md.
# Usage (repository root, after mvn package): tools/bench/blas_threads.sh [threads 2] [repeats 7]
set -euo pipefail
dist=${DIST:-distribution/target/diffuse}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
cp_="$dist/lib/*:$(ls "$dist"/bundles/engine-api-*.jar)"
javac -cp "$cp_" -d "$out" tools/bench/BlasThreadsBench.java
java -Dorg.bytedeco.javacpp.nopointergc=true -cp "$out:$cp_" BlasThreadsBench "${1:-2}" "${2:-7}"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

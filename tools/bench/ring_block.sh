#!/usr/bin/env bash
# Ring 2 per-layer block attention of one rank on the transformer benchmark's shapes (4 heads x 128,
# 1,024 video queries per rank, 2 video key blocks of 1,024, 1,049 joint tokens): libtorch's fused CPU
# flash kernel with log-sum-exp against materialised scores, interleaved in one process; plus the SDPA
# a Ulysses 2 rank runs per layer (2 heads x 3,097 tokens). See docs/benchmarks.md.
# Usage (repository root, after mvn package): tools/bench/ring_block.sh [threads 1] [repeats 7]
set -euo pipefail
dist=distribution/target/diffuse
cp_="$dist/lib/*:$(ls "$dist"/bundles/plugin-usp-*.jar)"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# Compiled into plugin-usp's package: it calls BlockAttention's package-private paths.
javac -cp "$cp_" -d "$out" tools/bench/RingBlockBench.java
java -cp "$out:$cp_" io.diffuse.usp.attention.RingBlockBench "${1:-1}" "${2:-7}"

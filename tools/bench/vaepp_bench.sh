#!/usr/bin/env bash
# Patch-parallel VAE decode benchmark: "tiled" on 1 rank vs "patch-parallel" on 1, 2, 4 rank JVMs (Gloo).
# Usage (from the repository root): tools/bench/vaepp_bench.sh [latentT latentH latentW] [ranks] [repeat]
set -euo pipefail
T=${1:-2}; H=${2:-48}; W=${3:-96}; RANKS=${4:-1,2,4}; REPEAT=${5:-2}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mvn -B -o -q -pl plugin-vaepp -am test-compile dependency:build-classpath \
    -Dmdep.outputFile="$WORK/cp.txt" -Dmdep.includeScope=test >/dev/null
CP=engine-api/target/classes:engine-core/target/classes:engine-testkit/target/classes:plugin-hunyuan15/target/classes
CP=$CP:plugin-vaepp/target/classes:plugin-vaepp/target/test-classes:$(cat "$WORK/cp.txt")
java -cp "$CP" -Dorg.slf4j.simpleLogger.defaultLogLevel=warn io.diffuse.vaepp.VaePatchParallelBench "$T" "$H" "$W" "$RANKS" "$REPEAT"

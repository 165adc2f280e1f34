#!/usr/bin/env bash
# VAE decode benchmark: diffusers vs Java on the same latent, same machine, one after the other.
# Usage (from the repository root): PYTHONPATH=/tmp/diffusers/src tools/bench/vae_decode_bench.sh [B,C,T,H,W] [repeat]
set -euo pipefail
SHAPE=${1:-1,4,16,32,32}
REPEAT=${2:-1}
MODEL=plugin-hunyuan15/src/test/resources/fixtures/vae/model
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mvn -B -o -q -pl plugin-hunyuan15 -am test-compile dependency:build-classpath \
    -Dmdep.outputFile="$WORK/cp.txt" -Dmdep.includeScope=test >/dev/null
CP=engine-api/target/classes:engine-core/target/classes:plugin-hunyuan15/target/classes:plugin-hunyuan15/target/test-classes:$(cat "$WORK/cp.txt")
python3 tools/bench/vae_decode_diffusers.py --model "$MODEL" --shape "$SHAPE" --repeat "$REPEAT" --out "$WORK/bench.safetensors"
java -cp "$CP" io.diffuse.hunyuan15.vae.VaeDecodeBenchmark "$MODEL" "$WORK/bench.safetensors" "$REPEAT"

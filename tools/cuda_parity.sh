#!/usr/bin/env bash
# Golden (diffusers parity) and parallel-parity tests on a CUDA device, then the parity table.
# Needs a machine with an NVIDIA GPU and the -Pcuda build (libtorch's CUDA natives from Maven Central).
# The tests take their device from -Ddiffuse.test.device (engine-testkit's SingleRankContext); the
# fixtures stay on the CPU and results are compared there, against the same tolerances as on the CPU.
# Usage (from the repository root): tools/cuda_parity.sh [device, default cuda] [extra mvn arguments]
set -uo pipefail
DEVICE=${1:-cuda}
shift || true
cd "$(dirname "$0")/.."
if [[ $DEVICE == cuda* ]] && ! command -v nvidia-smi >/dev/null; then
    echo "error: no nvidia-smi on this machine; run tools/cuda_parity.sh where a GPU is, or pass cpu to check the script" >&2
    exit 2
fi
PROFILE=()
[[ $DEVICE == cuda* ]] && PROFILE=(-Pcuda)
TESTS=HunyuanVideo15TransformerGoldenTest,AutoencoderKLHunyuanVideo15GoldenTest,HunyuanVideo15PipelineGoldenTest
TESTS=$TESTS,PromptEncoderGoldenTest,SiglipGoldenTest,TransformerPlansTest,CfgParallelTest,PatchParallelVaeExecutorTest
TESTS=$TESTS,ParallelPipelineParityTest
LOG=${TMPDIR:-/tmp}/diffuse-cuda-parity.log
# Reports of earlier runs would show up in the table.
rm -rf plugin-hunyuan15/target/surefire-reports plugin-usp/target/surefire-reports plugin-vaepp/target/surefire-reports
mvn -B "${PROFILE[@]}" verify -pl plugin-hunyuan15,plugin-usp,plugin-vaepp -am -DskipITs \
    -Ddiffuse.test.device="$DEVICE" -Dtest="$TESTS" -Dsurefire.failIfNoSpecifiedTests=false \
    -Dmaven.test.failure.ignore=true "$@" > "$LOG" 2>&1
status=$?
echo "parity on $DEVICE (log: $LOG, maven exit $status)"
python3 - "$TESTS" plugin-hunyuan15 plugin-usp plugin-vaepp <<'PY'
import glob, re, sys, xml.etree.ElementTree as ET
wanted = set(sys.argv[1].split(","))
print(f"{'test':<75} {'result':<6} measured")
for module in sys.argv[2:]:
    for report in sorted(glob.glob(f"{module}/target/surefire-reports/TEST-*.xml")):
        suite = ET.parse(report).getroot()
        cls = suite.get("name").rsplit(".", 1)[-1]
        if cls not in wanted:
            continue
        for case in suite.iter("testcase"):
            failed = case.find("failure") is not None or case.find("error") is not None
            out = "".join(e.text or "" for e in case.iter("system-out"))
            measured = "; ".join(m.strip() for m in re.findall(r"[^\n]*max abs error[^\n]*", out))
            print(f"{(cls + '.' + case.get('name'))[:75]:<75} {'FAIL' if failed else 'pass':<6} {measured}")
PY
exit $status

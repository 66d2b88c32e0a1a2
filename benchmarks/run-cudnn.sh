#!/usr/bin/env bash
# cuDNN 3-D convolution benchmarks on a GPU machine: CudnnConvBench (JMH, device=cuda) and the PyTorch
# baseline (benchmarks/pytorch/conv3d_baseline.py --device cuda) in the same run, then one table
# (benchmarks/conv_summary.py: times, GFLOP/s, torch/comix).
#
#   benchmarks/run-cudnn.sh /path/to/bin/java /path/to/benchmarks.jar
#
# Environment (optional): PYTHON=python3  OUT=dir  SHAPES=Conv3d_1a_7x7,Conv3d_2c_3x3,Mixed_4b_3x3  BATCH=8,32
#   PRECISION=F32,TF32,BF16  LAYOUT=NCDHW,NDHWC  API=graph (or graph,legacy,gemm: cuDNN's backend or legacy API, or im2col + SGEMM for F32 NDHWC Conv3d_1a)  JMH_OPTS (default "-wi 1 -w 300ms -i 3 -r 300ms")
#   SKIP_PYTHON=1  SKIP_JMH=1  COMIX_CUDNN_FIND=heuristic (skip cuDNN's timed search)
# The full matrix (3 shapes x 2 batches x 3 precisions x 2 layouts x fwd/fwdbwd = 72 JMH runs, one JVM
# fork per parameter set) takes roughly 4-6 minutes; narrow it with the variables above.
set -euo pipefail
cd "$(dirname "$0")/.."
JAVA=${1:-${JAVA:-java}}
BENCH_JAR=${2:-${BENCH_JAR:-benchmarks/target/benchmarks.jar}}
PYTHON=${PYTHON:-python3}
SHAPES=${SHAPES:-Conv3d_1a_7x7,Conv3d_2c_3x3,Mixed_4b_3x3}
BATCH=${BATCH:-8,32}
PRECISION=${PRECISION:-F32,TF32,BF16}
LAYOUT=${LAYOUT:-NCDHW,NDHWC}
API=${API:-graph}
JMH_OPTS=${JMH_OPTS:--wi 1 -w 300ms -i 3 -r 300ms}
OUT=${OUT:-benchmarks/target/results-cudnn-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
NVLIBS=$("$PYTHON" - <<'PY' 2>/dev/null || true
import glob, os, site
dirs = set()
for r in site.getsitepackages() + [site.getusersitepackages()]:
    for p in glob.glob(os.path.join(r, "nvidia", "**", "lib*.so*"), recursive=True):
        dirs.add(os.path.dirname(p))
print(":".join(sorted(dirs)))
PY
)
if [[ -n "$NVLIBS" ]]; then export LD_LIBRARY_PATH="$NVLIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; fi
# JMH's names -> the baseline's: F32 -> fp32 (TF32, BF16 lower-cased), NDHWC -> channels_last
lower() { echo "$1" | tr 'A-Z' 'a-z' | sed -E 's/ndhwc/channels_last/g; s/(^|,)f32/\1fp32/g'; }
if [[ -z "${SKIP_PYTHON:-}" ]]; then
  "$PYTHON" benchmarks/pytorch/conv3d_baseline.py --device cuda --shapes "$SHAPES" --batch "$BATCH" \
    --precision "$(lower "$PRECISION")" --layout "$(lower "$LAYOUT")" --out "$OUT/conv-torch.jsonl" \
    > "$OUT/conv-torch.log" 2>&1 || { tail -20 "$OUT/conv-torch.log"; echo "torch baseline failed"; }
fi
if [[ -z "${SKIP_JMH:-}" ]]; then
  # shellcheck disable=SC2086
  "$JAVA" -jar "$BENCH_JAR" 'CudnnConvBench' -p device=cuda -p shape="$SHAPES" -p batch="$BATCH" \
    -p precision="$PRECISION" -p layout="$LAYOUT" -p api="$API" $JMH_OPTS -rf json -rff "$OUT/conv-jmh.json" \
    > "$OUT/conv-jmh.log" 2>&1 || { grep -m3 -A8 '<failure>' "$OUT/conv-jmh.log" || tail -40 "$OUT/conv-jmh.log"; }
  grep -E "GFLOP per pass" "$OUT/conv-jmh.log" | sort -u > "$OUT/conv-algos.txt" || true
fi
"$PYTHON" benchmarks/conv_summary.py "$OUT/conv-jmh.json" "$OUT/conv-torch.jsonl" --csv "$OUT/conv-summary.csv" \
  | tee "$OUT/conv-summary.txt"

#!/usr/bin/env bash
# The GPU benchmark suite in one command, for a GPU machine without Maven or network:
#
#   JAVA=/path/to/bin/java BENCH_JAR=/path/to/benchmarks.jar [OUT=dir] benchmarks/run-gpu.sh
#   benchmarks/run-gpu.sh /path/to/bin/java /path/to/benchmarks.jar            # the same, as arguments
#
# Runs, in one go: the card's memory bandwidth through torch (a large device-to-device copy,
# reported as bytes read + written per second and as bytes copied per second; and a read-only
# sum), torch.median(dim=0) on CUDA and the torch eager mixing on CUDA (CUDA events, warmup,
# median of repeats; benchmarks/pytorch/*.py --device cuda), and the JMH benchmarks MedianBench
# and MixBench with -p device=cuda; then prints the table, including the median's frame bytes
# per second as a % of the copy bandwidth. Results (env.txt, *.jsonl, jmh.json, jmh.log,
# summary.md, summary.csv) go to $OUT, default benchmarks/target/results-gpu-<date>.
# About 2 minutes on an H100/H200.
#
# Environment (optional): PYTHON=python3 (torch with CUDA)  SIZES=224,1080  TS=16,72,300
#   JMH_OPTS (default "-wi 2 -w 500ms -i 5 -r 500ms")  SKIP_PYTHON=1  SKIP_JMH=1
# The JVM needs libcudart.so.13: the nvidia/*/lib folders of PYTHON's site-packages (PyTorch's
# CUDA wheels) are put on LD_LIBRARY_PATH ahead of what is there.
set -euo pipefail
cd "$(dirname "$0")/.."
JAVA=${1:-${JAVA:-java}}
BENCH_JAR=${2:-${BENCH_JAR:-benchmarks/target/benchmarks.jar}}
PYTHON=${PYTHON:-python3}
SIZES=${SIZES:-224,1080}
TS=${TS:-16,72,300}
JMH_OPTS=${JMH_OPTS:--wi 2 -w 500ms -i 5 -r 500ms}
OUT=${OUT:-benchmarks/target/results-gpu-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
log() { echo "[run-gpu $(date +%H:%M:%S)] $*" >&2; }

NVLIBS=$("$PYTHON" - <<'PY' 2>/dev/null || true
import glob, os, site
roots = site.getsitepackages() + [site.getusersitepackages()]
dirs = set()
for r in roots:
    for p in glob.glob(os.path.join(r, "nvidia", "**", "lib*.so*"), recursive=True):
        dirs.add(os.path.dirname(p))
print(":".join(sorted(dirs)))
PY
)
if [[ -n "$NVLIBS" ]]; then export LD_LIBRARY_PATH="$NVLIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; fi

{
  echo "date: $(date -Is)"
  echo "host: $(uname -srm); $(nproc) cores; glibc $(ldd --version 2>&1 | head -1 | awk '{print $NF}')"
  echo "gpu: $(nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader 2>&1 | head -1)"
  echo "java: $("$JAVA" -version 2>&1 | head -2 | tr '\n' ' ')"
  echo "bench jar: $BENCH_JAR ($(stat -c %s "$BENCH_JAR" 2>/dev/null || echo '?') bytes)"
  echo "python: $("$PYTHON" -c 'import sys, numpy, torch; print(sys.version.split()[0], "numpy", numpy.__version__, "torch", torch.__version__, "cuda", torch.version.cuda)')"
  echo "LD_LIBRARY_PATH: ${LD_LIBRARY_PATH:-}"
  echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/env.txt"

if [[ -z "${SKIP_PYTHON:-}" ]]; then
  log "copy bandwidth (torch)"
  "$PYTHON" benchmarks/pytorch/membw.py --device cuda --out "$OUT/membw.jsonl" >/dev/null
  log "torch.median (cuda)"
  "$PYTHON" benchmarks/pytorch/median_baseline.py --device cuda --sizes "$SIZES" --T "$TS" --out "$OUT/median.jsonl" >/dev/null
  log "torch eager mix (cuda)"
  "$PYTHON" benchmarks/pytorch/mix_baseline.py --device cuda --sizes "$SIZES" --out "$OUT/mix.jsonl" >/dev/null
fi
rc=0
if [[ -z "${SKIP_JMH:-}" ]]; then
  log "JMH (device=cuda)"
  # shellcheck disable=SC2086
  "$JAVA" -jar "$BENCH_JAR" '\.(MedianBench|MixBench)\.' -p device=cuda -p size="$SIZES" -p T="$TS" $JMH_OPTS \
    -rf json -rff "$OUT/jmh.json" >"$OUT/jmh.log" 2>&1 || rc=$?
  if [[ $rc -ne 0 ]] || grep -q '<failure>' "$OUT/jmh.log"; then
    grep -m3 -A8 '<failure>' "$OUT/jmh.log" || tail -40 "$OUT/jmh.log"
    echo "JMH: a benchmark failed (see $OUT/jmh.log)"
    rc=1
  fi
fi
log "done"
"$PYTHON" benchmarks/summarize.py --gpu "$OUT"
echo "raw results: $OUT"
exit $rc

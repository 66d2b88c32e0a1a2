#!/usr/bin/env bash
# The CPU benchmark suite in one command, from any directory:
#
#   benchmarks/run-cpu.sh
#
# Builds benchmarks/target/benchmarks.jar if it is missing or older than the sources, then in the
# same run: measures memory bandwidth and the fp32 FMA peak, decodes vtest.avi and times numpy.median on it, runs the
# Python baselines (numpy.median, numpy.partition, torch.median; torch eager mixing) and the JMH
# benchmarks (MedianBench, VtestMedianBench, MixBench with -p device=cpu), and prints the table.
# Raw outputs land in $OUT (default benchmarks/target/results-cpu-<date>): env.txt, *.jsonl,
# jmh.json, jmh.log, summary.md, summary.csv. About 5 minutes on a quiet 2-core machine.
#
# Environment (all optional): OUT=dir  PYTHON=/usr/bin/python3 (numpy, torch, cv2)  JAVA=java
#   SIZES=224,1080  TS=16,72,300  JMH_OPTS="-wi 2 -i 5"  SKIP_BUILD=1  SKIP_VTEST=1
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-/usr/bin/python3}
JAVA=${JAVA:-java}
SIZES=${SIZES:-224,1080}
TS=${TS:-16,72,300}
OUT=${OUT:-benchmarks/target/results-cpu-$(date +%Y%m%d-%H%M%S)}
JAR=benchmarks/target/benchmarks.jar
DATA=benchmarks/target/data
mkdir -p "$OUT" "$DATA"
log() { echo "[run-cpu $(date +%H:%M:%S)] $*  (load: $(cut -d' ' -f1-3 /proc/loadavg))" | tee -a "$OUT/env.txt" >&2; }

if [[ -z "${SKIP_BUILD:-}" ]]; then
  if [[ ! -f $JAR ]] || [[ -n "$(find pom.xml java/pom.xml benchmarks/pom.xml java/src native cuda-kernels cmake \
        benchmarks/src -newer "$JAR" -type f 2>/dev/null | head -1)" ]]; then
    log "building ($JAR missing or older than the sources)"
    mvn -B -q package -DskipTests
  fi
fi

{
  echo "date: $(date -Is)"
  echo "git: $(git rev-parse --short HEAD 2>/dev/null || echo -) $(git status --porcelain 2>/dev/null | grep -q . && echo '(dirty)')"
  echo "host: $(uname -srm)"
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores; $(lscpu | sed -n 's/^L3 cache: *//p') L3; MHz $(grep -m1 'cpu MHz' /proc/cpuinfo | cut -d: -f2 | tr -d ' ')"
  echo "memory: $(free -g | awk '/^Mem:/ {print $2}') GB"
  echo "java: $("$JAVA" -version 2>&1 | head -2 | tr '\n' ' ')"
  echo "python: $("$PYTHON" -c 'import sys, numpy, torch; print(sys.version.split()[0], "numpy", numpy.__version__, "torch", torch.__version__)')"
  echo "cv2: $("$PYTHON" -c 'import cv2; print(cv2.__version__)' 2>/dev/null || echo -)"
} | tee -a "$OUT/env.txt"

log "memory bandwidth"
"$PYTHON" benchmarks/pytorch/membw.py --out "$OUT/membw.jsonl" >/dev/null
log "fp32 FMA peak (benchmarks/native/fma_peak.cpp)"
if g++ -O2 -march=native -std=c++17 -pthread benchmarks/native/fma_peak.cpp -o "$OUT/fma_peak" 2>>"$OUT/env.txt"; then
  "$OUT/fma_peak" | tee -a "$OUT/env.txt"
fi
VT=
if [[ -z "${SKIP_VTEST:-}" ]]; then
  log "vtest.avi: decode, numpy.median (native, 224), expected PNG check"
  "$PYTHON" benchmarks/pytorch/make_vtest_expected.py --png "$OUT/vtest_median_native.png" --raw-dir "$DATA" \
    --out "$OUT/vtest.jsonl" >/dev/null
  if cmp -s "$OUT/vtest_median_native.png" java/src/test/resources/expected/vtest_median_native.png; then
    echo "expected PNG: reproduced bit for bit" | tee -a "$OUT/env.txt"
  else
    echo "expected PNG: DIFFERS from java/src/test/resources/expected/vtest_median_native.png" | tee -a "$OUT/env.txt"
  fi
  VT='|VtestMedianBench'
fi
log "median baselines (numpy.median, numpy.partition, torch.median)"
"$PYTHON" benchmarks/pytorch/median_baseline.py --sizes "$SIZES" --T "$TS" --out "$OUT/median.jsonl" >/dev/null
log "mix baseline (torch eager)"
"$PYTHON" benchmarks/pytorch/mix_baseline.py --sizes "$SIZES" --out "$OUT/mix.jsonl" >/dev/null
log "JMH (device=cpu)"
PATTERN="\\.(MedianBench|MixBench$VT)\\."
# JMH refuses to start while another JMH run holds /tmp/jmh.lock: wait for it (up to 20 minutes).
for try in $(seq 1 120); do
  rc=0
  # shellcheck disable=SC2086
  COMIX_BENCH_DATA="$ROOT/$DATA" "$JAVA" -jar "$JAR" "$PATTERN" -p device=cpu -p size="$SIZES" -p T="$TS" \
    ${JMH_OPTS:-} -rf json -rff "$OUT/jmh.json" >"$OUT/jmh.log" 2>&1 || rc=$?
  grep -q 'Unable to acquire the JMH lock' "$OUT/jmh.log" || break
  ((try == 1)) && log "another JMH run holds /tmp/jmh.lock: waiting for it"
  sleep 10
done
if ((rc != 0)); then tail -40 "$OUT/jmh.log"; exit 1; fi
grep -q '<failure>' "$OUT/jmh.log" && { grep -A5 '<failure>' "$OUT/jmh.log" | head -40; echo "JMH: a benchmark failed (see $OUT/jmh.log)"; }
log "done"
"$PYTHON" benchmarks/summarize.py "$OUT"
echo "raw results: $OUT"

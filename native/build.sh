#!/usr/bin/env bash
# Configure, build and install the native libraries (comix_cpu, comix_cuda where nvcc exists)
# into <out>/lib. Called by Maven (javacpp build goal, generate-resources phase).
# Usage: native/build.sh <out-dir> [AUTO|ON|OFF]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$(mkdir -p "$1" && cd "$1" && pwd)"
cuda="${2:-AUTO}"
jobs="$(nproc 2>/dev/null || echo 2)"
cmake -S "$here" -B "$out/build" -DCMAKE_BUILD_TYPE=Release -DCOMIX_CUDA="$cuda" \
      -DCMAKE_INSTALL_PREFIX="$out" > "$out/cmake-configure.log" \
  || { cat "$out/cmake-configure.log"; exit 1; }
# -Xptxas -v reports (registers, spills) go to the log; errors are shown.
cmake --build "$out/build" -j "$jobs" > "$out/cmake-build.log" 2>&1 || { cat "$out/cmake-build.log"; exit 1; }
cmake --install "$out/build" > /dev/null
grep -E "spill (stores|loads)" "$out/cmake-build.log" | grep -v " 0 bytes spill stores, 0 bytes spill loads" \
  && echo "warning: register spills in CUDA kernels (see $out/cmake-build.log)" || true
echo "comix native: $(ls "$out/lib" | tr '\n' ' ')"

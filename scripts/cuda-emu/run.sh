#!/usr/bin/env bash
# Runs a CUDA kernel file and its native test on the CPU, without a GPU, to check index math and
# test logic before spending GPU time. Not a test of the GPU itself: blocks run one at a time,
# each CUDA thread is a std::thread (barrier for __syncthreads, "static" for __shared__), device
# intrinsics are host functions, and the CUDA runtime calls of the test are plain malloc/memcpy.
# Slow (the full nn layer test takes minutes on 2 cores); warp-level intrinsics are not emulated.
#   scripts/cuda-emu/run.sh [kernel.cu] [test.cpp]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cu="${1:-$root/cuda-kernels/nn_layers.cu}"
test="${2:-$root/native/tests/test_cuda_nn_layers.cpp}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cuda="${CUDA_HOME:-/usr/local/cuda}"
cuda_inc="$cuda/include"
cuda_lib="$cuda/lib64"
python3 "$here/transform.py" "$cu" "$work/kernels.inc"
printf '#include "emu.h"\n#include "kernels.inc"\n' > "$work/kern.cpp"
printf '#include "emu.h"\n#define main orig_main\n#include "%s"\n#undef main\nint main() { return orig_main(); }\n' "$test" > "$work/test.cpp"
flags=(-std=c++20 -O2 -pthread -w -I"$here" -I"$work" -I"$cuda_inc" -I"$root/native/include" -I"$root/cuda-kernels" -I"$root/native/tests")
g++ "${flags[@]}" -c "$work/kern.cpp" -o "$work/kern.o"
g++ "${flags[@]}" -c "$work/test.cpp" -o "$work/test.o"
g++ -pthread "$work/kern.o" "$work/test.o" -L"$cuda_lib" -lcudart -o "$work/emu_test"
"$work/emu_test"

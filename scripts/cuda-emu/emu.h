// CUDA-on-CPU shim for scripts/cuda-emu/run.sh: each launch runs blockDim.x std::threads that walk
// the grid block by block, with a std::barrier for __syncthreads (blocks run one at a time, so
// "static" serves as __shared__). One-dimensional blocks only; no warp intrinsics, no atomics.
#pragma once
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <barrier>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>
namespace emu {
struct D3 { unsigned x, y, z; };
inline thread_local D3 tid, bid;
inline D3 bdim, gdim;
inline std::barrier<>* bar = nullptr;
inline D3 to3(dim3 d) { return {d.x, d.y, d.z}; }
inline D3 to3(unsigned v) { return {v, 1, 1}; }
inline D3 to3(int v) { return {(unsigned)v, 1, 1}; }
inline long launches = 0;
template <class G, class B, class F>
void launch(G g, B b, size_t, cudaStream_t, F f) {
  ++launches;
  const D3 gg = to3(g), bb = to3(b);
  gdim = gg;
  bdim = bb;
  std::barrier<> br(bb.x);
  bar = &br;
  std::vector<std::thread> ts;
  for (unsigned t = 0; t < bb.x; ++t)
    ts.emplace_back([&, t] {
      tid = {t, 0, 0};
      for (unsigned by = 0; by < gg.y; ++by)
        for (unsigned bx = 0; bx < gg.x; ++bx) {
          bid = {bx, by, 0};
          f();
          br.arrive_and_wait();
        }
    });
  for (auto& t : ts) t.join();
}
template <class G, class B, class F>
void launch(G g, B b, F f) { launch(g, b, 0, nullptr, f); }
template <class G, class B, class F>
void launch(G g, B b, size_t sh, F f) { launch(g, b, sh, nullptr, f); }
inline void syncthreads() { bar->arrive_and_wait(); }
inline cudaError_t malloc_(void** p, size_t n) { *p = std::malloc(n ? n : 1); return cudaSuccess; }
inline cudaError_t memcpy_(void* d, const void* s, size_t n) { std::memmove(d, s, n); return cudaSuccess; }
inline cudaError_t memset_(void* d, int v, size_t n) { std::memset(d, v, n); return cudaSuccess; }
inline cudaError_t props(cudaDeviceProp* p, int) { std::memset(p, 0, sizeof *p); std::strcpy(p->name, "CPU emulation"); return cudaSuccess; }
}  // namespace emu
#define threadIdx emu::tid
#define blockIdx emu::bid
#define blockDim emu::bdim
#define gridDim emu::gdim
#define __syncthreads() emu::syncthreads()
#undef __launch_bounds__
#define __launch_bounds__(x)
#undef __shared__
#define __shared__ static
#undef __global__
#define __global__
#undef __device__
#define __device__
#undef __host__
#define __host__
#undef __forceinline__
#define __forceinline__ inline
inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
#define cudaGetLastError() cudaSuccess
#define cudaMalloc(p, n) emu::malloc_((void**)(p), (n))
#define cudaFree(p) (std::free(p), cudaSuccess)
#define cudaMemcpy(d, s, n, k) emu::memcpy_((d), (s), (n))
#define cudaMemcpyAsync(d, s, n, k, st) emu::memcpy_((d), (s), (n))
#define cudaMemset(d, v, n) emu::memset_((d), (v), (n))
#define cudaDeviceSynchronize() cudaSuccess
#define cudaGetDeviceCount(c) (*(c) = 1, cudaSuccess)
#define cudaGetDeviceProperties(p, d) emu::props((p), (d))
#define cudaMemGetInfo(f, t) (*(f) = 0, *(t) = 0, cudaSuccess)

// Per-element arithmetic of the nn layer kernels that the tests (and a CPU path) must reproduce
// bit for bit: the dropout hash.
#ifndef COMIX_NN_MATH_CUH
#define COMIX_NN_MATH_CUH
#include <stdint.h>

#include "comix_math.cuh"

namespace comix {

// splitmix64's finaliser: a bijective 64-bit mixer with full avalanche.
COMIX_HD uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Uniform in [0, 1) on a 2^-24 grid for counter `i` of stream `seed` (counter-based: any element,
// any order, same value). Exactly representable in float32.
COMIX_HD float dropout_uniform(uint64_t seed, uint64_t i) {
  const uint64_t h = mix64(mix64(seed ^ 0x9e3779b97f4a7c15ull) + i * 0xd1b54a32d192ed03ull);
  return (float)(h >> 40) * (1.0f / 16777216.0f);
}

}  // namespace comix
#endif

/* Temporal median of uint8 frames, numpy.median(axis=0) semantics:
 * for each of the n elements (pixels x channels) of a frame, the median over T frames;
 * for even T the mean of the two middle values, truncated ((a + b) >> 1).
 *
 * Two ways in:
 *  - direct: all T frames in one buffer frames[T][n] (row stride n bytes);
 *  - streaming: fold chunks of frames into a per-element histogram hist[n][256] of uint16
 *    (T <= 65535 in total), then read the median out of it. The histogram costs 512 bytes per
 *    element whatever T is, so a long video never has to sit in memory whole. */
#ifndef COMIX_TEMPORAL_MEDIAN_H
#define COMIX_TEMPORAL_MEDIAN_H
#include "comix/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define COMIX_MEDIAN_MAX_HIST_FRAMES 65535

/* CPU. threads <= 0 means all hardware threads. */
int comix_median_u8_cpu(const uint8_t* frames, int64_t T, int64_t n, uint8_t* out, int threads);
/* Instruction set the CPU median runs with here: "avx512bw", "avx2" or "baseline". */
const char* comix_median_cpu_isa(void);
int comix_median_hist_fold_cpu(const uint8_t* frames, int64_t T, int64_t n, uint16_t* hist, int threads);
int comix_median_from_hist_cpu(const uint16_t* hist, int64_t T, int64_t n, uint8_t* out, int threads);

/* CUDA (library comix_cuda). All pointers are device pointers; stream is a cudaStream_t or NULL.
 * The calls are asynchronous on the stream. */
int comix_median_u8_cuda(const uint8_t* frames, int64_t T, int64_t n, uint8_t* out, void* stream);
/* Kernel variant of the CUDA median, for measurements (results are identical): -1 = automatic
 * (default: by T), 0 = bitwise search with byte-SIMD compares, 8 = the same with the per-pass
 * reduction in one warp, 1 = 16-bit integer lanes, 2 = fp16 lanes (10: with the warp-0 reduction), 3 = nibble histograms,
 * 4 = bit-sliced search (T <= 1280, else vset-w0; 20: with half the pixels per warp);
 * 5 = its version 12 (same search, fewer instructions around it; 21: half the pixels per warp);
 * 7 = version 13 (version 12 with a tile's frames split over 2 warps of a block; 23: over 4 warps);
 * plus 16 for 64-byte tiles. Not thread-safe: a process-wide setting. */
int comix_median_cuda_set_variant(int variant);
int comix_median_hist_fold_cuda(const uint8_t* frames, int64_t T, int64_t n, uint16_t* hist, void* stream);
int comix_median_from_hist_cuda(const uint16_t* hist, int64_t T, int64_t n, uint8_t* out, void* stream);

#ifdef __cplusplus
}
#endif
#endif

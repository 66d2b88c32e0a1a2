package dev.comix.runtime;

import static org.bytedeco.cuda.global.cudart.cudaErrorMemoryAllocation;
import static org.bytedeco.cuda.global.cudart.cudaFree;
import static org.bytedeco.cuda.global.cudart.cudaGetErrorString;
import static org.bytedeco.cuda.global.cudart.cudaGetLastError;
import static org.bytedeco.cuda.global.cudart.cudaMalloc;
import static org.bytedeco.cuda.global.cudart.cudaMemGetInfo;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.SizeTPointer;

/**
 * Caching device allocator: freed blocks go to a free list keyed by their rounded size and are
 * handed out again without cudaMalloc/cudaFree (both synchronise the device). Sizes round up to
 * 512 bytes below 1 MiB and to 2 MiB above, so repeated shapes reuse blocks exactly. Blocks are
 * only reused on the one stream of the owning {@link CudaOps}, so stream order keeps reuse safe.
 * On an allocation failure the cache is emptied and the allocation retried once; a second failure
 * is a {@link ComixException} saying how much was asked for and how much is free.
 */
public final class CudaAllocator implements AutoCloseable {
  private final Map<Long, ArrayDeque<Pointer>> free = new HashMap<>();
  private long cachedBytes;
  private long liveBytes;
  private long peakBytes;
  private long mallocs;

  static long roundUp(long bytes) {
    long b = Math.max(bytes, 1);
    if (b <= (1L << 20)) return (b + 511) & ~511L;
    long two = 2L << 20;
    return (b + two - 1) / two * two;
  }

  /** A device block of at least {@code bytes}; give it back with {@link #release}. */
  public synchronized Pointer allocate(long bytes) {
    long size = roundUp(bytes);
    ArrayDeque<Pointer> list = free.get(size);
    if (list != null && !list.isEmpty()) {
      cachedBytes -= size;
      liveBytes += size;
      return list.pop();
    }
    Pointer p = new Pointer();
    int st = cudaMalloc(p, size);
    if (st == cudaErrorMemoryAllocation) {
      cudaGetLastError(); // clear the sticky-free error state of the runtime
      emptyCache();
      st = cudaMalloc(p, size);
    }
    if (st != 0) {
      cudaGetLastError();
      throw new ComixException(String.format(
          "out of GPU memory: could not allocate %.1f MiB (%s; %s)", size / 1048576.0,
          cudaGetErrorString(st).getString(), memoryInfo()));
    }
    mallocs++;
    liveBytes += size;
    peakBytes = Math.max(peakBytes, liveBytes);
    return p;
  }

  public synchronized void release(Pointer p, long bytes) {
    long size = roundUp(bytes);
    free.computeIfAbsent(size, k -> new ArrayDeque<>()).push(p);
    liveBytes -= size;
    cachedBytes += size;
  }

  /** Returns every cached block to the driver. */
  public synchronized void emptyCache() {
    for (ArrayDeque<Pointer> list : free.values()) for (Pointer p : list) cudaFree(p);
    free.clear();
    cachedBytes = 0;
  }

  public synchronized long liveBytes() {
    return liveBytes;
  }

  public synchronized long cachedBytes() {
    return cachedBytes;
  }

  public synchronized long peakBytes() {
    return peakBytes;
  }

  public synchronized long mallocCount() {
    return mallocs;
  }

  static String memoryInfo() {
    try (SizeTPointer f = new SizeTPointer(1); SizeTPointer t = new SizeTPointer(1)) {
      if (cudaMemGetInfo(f, t) != 0) {
        cudaGetLastError();
        return "free memory unknown";
      }
      return String.format("%.0f MiB free of %.0f MiB", f.get() / 1048576.0, t.get() / 1048576.0);
    }
  }

  @Override
  public synchronized void close() {
    emptyCache();
  }
}

package dev.comix.bench;

import dev.comix.runtime.Backends;
import dev.comix.runtime.DType;
import dev.comix.runtime.Ops;
import dev.comix.runtime.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32;
import org.bytedeco.javacpp.BytePointer;

/**
 * Shared benchmark inputs. Frames are the byte stream of SplitMix64 seeded with {@link #SEED}:
 * byte i is byte (i % 8), little-endian, of output i / 8. benchmarks/pytorch/bench_data.py
 * generates the same bytes, so the Python baselines time the very same frames and the median
 * checksums (printed as "comix-check" lines) can be compared.
 */
final class BenchData {
  /** The seed of every benchmark input (the frames of case (size, T) are the stream's first T*n bytes). */
  static final long SEED = 20211206L;
  /** Seed of the backgrounds of the mixing benchmark (a second stream). */
  static final long BG_SEED = SEED + 1;

  private BenchData() {}

  /** Frame shape [H, W, 3] for the size parameter ("224" or "1080"). */
  static long[] frameShape(String size) {
    return switch (size) {
      case "224" -> new long[] {224, 224, 3};
      case "1080" -> new long[] {1080, 1920, 3};
      default -> throw new IllegalArgumentException("size must be 224 or 1080, got " + size);
    };
  }

  static long mix64(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  /** Host U8 tensor of the given shape holding the first numel bytes of SplitMix64(seed). */
  static Tensor randomHost(long seed, long... shape) {
    Tensor t = Tensor.host(DType.U8, shape);
    long total = t.byteSize();
    final int chunk = 1 << 23; // bytes per put
    byte[] buf = new byte[chunk];
    ByteBuffer bb = ByteBuffer.wrap(buf).order(ByteOrder.LITTLE_ENDIAN);
    long word = 0; // index of the next SplitMix64 output
    for (long off = 0; off < total; off += chunk) {
      int len = (int) Math.min(chunk, total - off);
      bb.clear();
      for (int i = 0; i < len; i += 8) bb.putLong(i, mix64(seed + (++word) * 0x9E3779B97F4A7C15L));
      BytePointer p = new BytePointer(t.data());
      p.position(t.data().position() + off).put(buf, 0, len);
    }
    return t;
  }

  /** Random U8 tensor on the backend's device (host tensors are used as they are on the CPU). */
  static Tensor random(Ops ops, long seed, long... shape) {
    Tensor h = randomHost(seed, shape);
    if (!ops.device().isCuda()) return h;
    try (h) {
      Tensor d = ops.toDevice(h);
      ops.synchronize();
      return d;
    }
  }

  /** Opens the backend, or fails with a message that says what to do. */
  static Ops open(String device, int threads, String bench) {
    try {
      Ops ops = Backends.open(device, threads);
      System.out.println("comix-device " + bench + " " + ops.describe());
      return ops;
    } catch (RuntimeException | LinkageError e) {
      throw new IllegalStateException(bench + ": device=" + device + " is not usable on this machine: " + e.getMessage()
          + (device.startsWith("cuda") ? " (the CUDA benchmarks need an NVIDIA GPU and its driver: run benchmarks/run-gpu.sh"
              + " on a GPU machine; on a CPU machine use -p device=cpu)" : ""), e);
    }
  }

  /** CRC32 of a tensor's bytes (copied to the host first when needed). */
  static long crc32(Ops ops, Tensor t) {
    CRC32 c = new CRC32();
    if (t.device().isCuda()) {
      try (Tensor h = ops.toHost(t)) {
        c.update(h.toBytes());
      }
    } else {
      c.update(t.toBytes());
    }
    return c.getValue();
  }
}

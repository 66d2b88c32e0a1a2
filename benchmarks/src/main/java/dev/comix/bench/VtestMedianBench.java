package dev.comix.bench;

import dev.comix.runtime.DType;
import dev.comix.runtime.Ops;
import dev.comix.runtime.Tensor;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.BytePointer;
import org.openjdk.jmh.annotations.*;

/**
 * Temporal median of real frames: all 795 decoded frames of vtest.avi (RGB), at 224x224 (cv2
 * INTER_AREA) and at the native 768x576, the op alone (decoding is timed separately, by
 * benchmarks/pytorch/make_vtest_expected.py, which also writes the raw frames this bench reads:
 * {@code $COMIX_BENCH_DATA/vtest_224.u8} and {@code vtest_native.u8}, default directory
 * benchmarks/target/data). The numpy reference figures of the acceptance criterion are for these
 * frames.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx1g", "-Dorg.bytedeco.javacpp.maxBytes=0", "-Dorg.bytedeco.javacpp.maxPhysicalBytes=0"})
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 5, time = 1)
public class VtestMedianBench {
  @Param({"cpu"})
  public String device;

  /** "224": 224x224x3; "native": 768x576x3 (not named size, so that -p size=... of the other benches leaves it be). */
  @Param({"224", "native"})
  public String scale;

  @Param({"0"})
  public int threads;

  Ops ops;
  Tensor frames, out;

  static Path dataDir() {
    String d = System.getenv("COMIX_BENCH_DATA");
    return Path.of(d == null || d.isBlank() ? "benchmarks/target/data" : d);
  }

  @Setup
  public void setup() throws IOException {
    long n = switch (scale) {
      case "224" -> 224L * 224 * 3;
      case "native" -> 576L * 768 * 3;
      default -> throw new IllegalArgumentException("scale must be 224 or native, got " + scale);
    };
    Path file = dataDir().resolve("vtest_" + scale + ".u8");
    if (!Files.isRegularFile(file))
      throw new IllegalStateException("VtestMedianBench: " + file.toAbsolutePath() + " is missing: run "
          + "/usr/bin/python3 benchmarks/pytorch/make_vtest_expected.py --raw-dir " + dataDir() + " first (run-cpu.sh does)");
    long bytes = Files.size(file);
    if (bytes % n != 0) throw new IllegalStateException(file + ": " + bytes + " bytes is not a whole number of frames");
    long t = bytes / n;
    ops = BenchData.open(device, threads, "VtestMedianBench");
    Tensor h = Tensor.host(DType.U8, t, n);
    try (InputStream in = Files.newInputStream(file)) {
      byte[] buf = new byte[1 << 23];
      long off = 0;
      for (int r; (r = in.read(buf)) > 0; off += r)
        new BytePointer(h.data()).position(h.data().position() + off).put(buf, 0, r);
    }
    if (ops.device().isCuda()) {
      try (h) {
        frames = ops.toDevice(h);
        ops.synchronize();
      }
    } else {
      frames = h;
    }
    out = ops.allocate(DType.U8, n);
    ops.temporalMedian(frames, out);
    ops.synchronize();
    System.out.printf(Locale.ROOT, "comix-check vtest-median device=%s size=%s T=%d crc32=%08x%n", device, scale, t,
        BenchData.crc32(ops, out));
  }

  @Benchmark
  public void median() {
    ops.temporalMedian(frames, out);
    ops.synchronize();
  }

  @TearDown
  public void tearDown() {
    if (frames != null) frames.close();
    if (out != null) out.close();
    if (ops != null) ops.close();
  }
}

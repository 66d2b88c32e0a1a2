package dev.comix.bench;

import dev.comix.runtime.DType;
import dev.comix.runtime.Ops;
import dev.comix.runtime.Tensor;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.*;

/**
 * Temporal median of T uint8 RGB frames (the CoMix background), the op alone: the frames are
 * already on the device (host memory for the CPU backend), one call plus a synchronize per op.
 * Frames are SplitMix64 bytes from a fixed seed (see {@link BenchData}), the same bytes the Python
 * baselines in benchmarks/pytorch time. GB/s of frame bytes (T*H*W*3
 * read once per op) is computed from the time by benchmarks/summarize.py.
 *
 * <pre>
 * java -jar benchmarks/target/benchmarks.jar '\.MedianBench'                 # CPU, all sizes
 * java -jar benchmarks/target/benchmarks.jar '\.MedianBench' -p device=cuda  # GPU machine
 * java -jar benchmarks/target/benchmarks.jar '\.MedianBench' -p size=224 -p T=300
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
// The frames live in native memory (1.87 GB at 1080p x 300): the heap only holds a fill buffer,
// and JavaCPP's own cap on native memory (by default the heap size) is lifted.
@Fork(value = 1, jvmArgsAppend = {"-Xmx1g", "-Dorg.bytedeco.javacpp.maxBytes=0", "-Dorg.bytedeco.javacpp.maxPhysicalBytes=0"})
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 5, time = 1)
public class MedianBench {
  /** "cpu", "cuda" or "cuda:N". */
  @Param({"cpu"})
  public String device;

  /** "224": 224x224x3 frames; "1080": 1920x1080x3. */
  @Param({"224", "1080"})
  public String size;

  @Param({"16", "72", "300"})
  public int T;

  /** CPU threads (0: all hardware threads). */
  @Param({"0"})
  public int threads;

  Ops ops;
  Tensor frames, out;

  @Setup
  public void setup() {
    ops = BenchData.open(device, threads, "MedianBench");
    long[] fs = BenchData.frameShape(size);
    long n = Tensor.numel(fs);
    frames = BenchData.random(ops, BenchData.SEED, T, n);
    out = ops.allocate(DType.U8, n);
    ops.temporalMedian(frames, out);
    ops.synchronize();
    System.out.printf(Locale.ROOT, "comix-check median device=%s size=%s T=%d crc32=%08x%n", device, size, T,
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

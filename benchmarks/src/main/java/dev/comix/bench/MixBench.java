package dev.comix.bench;

import dev.comix.runtime.DType;
import dev.comix.runtime.Ops;
import dev.comix.runtime.Tensor;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.*;

/**
 * Background mixing fused with normalisation, the op alone (inputs and output already on the
 * device). size=224: one CoMix stream, x [8 videos, 128 frames (16 clips x 8), 224, 224, 3];
 * size=1080: x [2, 16, 1080, 1920, 3]; bg [B, H, W, 3], one per video. Inputs are SplitMix64
 * bytes (see {@link BenchData}), the same as benchmarks/pytorch/mix_baseline.py. GB/s (x and bg
 * read once, out written once, per op) is computed from the time by benchmarks/summarize.py.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx1g", "-Dorg.bytedeco.javacpp.maxBytes=0", "-Dorg.bytedeco.javacpp.maxPhysicalBytes=0"})
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 5, time = 1)
public class MixBench {
  @Param({"cpu"})
  public String device;

  @Param({"224", "1080"})
  public String size;

  @Param({"F32", "BF16"})
  public String out;

  @Param({"0"})
  public int threads;

  Ops ops;
  Tensor x, bg, y;

  /** [B, F] for the size parameter. */
  static long[] batch(String size) {
    return switch (size) {
      case "224" -> new long[] {8, 128};
      case "1080" -> new long[] {2, 16};
      default -> throw new IllegalArgumentException("size must be 224 or 1080, got " + size);
    };
  }

  @Setup
  public void setup() {
    ops = BenchData.open(device, threads, "MixBench");
    long[] bf = batch(size);
    long b = bf[0], f = bf[1], n = Tensor.numel(BenchData.frameShape(size));
    x = BenchData.random(ops, BenchData.SEED, b, f, n);
    bg = BenchData.random(ops, BenchData.BG_SEED, b, n);
    DType dt = DType.valueOf(out);
    y = ops.allocate(dt, b, f, n);
  }

  @Benchmark
  public void mix() {
    ops.backgroundMix(x, bg, 0.3f, y);
    ops.synchronize();
  }

  @TearDown
  public void tearDown() {
    if (x != null) x.close();
    if (bg != null) bg.close();
    if (y != null) y.close();
    if (ops != null) ops.close();
  }
}

package dev.comix.bench;

import dev.comix.runtime.Backends;
import dev.comix.runtime.DType;
import dev.comix.runtime.Ops;
import dev.comix.runtime.Tensor;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.*;

/** Background mixing + normalisation: one CoMix stream (8 videos x 16 clips x 8 frames, 224x224x3). */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = "-Xmx4g")
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class MixBench {
  @Param({"cpu"})
  public String device;

  @Param({"F32", "BF16"})
  public String out;

  Ops ops;
  Tensor x, bg, y;

  @Setup
  public void setup() {
    ops = Backends.open(device, 0);
    Random r = new Random(7);
    long b = 8, f = 128, n = 224 * 224 * 3;
    byte[] xs = new byte[(int) (b * f * n)], bs = new byte[(int) (b * n)];
    r.nextBytes(xs);
    r.nextBytes(bs);
    try (Tensor hx = Tensor.hostOf(xs, b, f, n); Tensor hb = Tensor.hostOf(bs, b, n)) {
      x = ops.toDevice(hx);
      bg = ops.toDevice(hb);
    }
    y = ops.allocate(DType.valueOf(out), b, f, n);
  }

  @Benchmark
  public void mix() {
    ops.backgroundMix(x, bg, 0.3f, y);
    ops.synchronize();
  }

  @TearDown
  public void tearDown() {
    x.close();
    bg.close();
    y.close();
    ops.close();
  }
}

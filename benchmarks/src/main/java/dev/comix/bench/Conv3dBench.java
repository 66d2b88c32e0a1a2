package dev.comix.bench;

import dev.comix.nn.Conv3d;
import dev.comix.nn.Floats;
import dev.comix.runtime.DType;
import dev.comix.runtime.Tensor;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.*;

/**
 * The CPU Conv3d (oneDNN) at I3D's Conv3d_2c_3x3 shape on a short clip: 64 → 192 channels,
 * 3×3×3, stride 1, input [1, 4, 56, 56, 64] NDHWC. fwd = forward alone; bwd = backward-data plus
 * backward-weights (with the accumulation into the gradient). 2·N·Cout·Cin·27·D·H·W = 4.16 GFLOP
 * per pass. Run with ONEDNN_VERBOSE=1 to see the implementation oneDNN chose.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx1g"})
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
public class Conv3dBench {
  @Param({"1"})
  public int n;

  @Param({"4"})
  public int depth;

  Conv3d conv;
  Tensor x, gy;

  static Tensor random(long seed, long... shape) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] a = new float[Math.toIntExact(Tensor.numel(shape))];
    for (int i = 0; i < a.length; i++) a[i] = (float) (r.nextDouble() * 2 - 1);
    return Floats.of(a, shape);
  }

  @Setup
  public void setup() {
    conv = new Conv3d(64, 192, new int[] {3, 3, 3}, new int[] {1, 1, 1}, false);
    try (Tensor w = random(1, 192, 64, 3, 3, 3)) {
      Floats.write(conv.weight().value(), Floats.read(w));
    }
    x = random(2, n, depth, 56, 56, 64);
    gy = random(3, n, depth, 56, 56, 192);
    System.out.println("oneDNN: " + conv.implementations(x.shape()));
    conv.forward(x, true).close();
    conv.clearSaved();
  }

  @Benchmark
  public void fwd() {
    conv.forward(x, true).close();
    conv.clearSaved(); // training forwards push a saved context each
  }

  /** Runs the forward that the measured backward pops (not timed; ms-scale, so per-invocation setup is fine). */
  @State(Scope.Thread)
  public static class Forwarded {
    @Setup(Level.Invocation)
    public void forward(Conv3dBench b) {
      b.conv.forward(b.x, true).close();
    }
  }

  @Benchmark
  public void bwd(Forwarded f) {
    conv.backward(gy).close();
  }
}

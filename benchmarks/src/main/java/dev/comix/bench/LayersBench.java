package dev.comix.bench;

import dev.comix.nn.BatchNorm3d;
import dev.comix.nn.Layer;
import dev.comix.nn.MaxPool3d;
import dev.comix.nn.ReLU;
import dev.comix.runtime.Tensor;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.*;

/**
 * The Java-side CPU layers at I3D's stem output, [1, 4, 112, 112, 64] NDHWC (3.2 M values, 12.8 MB),
 * forward and backward: BatchNorm3d (training), ReLU, MaxPool3d_2a (1×3×3, stride 1×2×2). Compare
 * with {@link Conv3dBench} to see where the time of a Unit3D goes.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g"})
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
public class LayersBench {
  @Param({"bn", "relu", "maxpool"})
  public String layer;

  Layer l;
  Tensor x, gy;

  @Setup
  public void setup() {
    l = switch (layer) {
      case "bn" -> new BatchNorm3d(64);
      case "relu" -> new ReLU();
      case "maxpool" -> new MaxPool3d(new int[] {1, 3, 3}, new int[] {1, 2, 2});
      default -> throw new IllegalArgumentException(layer);
    };
    x = Conv3dBench.random(2, 1, 4, 112, 112, 64);
    try (Tensor y = l.forward(x, true)) {
      gy = Conv3dBench.random(3, y.shape());
    }
    l.clearSaved();
  }

  @Benchmark
  public void fwd() {
    l.forward(x, true).close();
    l.clearSaved(); // training forwards push a saved context each
  }

  /** Runs the forward that the measured backward pops (not timed; ms-scale, so per-invocation setup is fine). */
  @State(Scope.Thread)
  public static class Forwarded {
    @Setup(Level.Invocation)
    public void forward(LayersBench b) {
      b.l.forward(b.x, true).close();
    }
  }

  @Benchmark
  public void bwd(Forwarded f) {
    l.backward(gy).close();
  }
}

package dev.comix.bench;

import dev.comix.runtime.Backends;
import dev.comix.runtime.CudaOps;
import dev.comix.runtime.DType;
import dev.comix.runtime.Ops;
import dev.comix.runtime.Tensor;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.BytePointer;
import org.openjdk.jmh.annotations.*;

/**
 * Fused SupCon forward + backward (loss and dL/dfeatures), the same losses as
 * benchmarks/pytorch/supcon_baseline.py: "16x2x12" is CoMix's BGM call (softmax probabilities,
 * virtual labels [0..7, 0..7], tau 0.5, base 0.07, no normalisation); the others are NT-Xent
 * over L2-normalised [N, 2, D] embeddings, tau = base = 0.1.
 *
 * <pre>
 * java -jar benchmarks/target/benchmarks.jar SupConBench -p device=cpu -p shape=16x2x12,4096x2x128
 * java -jar benchmarks/target/benchmarks.jar SupConBench -p device=cuda -p tf32=false,true
 * java -jar benchmarks/target/benchmarks.jar SupConBench -p device=cuda -p path=tiled,gemm -p shape=4096x2x128
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)  // reports the median (p0.50), as the PyTorch baseline does
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = "-Xmx4g")
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class SupConBench {
  @Param({"cpu"})
  public String device;

  @Param({"16x2x12", "1024x2x128", "1024x2x512", "4096x2x128", "4096x2x512", "16384x2x128", "16384x2x512"})
  public String shape;

  /** CUDA only: similarity tiles on TF32 tensor cores (Ops.SUPCON_TF32; D >= 64). */
  @Param({"false"})
  public boolean tf32;

  /**
   * CUDA only: auto (the shipped choice), tiny, tiled, generic or gemm (cuBLAS products, fused
   * statistics); see CudaOps.supConPath.
   */
  @Param({"auto"})
  public String path;

  Ops ops;
  int pathNumber;
  Tensor features, labels, loss, grad;
  float tau, tauB;
  int flags;

  @Setup
  public void setup() {
    ops = Backends.open(device, 0);
    pathNumber = CudaOps.supConPathNumber(path);
    if (pathNumber != CudaOps.SUPCON_AUTO && !(ops instanceof CudaOps))
      throw new IllegalArgumentException("path=" + path + " needs device=cuda");
    String[] p = shape.split("x");
    int n = Integer.parseInt(p[0]), v = Integer.parseInt(p[1]), d = Integer.parseInt(p[2]);
    Random r = new Random(0);
    try (Tensor hf = Tensor.host(DType.F32, n, v, d)) {
      BytePointer b = hf.data();
      boolean comix = shape.equals("16x2x12");
      for (int i = 0; i < n * v; i++) {  // CoMix: softmax probabilities; else Gaussian embeddings
        double[] row = new double[d];
        double s = 0;
        for (int j = 0; j < d; j++) {
          row[j] = comix ? Math.exp(2 * r.nextGaussian()) : r.nextGaussian();
          s += row[j];
        }
        for (int j = 0; j < d; j++) b.putFloat(4L * (i * d + j), (float) (comix ? row[j] / s : row[j]));
      }
      features = ops.toDevice(hf);
      if (comix) {
        try (Tensor hl = Tensor.host(DType.I64, n)) {
          for (int i = 0; i < n; i++) hl.data().putLong(8L * i, i % (n / 2));
          labels = ops.toDevice(hl);
        }
        tau = 0.5f;
        tauB = 0.07f;
        flags = 0;
      } else {
        tau = 0.1f;
        tauB = 0.1f;
        flags = Ops.SUPCON_NORMALIZE;
      }
    }
    if (tf32) flags |= Ops.SUPCON_TF32;
    loss = ops.allocate(ops.device().isCuda() ? DType.F32 : DType.F64, 1);
    grad = ops.allocate(DType.F32, n, v, d);
  }

  @Benchmark
  public void forwardBackward() {
    if (pathNumber == CudaOps.SUPCON_AUTO) ops.supCon(features, labels, null, tau, tauB, flags, 1f, loss, grad);
    else ((CudaOps) ops).supConPath(features, labels, null, tau, tauB, flags, 1f, loss, grad, pathNumber);
    ops.synchronize();
  }

  @TearDown
  public void tearDown() {
    features.close();
    if (labels != null) labels.close();
    loss.close();
    grad.close();
    ops.close();
  }
}

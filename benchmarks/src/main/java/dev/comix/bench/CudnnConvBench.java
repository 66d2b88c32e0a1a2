package dev.comix.bench;

import dev.comix.nn.Conv3d;
import dev.comix.nn.Floats;
import dev.comix.nn.gpu.Conv3dEngine;
import dev.comix.nn.gpu.ConvApi;
import dev.comix.nn.gpu.ConvLayout;
import dev.comix.nn.gpu.ConvPrecision;
import dev.comix.nn.gpu.Cudnn;
import dev.comix.nn.gpu.CudnnConv3d;
import dev.comix.nn.gpu.CudnnGraphConv3d;
import dev.comix.nn.gpu.GemmConv3d;
import dev.comix.runtime.Backends;
import dev.comix.runtime.CudaOps;
import dev.comix.runtime.DType;
import dev.comix.runtime.Ops;
import dev.comix.runtime.Tensor;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.BytePointer;
import org.openjdk.jmh.annotations.*;

/**
 * I3D's 3-D convolutions at their real shapes, on cuDNN ({@code device=cuda}: {@code api=legacy}
 * {@link CudnnConv3d} or {@code api=graph} {@link CudnnGraphConv3d}, or {@code api=gemm}
 * {@link GemmConv3d} around the graph engine for Conv3d_1a in F32 NDHWC; in a {@link ConvPrecision} and
 * {@link ConvLayout}) or on the CPU ({@code device=cpu}: the
 * oneDNN {@link Conv3d}, F32 and NDHWC only). {@code fwd} is the forward alone; {@code fwdbwd} is
 * forward + backward-data + backward-filter. Each pass is 2·MACs FLOPs, so fwdbwd is 3× fwd:
 * <pre>
 *   shape          conv                      input (N C D H W)        output          GFLOP/pass at N=8
 *   Conv3d_1a_7x7  3→64, 7×7×7, s2           N×3×13×229×229 (pad 0)   N×64×4×112×112  2×8×64×4×112×112×3×343 = 52.9
 *   Conv3d_2c_3x3  64→192, 3×3×3, s1, pad 1  N×64×4×56×56             N×192×4×56×56   66.6
 *   Mixed_4b_3x3   96→208, 3×3×3, s1, pad 1  N×96×2×14×14             N×208×2×14×14   3.38
 * </pre>
 * Conv3d_1a: pytorch-i3d pads TF-SAME asymmetrically (2 front, 3 back in every dimension of an
 * 8×224×224 clip), which cuDNN's symmetric padding cannot express; the cuDNN run takes the
 * pre-padded 13×229×229 input with pad 0 (exactly the I3D output shape and MACs). The CPU run
 * takes the unpadded 8×224×224 input with TF-SAME padding (same output shape). Mixed_4b_3x3 is
 * branch 1b of Mixed_4b (COMIX-SPEC §1.1: 480 → [192, 96→208, 16→48, 64]).
 * <pre>
 * java -jar benchmarks/target/benchmarks.jar CudnnConvBench -p device=cuda -p precision=F32,TF32,BF16 \
 *     -p layout=NCDHW,NDHWC -p batch=8,32 -p api=legacy,graph
 * java -jar benchmarks/target/benchmarks.jar CudnnConvBench -p shape=Mixed_4b_3x3 -p batch=8    # CPU, oneDNN
 * </pre>
 * The chosen cuDNN algorithms (legacy) or engines (graph) are printed at setup
 * ({@link Conv3dEngine#describe}); GFLOP/s come
 * from benchmarks/conv_summary.py (FLOPs per pass are printed too).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g", "-Dorg.bytedeco.javacpp.maxBytes=0", "-Dorg.bytedeco.javacpp.maxPhysicalBytes=0"})
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 5, time = 1)
public class CudnnConvBench {
  @Param({"cpu"})
  public String device;

  @Param({"F32"})
  public String precision;

  @Param({"NDHWC"})
  public String layout;

  @Param({"Conv3d_1a_7x7", "Conv3d_2c_3x3", "Mixed_4b_3x3"})
  public String shape;

  @Param({"8", "32"})
  public int batch;

  /** cuDNN API of the GPU run: legacy ({@link CudnnConv3d}) or graph ({@link CudnnGraphConv3d}); ignored on the CPU. Default graph, the library default. */
  @Param({"graph"})
  public String api;

  /** One benchmarked conv: channels, cubic kernel k, stride, symmetric cuDNN pad, cuDNN input D/H/W, CPU input D/H/W. */
  record Spec(int cin, int cout, int k, int stride, int pad, int[] gpuIn, int[] cpuIn) {}

  static Spec spec(String name) {
    return switch (name) {
      case "Conv3d_1a_7x7" -> new Spec(3, 64, 7, 2, 0, new int[] {13, 229, 229}, new int[] {8, 224, 224});
      case "Conv3d_2c_3x3" -> new Spec(64, 192, 3, 1, 1, new int[] {4, 56, 56}, new int[] {4, 56, 56});
      case "Mixed_4b_3x3" -> new Spec(96, 208, 3, 1, 1, new int[] {2, 14, 14}, new int[] {2, 14, 14});
      default -> throw new IllegalArgumentException("unknown shape " + name + " (Conv3d_1a_7x7, Conv3d_2c_3x3, Mixed_4b_3x3)");
    };
  }

  /** FLOPs of one pass (2 · MACs) for a shape and batch: what conv_summary.py divides by the time. */
  public static double flopsPerPass(String name, int batch) {
    Spec s = spec(name);
    long[] o = new long[3];
    for (int i = 0; i < 3; i++) o[i] = (s.gpuIn()[i] + 2L * s.pad() - s.k()) / s.stride() + 1;
    return 2.0 * batch * s.cout() * o[0] * o[1] * o[2] * s.cin() * s.k() * s.k() * s.k();
  }

  Ops ops;
  // cuda
  Conv3dEngine conv;
  Conv3dEngine.Plan plan;
  Tensor x, w, y, dy, dx, dw;
  // cpu
  Conv3d cpuConv;

  @Setup
  public void setup() {
    Spec s = spec(shape);
    ops = Backends.open(device, 0);
    double gflop = flopsPerPass(shape, batch) / 1e9;
    if (!ops.device().isCuda()) {
      if (!precision.equals("F32") || !layout.equals("NDHWC"))
        throw new IllegalArgumentException("device=cpu runs precision=F32 layout=NDHWC only (oneDNN Conv3d)");
      int[] k = {s.k(), s.k(), s.k()}, st = {s.stride(), s.stride(), s.stride()};
      cpuConv = new Conv3d(s.cin(), s.cout(), k, st, false);
      try (Tensor wt = random(ops, DType.F32, 1, s.cout(), s.cin(), s.k(), s.k(), s.k())) {
        Floats.write(cpuConv.weight().value(), Floats.read(wt));
      }
      x = random(ops, DType.F32, 2, batch, s.cpuIn()[0], s.cpuIn()[1], s.cpuIn()[2], s.cin());
      dy = random(ops, DType.F32, 3, cpuConv.outShape(x.shape()));
      System.out.printf(Locale.ROOT, "%s batch %d cpu: %.3f GFLOP per pass; oneDNN %s%n", shape, batch, gflop,
          cpuConv.implementations(x.shape()));
      return;
    }
    ConvPrecision prec = ConvPrecision.valueOf(precision);
    ConvLayout lay = ConvLayout.valueOf(layout);
    DType dt = prec == ConvPrecision.BF16 ? DType.BF16 : DType.F32;
    CudaOps cuda = (CudaOps) ops;
    int[] k = {s.k(), s.k(), s.k()}, st = {s.stride(), s.stride(), s.stride()}, pd = {s.pad(), s.pad(), s.pad()};
    // api=gemm: the graph engine wrapped in GemmConv3d (im2col + cuBLAS SGEMM forward and
    // backward-filter), what the layers use for Conv3d_1a in strict F32
    boolean gemm = api.equalsIgnoreCase("gemm");
    conv = Conv3dEngine.create(gemm ? ConvApi.GRAPH : ConvApi.parse(api), Cudnn.of(cuda), s.cin(), s.cout(), k, st, pd,
        lay, prec);
    if (gemm) conv = new GemmConv3d(conv, cuda, 0);  // refuses (IllegalArgumentException) what it does not take
    plan = conv.plan(batch, s.gpuIn()[0], s.gpuIn()[1], s.gpuIn()[2]);
    x = random(ops, dt, 2, plan.inputShape());
    w = random(ops, dt, 1, conv.filterShape());
    dy = random(ops, dt, 3, plan.outputShape());
    y = ops.allocate(dt, plan.outputShape());
    dx = ops.allocate(dt, plan.inputShape());
    dw = ops.allocate(dt, conv.filterShape());
    // the first call of each pass runs the algorithm/engine search (cached afterwards), outside the timing
    conv.forward(plan, x.data(), w.data(), y.data());
    conv.backwardData(plan, dy.data(), w.data(), dx.data());
    conv.backwardFilter(plan, x.data(), dy.data(), dw.data(), false);
    ops.synchronize();
    System.out.printf(Locale.ROOT, "%s batch %d cuda cuDNN %s %s API: %.3f GFLOP per pass; %s; allocator peak %.0f MiB%n",
        shape, batch, Cudnn.version(), conv.api().name().toLowerCase(Locale.ROOT), gflop, conv.describe(plan), cuda.allocator().peakBytes() / 1048576.0);
  }

  /** Uniform(-1, 1) values in {@code dt} on the backend's device, written in 1 Mi-element host chunks. */
  static Tensor random(Ops ops, DType dt, long seed, long... shape) {
    SplittableRandom r = new SplittableRandom(seed);
    long n = Tensor.numel(shape);
    Tensor out = ops.allocate(dt, shape);
    int chunk = 1 << 20;
    try (Tensor host = Tensor.host(dt, Math.min(n, chunk))) {
      BytePointer b = host.data();
      for (long off = 0; off < n; off += chunk) {
        int m = (int) Math.min(chunk, n - off);
        for (int i = 0; i < m; i++) {
          float v = (float) (r.nextDouble() * 2 - 1);
          if (dt == DType.F32) b.putFloat(4L * i, v);
          else b.putShort(2L * i, (short) (Float.floatToRawIntBits(v) >>> 16));
        }
        try (Tensor src = host.slice0(0, m); Tensor dst = out.view(n).slice0(off, off + m)) {
          ops.copy(src, dst);
        }
      }
    }
    return out;
  }

  @Benchmark
  public void fwd() {
    if (conv == null) {
      cpuConv.forward(x, true).close();
      cpuConv.clearSaved();
      return;
    }
    conv.forward(plan, x.data(), w.data(), y.data());
    ops.synchronize();
  }

  @Benchmark
  public void fwdbwd() {
    if (conv == null) {
      cpuConv.forward(x, true).close();
      cpuConv.backward(dy).close();
      return;
    }
    conv.forward(plan, x.data(), w.data(), y.data());
    conv.backwardData(plan, dy.data(), w.data(), dx.data());
    conv.backwardFilter(plan, x.data(), dy.data(), dw.data(), false);
    ops.synchronize();
  }

  @TearDown
  public void tearDown() {
    for (Tensor t : new Tensor[] {x, w, y, dy, dx, dw}) if (t != null) t.close();
    if (conv != null) conv.close();
    ops.close();
  }
}

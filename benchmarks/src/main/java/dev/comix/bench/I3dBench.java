package dev.comix.bench;

import dev.comix.nn.Floats;
import dev.comix.nn.InceptionI3d;
import dev.comix.nn.gpu.ConvApi;
import dev.comix.nn.gpu.ConvLayout;
import dev.comix.nn.gpu.ConvPrecision;
import dev.comix.nn.gpu.CudnnConv3d;
import dev.comix.nn.gpu.CudnnGraphConv3d;
import dev.comix.nn.gpu.GpuContext;
import dev.comix.runtime.DType;
import dev.comix.runtime.Device;
import dev.comix.runtime.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.*;

/**
 * The whole CPU (oneDNN) {@link InceptionI3d}, width 1, on 8×224×224 clips NDHWC [N, 8, 224, 224, 3],
 * inputs uniform in [−1, 1] from a fixed seed, random (default-initialised) weights.
 *
 * <ul>
 *   <li>{@code mode=eval}: {@code forward(x, false)} (features [N, 1024]);
 *   <li>{@code mode=train}: {@code zeroGrad()}, {@code forward(x, true)}, {@code backward(gy)} with a
 *       random gy [N, 1024] (training-mode BatchNorm, every gradient accumulated, dL/dx returned).
 * </ul>
 *
 * <p>JMH's score is ms per call (SingleShotTime: one call per iteration). At the end of each trial
 * the bench also prints a line {@code comix-i3d {json}} with the median ms per call, ms per clip
 * and GFLOP/s of the measured calls.
 *
 * <p>FLOP count ({@link #convMacsPerClip}): conv MACs only (BN, ReLU, pools, concat ignored), every
 * conv with TF-SAME padding so its output is ceil(in / stride): MACs = T'·H'·W'·Cout·Cin·kt·kh·kw.
 * At 8×224²: Conv3d_1a 7×7×7/2 3→64 at 4×112²; Conv3d_2b 1×1 64→64 and Conv3d_2c 3×3×3 64→192 at
 * 4×56²; Mixed_3b/3c at 4×28²; Mixed_4b..4f at 2×14²; Mixed_5b/5c at 1×7²; an Inception module with
 * outputs (o0..o5) on Cin channels costs per position Cin·(o0 + o1 + o3 + o5) + 27·(o1·o2 + o3·o4).
 * Total 13.894 GMAC per clip (the spec's ~13.9; benchmarks/pytorch/i3d_baseline.py counts the same
 * number with hooks on the PyTorch model). FLOP = 2·MAC for the forward, 6·MAC for forward +
 * backward (forward, backward-data, backward-weights), less Conv3d_1a's backward-data (2 × 3.30
 * GMAC per clip) unless {@code inputGrad} asks for dL/dx.
 *
 * <p>{@code device=cuda}: the same model on the GPU (cuDNN convolutions, comix kernels, NDHWC),
 * {@code precision} F32 (no tensor cores), TF32 (PyTorch's default for cuDNN convolutions) or BF16
 * (bf16 activations, fp32 parameters and statistics); each call ends with a stream
 * synchronisation. {@code convLayout} NCDHW runs the convolutions in cuDNN's NCDHW layout behind
 * transposes (see {@link GpuContext#convLayout}); {@code api} picks the cuDNN API of the
 * convolutions (legacy, graph: see {@link GpuContext#setConvEngine}). The line then also gives the
 * allocator's peak device bytes. Inputs of more than 32 clips are the first 32 repeated on the device.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx4g"})
@Warmup(iterations = 1)
@Measurement(iterations = 3)
public class I3dBench {
  @Param({"1", "4"})
  public int batch;

  @Param({"eval", "train"})
  public String mode;

  @Param({"cpu"})
  public String device;

  @Param({"TF32"})
  public String precision;

  /** cuda: per-op device time of the calls after the first (GpuProfile), printed as comix-i3d-profile lines. */
  @Param({"false"})
  public boolean profile;

  /**
   * cuda: clips per cuDNN convolution call (0: the whole batch; -1: the context's default,
   * GpuContext.DEFAULT_MICRO_BATCH); BN statistics stay over the whole batch.
   */
  @Param({"-1"})
  public int microBatch;

  /**
   * cuda: the layout the convolutions give cuDNN ({@link GpuContext#setConvLayout}): NDHWC, or NCDHW
   * behind NDHWC/NCDHW transposes (activations between layers stay NDHWC either way).
   */
  @Param({"NDHWC"})
  public String convLayout;

  long mallocsAfterWarmup = -1;

  /**
   * Untimed training steps run at the end of the setup (-1: 12 on a GPU, 0 on the CPU). A GPU step
   * is ~100 ms of mostly host-issued work (~2,000 native calls), so the first few JMH calls of a
   * fresh JVM ran partly interpreted: without these the host-side Java was timed before the JIT
   * compiled it (session 2's figures had 1 warm-up call).
   */
  @Param({"-1"})
  public int warmSteps;

  /**
   * train: whether the backward computes dL/d(clip) (Conv3d_1a's backward-data). Off by default,
   * as in training and in the PyTorch baseline (its input does not require grad); the FLOP count
   * follows.
   */
  @Param({"false"})
  public boolean inputGrad;

  /**
   * cuda: Conv3d_1a's 3 input channels zero-padded to 16 bytes for cuDNN (8 bf16 / 4 fp32;
   * {@link GpuContext#setPadInputChannels}).
   */
  @Param({"false"})
  public boolean padChannels;

  /** cuDNN API of the convolutions on the GPU: legacy (CudnnConv3d) or graph (CudnnGraphConv3d); ignored on the CPU. Default graph, the library default. */
  @Param({"graph"})
  public String api;

  GpuContext gpu;

  static final int T = 8, S = 224;

  InceptionI3d model;
  Tensor x, gy;
  final List<Long> nanos = new ArrayList<>();
  /** Host time of each call until everything was queued (before the final stream synchronisation). */
  final List<Long> hostNanos = new ArrayList<>();
  boolean measuring;

  /** Conv MACs of one width-1 I3D forward of a t×s×s clip (see the class comment). */
  static long convMacsPerClip(int t, int s) {
    long macs = 0;
    int d = ceil(t, 2), h = ceil(s, 2);
    macs += (long) d * h * h * 64 * 3 * 343; // Conv3d_1a_7x7, stride 2
    h = ceil(h, 2); // MaxPool3d_2a 1×3×3 / 1×2×2
    macs += (long) d * h * h * 64 * 64; // Conv3d_2b_1x1
    macs += (long) d * h * h * 192 * 64 * 27; // Conv3d_2c_3x3
    h = ceil(h, 2); // MaxPool3d_3a
    int c = 192;
    int[][] stages = {
      {64, 96, 128, 16, 32, 32}, {128, 128, 192, 32, 96, 64}, null,
      {192, 96, 208, 16, 48, 64}, {160, 112, 224, 24, 64, 64}, {128, 128, 256, 24, 64, 64},
      {112, 144, 288, 32, 64, 64}, {256, 160, 320, 32, 128, 128}, null,
      {256, 160, 320, 32, 128, 128}, {384, 192, 384, 48, 128, 128}};
    for (int[] o : stages) {
      if (o == null) { // MaxPool3d_4a 3×3×3 / 2, MaxPool3d_5a 2×2×2 / 2
        d = ceil(d, 2);
        h = ceil(h, 2);
        continue;
      }
      long perPos = (long) c * (o[0] + o[1] + o[3] + o[5]) + 27L * ((long) o[1] * o[2] + (long) o[3] * o[4]);
      macs += perPos * d * h * h;
      c = o[0] + o[2] + o[4] + o[5];
    }
    return macs;
  }

  /** Conv MACs of Conv3d_1a_7x7 alone (its backward-data is skipped without inputGrad). */
  static long conv1aMacsPerClip(int t, int s) {
    return (long) ceil(t, 2) * ceil(s, 2) * ceil(s, 2) * 64 * 3 * 343;
  }

  private static int ceil(int a, int b) {
    return (a + b - 1) / b;
  }

  @Setup(Level.Trial)
  public void setup() {
    model = new InceptionI3d(1.0);
    model.setInputGradient(inputGrad);
    nanos.clear();
    hostNanos.clear();
    if (!device.equals("cuda")) {
      x = Conv3dBench.random(20211206L + batch, batch, T, S, S, 3);
      gy = Conv3dBench.random(7L + batch, batch, 1024);
      return;
    }
    gpu = GpuContext.of(Device.parse(device));
    gpu.setPrecision(ConvPrecision.valueOf(precision));
    if (microBatch >= 0) gpu.setMicroBatch(microBatch);
    gpu.setConvLayout(ConvLayout.valueOf(convLayout));
    gpu.setConvEngine(ConvApi.parse(api));
    gpu.setPadInputChannels(padChannels);
    int first = Math.min(batch, 32);
    try (Tensor h = Conv3dBench.random(20211206L + batch, first, T, S, S, 3); Tensor d = gpu.upload(h)) {
      x = gpu.alloc(d.dtype(), batch, T, S, S, 3);
      for (int b = 0; b < batch; b += first) {
        int n = Math.min(first, batch - b);
        try (Tensor dst = x.slice0(b, b + n); Tensor src = d.slice0(0, n)) {
          gpu.ops().copy(src, dst);
        }
      }
    }
    try (Tensor h = Conv3dBench.random(7L + batch, batch, 1024)) {
      gy = gpu.upload(h, DType.F32);
    }
    gpu.ops().synchronize();
    int warm = warmSteps >= 0 ? warmSteps : 12;
    long w0 = System.nanoTime();
    for (int i = 0; i < warm; i++) step();
    gpu.ops().synchronize();
    if (warm > 0)
      System.out.println(String.format(Locale.ROOT, "comix-i3d-warmup %d untimed steps in %.1f s", warm,
          (System.nanoTime() - w0) / 1e9));
  }

  private void step() {
    if (mode.equals("eval")) {
      model.forward(x, false).close();
      model.clearSaved();
    } else if (mode.equals("train")) {
      model.zeroGrad();
      model.forward(x, true).close();
      Tensor dx = model.backward(gy);
      if (dx != null) dx.close();
      model.clearSaved();
    } else {
      throw new IllegalArgumentException("mode must be eval or train, got " + mode);
    }
  }

  @Benchmark
  public void i3d() {
    long t0 = System.nanoTime();
    step();
    hostNanos.add(System.nanoTime() - t0);
    if (gpu != null) gpu.ops().synchronize();
    nanos.add(System.nanoTime() - t0);
    if (gpu != null && nanos.size() == 1) {
      mallocsAfterWarmup = gpu.ops().allocator().mallocCount();
      if (profile) gpu.setProfiling(true);
    }
  }

  private static double median(List<Long> m) {
    if (m.isEmpty()) return Double.NaN;
    m.sort(null);
    return m.size() % 2 == 1 ? m.get(m.size() / 2) : (m.get(m.size() / 2 - 1) + m.get(m.size() / 2)) / 2.0;
  }

  /** Prints the comix-i3d line: the median of the calls after the first (with -wi 1, the warm-up call). */
  @TearDown(Level.Trial)
  public void report() {
    List<Long> m = new ArrayList<>(nanos.size() > 1 ? nanos.subList(1, nanos.size()) : nanos);
    double med = median(m);
    double hostMed = median(new ArrayList<>(hostNanos.size() > 1 ? hostNanos.subList(1, hostNanos.size()) : hostNanos));
    double ms = med / 1e6;
    long macs = convMacsPerClip(T, S) * batch;
    double flop = macs * (mode.equals("eval") ? 2.0 : 6.0);
    if (mode.equals("train") && !inputGrad) flop -= 2.0 * conv1aMacsPerClip(T, S) * batch; // no backward-data there
    String dev = gpu == null ? "" : String.format(Locale.ROOT,
        ", \"device\": \"%s\", \"precision\": \"%s\", \"api\": \"%s\", \"conv_layout\": \"%s\", \"micro_batch\": %d,"
            + " \"clips_per_s\": %.1f, \"peak_device_gib\": %.2f, \"host_ms_per_call\": %.2f, \"warm_steps\": %d,"
            + " \"graph_candidates\": %d, \"pad_channels\": %b, \"gemm_conv\": %b, \"profiled\": %b, \"search\": \"%s\"",
        gpu.device(), precision, gpu.convEngine().name().toLowerCase(Locale.ROOT), convLayout, gpu.microBatch(),
        batch / (med / 1e9), gpu.ops().allocator().peakBytes() / 1073741824.0, hostMed / 1e6,
        warmSteps >= 0 ? warmSteps : 12, CudnnGraphConv3d.candidateLimit(), padChannels,
        gpu.gemmConv() && "F32".equals(precision) && "NDHWC".equalsIgnoreCase(convLayout), profile,  // GemmConv3d: F32 NDHWC only
        CudnnConv3d.searchSettings(gpu.precision()));
    System.out.println(String.format(Locale.ROOT,
        "comix-i3d {\"mode\": \"%s\", \"batch\": %d, \"calls\": %d, \"input_grad\": %b, \"ms_per_call\": %.2f, \"ms_per_clip\": %.3f,"
            + " \"gflops\": %.1f, \"gmac_per_clip\": %.4f%s, \"all_ms\": %s}",
        mode, batch, m.size(), inputGrad, ms, ms / batch, flop / med, convMacsPerClip(T, S) / 1e9, dev,
        nanos.stream().map(v -> String.format(Locale.ROOT, "%.2f", v / 1e6)).toList()));
    if (gpu != null) {
      System.out.println(String.format(Locale.ROOT, "comix-i3d-mallocs {\"batch\": %d, \"precision\": \"%s\", \"conv_layout\": \"%s\", "
          + "\"cudaMalloc_calls_after_first_call\": %d, \"cached_gib\": %.2f}", batch, precision, convLayout,
          gpu.ops().allocator().mallocCount() - mallocsAfterWarmup, gpu.ops().allocator().cachedBytes() / 1073741824.0));
      if (profile) {
        double wall = 0;
        for (int i = 1; i < nanos.size(); i++) wall += nanos.get(i) / 1e6;
        System.out.println(String.format(Locale.ROOT, "comix-i3d-profile wall time of the profiled calls: %.3f ms", wall));
        for (String line : gpu.profile().report(25)) System.out.println("comix-i3d-profile " + line);
        gpu.setProfiling(false);
      }
    }
    x.close();
    gy.close();
  }
}

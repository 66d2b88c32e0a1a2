package dev.comix.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.comix.nn.gpu.ConvApi;
import dev.comix.nn.gpu.ConvPrecision;
import dev.comix.io.Npy;
import dev.comix.nn.gpu.GpuContext;
import dev.comix.runtime.Backends;
import dev.comix.runtime.DType;
import dev.comix.runtime.Device;
import dev.comix.runtime.Tensor;
import dev.comix.testing.TestBackends;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every layer's GPU path (cuDNN convolutions, comix's BN/ReLU/pool/dropout kernels, device
 * concat/split, the fused BN+ReLU of Unit3D, the whole InceptionI3d) against float64 loops and
 * their finite differences (Ref), and the tiny I3D against the outputs PyTorch stored for the CPU
 * parity tests (forward, a training step's gradients and running statistics). F32 to 1e-4 of the
 * largest value (1e-3 for gradients through the whole network), TF32 1e-2, BF16 3e-2..5e-2. No
 * oneDNN needed (the GPU bundle leaves it behind). Runs only with -Dcomix.test.gpu=true.
 */
@Tag("gpu")
class GpuLayersTest {
  @TempDir Path tmp;
  private GpuContext g;
  private ConvApi api;
  private Random r;

  @BeforeEach
  void open() {
    assumeTrue(TestBackends.gpuRequested(), "GPU tests run only with -Dcomix.test.gpu=true (scripts/gpu-check on a GPU machine)");
    Backends.CudaStatus st = Backends.cuda();
    assertTrue(st.available(), "comix.test.gpu=true but CUDA is not usable: " + st.reason());
    g = GpuContext.of(Device.cuda(0));
    g.setPrecision(ConvPrecision.F32);
    api = g.convEngine();
    r = TestBackends.random("GpuLayersTest");
  }

  @AfterEach
  void restore() {
    if (g != null) {
      g.setPrecision(ConvPrecision.F32);
      g.setConvEngine(api);
    }
  }

  static double relErr(float[] got, float[] want) {
    assertEquals(want.length, got.length);
    double num = 0, den = 0;
    for (int i = 0; i < got.length; i++) {
      if (!Float.isFinite(got[i])) return Double.POSITIVE_INFINITY;
      num = Math.max(num, Math.abs(got[i] - want[i]));
      den = Math.max(den, Math.abs(want[i]));
    }
    return den == 0 ? num : num / den;
  }

  static void close(String what, float[] got, float[] want, double tol) {
    double e = relErr(got, want);
    System.out.printf("%-44s rel err %.2e (tol %.0e)%n", what, e, tol);
    assertTrue(e <= tol, what + ": relative error " + e + " > " + tol);
  }

  private float[] down(Tensor d) {
    try (Tensor h = g.toHostF32(d)) {
      return Floats.read(h);
    }
  }

  private void randomParams(Layer l, double scale) {
    for (Param p : l.params()) {
      float[] v = Ref.randn(r, Math.toIntExact(p.value().numel()));
      for (int i = 0; i < v.length; i++) v[i] *= (float) scale;
      Floats.write(p.value(), v);
    }
  }

  /**
   * GPU layer forward vs the float64 reference {@code ref}; its input gradient vs central finite
   * differences of the reference (or {@code dref} when given: an exact float64 backward).
   */
  private float[] check(String what, Layer layer, int[] shape, float[] xv, Function<double[], double[]> ref,
      boolean training, double tol) {
    try (Tensor xh = Floats.of(xv, LayersTest.L(shape)); Tensor xd = g.upload(xh); Tensor yd = layer.forward(xd, training)) {
      assertEquals(g.activationType(), yd.dtype());
      double[] want = ref.apply(Ref.dbl(xv));
      float[] y = down(yd);
      closeD(what + " forward", y, want, tol);
      float[] R = Ref.randn(r, want.length);
      try (Tensor gd = g.upload(Floats.of(R, yd.shape())); Tensor dxd = layer.backward(gd)) {
        assertArrayEquals(xd.shape(), dxd.shape());
        closeD(what + " dx vs fd", down(dxd), Ref.fdGrad(ref, Ref.dbl(xv), Ref.dbl(R)), Math.max(tol, 1e-4));
      }
      return R;
    }
  }

  static void closeD(String what, float[] got, double[] want, double tol) {
    double e = Ref.relErr(got, want);
    for (float v : got) if (!Float.isFinite(v)) e = Double.POSITIVE_INFINITY;
    System.out.printf("%-44s rel err %.2e (tol %.0e)%n", what, e, tol);
    assertTrue(e <= tol, what + ": relative error " + e + " > " + tol);
  }

  private void convCase(String what, int cin, int cout, int[] k, int[] st, int[] s) {
    convCase(what, cin, cout, k, st, s, false);
  }

  private void convCase(String what, int cin, int cout, int[] k, int[] st, int[] s, boolean withBias) {
    Conv3d c = new Conv3d(cin, cout, k, st, withBias);
    randomParams(c, 0.3);
    double[] w = Ref.dbl(Floats.read(c.weight().value()));
    double[] bias = withBias ? Ref.dbl(Floats.read(c.bias().value())) : null;
    float[] xv = Ref.randn(r, LayersTest.prod(s));
    try (Tensor xh = Floats.of(xv, LayersTest.L(s)); Tensor xd = g.upload(xh); Tensor yd = c.forward(xd, true)) {
      double[] want = Ref.conv(Ref.dbl(xv), s, w, bias, cout, k, st);
      closeD(what + " forward", down(yd), want, 1e-4);
      float[] R = Ref.randn(r, want.length);
      c.params().forEach(Param::zeroGrad);
      try (Tensor gd = g.upload(Floats.of(R, yd.shape())); Tensor dxd = c.backward(gd)) {
        double[][] b = Ref.convBackward(Ref.dbl(xv), s, w, Ref.dbl(R), cout, k, st);
        closeD(what + " dx", down(dxd), b[0], 1e-4);
        closeD(what + " dw", Floats.read(c.weight().grad()), b[1], 1e-4);
        if (withBias) closeD(what + " db", Floats.read(c.bias().grad()), b[2], 1e-4);
      }
    }
  }

  /** The same cases on cuDNN's graph API (CudnnGraphConv3d); micro-batch slices there are not all 16-byte aligned. */
  @Test
  void conv3dOnTheGraphEngineMatchesFloat64() {
    g.setConvEngine(ConvApi.GRAPH);
    conv3dMatchesFloat64IncludingAsymmetricPadding();
  }

  /**
   * Input channels zero-padded to 16 bytes for cuDNN (GpuContext.setPadInputChannels): 3 -> 4 in
   * F32 (5 -> 8), asymmetric and symmetric TF-SAME padding, micro-batches; the results, dx and
   * dw included, equal the float64 reference as without padding. BF16 (3 -> 8) in the I3D test below.
   */
  @Test
  void conv3dWithPaddedInputChannelsMatchesFloat64() {
    int microBatch = g.microBatch();
    g.setPadInputChannels(true);
    try {
      assertEquals(4, GpuContext.paddedChannels(3, DType.F32));
      assertEquals(8, GpuContext.paddedChannels(3, DType.BF16));
      assertEquals(16, GpuContext.paddedChannels(16, DType.F32));
      convCase("padded channels: conv 7x7x7 s2 odd", 3, 8, new int[] {7, 7, 7}, new int[] {2, 2, 2},
          new int[] {2, 5, 9, 11, 3});
      convCase("padded channels: conv 3x3x3 s1 C=5", 5, 6, new int[] {3, 3, 3}, new int[] {1, 1, 1},
          new int[] {2, 4, 7, 7, 5});
      convCase("padded channels: conv 3x3x3 s1 C=16 (no padding needed)", 16, 8, new int[] {3, 3, 3},
          new int[] {1, 1, 1}, new int[] {1, 3, 5, 5, 16});
      g.setMicroBatch(2);
      convCase("padded channels: conv 7x7x7 s2, micro-batch 2 of 5", 3, 8, new int[] {7, 7, 7}, new int[] {2, 2, 2},
          new int[] {5, 5, 9, 11, 3});
    } finally {
      g.setMicroBatch(microBatch);
      g.setPadInputChannels(false);
    }
  }

  /**
   * The tiny I3D in BF16 with padded input channels (Conv3d_1a's 3 to 8, and at this width most
   * other convs' too) gives the same training-step
   * features and Conv3d_1a weight gradient as without, up to bf16 rounding (the accumulation order
   * inside cuDNN differs); a wrong channel mapping would be off by O(1).
   */
  @Test
  void inceptionI3dWithPaddedInputChannelsInBf16() {
    InceptionI3d m = new InceptionI3d(1.0 / 32);
    m.loadWeights(InceptionI3dTest.resource(tmp, "i3d_w32.pt"));
    g.setPrecision(ConvPrecision.BF16);
    float[] gy = Ref.randn(new Random(5), 64);
    float[][] feats = new float[2][], grads = new float[2][];
    try (Tensor xh = InceptionI3dTest.lcgInput(2, 8, 32, 32); Tensor xd = g.upload(xh)) {
      for (int pad = 0; pad < 2; pad++) {
        g.setPadInputChannels(pad == 1);
        m.zeroGrad();
        try (Tensor y = m.forward(xd, true); Tensor yh = g.toHostF32(y); Tensor gh = Floats.of(gy, 2, 32);
            Tensor gd = g.upload(gh, DType.F32); Tensor dx = m.backward(gd)) {
          feats[pad] = Floats.read(yh);
          grads[pad] = Floats.read(m.namedParams(false).get("Conv3d_1a_7x7.conv3d.weight").grad());
        }
      }
      System.out.printf("padded Conv3d_1a channels, BF16: features %.2e, Conv3d_1a weight grad %.2e%n",
          relErr(feats[1], feats[0]), relErr(grads[1], grads[0]));
      assertTrue(relErr(feats[1], feats[0]) <= 5e-2, "features " + relErr(feats[1], feats[0]));
      assertTrue(relErr(grads[1], grads[0]) <= 5e-2, "Conv3d_1a weight gradient " + relErr(grads[1], grads[0]));
    } finally {
      g.setPadInputChannels(false);
      g.setPrecision(ConvPrecision.F32);
      m.zeroGrad();
    }
  }

  @Test
  void conv3dMatchesFloat64IncludingAsymmetricPadding() {
    // 7x7x7 stride 2 on odd sizes: front 2 / back 3 (or 3 / 3) per dimension: the pad-kernel path
    convCase("conv 7x7x7 s2 odd", 3, 8, new int[] {7, 7, 7}, new int[] {2, 2, 2}, new int[] {2, 5, 9, 11, 3});
    convCase("conv 7x7x7 s2 even", 3, 8, new int[] {7, 7, 7}, new int[] {2, 2, 2}, new int[] {1, 8, 16, 16, 3});
    convCase("conv 3x3x3 s1", 16, 24, new int[] {3, 3, 3}, new int[] {1, 1, 1}, new int[] {2, 4, 7, 7, 16});
    convCase("conv 1x1x1 T=1", 8, 16, new int[] {1, 1, 1}, new int[] {1, 1, 1}, new int[] {2, 1, 5, 5, 8});
    convCase("conv 1x3x3 s(1,2,2)", 5, 7, new int[] {1, 3, 3}, new int[] {1, 2, 2}, new int[] {1, 3, 9, 8, 5});
    convCase("conv 3x1x1", 6, 6, new int[] {3, 1, 1}, new int[] {1, 1, 1}, new int[] {1, 5, 4, 4, 6});
    convCase("conv 1x1x1 with bias (logits)", 16, 10, new int[] {1, 1, 1}, new int[] {1, 1, 1},
        new int[] {2, 2, 3, 3, 16}, true);
    // micro-batches of 2 clips per cuDNN call (the last one partial), weight gradients summed
    g.setMicroBatch(2);
    try {
      convCase("conv 7x7x7 s2, micro-batch 2 of 5", 3, 8, new int[] {7, 7, 7}, new int[] {2, 2, 2},
          new int[] {5, 5, 9, 11, 3});
      convCase("conv 3x3x3 with bias, micro-batch 2 of 3", 8, 8, new int[] {3, 3, 3}, new int[] {1, 1, 1},
          new int[] {3, 2, 5, 5, 8}, true);
    } finally {
      g.setMicroBatch(GpuContext.DEFAULT_MICRO_BATCH);
    }
  }

  @Test
  void batchNormTrainEvalRunningStatisticsAndParameterGradients() {
    int C = 24;
    int[] s = {2, 3, 5, 6, C};
    int n = LayersTest.prod(s), M = n / C;
    BatchNorm3d bn = new BatchNorm3d(C);
    randomParams(bn, 1);
    double[] gam = Ref.dbl(Floats.read(bn.weight().value())), bet = Ref.dbl(Floats.read(bn.bias().value()));
    float[] xv = Ref.randn(r, n);
    for (int i = 0; i < n; i++) xv[i] = xv[i] * (1 + i % 5) + 3 * (i % 7);
    bn.params().forEach(Param::zeroGrad);
    float[] R = check("bn train", bn, s, xv, x -> Ref.bnTrain(x, C, gam, bet, 1e-3), true, 1e-4);
    // running statistics: 0.99 * (0 | 1) + 0.01 * (mean | unbiased variance)
    double[] xd = Ref.dbl(xv), rm = new double[C], rv = new double[C];
    for (int c = 0; c < C; c++) {
      double m = 0, v = 0;
      for (int i = 0; i < M; i++) m += xd[i * C + c];
      m /= M;
      for (int i = 0; i < M; i++) v += (xd[i * C + c] - m) * (xd[i * C + c] - m);
      rm[c] = 0.01 * m;
      rv[c] = 0.99 + 0.01 * v / (M - 1);
    }
    closeD("bn running_mean", Floats.read(bn.runningMean()), rm, 1e-5);
    closeD("bn running_var", Floats.read(bn.runningVar()), rv, 1e-5);
    // dgamma, dbeta by finite differences of sum(bnTrain(x; gamma, beta) * R)
    double[] dg = Ref.fdGrad(gg -> Ref.bnTrain(xd, C, gg, bet, 1e-3), gam.clone(), Ref.dbl(R));
    double[] db = Ref.fdGrad(bb -> Ref.bnTrain(xd, C, gam, bb, 1e-3), bet.clone(), Ref.dbl(R));
    closeD("bn dgamma", Floats.read(bn.weight().grad()), dg, 1e-4);
    closeD("bn dbeta", Floats.read(bn.bias().grad()), db, 1e-4);
    double[] rmNow = Ref.dbl(Floats.read(bn.runningMean())), rvNow = Ref.dbl(Floats.read(bn.runningVar()));
    check("bn eval", bn, s, xv, x -> Ref.bnEval(x, C, gam, bet, rmNow, rvNow, 1e-3), false, 1e-4);
  }

  @Test
  void unit3dFusedBnReluMatchesFloat64() {
    int[][] cases = {{2, 3, 4, 4, 4}, {1, 5, 7, 7, 3}};
    int[][] ks = {{3, 3, 3}, {7, 7, 7}}, sts = {{1, 1, 1}, {2, 2, 2}};
    int[] couts = {6, 8};
    for (int t = 0; t < 2; t++) {
      int[] s = cases[t], k = ks[t], st = sts[t];
      int cout = couts[t];
      Unit3D u = new Unit3D(s[4], cout, k, st);
      randomParams(u, 0.3);
      double[] w = Ref.dbl(Floats.read(u.conv3d().weight().value()));
      double[] gam = Ref.dbl(Floats.read(u.bn().weight().value())), bet = Ref.dbl(Floats.read(u.bn().bias().value()));
      Function<double[], double[]> f = x -> Ref.relu(Ref.bnTrain(Ref.conv(x, s, w, null, cout, k, st), cout, gam, bet, 1e-3));
      check("Unit3D fused " + Arrays.toString(k), u, s, Ref.awayFromKinks(r, LayersTest.prod(s), f), f, true, 1e-4);
    }
  }

  @Test
  void reluPoolsConcatSplitAndDropout() {
    int[] s0 = {2, 3, 4, 5, 6};
    check("ReLU", new ReLU(), s0, Ref.randn(r, LayersTest.prod(s0)), Ref::relu, true, 0);
    int[][][] pools = {
      {{1, 3, 3}, {1, 2, 2}, {2, 3, 9, 10, 32}}, {{3, 3, 3}, {2, 2, 2}, {1, 5, 7, 9, 17}},
      {{2, 2, 2}, {2, 2, 2}, {2, 3, 5, 5, 8}}, {{3, 3, 3}, {1, 1, 1}, {1, 2, 4, 4, 64}}};
    for (int[][] p : pools) {
      int[] k = p[0], st = p[1], s = p[2];
      Function<double[], double[]> f = x -> Ref.maxPool(x, s, k, st);
      check("MaxPool " + Arrays.toString(k) + " s" + Arrays.toString(st), new MaxPool3d(k, st), s,
          Ref.awayFromKinks(r, LayersTest.prod(s), f), f, true, 0);
    }
    // windows of negatives over the edge give the padded zero, whose gradient is dropped
    int[] sn = {2, 3, 5, 5, 4}, kn = {3, 3, 3}, stn = {2, 2, 2};
    float[] neg = Ref.randn(r, LayersTest.prod(sn));
    for (int i = 0; i < neg.length; i++) neg[i] = -Math.abs(neg[i]) - 0.1f;
    check("MaxPool all-negative (zero pad wins)", new MaxPool3d(kn, stn), sn, neg, x -> Ref.maxPool(x, sn, kn, stn), true, 0);
    int[] sa = {2, 3, 7, 8, 16}, ka = {2, 7, 7}, one = {1, 1, 1};
    check("AvgPool 2x7x7", new AvgPool3d(ka, one), sa, Ref.randn(r, LayersTest.prod(sa)), x -> Ref.avgPool(x, sa, ka, one),
        true, 1e-6);

    int[] sizes = {5, 16, 3, 8};
    List<Tensor> hostParts = new ArrayList<>(), parts = new ArrayList<>();
    for (int c : sizes) {
      Tensor h = Floats.of(Ref.randn(r, 96 * c), 2, 3, 4, 4, c);
      hostParts.add(h);
      parts.add(g.upload(h));
    }
    try (Tensor cat = Channels.concat(parts); Tensor catH = Channels.concat(hostParts)) {
      assertArrayEquals(new long[] {2, 3, 4, 4, 32}, cat.shape());
      close("concat", down(cat), Floats.read(catH), 0);
      List<Tensor> back = Channels.split(cat, sizes);
      for (int i = 0; i < 4; i++) {
        close("split " + i, down(back.get(i)), Floats.read(hostParts.get(i)), 0);
        back.get(i).close();
      }
    }
    parts.forEach(Tensor::close);
    hostParts.forEach(Tensor::close);
    Dropout drop = new Dropout(0.3, 7);
    long[] ds = {4, 2, 16, 16, 32};
    float[] xv = Ref.randn(r, Math.toIntExact(Tensor.numel(ds)));
    try (Tensor xd = g.upload(Floats.of(xv, ds)); Tensor yd = drop.forward(xd, true)) {
      float[] y = down(yd);
      int kept = 0;
      for (int i = 0; i < y.length; i++) {
        if (y[i] != 0) {
          kept++;
          assertEquals(xv[i] / 0.7f, y[i], 1e-5 * Math.abs(xv[i] / 0.7f) + 1e-6, "kept value scaled by 1/(1-p)");
        }
      }
      double frac = kept / (double) y.length;
      System.out.printf("dropout kept %.4f (want 0.7)%n", frac);
      assertEquals(0.7, frac, 0.01);
      float[] gv = Ref.randn(r, y.length);
      try (Tensor gd = g.upload(Floats.of(gv, ds)); Tensor dxd = drop.backward(gd)) {
        float[] dx = down(dxd);
        for (int i = 0; i < dx.length; i++) assertEquals(y[i] == 0 ? 0f : gv[i] / 0.7f, dx[i], 1e-5f * Math.abs(gv[i]) + 1e-6f);
      }
    }
  }

  private float[] npy(String name) {
    try (Tensor t = Npy.read(InceptionI3dTest.resource(tmp, name))) {
      return Floats.read(t);
    }
  }

  /** The CPU tests' PyTorch parity checks (InceptionI3dTest), on the GPU. */
  @Test
  void inceptionI3dMatchesPyTorchInEvalAndInATrainingStep() {
    InceptionI3d m = new InceptionI3d(1.0 / 32);
    m.loadWeights(InceptionI3dTest.resource(tmp, "i3d_w32.pt"));
    try (Tensor xh = Npy.read(InceptionI3dTest.resource(tmp, "i3d_w32_input.npy")); Tensor xd = g.upload(xh);
        Tensor y = m.forward(xd, false)) {
      assertEquals(DType.F32, y.dtype());
      close("I3D eval 2x8x16x16 vs PyTorch", down(y), npy("i3d_w32_features.npy"), 1e-4);
    }
    try (Tensor xh = InceptionI3dTest.sinInput(1, 8, 224, 224); Tensor xd = g.upload(xh); Tensor y = m.forward(xd, false)) {
      close("I3D eval 1x8x224x224 vs PyTorch", down(y), npy("i3d_w32_224_features.npy"), 1e-4);
    }
    m.zeroGrad();
    try (Tensor xh = InceptionI3dTest.lcgInput(2, 8, 32, 32); Tensor xd = g.upload(xh); Tensor y = m.forward(xd, true)) {
      close("I3D train features", down(y), npy("i3d_w32_train_features.npy"), 1e-4);
      int n = (int) y.dim(0), c = (int) y.dim(1);
      float[] rr = new float[n * c];
      for (int i = 0; i < n; i++)
        for (int k = 0; k < c; k++) rr[i * c + k] = (float) Math.cos(0.3 * k + 1.1 * i);
      try (Tensor gd = g.upload(Floats.of(rr, n, c), DType.F32); Tensor dxd = m.backward(gd)) {
        float[] all = down(dxd);
        int[] s = {(int) dxd.dim(0), (int) dxd.dim(1), (int) dxd.dim(2), (int) dxd.dim(3)};
        float[] frame0 = new float[s[0] * 16 * 16 * 3];
        int j = 0;
        for (int i = 0; i < s[0]; i++)
          for (int hh = 0; hh < 16; hh++)
            for (int ww = 0; ww < 16; ww++)
              for (int cc = 0; cc < 3; cc++) frame0[j++] = all[(((i * s[1]) * s[2] + hh) * s[3] + ww) * 3 + cc];
        close("I3D train dL/dx frame 0", frame0, npy("i3d_w32_train_input.grad.frame0.npy"), 1e-3);
      }
    }
    Map<String, Param> ps = m.namedParams(false);
    for (String name : new String[] {"Conv3d_1a_7x7.conv3d.weight", "Mixed_3b.b1b.conv3d.weight",
        "Mixed_5c.b1b.conv3d.weight", "Mixed_4c.b0.bn.weight", "Mixed_4c.b0.bn.bias"})
      close("I3D train " + name + ".grad", Floats.read(ps.get(name).grad()), npy("i3d_w32_train_" + name + ".grad.npy"), 1e-3);
    for (String name : new String[] {"Conv3d_1a_7x7.bn.running_mean", "Conv3d_1a_7x7.bn.running_var",
        "Mixed_5c.b3b.bn.running_mean", "Mixed_5c.b3b.bn.running_var"})
      close("I3D train " + name, Floats.read(m.namedBuffers().get(name)), npy("i3d_w32_train_" + name + ".npy"), 1e-4);
  }

  @Test
  void tf32AndBf16StayCloseToPyTorchFp32() {
    InceptionI3d m = new InceptionI3d(1.0 / 32);
    m.loadWeights(InceptionI3dTest.resource(tmp, "i3d_w32.pt"));
    float[] want = npy("i3d_w32_224_features.npy");
    for (ConvPrecision p : new ConvPrecision[] {ConvPrecision.TF32, ConvPrecision.BF16}) {
      g.setPrecision(p);
      try (Tensor xh = InceptionI3dTest.sinInput(1, 8, 224, 224); Tensor xd = g.upload(xh); Tensor y = m.forward(xd, false)) {
        assertEquals(p == ConvPrecision.BF16 ? DType.BF16 : DType.F32, xd.dtype());
        close("I3D eval 1x8x224x224 " + p + " vs PyTorch fp32", down(y), want, p == ConvPrecision.BF16 ? 5e-2 : 1e-2);
      }
      try (Tensor xh = InceptionI3dTest.lcgInput(2, 8, 32, 32); Tensor xd = g.upload(xh); Tensor y = m.forward(xd, true)) {
        float[] got = down(y);
        if (p == ConvPrecision.TF32) {
          close("I3D train features " + p + " vs PyTorch fp32", got, npy("i3d_w32_train_features.npy"), 1e-2);
        } else {
          // Training-mode BN at 32x32 inputs normalises Mixed_5c over 2 values per channel (1x1
          // spatial, batch 2): bf16 rounding of the inputs is amplified by 1/sqrt(var + eps) of a
          // near-zero variance (measured 0.64 relative on the H200). Only finiteness is a property here.
          System.out.printf("I3D train features BF16 vs PyTorch fp32 (ill-conditioned at 1x1 BN): rel err %.2e%n",
              relErr(got, npy("i3d_w32_train_features.npy")));
          for (float v : got) assertTrue(Float.isFinite(v), "finite BF16 training features");
        }
        try (Tensor gd = g.upload(Floats.of(Ref.randn(r, 64), 2, 32), DType.F32); Tensor dxd = m.backward(gd)) {
          for (float v : down(dxd)) assertTrue(Float.isFinite(v), "finite dx in " + p);
        }
      }
    }
    int[] s = {2, 3, 4, 4, 8};
    Unit3D u = new Unit3D(8, 16, new int[] {3, 3, 3}, new int[] {1, 1, 1});
    randomParams(u, 0.3);
    double[] w = Ref.dbl(Floats.read(u.conv3d().weight().value()));
    double[] gam = Ref.dbl(Floats.read(u.bn().weight().value())), bet = Ref.dbl(Floats.read(u.bn().bias().value()));
    Function<double[], double[]> f = x -> Ref.relu(Ref.bnTrain(Ref.conv(x, s, w, null, 16, new int[] {3, 3, 3},
        new int[] {1, 1, 1}), 16, gam, bet, 1e-3));
    g.setPrecision(ConvPrecision.BF16);
    float[] xv = Ref.randn(r, LayersTest.prod(s));
    for (int i = 0; i < xv.length; i++) xv[i] = bf16(xv[i]); // inputs exactly representable in bf16
    try (Tensor xh = Floats.of(xv, LayersTest.L(s)); Tensor xd = g.upload(xh); Tensor yd = u.forward(xd, true)) {
      assertEquals(DType.BF16, yd.dtype());
      closeD("Unit3D BF16 forward vs float64", down(yd), f.apply(Ref.dbl(xv)), 3e-2);
    }
    u.clearSaved();
  }

  static float bf16(float v) {
    int b = Float.floatToRawIntBits(v);
    b += 0x7FFF + ((b >>> 16) & 1);
    return Float.intBitsToFloat(b & 0xFFFF0000);
  }

  @Test
  void linearOnCublasMatchesFloat64() {
    int n = 6, in = 37, out = 5;
    for (ConvPrecision p : new ConvPrecision[] {ConvPrecision.F32, ConvPrecision.TF32}) {
      g.setPrecision(p);
      double tol = p == ConvPrecision.F32 ? 1e-4 : 1e-2;
      Linear l = new Linear(in, out, true);
      randomParams(l, 0.5);
      double[] w = Ref.dbl(Floats.read(l.weight().value())), b = Ref.dbl(Floats.read(l.bias().value()));
      float[] xv = Ref.randn(r, n * in), gv = Ref.randn(r, n * out);
      double[] x = Ref.dbl(xv), gy = Ref.dbl(gv);
      try (Tensor xd = g.upload(Floats.of(xv, n, in)); Tensor y = l.forward(xd, true)) {
        assertEquals(DType.F32, y.dtype());
        closeD("Linear " + p + " forward", down(y), Ref.linear(x, n, in, w, b, out), tol);
        double[] dx = new double[n * in], dw = new double[out * in], db = new double[out];
        for (int i = 0; i < n; i++)
          for (int j = 0; j < out; j++) {
            db[j] += gy[i * out + j];
            for (int k = 0; k < in; k++) {
              dx[i * in + k] += gy[i * out + j] * w[j * in + k];
              dw[j * in + k] += gy[i * out + j] * x[i * in + k];
            }
          }
        try (Tensor gd = g.upload(Floats.of(gv, n, out), DType.F32); Tensor dxd = l.backward(gd)) {
          closeD("Linear " + p + " dx", down(dxd), dx, tol);
        }
        closeD("Linear " + p + " dW", Floats.read(l.weight().grad()), dw, tol);
        closeD("Linear " + p + " db", Floats.read(l.bias().grad()), db, tol);
      }
    }
  }

  @Test
  void profileNamesEveryLayerOp() {
    Unit3D u = new Unit3D(8, 16, new int[] {3, 3, 3}, new int[] {1, 1, 1});
    randomParams(u, 0.3);
    g.setProfiling(true);
    try (Tensor xd = g.upload(Floats.of(Ref.randn(r, 2 * 4 * 6 * 6 * 8), 2, 4, 6, 6, 8)); Tensor y = u.forward(xd, true);
        Tensor gd = g.upload(Floats.of(Ref.randn(r, 2 * 4 * 6 * 6 * 16), 2, 4, 6, 6, 16)); Tensor dx = u.backward(gd)) {
      List<String> rep = g.profile().report(10);
      rep.forEach(System.out::println);
      String all = String.join("\n", rep);
      for (String op : new String[] {"conv fwd", "conv bwd-data", "conv bwd-filter", "bn stats", "bn+relu fwd", "bn+relu bwd"})
        assertTrue(all.contains(op), "profile names " + op + ":\n" + all);
    } finally {
      g.setProfiling(false);
    }
  }

  @Test
  void gpuMemoryIsGivenBackAfterEachStep() {
    InceptionI3d m = new InceptionI3d(1.0 / 32);
    m.loadWeights(InceptionI3dTest.resource(tmp, "i3d_w32.pt"));
    long[] xs = {2, 8, 40, 40, 3};
    float[] xv = InceptionI3dTest.uniform(new Random(3), Math.toIntExact(Tensor.numel(xs)));
    long before = -1;
    for (int step = 0; step < 3; step++) {
      try (Tensor xd = g.upload(Floats.of(xv, xs)); Tensor y = m.forward(xd, true);
          Tensor gd = g.zeros(DType.F32, 2, 32); Tensor dx = m.backward(gd)) {
        assertArrayEquals(xs, dx.shape());
      }
      m.zeroGrad();
      long live = g.ops().allocator().liveBytes();
      System.out.printf("step %d: live device bytes after the step %d%n", step, live);
      if (step == 1) before = live;
      if (step == 2) assertEquals(before, live, "device memory grows from step to step");
    }
  }

  @Test
  void inputGradientOffKeepsParameterGradientsOnTheGpu() {
    InceptionI3d m = new InceptionI3d(1.0 / 32);
    m.loadWeights(InceptionI3dTest.resource(tmp, "i3d_w32.pt"));
    // same inputs and kernels: the parameter gradients do not depend on the skip. Not bit-exact on
    // the card: cuDNN's backward engines may reduce in another order from run to run (H200, cuDNN
    // 9.14: 2.8e-5 relative to the largest value in Mixed_3c.b2a.bn.weight's gradient, which
    // failed the first bound of 1e-5), so the GPU layers' usual 1e-4.
    InceptionI3dTest.inputGradientOffKeepsParameterGradients(m, t -> g.upload(t), 1e-4);
  }
}

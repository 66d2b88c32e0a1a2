package dev.comix.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.comix.nn.gpu.ConvLayout;
import dev.comix.nn.gpu.ConvPrecision;
import dev.comix.nn.gpu.GpuContext;
import dev.comix.runtime.DType;
import dev.comix.runtime.Device;
import dev.comix.runtime.Tensor;
import dev.comix.testing.TestBackends;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The GPU convolutions with {@link GpuContext#setConvLayout} NCDHW (NDHWC activations between
 * layers, cuDNN in NCDHW behind transposes): GpuLayersTest's conv cases against float64 (forward,
 * dx, dw, bias; asymmetric padding; micro-batches) at F32 1e-4, BF16 and TF32 cases, the tiny I3D
 * against PyTorch (1e-4 / 1e-3 for gradients), the memory test and the profile's transpose spans.
 * GpuLayersTest's own cases run through an instance of it, so both layouts check the same things.
 * Every test puts the layout back to NDHWC in a finally. Runs only with -Dcomix.test.gpu=true.
 */
@Tag("gpu")
class GpuConvLayoutTest {
  @TempDir Path tmp;
  private GpuContext g;
  private Random r;
  private GpuLayersTest layers;

  @BeforeEach
  void open() {
    layers = new GpuLayersTest();
    layers.tmp = tmp;
    layers.open(); // skips (assumption) without -Dcomix.test.gpu=true, fails when CUDA is not usable
    g = GpuContext.of(Device.cuda(0));
    r = TestBackends.random("GpuConvLayoutTest");
  }

  @AfterEach
  void restore() {
    if (g == null) return;
    g.setConvLayout(ConvLayout.NDHWC);
    g.setPrecision(ConvPrecision.F32);
    g.setMicroBatch(GpuContext.DEFAULT_MICRO_BATCH);
  }

  @Test
  void conv3dInNcdhwMatchesFloat64IncludingAsymmetricPaddingAndMicroBatches() {
    g.setConvLayout(ConvLayout.NCDHW);
    try {
      layers.conv3dMatchesFloat64IncludingAsymmetricPadding();
    } finally {
      g.setConvLayout(ConvLayout.NDHWC);
    }
  }

  /** One conv: forward, dx, dw (and db) against float64; inputs rounded to bf16 first when BF16. */
  private void convCase(String what, Conv3d c, int cout, int[] s, double tol) {
    boolean bf16 = g.precision() == ConvPrecision.BF16;
    for (Param p : c.params()) {
      float[] v = Ref.randn(r, Math.toIntExact(p.value().numel()));
      for (int i = 0; i < v.length; i++) v[i] *= 0.3f;
      Floats.write(p.value(), v);
    }
    int[] k = c.kernel(), st = c.stride();
    double[] w = Ref.dbl(Floats.read(c.weight().value()));
    double[] bias = c.bias() == null ? null : Ref.dbl(Floats.read(c.bias().value()));
    float[] xv = Ref.randn(r, LayersTest.prod(s));
    if (bf16) for (int i = 0; i < xv.length; i++) xv[i] = GpuLayersTest.bf16(xv[i]);
    try (Tensor xh = Floats.of(xv, LayersTest.L(s)); Tensor xd = g.upload(xh); Tensor yd = c.forward(xd, true)) {
      assertEquals(g.activationType(), yd.dtype());
      double[] want = Ref.conv(Ref.dbl(xv), s, w, bias, cout, k, st);
      GpuLayersTest.closeD(what + " forward", down(yd), want, tol);
      float[] R = Ref.randn(r, want.length);
      if (bf16) for (int i = 0; i < R.length; i++) R[i] = GpuLayersTest.bf16(R[i]);
      c.params().forEach(Param::zeroGrad);
      try (Tensor gd = g.upload(Floats.of(R, yd.shape())); Tensor dxd = c.backward(gd)) {
        double[][] b = Ref.convBackward(Ref.dbl(xv), s, w, Ref.dbl(R), cout, k, st);
        GpuLayersTest.closeD(what + " dx", down(dxd), b[0], tol);
        GpuLayersTest.closeD(what + " dw", Floats.read(c.weight().grad()), b[1], tol);
        if (bias != null) GpuLayersTest.closeD(what + " db", Floats.read(c.bias().grad()), b[2], tol);
      }
    }
  }

  private float[] down(Tensor d) {
    try (Tensor h = g.toHostF32(d)) {
      return Floats.read(h);
    }
  }

  @Test
  void conv3dInNcdhwBf16AndTf32MatchFloat64() {
    g.setConvLayout(ConvLayout.NCDHW);
    try {
      g.setPrecision(ConvPrecision.BF16);
      int[] k7 = {7, 7, 7}, s2 = {2, 2, 2}, k3 = {3, 3, 3}, k1 = {1, 1, 1}, s1 = {1, 1, 1};
      // the same conv twice with new weights: the cached bf16 weight must follow the parameter
      Conv3d c7 = new Conv3d(3, 8, k7, s2, false);
      convCase("NCDHW BF16 conv 7x7x7 s2 odd (pad path)", c7, 8, new int[] {2, 5, 9, 11, 3}, 3e-2);
      convCase("NCDHW BF16 same conv, new weights", c7, 8, new int[] {2, 5, 9, 11, 3}, 3e-2);
      convCase("NCDHW BF16 conv 3x3x3 s1", new Conv3d(16, 24, k3, s1, false), 24, new int[] {2, 4, 7, 7, 16}, 3e-2);
      convCase("NCDHW BF16 conv 1x1x1", new Conv3d(8, 16, k1, s1, false), 16, new int[] {2, 3, 5, 5, 8}, 3e-2);
      g.setMicroBatch(2);
      convCase("NCDHW BF16 conv 7x7x7 s2, micro-batch 2 of 5", new Conv3d(3, 8, k7, s2, false), 8,
          new int[] {5, 5, 9, 11, 3}, 3e-2);
      g.setMicroBatch(GpuContext.DEFAULT_MICRO_BATCH);
      g.setPrecision(ConvPrecision.TF32);
      convCase("NCDHW TF32 conv 3x3x3 s1", new Conv3d(16, 24, k3, s1, false), 24, new int[] {2, 4, 7, 7, 16}, 1e-2);
      convCase("NCDHW TF32 conv 1x1x1 with bias", new Conv3d(16, 10, k1, s1, true), 10, new int[] {2, 2, 3, 3, 16},
          1e-2);
    } finally {
      g.setConvLayout(ConvLayout.NDHWC);
      g.setPrecision(ConvPrecision.F32);
      g.setMicroBatch(GpuContext.DEFAULT_MICRO_BATCH);
    }
  }

  /** The same conv object switching layouts between steps: each backward follows its forward's layout. */
  @Test
  void layoutsCanAlternateOnOneConv() {
    Conv3d c = new Conv3d(5, 7, new int[] {1, 3, 3}, new int[] {1, 2, 2}, false);
    try {
      for (ConvLayout l : new ConvLayout[] {ConvLayout.NDHWC, ConvLayout.NCDHW, ConvLayout.NDHWC, ConvLayout.NCDHW}) {
        g.setConvLayout(l);
        convCase("conv 1x3x3 s(1,2,2) " + l, c, 7, new int[] {1, 3, 9, 8, 5}, 1e-4);
      }
    } finally {
      g.setConvLayout(ConvLayout.NDHWC);
    }
  }

  @Test
  void inceptionI3dInNcdhwMatchesPyTorch() {
    g.setConvLayout(ConvLayout.NCDHW);
    try {
      layers.inceptionI3dMatchesPyTorchInEvalAndInATrainingStep();
    } finally {
      g.setConvLayout(ConvLayout.NDHWC);
    }
  }

  @Test
  void ncdhwGivesMemoryBackAfterEachStep() {
    g.setConvLayout(ConvLayout.NCDHW);
    try {
      layers.gpuMemoryIsGivenBackAfterEachStep();
    } finally {
      g.setConvLayout(ConvLayout.NDHWC);
    }
  }

  @Test
  void profileNamesTheTransposes() {
    Unit3D u = new Unit3D(8, 16, new int[] {3, 3, 3}, new int[] {1, 1, 1});
    g.setConvLayout(ConvLayout.NCDHW);
    g.setProfiling(true);
    try (Tensor xd = g.upload(Floats.of(Ref.randn(r, 2 * 4 * 6 * 6 * 8), 2, 4, 6, 6, 8)); Tensor y = u.forward(xd, true);
        Tensor gd = g.upload(Floats.of(Ref.randn(r, 2 * 4 * 6 * 6 * 16), 2, 4, 6, 6, 16)); Tensor dx = u.backward(gd)) {
      assertEquals(DType.F32, dx.dtype());
      List<String> rep = g.profile().report(20);
      rep.forEach(System.out::println);
      String all = String.join("\n", rep);
      for (String op : new String[] {"conv transpose", "conv fwd", "conv bwd-data", "conv bwd-filter"})
        assertTrue(all.contains(op), "profile names " + op + ":\n" + all);
    } finally {
      g.setProfiling(false);
      g.setConvLayout(ConvLayout.NDHWC);
    }
  }
}

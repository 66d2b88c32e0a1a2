package dev.comix.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.comix.io.Npy;
import dev.comix.io.SafeTensors;
import dev.comix.io.StateDict;
import dev.comix.io.StateDicts;
import dev.comix.runtime.ComixException;
import dev.comix.runtime.Tensor;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * InceptionI3d: block shapes (COMIX-SPEC §1.1) at 8×224², parity with an independent PyTorch
 * implementation (src/test/resources/weights/make_i3d_parity.py), a training forward + backward,
 * and a safetensors round trip.
 */
class InceptionI3dTest {
  @TempDir Path tmp;

  /** The test resource /weights/{@code name} copied into {@code dir} (once: a second call reuses the copy). */
  static Path resource(Path dir, String name) {
    Path p = dir.resolve(name);
    if (Files.isRegularFile(p)) return p;
    try (InputStream in = InceptionI3dTest.class.getResourceAsStream("/weights/" + name)) {
      if (in == null) throw new IllegalStateException("missing test resource /weights/" + name);
      Files.copy(in, p);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return p;
  }

  static float[] uniform(Random r, int n) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) a[i] = r.nextFloat() * 2 - 1;
    return a;
  }

  /** x[n,t,h,w,c] = 0.9·sin(0.1t + 0.05h − 0.07w + 0.9c + 1.3n), NDHWC, as make_i3d_parity.py builds it. */
  static Tensor sinInput(int n, int t, int h, int w) {
    float[] a = new float[n * t * h * w * 3];
    int i = 0;
    for (int b = 0; b < n; b++)
      for (int tt = 0; tt < t; tt++)
        for (int hh = 0; hh < h; hh++)
          for (int ww = 0; ww < w; ww++)
            for (int c = 0; c < 3; c++)
              a[i++] = (float) (Math.sin(0.1 * tt + 0.05 * hh - 0.07 * ww + 0.9 * c + 1.3 * b) * 0.9);
    return Floats.of(a, n, t, h, w, 3);
  }

  static double relErr(float[] got, float[] want) {
    assertEquals(want.length, got.length);
    double num = 0, den = 0;
    for (int i = 0; i < got.length; i++) {
      num = Math.max(num, Math.abs(got[i] - want[i]));
      den = Math.max(den, Math.abs(want[i]));
    }
    return den == 0 ? num : num / den;
  }

  @Test
  void blockShapesAt224WidthOneSixteenth() {
    InceptionI3d m = new InceptionI3d(1.0 / 16);
    assertEquals(64, m.featureSize());
    // spec §1.1 for 8×224×224: (T, H, W, C at width 1), C scaled by 1/16
    Map<String, int[]> want = new LinkedHashMap<>();
    want.put("Conv3d_1a_7x7", new int[] {4, 112, 112, 64});
    want.put("MaxPool3d_2a_3x3", new int[] {4, 56, 56, 64});
    want.put("Conv3d_2b_1x1", new int[] {4, 56, 56, 64});
    want.put("Conv3d_2c_3x3", new int[] {4, 56, 56, 192});
    want.put("MaxPool3d_3a_3x3", new int[] {4, 28, 28, 192});
    want.put("Mixed_3b", new int[] {4, 28, 28, 256});
    want.put("Mixed_3c", new int[] {4, 28, 28, 480});
    want.put("MaxPool3d_4a_3x3", new int[] {2, 14, 14, 480});
    want.put("Mixed_4b", new int[] {2, 14, 14, 512});
    want.put("Mixed_4c", new int[] {2, 14, 14, 512});
    want.put("Mixed_4d", new int[] {2, 14, 14, 512});
    want.put("Mixed_4e", new int[] {2, 14, 14, 528});
    want.put("Mixed_4f", new int[] {2, 14, 14, 832});
    want.put("MaxPool3d_5a_2x2", new int[] {1, 7, 7, 832});
    want.put("Mixed_5b", new int[] {1, 7, 7, 832});
    want.put("Mixed_5c", new int[] {1, 7, 7, 1024});
    assertEquals(InceptionI3d.ENDPOINTS, java.util.List.copyOf(want.keySet()));
    Map<String, long[]> got = new LinkedHashMap<>();
    int B = 2;
    try (Tensor x = Floats.of(uniform(new Random(1), B * 8 * 224 * 224 * 3), B, 8, 224, 224, 3);
        Tensor y = m.forward(x, false, (name, t) -> got.put(name, t.shape()))) {
      for (Map.Entry<String, int[]> e : want.entrySet()) {
        int[] s = e.getValue();
        long[] w = {B, s[0], s[1], s[2], s[3] / 16};
        assertArrayEquals(w, got.get(e.getKey()), e.getKey() + ": " + Arrays.toString(got.get(e.getKey())));
      }
      assertArrayEquals(new long[] {B, 64}, y.shape());
      for (float v : Floats.read(y)) assertTrue(Float.isFinite(v));
    }
  }

  @Test
  void channelScalingAndStateDictNames() {
    InceptionI3d full = new InceptionI3d(1.0);
    assertEquals(1024, full.featureSize());
    Map<String, long[]> s = full.expectedShapes();
    assertArrayEquals(new long[] {64, 3, 7, 7, 7}, s.get("Conv3d_1a_7x7.conv3d.weight"));
    assertArrayEquals(new long[] {96}, s.get("Mixed_3b.b1a.bn.running_mean"));
    assertArrayEquals(new long[] {128, 96, 3, 3, 3}, s.get("Mixed_3b.b1b.conv3d.weight"));
    assertArrayEquals(new long[] {128, 832, 1, 1, 1}, s.get("Mixed_5c.b3b.conv3d.weight"));
    assertArrayEquals(new long[] {400, 1024, 1, 1, 1}, s.get("logits.conv3d.weight"));
    assertArrayEquals(new long[] {400}, s.get("logits.conv3d.bias"));
    // 3 stem units + 9 mixed × 6 units = 57 units with conv + 4 BN tensors each, plus logits w + b
    assertEquals(57 * 5 + 2, s.size());
    assertEquals(57 * 3, full.params().size());
    // the real I3D's parameter count (backbone, without logits): 12,287,264 incl. BN affine (as torch counts the same layers)
    long n = 0;
    for (Param p : full.params()) n += p.value().numel();
    assertEquals(12_287_264L, n);
    InceptionI3d tiny = new InceptionI3d(1.0 / 16);
    assertEquals(4, tiny.ch(64));
    assertEquals(2, tiny.ch(24)); // 1.5 rounds up
    assertEquals(1, tiny.ch(8)); // 0.5 rounds up, never 0
  }

  @Test
  void matchesPyTorchInEvalMode() {
    Path pt = resource(tmp, "i3d_w32.pt");
    InceptionI3d m = new InceptionI3d(1.0 / 32);
    m.loadWeights(pt); // the file carries *.num_batches_tracked, which are ignored
    try (Tensor x = Npy.read(resource(tmp, "i3d_w32_input.npy"));
        Tensor want = Npy.read(resource(tmp, "i3d_w32_features.npy"));
        Tensor y = m.forward(x, false)) {
      assertArrayEquals(new long[] {2, 8, 16, 16, 3}, x.shape());
      assertArrayEquals(want.shape(), y.shape());
      double e = relErr(Floats.read(y), Floats.read(want));
      System.out.printf("I3D parity 2x8x16x16 rel err %.2e%n", e);
      assertTrue(e <= 1e-4, "relative error " + e);
    }
    try (Tensor x = sinInput(1, 8, 224, 224);
        Tensor want = Npy.read(resource(tmp, "i3d_w32_224_features.npy"));
        Tensor y = m.forward(x, false)) {
      assertArrayEquals(want.shape(), y.shape());
      double e = relErr(Floats.read(y), Floats.read(want));
      System.out.printf("I3D parity 1x8x224x224 rel err %.2e%n", e);
      assertTrue(e <= 1e-4, "relative error " + e);
    }
  }

  /** make_i3d_parity.py's lcg_input: [n, t, h, w, 3], s ← (1103515245·s + 12345) mod 2³¹ from 2021, x = s / 2³⁰ − 1. */
  static Tensor lcgInput(int n, int t, int h, int w) {
    float[] a = new float[n * t * h * w * 3];
    long s = 2021;
    for (int i = 0; i < a.length; i++) {
      s = (1103515245L * s + 12345L) % (1L << 31);
      a[i] = (float) (s / (double) (1L << 30) - 1.0);
    }
    return Floats.of(a, n, t, h, w, 3);
  }

  /**
   * One training step against PyTorch in float64 (make_i3d_parity.py train_step): features with BN
   * batch statistics, L = sum(y·R), R[n, k] = cos(0.3k + 1.1n); parameter gradients, updated
   * running statistics and dL/dx of the first frame (top-left 16×16). PyTorch's own float32 step
   * is within 1e-6 (features) and 1e-4 (gradients) of the float64 one at this tiny width.
   */
  @Test
  void trainingStepMatchesPyTorch() {
    InceptionI3d m = new InceptionI3d(1.0 / 32);
    m.loadWeights(resource(tmp, "i3d_w32.pt"));
    m.zeroGrad();
    try (Tensor x = lcgInput(2, 8, 32, 32); Tensor y = m.forward(x, true)) {
      check("train features", Floats.read(y), "features", 1e-4);
      int n = (int) y.dim(0), c = (int) y.dim(1);
      float[] r = new float[n * c];
      for (int i = 0; i < n; i++)
        for (int k = 0; k < c; k++) r[i * c + k] = (float) Math.cos(0.3 * k + 1.1 * i);
      try (Tensor g = Floats.of(r, n, c); Tensor dx = m.backward(g)) {
        int[] s = {(int) dx.dim(0), (int) dx.dim(1), (int) dx.dim(2), (int) dx.dim(3), (int) dx.dim(4)};
        float[] all = Floats.read(dx), frame0 = new float[s[0] * 16 * 16 * 3];
        int j = 0;
        for (int i = 0; i < s[0]; i++)
          for (int hh = 0; hh < 16; hh++)
            for (int ww = 0; ww < 16; ww++)
              for (int cc = 0; cc < 3; cc++) frame0[j++] = all[(((i * s[1]) * s[2] + hh) * s[3] + ww) * 3 + cc];
        check("dL/dx frame 0", frame0, "input.grad.frame0", 1e-3);
      }
    }
    Map<String, Param> ps = m.namedParams(false);
    for (String name : new String[] {"Conv3d_1a_7x7.conv3d.weight", "Mixed_3b.b1b.conv3d.weight",
        "Mixed_5c.b1b.conv3d.weight", "Mixed_4c.b0.bn.weight", "Mixed_4c.b0.bn.bias"})
      check(name + ".grad", Floats.read(ps.get(name).grad()), name + ".grad", 1e-3);
    for (String name : new String[] {"Conv3d_1a_7x7.bn.running_mean", "Conv3d_1a_7x7.bn.running_var",
        "Mixed_5c.b3b.bn.running_mean", "Mixed_5c.b3b.bn.running_var"})
      check(name, Floats.read(m.namedBuffers().get(name)), name, 1e-4);
  }

  private void check(String what, float[] got, String file, double tol) {
    try (Tensor want = Npy.read(resource(tmp, "i3d_w32_train_" + file + ".npy"))) {
      double e = relErr(got, Floats.read(want));
      System.out.printf("I3D train parity %-36s rel err %.2e%n", what, e);
      assertTrue(e <= tol, what + ": relative error " + e + " > " + tol);
    }
  }

  @Test
  void readForWithoutNumBatchesTrackedAndClearErrors() {
    Path pt = resource(tmp, "i3d_w32.pt");
    InceptionI3d m = new InceptionI3d(1.0 / 32);
    // the PyTorch 1.13 state dict has num_batches_tracked: a strict check names them
    ComixException strict = assertThrows(ComixException.class, () -> StateDicts.readFor(pt, m.expectedShapes()));
    assertTrue(strict.getMessage().contains("num_batches_tracked"), strict.getMessage());
    // a model of another width: one message with the shape mismatches
    InceptionI3d wide = new InceptionI3d(1.0 / 16);
    ComixException e = assertThrows(ComixException.class, () -> wide.loadWeights(pt));
    assertTrue(e.getMessage().contains("of the wrong shape") && e.getMessage().contains("Conv3d_1a_7x7.conv3d.weight"),
        e.getMessage());
    try (StateDict sd = StateDicts.read(pt, true)) {
      sd.remove("Mixed_4c.b2b.bn.running_var").close();
      ComixException miss = assertThrows(ComixException.class, () -> m.loadStateDict(sd));
      assertTrue(miss.getMessage().contains("1 missing: Mixed_4c.b2b.bn.running_var"), miss.getMessage());
    }
  }

  @Test
  void saveLoadSafetensorsGivesIdenticalFeatures() {
    Path pt = resource(tmp, "i3d_w32.pt");
    InceptionI3d a = new InceptionI3d(1.0 / 32);
    a.loadWeights(pt);
    Path st = tmp.resolve("i3d.safetensors");
    try (StateDict sd = a.stateDict()) {
      assertEquals(a.expectedShapes().size(), sd.size());
      SafeTensors.write(st, sd);
    }
    InceptionI3d b = new InceptionI3d(1.0 / 32);
    try (StateDict sd = StateDicts.readFor(st, b.expectedShapes())) {
      b.loadStateDict(sd);
    }
    try (Tensor x = Floats.of(uniform(new Random(7), 2 * 8 * 20 * 20 * 3), 2, 8, 20, 20, 3);
        Tensor ya = a.forward(x, false); Tensor yb = b.forward(x, false)) {
      assertArrayEquals(Floats.read(ya), Floats.read(yb));
    }
    // logits survive the round trip though never used
    assertArrayEquals(Floats.read(a.logits().conv3d().weight().value()), Floats.read(b.logits().conv3d().weight().value()));
  }

  @Test
  void trainingForwardBackwardSmoke() {
    InceptionI3d m = new InceptionI3d(1.0 / 32);
    m.loadWeights(resource(tmp, "i3d_w32.pt"));
    float[] rm0 = Floats.read(m.namedBuffers().get("Conv3d_1a_7x7.bn.running_mean"));
    long[] xs = {2, 8, 40, 40, 3};
    try (Tensor x = Floats.of(uniform(new Random(3), 2 * 8 * 40 * 40 * 3), xs); Tensor y = m.forward(x, true)) {
      assertArrayEquals(new long[] {2, 32}, y.shape());
      float[] yv = Floats.read(y);
      for (float v : yv) assertTrue(Float.isFinite(v));
      float[] g = new float[yv.length];
      Random r = new Random(4);
      for (int i = 0; i < g.length; i++) g[i] = (float) r.nextGaussian();
      m.zeroGrad();
      try (Tensor gy = Floats.of(g, 2, 32); Tensor dx = m.backward(gy)) {
        assertArrayEquals(xs, dx.shape());
        boolean nonzero = false;
        for (float v : Floats.read(dx)) {
          assertTrue(Float.isFinite(v));
          nonzero |= v != 0;
        }
        assertTrue(nonzero, "dx all zero");
      }
    }
    int withGrad = 0;
    for (Map.Entry<String, Param> e : m.namedParams(false).entrySet()) {
      float[] gv = Floats.read(e.getValue().grad());
      boolean nz = false;
      for (float v : gv) {
        assertTrue(Float.isFinite(v), e.getKey());
        nz |= v != 0;
      }
      if (nz) withGrad++;
    }
    assertTrue(withGrad > m.params().size() / 2, withGrad + " of " + m.params().size() + " params got a gradient");
    float[] rm1 = Floats.read(m.namedBuffers().get("Conv3d_1a_7x7.bn.running_mean"));
    assertNotEquals(Arrays.toString(rm0), Arrays.toString(rm1), "running stats updated in training");
    assertThrows(IllegalStateException.class, () -> m.backward(Floats.of(new float[64], 2, 32)));
  }

  /**
   * With the input gradient off the backward returns null and every parameter gradient is the same
   * as with it on (Conv3d_1a's backward-data is skipped, nothing else changes). Shared with the GPU
   * test ({@code GpuLayersTest}), which passes an upload function.
   */
  static void inputGradientOffKeepsParameterGradients(InceptionI3d m, java.util.function.UnaryOperator<Tensor> onDevice,
                                                     double tol) {
    long[] xs = {2, 8, 40, 40, 3};
    float[] xv = uniform(new Random(11), Math.toIntExact(Tensor.numel(xs)));
    float[] g = uniform(new Random(12), 2 * 32);
    Map<String, float[]> with = new java.util.HashMap<>();
    for (boolean on : new boolean[] {true, false}) {
      m.setInputGradient(on);
      assertEquals(on, m.inputGradient());
      m.zeroGrad();
      try (Tensor xh = Floats.of(xv, xs); Tensor x = onDevice.apply(xh); Tensor y = m.forward(x, true);
          Tensor gh = Floats.of(g, 2, 32); Tensor gy = onDevice.apply(gh); Tensor dx = m.backward(gy)) {
        if (on) assertArrayEquals(xs, dx.shape());
        else assertNull(dx, "no input gradient asked for");
      }
      for (Map.Entry<String, Param> e : m.namedParams(false).entrySet()) {
        float[] gv = Floats.read(e.getValue().grad());
        if (on) {
          with.put(e.getKey(), gv);
        } else {
          float[] want = with.get(e.getKey());
          double num = 0, den = 0;
          for (int i = 0; i < gv.length; i++) {
            num = Math.max(num, Math.abs(gv[i] - want[i]));
            den = Math.max(den, Math.abs(want[i]));
          }
          assertTrue(num <= tol * Math.max(den, 1e-30), e.getKey() + ": " + num + " vs max " + den);
        }
      }
    }
    m.setInputGradient(true);
  }

  @Test
  void inputGradientOffSkipsOnlyTheClipGradient() {
    InceptionI3d m = new InceptionI3d(1.0 / 32);
    m.loadWeights(resource(tmp, "i3d_w32.pt"));
    inputGradientOffKeepsParameterGradients(m, t -> t.retain(), 0);
  }
}

package dev.comix.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.comix.runtime.ComixException;
import dev.comix.runtime.Tensor;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/** Every non-conv layer against float64 loops and finite differences of those loops. */
class LayersTest {

  static long[] L(int... s) {
    long[] r = new long[s.length];
    for (int i = 0; i < s.length; i++) r[i] = s[i];
    return r;
  }

  static int prod(int... s) {
    int p = 1;
    for (int v : s) p *= v;
    return p;
  }

  /** Forward vs ref(x); backward vs finite differences of ref at x for a random R. */
  static void checkLayer(Layer layer, int[] shape, float[] xv, Function<double[], double[]> ref, boolean training, Random r) {
    try (Tensor x = Floats.of(xv, L(shape)); Tensor y = layer.forward(x, training)) {
      double[] want = ref.apply(Ref.dbl(xv));
      Ref.close(layer.getClass().getSimpleName() + " fwd", y, want);
      float[] R = Ref.randn(r, want.length);
      try (Tensor g = Floats.of(R, y.shape()); Tensor dx = layer.backward(g)) {
        assertArrayEquals(x.shape(), dx.shape());
        Ref.close(layer.getClass().getSimpleName() + " dx vs fd", dx, Ref.fdGrad(ref, Ref.dbl(xv), Ref.dbl(R)));
      }
    }
  }

  // ---------------- BatchNorm3d ----------------

  @Test
  void batchNormTrainingForwardBackwardAndRunningStats() {
    Random r = Ref.rng();
    int[] s = {2, 3, 4, 5, 4};
    int C = 4, M = prod(s) / C;
    BatchNorm3d bn = new BatchNorm3d(C);
    float[] g = Ref.randn(r, C), b = Ref.randn(r, C), xv = Ref.randn(r, prod(s));
    for (int i = 0; i < xv.length; i++) xv[i] = xv[i] * (1 + i % C) + 3 * (i % C); // per-channel scale and offset
    Floats.write(bn.weight().value(), g);
    Floats.write(bn.bias().value(), b);
    double[] gd = Ref.dbl(g), bd = Ref.dbl(b), xd = Ref.dbl(xv);
    try (Tensor x = Floats.of(xv, L(s)); Tensor y = bn.forward(x, true)) {
      Ref.close("bn fwd", y, Ref.bnTrain(xd, C, gd, bd, 1e-3));
      // running = 0.99 * (0 | 1) + 0.01 * (mean | unbiased var)
      double[] rm = new double[C], rv = new double[C];
      for (int c = 0; c < C; c++) {
        double m = 0, v = 0;
        for (int i = 0; i < M; i++) m += xd[i * C + c];
        m /= M;
        for (int i = 0; i < M; i++) v += (xd[i * C + c] - m) * (xd[i * C + c] - m);
        rm[c] = 0.01 * m;
        rv[c] = 0.99 + 0.01 * v / (M - 1);
      }
      Ref.close("running_mean", bn.runningMean(), rm);
      Ref.close("running_var", bn.runningVar(), rv);
      float[] R = Ref.randn(r, xv.length);
      double[] Rd = Ref.dbl(R);
      try (Tensor gr = Floats.of(R, L(s)); Tensor dx = bn.backward(gr)) {
        Ref.close("bn dx", dx, Ref.fdGrad(xx -> Ref.bnTrain(xx, C, gd, bd, 1e-3), xd, Rd));
        Ref.close("bn dgamma", bn.weight().grad(), Ref.fdGrad(gg -> Ref.bnTrain(xd, C, gg, bd, 1e-3), gd, Rd));
        Ref.close("bn dbeta", bn.bias().grad(), Ref.fdGrad(bb -> Ref.bnTrain(xd, C, gd, bb, 1e-3), bd, Rd));
      }
    }
  }

  @Test
  void batchNormEvalUsesRunningStatistics() {
    Random r = Ref.rng();
    int[] s = {3, 1, 3, 2, 5};
    int C = 5;
    BatchNorm3d bn = new BatchNorm3d(C);
    float[] g = Ref.randn(r, C), b = Ref.randn(r, C), rm = Ref.randn(r, C), rv = new float[C];
    for (int c = 0; c < C; c++) rv[c] = 0.5f + r.nextFloat();
    Floats.write(bn.weight().value(), g);
    Floats.write(bn.bias().value(), b);
    Floats.write(bn.runningMean(), rm);
    Floats.write(bn.runningVar(), rv);
    double[] gd = Ref.dbl(g), bd = Ref.dbl(b), rmd = Ref.dbl(rm), rvd = Ref.dbl(rv);
    checkLayer(bn, s, Ref.randn(r, prod(s)), xx -> Ref.bnEval(xx, C, gd, bd, rmd, rvd, 1e-3), false, r);
    assertArrayEquals(rm, Floats.read(bn.runningMean()), "eval must not touch running stats");
    assertArrayEquals(rv, Floats.read(bn.runningVar()));
  }

  @Test
  void batchNormBatchOneSpatialOne() {
    Random r = Ref.rng();
    BatchNorm3d bn = new BatchNorm3d(3);
    try (Tensor x = Floats.of(Ref.randn(r, 3), 1, 1, 1, 1, 3)) {
      ComixException e = assertThrows(ComixException.class, () -> bn.forward(x, true));
      assertTrue(e.getMessage().contains("more than 1 value per channel"), e.getMessage());
      try (Tensor y = bn.forward(x, false)) { // eval works: (x - 0) / sqrt(1 + eps)
        double[] want = new double[3];
        float[] xv = Floats.read(x);
        for (int i = 0; i < 3; i++) want[i] = xv[i] / Math.sqrt(1 + 1e-3);
        Ref.close("bn eval 1x1", y, want);
      }
    }
    // batch 1 with spatial extent trains fine (statistics over D·H·W)
    // (with 2 values per channel x̂ = ±1 and dx is nearly 0, so the relative check uses 4)
    int[] s = {1, 1, 2, 2, 3};
    BatchNorm3d bn2 = new BatchNorm3d(3);
    double[] ones = {1, 1, 1}, zeros = {0, 0, 0};
    checkLayer(bn2, s, Ref.randn(r, 12), xx -> Ref.bnTrain(xx, 3, ones, zeros, 1e-3), true, r);
  }

  // ---------------- ReLU ----------------

  @Test
  void relu() {
    Random r = Ref.rng();
    int[] s = {2, 3, 4, 3, 5};
    checkLayer(new ReLU(), s, Ref.randn(r, prod(s)), Ref::relu, true, r);
  }

  // ---------------- MaxPool3d ----------------

  static void maxPool(int[] s, int[] k, int[] st, boolean negative) {
    Random r = Ref.rng();
    float[] xv = Ref.randn(r, prod(s));
    if (negative) for (int i = 0; i < xv.length; i++) xv[i] = -Math.abs(xv[i]) - 0.1f;
    checkLayer(new MaxPool3d(k, st), s, xv, xx -> Ref.maxPool(xx, s, k, st), true, r);
  }

  @Test
  void maxPoolI3dWindows() {
    maxPool(new int[] {2, 4, 9, 8, 3}, new int[] {1, 3, 3}, new int[] {1, 2, 2}, false); // 2a / 3a
    maxPool(new int[] {1, 4, 6, 6, 3}, new int[] {3, 3, 3}, new int[] {2, 2, 2}, false); // 4a
    maxPool(new int[] {1, 2, 7, 7, 2}, new int[] {2, 2, 2}, new int[] {2, 2, 2}, false); // 5a
    maxPool(new int[] {2, 3, 5, 4, 4}, new int[] {3, 3, 3}, new int[] {1, 1, 1}, false); // branch 3
  }

  @Test
  void maxPoolWindowsOverTheEdgeSeeZerosNotMinusInfinity() {
    int[] s = {1, 3, 5, 7, 2}, k = {3, 3, 3}, st = {2, 2, 2};
    maxPool(s, k, st, true);
    // with all-negative input, every window that hangs over the padding yields exactly 0
    // (D = 1 with a 3-deep window: every window takes a padded frame before and after)
    int[] s1 = {1, 1, 4, 5, 2};
    MaxPool3d p = new MaxPool3d(k, new int[] {1, 1, 1});
    float[] xv = new float[prod(s1)];
    java.util.Arrays.fill(xv, -1f);
    try (Tensor x = Floats.of(xv, L(s1)); Tensor y = p.forward(x, true)) {
      assertArrayEquals(new long[] {1, 1, 4, 5, 2}, y.shape());
      for (float v : Floats.read(y)) assertEquals(0f, v);
      try (Tensor g = Floats.of(Ref.randn(Ref.rng(), prod(s1)), L(s1)); Tensor dx = p.backward(g)) {
        for (float v : Floats.read(dx)) assertEquals(0f, v); // all maxima were padded zeros
      }
    }
  }

  @Test
  void maxPoolTimeDepthOneAndOddSizes() {
    maxPool(new int[] {2, 1, 5, 3, 3}, new int[] {3, 3, 3}, new int[] {2, 2, 2}, false);
    maxPool(new int[] {1, 1, 3, 5, 2}, new int[] {3, 3, 3}, new int[] {1, 1, 1}, true);
    maxPool(new int[] {1, 5, 9, 11, 1}, new int[] {2, 2, 2}, new int[] {2, 2, 2}, true);
  }

  // ---------------- AvgPool3d ----------------

  @Test
  void avgPool() {
    Random r = Ref.rng();
    int[] s = {2, 1, 7, 7, 6}, k = {1, 7, 7}, st = {1, 1, 1}; // the I3D head pool
    checkLayer(new AvgPool3d(k, st), s, Ref.randn(r, prod(s)), xx -> Ref.avgPool(xx, s, k, st), true, r);
    int[] s2 = {1, 3, 8, 9, 2}, k2 = {2, 3, 2}, st2 = {1, 2, 3};
    checkLayer(new AvgPool3d(k2, st2), s2, Ref.randn(r, prod(s2)), xx -> Ref.avgPool(xx, s2, k2, st2), true, r);
  }

  // ---------------- Concat / Split ----------------

  @Test
  void concatAndSplitAreInverse() {
    Random r = Ref.rng();
    int[] cs = {3, 1, 4, 2};
    float[][] parts = new float[cs.length][];
    Tensor[] ts = new Tensor[cs.length];
    for (int k = 0; k < cs.length; k++) {
      parts[k] = Ref.randn(r, 2 * 2 * 3 * 2 * cs[k]);
      ts[k] = Floats.of(parts[k], 2, 2, 3, 2, cs[k]);
    }
    try (Tensor cat = Channels.concat(List.of(ts))) {
      assertArrayEquals(new long[] {2, 2, 3, 2, 10}, cat.shape());
      float[] c = Floats.read(cat);
      for (int row = 0; row < 24; row++) {
        int off = 0;
        for (int k = 0; k < cs.length; k++) {
          for (int j = 0; j < cs[k]; j++) assertEquals(parts[k][row * cs[k] + j], c[row * 10 + off + j]);
          off += cs[k];
        }
      }
      List<Tensor> back = Channels.split(cat, cs);
      for (int k = 0; k < cs.length; k++) {
        assertArrayEquals(ts[k].shape(), back.get(k).shape());
        assertArrayEquals(parts[k], Floats.read(back.get(k)));
        back.get(k).close();
        ts[k].close();
      }
    }
    try (Tensor a = Floats.of(new float[8], 1, 2, 2, 2, 1); Tensor b = Floats.of(new float[4], 1, 1, 2, 2, 1)) {
      assertThrows(IllegalArgumentException.class, () -> Channels.concat(List.of(a, b)));
      assertThrows(IllegalArgumentException.class, () -> Channels.split(a, 2));
    }
  }

  // ---------------- Dropout ----------------

  @Test
  void dropout() {
    Random r = Ref.rng();
    int n = 20000;
    double p = 0.3;
    float[] xv = Ref.randn(r, n), R = Ref.randn(r, n);
    Dropout d = new Dropout(p, 42);
    try (Tensor x = Floats.of(xv, n); Tensor y = d.forward(x, true); Tensor g = Floats.of(R, n); Tensor dx = d.backward(g)) {
      float[] m = d.mask(), yv = Floats.read(y), dv = Floats.read(dx);
      int kept = 0;
      for (int i = 0; i < n; i++) {
        assertTrue(m[i] == 0f || Math.abs(m[i] - 1 / (1 - p)) < 1e-6);
        if (m[i] != 0f) kept++;
        assertEquals(xv[i] * m[i], yv[i], 1e-6f);
        assertEquals(R[i] * m[i], dv[i], 1e-6f);
      }
      assertEquals(1 - p, kept / (double) n, 0.02);
      // the same seed gives the same masks; eval is the identity
      Dropout d2 = new Dropout(p, 42);
      try (Tensor y2 = d2.forward(x, true)) {
        assertArrayEquals(yv, Floats.read(y2));
      }
      try (Tensor ye = d.forward(x, false)) {
        assertArrayEquals(xv, Floats.read(ye));
        assertNull(d.mask());
      }
      try (Tensor y3 = d.forward(x, true)) {
        assertNotNull(d.mask());
      }
    }
  }

  // ---------------- Linear ----------------

  @Test
  void linear() {
    Random r = Ref.rng();
    int n = 3, in = 17, out = 5;
    for (boolean bias : new boolean[] {true, false}) {
      Linear l = new Linear(in, out, bias);
      float[] w = Ref.randn(r, out * in), b = Ref.randn(r, out), xv = Ref.randn(r, n * in);
      Floats.write(l.weight().value(), w);
      if (bias) Floats.write(l.bias().value(), b);
      double[] wd = Ref.dbl(w), bd = bias ? Ref.dbl(b) : null, xd = Ref.dbl(xv);
      checkLayer(l, new int[] {n, in}, xv, xx -> Ref.linear(xx, n, in, wd, bd, out), true, r);
      // parameter gradients from the last backward: rerun it with a known R
      l.weight().zeroGrad();
      if (bias) l.bias().zeroGrad();
      float[] R = Ref.randn(r, n * out);
      double[] Rd = Ref.dbl(R);
      try (Tensor x = Floats.of(xv, n, in); Tensor y = l.forward(x, true); Tensor g = Floats.of(R, n, out);
          Tensor dx = l.backward(g)) {
        Ref.close("linear dw", l.weight().grad(), Ref.fdGrad(ww -> Ref.linear(xd, n, in, ww, bd, out), wd, Rd));
        if (bias) Ref.close("linear db", l.bias().grad(), Ref.fdGrad(bb -> Ref.linear(xd, n, in, wd, bb, out), bd, Rd));
      }
    }
  }

  // ---------------- Unit3D and a chain ----------------

  @Test
  void unit3dChainMatchesComposedReference() {
    Random r = Ref.rng();
    int[] s = {2, 3, 4, 3, 2}, k = {3, 3, 3}, st = {1, 1, 1};
    int cout = 3;
    Unit3D u = new Unit3D(2, cout, k, st);
    float[] w = Ref.randn(r, cout * 2 * 27), g = Ref.randn(r, cout), b = Ref.randn(r, cout);
    Floats.write(u.conv3d().weight().value(), w);
    Floats.write(u.bn().weight().value(), g);
    Floats.write(u.bn().bias().value(), b);
    double[] wd = Ref.dbl(w), gd = Ref.dbl(g), bd = Ref.dbl(b);
    Function<double[], double[]> fx = xx -> Ref.relu(Ref.bnTrain(Ref.conv(xx, s, wd, null, cout, k, st), cout, gd, bd, 1e-3));
    float[] xv = Ref.awayFromKinks(r, prod(s), fx);
    double[] xd = Ref.dbl(xv);
    try (Tensor x = Floats.of(xv, L(s)); Tensor y = u.forward(x, true)) {
      Ref.close("unit3d fwd", y, fx.apply(xd));
      float[] R = Ref.randn(r, (int) y.numel());
      double[] Rd = Ref.dbl(R);
      try (Tensor gr = Floats.of(R, y.shape()); Tensor dx = u.backward(gr)) {
        Ref.close("unit3d dx", dx, Ref.fdGrad(fx, xd, Rd));
        Ref.close("unit3d dw", u.conv3d().weight().grad(), Ref.fdGrad(
            ww -> Ref.relu(Ref.bnTrain(Ref.conv(xd, s, ww, null, cout, k, st), cout, gd, bd, 1e-3)), wd, Rd));
        Ref.close("unit3d dgamma", u.bn().weight().grad(), Ref.fdGrad(
            gg -> Ref.relu(Ref.bnTrain(Ref.conv(xd, s, wd, null, cout, k, st), cout, gg, bd, 1e-3)), gd, Rd));
      }
    }
    assertEquals(2, u.params().size() - 1, "conv weight + bn weight, bias");
  }

  @Test
  void stemLikeChainWithStrideTwoPoolAndPointwise() {
    Random r = Ref.rng();
    int[] s = {1, 3, 9, 7, 2};
    int[] k1 = {7, 7, 7}, s1 = {2, 2, 2}, kp = {1, 3, 3}, sp = {1, 2, 2}, k2 = {1, 1, 1};
    Unit3D a = new Unit3D(2, 4, k1, s1);
    MaxPool3d pool = new MaxPool3d(kp, sp);
    Unit3D c = new Unit3D(4, 3, k2, k2);
    Sequential net = new Sequential(List.of(a, pool, c));
    float[] w1 = Ref.randn(r, 4 * 2 * 343), w2 = Ref.randn(r, 3 * 4);
    for (int i = 0; i < w1.length; i++) w1[i] *= 0.1f;
    Floats.write(a.conv3d().weight().value(), w1);
    Floats.write(c.conv3d().weight().value(), w2);
    double[] w1d = Ref.dbl(w1), w2d = Ref.dbl(w2);
    double[] one4 = {1, 1, 1, 1}, zero4 = new double[4], one3 = {1, 1, 1}, zero3 = new double[3];
    int[] o1 = TfSame.out(new int[] {3, 9, 7}, k1, s1);
    int[] s1shape = {1, o1[0], o1[1], o1[2], 4};
    int[] o2 = TfSame.out(o1, kp, sp);
    int[] s2shape = {1, o2[0], o2[1], o2[2], 4};
    Function<double[], double[]> f = xx -> {
      double[] h = Ref.relu(Ref.bnTrain(Ref.conv(xx, s, w1d, null, 4, k1, s1), 4, one4, zero4, 1e-3));
      h = Ref.maxPool(h, s1shape, kp, sp);
      return Ref.relu(Ref.bnTrain(Ref.conv(h, s2shape, w2d, null, 3, k2, k2), 3, one3, zero3, 1e-3));
    };
    checkLayer(net, s, Ref.awayFromKinks(r, prod(s), f), f, true, r);
    assertEquals(6, net.params().size());
  }

  @Test
  void inceptionModuleMatchesComposedReference() {
    Random r = Ref.rng();
    int cin = 3;
    int[] s = {2, 2, 3, 3, cin}, out = {2, 2, 3, 1, 2, 2};
    int[] one = {1, 1, 1}, three = {3, 3, 3};
    InceptionModule m = new InceptionModule(cin, out);
    String[] names = {"b0", "b1a", "b1b", "b2a", "b2b", "b3b"};
    java.util.Map<String, double[]> w = new java.util.HashMap<>();
    for (String n : names) {
      Unit3D u = m.unit(n);
      float[] v = Ref.randn(r, (int) u.conv3d().weight().value().numel());
      Floats.write(u.conv3d().weight().value(), v);
      w.put(n, Ref.dbl(v));
    }
    assertEquals(9, m.outChannels());
    assertEquals(18, m.params().size());
    Function<double[], double[]> f = xx -> {
      int[] s1 = {2, 2, 3, 3, out[1]}, s2 = {2, 2, 3, 3, out[3]};
      double[] b0 = unit(xx, s, w.get("b0"), out[0], one);
      double[] b1 = unit(unit(xx, s, w.get("b1a"), out[1], one), s1, w.get("b1b"), out[2], three);
      double[] b2 = unit(unit(xx, s, w.get("b2a"), out[3], one), s2, w.get("b2b"), out[4], three);
      double[] b3 = unit(Ref.maxPool(xx, s, three, one), s, w.get("b3b"), out[5], one);
      int rows = 2 * 2 * 3 * 3, C = 9;
      double[] y = new double[rows * C];
      double[][] parts = {b0, b1, b2, b3};
      int[] cs = {out[0], out[2], out[4], out[5]};
      for (int i = 0; i < rows; i++) {
        int off = 0;
        for (int k = 0; k < 4; k++) {
          for (int j = 0; j < cs[k]; j++) y[i * C + off + j] = parts[k][i * cs[k] + j];
          off += cs[k];
        }
      }
      return y;
    };
    checkLayer(m, s, Ref.awayFromKinks(r, prod(s), f), f, true, r);
  }

  /** Unit3D in float64 with BN's initial gamma = 1, beta = 0, training statistics. */
  static double[] unit(double[] x, int[] s, double[] w, int cout, int[] k) {
    double[] g = new double[cout], b = new double[cout];
    java.util.Arrays.fill(g, 1);
    return Ref.relu(Ref.bnTrain(Ref.conv(x, s, w, null, cout, k, new int[] {1, 1, 1}), cout, g, b, 1e-3));
  }

  @Test
  void twoForwardsThenTwoBackwardsInReverseOrder() {
    // CoMix runs I3D several times per iteration and backpropagates once: contexts stack up
    Random r = Ref.rng();
    int[] s = {2, 2, 5, 4, 2}, k = {3, 3, 3}, one = {1, 1, 1}, kp = {1, 3, 3}, sp = {1, 2, 2};
    int cout = 3;
    Unit3D u = new Unit3D(2, cout, k, one);
    MaxPool3d pool = new MaxPool3d(kp, sp);
    Sequential net = new Sequential(List.of(u, pool));
    float[] w = Ref.randn(r, cout * 2 * 27);
    Floats.write(u.conv3d().weight().value(), w);
    double[] wd = Ref.dbl(w), g1 = {1, 1, 1}, b0 = {0, 0, 0};
    int[] sc = {2, 2, 5, 4, cout};
    java.util.function.BiFunction<double[], double[], double[]> f = (xx, ww) ->
        Ref.maxPool(Ref.relu(Ref.bnTrain(Ref.conv(xx, s, ww, null, cout, k, one), cout, g1, b0, 1e-3)), sc, kp, sp);
    float[] x1 = Ref.awayFromKinks(r, prod(s), xx -> f.apply(xx, wd));
    float[] x2 = Ref.awayFromKinks(r, prod(s), xx -> {
      double[] shifted = xx.clone();
      for (int i = 0; i < shifted.length; i++) shifted[i] = 2 * shifted[i] + 1;
      return f.apply(shifted, wd);
    });
    for (int i = 0; i < x2.length; i++) x2[i] = 2 * x2[i] + 1; // other batch statistics
    try (Tensor t1 = Floats.of(x1, L(s)); Tensor t2 = Floats.of(x2, L(s));
        Tensor y1 = net.forward(t1, true); Tensor y2 = net.forward(t2, true)) {
      double[] x1d = Ref.dbl(x1), x2d = Ref.dbl(x2);
      Ref.close("fwd 1", y1, f.apply(x1d, wd));
      Ref.close("fwd 2", y2, f.apply(x2d, wd));
      float[] r1 = Ref.randn(r, (int) y1.numel()), r2 = Ref.randn(r, (int) y2.numel());
      double[] r1d = Ref.dbl(r1), r2d = Ref.dbl(r2);
      try (Tensor gr2 = Floats.of(r2, y2.shape()); Tensor dx2 = net.backward(gr2);
          Tensor gr1 = Floats.of(r1, y1.shape()); Tensor dx1 = net.backward(gr1)) {
        Ref.close("dx 2", dx2, Ref.fdGrad(xx -> f.apply(xx, wd), x2d, r2d));
        Ref.close("dx 1", dx1, Ref.fdGrad(xx -> f.apply(xx, wd), x1d, r1d));
        double[] dw1 = Ref.fdGrad(ww -> f.apply(x1d, ww), wd, r1d), dw2 = Ref.fdGrad(ww -> f.apply(x2d, ww), wd, r2d);
        double[] dw = new double[dw1.length];
        for (int i = 0; i < dw.length; i++) dw[i] = dw1[i] + dw2[i];
        Ref.close("dw summed over both calls", u.conv3d().weight().grad(), dw);
      }
      assertThrows(IllegalStateException.class, () -> {
        try (Tensor g = Floats.of(new float[(int) y1.numel()], y1.shape())) {
          net.backward(g);
        }
      });
      // an aborted step: saved contexts can be dropped
      net.forward(t1, true).close();
      net.clearSaved();
      assertThrows(IllegalStateException.class, () -> {
        try (Tensor g = Floats.of(new float[(int) y1.numel()], y1.shape())) {
          net.backward(g);
        }
      });
    }
  }
}

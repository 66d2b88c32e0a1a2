package dev.comix.loss;

import static dev.comix.loss.TensorsForTests.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.comix.runtime.ComixException;
import dev.comix.runtime.CpuOps;
import dev.comix.runtime.DType;
import dev.comix.runtime.Ops;
import dev.comix.runtime.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Label-smoothed CE, softmax (+ backward) and pseudo labels on the CPU, against float64 math. */
class CrossEntropyTest {
  static double ceRef(double[] x, long[] y, int b, int c, double eps) {
    double tot = 0;
    for (int i = 0; i < b; i++) {
      double m = Double.NEGATIVE_INFINITY, s = 0;
      for (int j = 0; j < c; j++) m = Math.max(m, x[i * c + j]);
      for (int j = 0; j < c; j++) s += Math.exp(x[i * c + j] - m);
      for (int j = 0; j < c; j++) tot -= ((j == y[i] ? 1 - eps : 0) + eps / c) * (x[i * c + j] - m - Math.log(s));
    }
    return tot / b;
  }

  @Test
  void smoothedCrossEntropyValueAndGradient() {
    Random r = new Random(System.nanoTime());
    int b = 8, c = 12;
    double[] x = new double[b * c];
    for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextGaussian() * 2);
    long[] y = new long[b];
    for (int i = 0; i < b; i++) y[i] = r.nextInt(c);
    try (Ops ops = new CpuOps(); Tensor lx = f32(x, b, c); Tensor ly = i64(y);
         LabelSmoothedCrossEntropy.Result res = new LabelSmoothedCrossEntropy().compute(ops, lx, ly)) {
      double ref = ceRef(x, y, b, c, 0.1);
      assertEquals(ref, res.loss(), 1e-5 * ref);
      double[] g = values(res.grad());
      for (int i = 0; i < x.length; i++) {
        double k = x[i];
        x[i] = k + 1e-6;
        double lp = ceRef(x, y, b, c, 0.1);
        x[i] = k - 1e-6;
        double lm = ceRef(x, y, b, c, 0.1);
        x[i] = k;
        assertEquals((lp - lm) / 2e-6, g[i], 2e-6, "dCE/dx[" + i + "]");
      }
    }
  }

  @Test
  void badLabelsAreRefused() {
    try (Ops ops = new CpuOps(); Tensor lx = f32(new double[24], 2, 12); Tensor ly = i64(new long[] {0, 12})) {
      ComixException e = assertThrows(ComixException.class, () -> new LabelSmoothedCrossEntropy().compute(ops, lx, ly));
      assertTrue(e.getMessage().contains("outside [0, 12)"), e.getMessage());
    }
  }

  @Test
  void softmaxBackwardAndPseudoLabels() {
    int b = 2, c = 4;
    double[] a = {8, 0, 0, 0, 0, 0.1, 0, 0}, s = {6, 0, 0, 0, 0.1, 0, 0, 0};
    try (Ops ops = new CpuOps(); Tensor ta = f32(a, b, c); Tensor ts = f32(s, b, c);
         Tensor labels = Tensor.host(DType.I64, b); Tensor mask = Tensor.host(DType.U8, b);
         Tensor p = Tensor.host(DType.F32, b, c); Tensor g = f32(new double[] {1, 2, 3, 4, 0, 0, 1, 0}, b, c);
         Tensor dx = Tensor.host(DType.F32, b, c)) {
      ops.pseudoLabels(ta, ts, 0.7f, labels, mask);
      assertEquals(0L, labels.data().getLong(0));
      assertEquals(1, mask.data().get(0));
      assertEquals(0, mask.data().get(1));
      ops.softmax(ta, p);
      ops.softmaxBackward(p, g, false, dx);
      double[] pv = values(p), gv = values(g), dv = values(dx);
      for (int i = 0; i < b; i++) {
        double dot = 0;
        for (int j = 0; j < c; j++) dot += pv[i * c + j] * gv[i * c + j];
        for (int j = 0; j < c; j++) assertEquals(pv[i * c + j] * (gv[i * c + j] - dot), dv[i * c + j], 1e-6);
      }
    }
  }
}

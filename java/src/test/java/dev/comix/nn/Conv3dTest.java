package dev.comix.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.comix.runtime.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

class Conv3dTest {

  /** Forward and backward against the float64 loops, then (tiny) finite differences of the reference. */
  static void check(int n, int d, int h, int w, int cin, int cout, int[] k, int[] st, boolean bias, boolean fd) {
    Random r = Ref.rng();
    int[] s = {n, d, h, w, cin};
    Conv3d conv = new Conv3d(cin, cout, k, st, bias);
    float[] wv = Ref.randn(r, (int) conv.weight().value().numel());
    for (int i = 0; i < wv.length; i++) wv[i] *= 0.3f;
    Floats.write(conv.weight().value(), wv);
    float[] bv = bias ? Ref.randn(r, cout) : null;
    if (bias) Floats.write(conv.bias().value(), bv);
    float[] xv = Ref.randn(r, n * d * h * w * cin);
    try (Tensor x = Floats.of(xv, n, d, h, w, cin); Tensor y = conv.forward(x, true)) {
      double[] want = Ref.conv(Ref.dbl(xv), s, Ref.dbl(wv), bias ? Ref.dbl(bv) : null, cout, k, st);
      int[] o = TfSame.out(new int[] {d, h, w}, k, st);
      assertArrayEquals(new long[] {n, o[0], o[1], o[2], cout}, y.shape());
      Ref.close("conv fwd", y, want);
      float[] gv = Ref.randn(r, want.length);
      try (Tensor g = Floats.of(gv, y.shape()); Tensor dx = conv.backward(g)) {
        double[][] ref = Ref.convBackward(Ref.dbl(xv), s, Ref.dbl(wv), Ref.dbl(gv), cout, k, st);
        Ref.close("conv dx", dx, ref[0]);
        Ref.close("conv dw", conv.weight().grad(), ref[1]);
        if (bias) Ref.close("conv db", conv.bias().grad(), ref[2]);
        if (fd) {
          double[] wd = Ref.dbl(wv), bd = bias ? Ref.dbl(bv) : null, xd = Ref.dbl(xv), R = Ref.dbl(gv);
          Ref.close("conv dx vs fd", dx, Ref.fdGrad(xx -> Ref.conv(xx, s, wd, bd, cout, k, st), xd, R));
          Ref.close("conv dw vs fd", conv.weight().grad(), Ref.fdGrad(ww -> Ref.conv(xd, s, ww, bd, cout, k, st), wd, R));
          if (bias) Ref.close("conv db vs fd", conv.bias().grad(), Ref.fdGrad(bb -> Ref.conv(xd, s, wd, bb, cout, k, st), bd, R));
        }
      }
    }
  }

  @Test
  void sevenCubedStrideTwoOnOddSizes() {
    check(1, 9, 11, 13, 3, 8, new int[] {7, 7, 7}, new int[] {2, 2, 2}, false, false);
  }

  @Test
  void sevenCubedStrideTwoTinyFiniteDifferences() {
    check(1, 3, 5, 4, 2, 3, new int[] {7, 7, 7}, new int[] {2, 2, 2}, false, true);
  }

  @Test
  void threeCubedBatchTwoWithBias() {
    check(2, 4, 7, 6, 5, 6, new int[] {3, 3, 3}, new int[] {1, 1, 1}, true, false);
  }

  @Test
  void threeCubedTinyFiniteDifferencesWithBias() {
    check(2, 2, 3, 3, 2, 3, new int[] {3, 3, 3}, new int[] {1, 1, 1}, true, true);
  }

  @Test
  void wideChannelsAsInI3d() {
    // the blocked brgconv / jit kernels (Cin 64: 1728-term sums) against the float64 loops
    check(1, 3, 8, 7, 64, 48, new int[] {3, 3, 3}, new int[] {1, 1, 1}, false, false);
    check(2, 2, 5, 5, 40, 24, new int[] {1, 1, 1}, new int[] {1, 1, 1}, true, false);
  }

  @Test
  void timeDepthOne() {
    check(2, 1, 6, 5, 4, 5, new int[] {3, 3, 3}, new int[] {1, 1, 1}, false, false);
    check(1, 1, 5, 5, 3, 4, new int[] {7, 7, 7}, new int[] {2, 2, 2}, false, false);
  }

  @Test
  void pointwise() {
    check(2, 3, 5, 4, 16, 8, new int[] {1, 1, 1}, new int[] {1, 1, 1}, false, false);
    check(1, 2, 2, 3, 3, 2, new int[] {1, 1, 1}, new int[] {1, 1, 1}, true, true);
  }

  @Test
  void mixedKernelsAndStrides() {
    check(1, 5, 6, 7, 3, 4, new int[] {2, 3, 1}, new int[] {1, 2, 3}, true, false);
  }

  @Test
  void repeatedForwardUsesCachedPlanAndAccumulatesGrads() {
    Random r = Ref.rng();
    Conv3d conv = new Conv3d(2, 3, new int[] {3, 3, 3}, new int[] {1, 1, 1}, false);
    Floats.write(conv.weight().value(), Ref.randn(r, 3 * 2 * 27));
    float[] xv = Ref.randn(r, 2 * 3 * 4 * 5 * 2);
    float[] gv = Ref.randn(r, 2 * 3 * 4 * 5 * 3);
    try (Tensor x = Floats.of(xv, 2, 3, 4, 5, 2); Tensor g = Floats.of(gv, 2, 3, 4, 5, 3)) {
      conv.forward(x, true).close();
      conv.backward(g).close();
      float[] once = Floats.read(conv.weight().grad());
      conv.forward(x, true).close();
      conv.backward(g).close();
      float[] twice = Floats.read(conv.weight().grad());
      double[] want = new double[once.length];
      for (int i = 0; i < once.length; i++) want[i] = 2.0 * once[i];
      Ref.close("accumulated dw", twice, want);
    }
  }

  @Test
  void rejectsWrongChannelCount() {
    Conv3d conv = new Conv3d(3, 4, new int[] {1, 1, 1}, new int[] {1, 1, 1}, false);
    try (Tensor x = Floats.of(new float[2 * 2 * 2 * 2], 1, 2, 2, 2, 2)) {
      assertThrows(IllegalArgumentException.class, () -> conv.forward(x, true));
    }
  }

  @Test
  void inputViewWithOffsetIsReadFromItsOwnStart() {
    Random r = Ref.rng();
    int[] k = {3, 1, 3}, st = {1, 2, 1};
    Conv3d conv = new Conv3d(3, 2, k, st, true);
    float[] wv = Ref.randn(r, 2 * 3 * 9), bv = Ref.randn(r, 2);
    Floats.write(conv.weight().value(), wv);
    Floats.write(conv.bias().value(), bv);
    int per = 2 * 3 * 4 * 3;
    float[] all = Ref.randn(r, 3 * per);
    float[] second = java.util.Arrays.copyOfRange(all, per, 2 * per);
    try (Tensor batch = Floats.of(all, 3, 2, 3, 4, 3); Tensor x = batch.slice0(1, 2); Tensor y = conv.forward(x, true)) {
      int[] s = {1, 2, 3, 4, 3};
      Ref.close("conv of a view", y, Ref.conv(Ref.dbl(second), s, Ref.dbl(wv), Ref.dbl(bv), 2, k, st));
      float[] gv = Ref.randn(r, (int) y.numel());
      try (Tensor g = Floats.of(gv, y.shape()); Tensor dx = conv.backward(g)) {
        double[][] ref = Ref.convBackward(Ref.dbl(second), s, Ref.dbl(wv), Ref.dbl(gv), 2, k, st);
        Ref.close("conv dx of a view", dx, ref[0]);
        Ref.close("conv dw of a view", conv.weight().grad(), ref[1]);
      }
    }
  }
}

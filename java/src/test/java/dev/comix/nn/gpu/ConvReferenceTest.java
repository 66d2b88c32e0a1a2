package dev.comix.nn.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.comix.testing.TestBackends;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Checks the float64 oracle of {@link CudnnConv3dTest} on the CPU (no cuDNN involved): the conv is
 * bilinear, so the adjoint identities <dy, conv(x, w)> = <dx, x> = <dw, w> hold exactly when dx
 * and dw are its true gradients.
 */
class ConvReferenceTest {
  @Test
  void gradientsAreTheAdjointsOfTheForward() {
    Random r = TestBackends.random("ConvReferenceTest");
    ConvReference ref = new ConvReference(2, 3, 5, 5, 7, 6, new int[] {3, 3, 2}, new int[] {2, 1, 2}, new int[] {1, 1, 0});
    double[] x = gauss(r, ref.xSize()), w = gauss(r, ref.wSize()), dy = gauss(r, ref.ySize());
    double[] y = new double[ref.ySize()], dx = new double[ref.xSize()], dw = new double[ref.wSize()];
    ref.run(x, w, dy, y, dx, dw);
    double a = dot(dy, y), b = dot(dx, x), c = dot(dw, w);
    assertEquals(a, b, 1e-9 * Math.abs(a) + 1e-9);
    assertEquals(a, c, 1e-9 * Math.abs(a) + 1e-9);
    // and one output element by hand: y[0,0,0,0,0] touches only the unpadded corner of the input
    double manual = 0;
    for (int ci = 0; ci < 3; ci++)
      for (int kt = 1; kt < 3; kt++)
        for (int kh = 1; kh < 3; kh++)
          for (int kw = 0; kw < 2; kw++)
            manual += x[((ci * 5 + kt - 1) * 7 + kh - 1) * 6 + kw] * w[((ci * 3 + kt) * 3 + kh) * 2 + kw];
    assertEquals(manual, y[0], 1e-12);
  }

  static double[] gauss(Random r, int n) {
    double[] a = new double[n];
    for (int i = 0; i < n; i++) a[i] = r.nextGaussian();
    return a;
  }

  static double dot(double[] a, double[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) s += a[i] * b[i];
    return s;
  }
}

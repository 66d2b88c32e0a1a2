package dev.comix.nn;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.comix.runtime.Tensor;
import java.util.Random;
import java.util.function.Function;

/**
 * Float64 references in NDHWC written as plain loops, plus the checks the layer tests share:
 * relative error = max |got − want| / max |want| (≤ 1e-4 for fp32 against fp64), and central
 * finite differences of L(x) = sum(f(x) · R) computed in float64.
 */
final class Ref {
  private Ref() {}

  static final double TOL = 1e-4;

  static Random rng() {
    long seed = System.nanoTime();
    System.out.println("seed " + seed);
    return new Random(seed);
  }

  static float[] randn(Random r, int n) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
    return a;
  }

  static double[] dbl(float[] a) {
    double[] d = new double[a.length];
    for (int i = 0; i < a.length; i++) d[i] = a[i];
    return d;
  }

  static double relErr(float[] got, double[] want) {
    if (got.length != want.length) throw new AssertionError("length " + got.length + " != " + want.length);
    double num = 0, den = 0;
    for (int i = 0; i < got.length; i++) {
      num = Math.max(num, Math.abs(got[i] - want[i]));
      den = Math.max(den, Math.abs(want[i]));
    }
    return den == 0 ? num : num / den;
  }

  static void close(String what, float[] got, double[] want) {
    double e = relErr(got, want);
    assertTrue(e <= TOL, what + ": relative error " + e + " > " + TOL);
  }

  static void close(String what, Tensor got, double[] want) {
    close(what, Floats.read(got), want);
  }

  /** Central finite-difference gradient of sum(f(x) · R) with respect to x. */
  static double[] fdGrad(Function<double[], double[]> f, double[] x, double[] R) {
    double h = 1e-6;
    double[] g = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      double keep = x[i];
      x[i] = keep + h;
      double lp = dot(f.apply(x), R);
      x[i] = keep - h;
      double lm = dot(f.apply(x), R);
      x[i] = keep;
      g[i] = (lp - lm) / (2 * h);
    }
    return g;
  }

  static double dot(double[] a, double[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) s += a[i] * b[i];
    return s;
  }

  // ---- conv3d, NDHWC input, weight [Cout, Cin, kT, kH, kW], TF-SAME padding ----

  static double[] conv(double[] x, int[] s, double[] w, double[] b, int cout, int[] k, int[] st) {
    int n = s[0], cin = s[4];
    int[] size = {s[1], s[2], s[3]};
    int[] o = TfSame.out(size, k, st), f = TfSame.front(size, k, st);
    double[] y = new double[n * o[0] * o[1] * o[2] * cout];
    for (int in = 0; in < n; in++)
      for (int od = 0; od < o[0]; od++)
        for (int oh = 0; oh < o[1]; oh++)
          for (int ow = 0; ow < o[2]; ow++)
            for (int co = 0; co < cout; co++) {
              double acc = b == null ? 0 : b[co];
              for (int kd = 0; kd < k[0]; kd++) {
                int id = od * st[0] - f[0] + kd;
                if (id < 0 || id >= s[1]) continue;
                for (int kh = 0; kh < k[1]; kh++) {
                  int ih = oh * st[1] - f[1] + kh;
                  if (ih < 0 || ih >= s[2]) continue;
                  for (int kw = 0; kw < k[2]; kw++) {
                    int iw = ow * st[2] - f[2] + kw;
                    if (iw < 0 || iw >= s[3]) continue;
                    int xb = (((in * s[1] + id) * s[2] + ih) * s[3] + iw) * cin;
                    for (int ci = 0; ci < cin; ci++)
                      acc += x[xb + ci] * w[(((co * cin + ci) * k[0] + kd) * k[1] + kh) * k[2] + kw];
                  }
                }
              }
              y[(((in * o[0] + od) * o[1] + oh) * o[2] + ow) * cout + co] = acc;
            }
    return y;
  }

  /** Returns {dx, dw, db} of conv for upstream gradient dy. */
  static double[][] convBackward(double[] x, int[] s, double[] w, double[] dy, int cout, int[] k, int[] st) {
    int n = s[0], cin = s[4];
    int[] size = {s[1], s[2], s[3]};
    int[] o = TfSame.out(size, k, st), f = TfSame.front(size, k, st);
    double[] dx = new double[x.length], dw = new double[w.length], db = new double[cout];
    for (int in = 0; in < n; in++)
      for (int od = 0; od < o[0]; od++)
        for (int oh = 0; oh < o[1]; oh++)
          for (int ow = 0; ow < o[2]; ow++)
            for (int co = 0; co < cout; co++) {
              double g = dy[(((in * o[0] + od) * o[1] + oh) * o[2] + ow) * cout + co];
              db[co] += g;
              for (int kd = 0; kd < k[0]; kd++) {
                int id = od * st[0] - f[0] + kd;
                if (id < 0 || id >= s[1]) continue;
                for (int kh = 0; kh < k[1]; kh++) {
                  int ih = oh * st[1] - f[1] + kh;
                  if (ih < 0 || ih >= s[2]) continue;
                  for (int kw = 0; kw < k[2]; kw++) {
                    int iw = ow * st[2] - f[2] + kw;
                    if (iw < 0 || iw >= s[3]) continue;
                    int xb = (((in * s[1] + id) * s[2] + ih) * s[3] + iw) * cin;
                    for (int ci = 0; ci < cin; ci++) {
                      int wi = (((co * cin + ci) * k[0] + kd) * k[1] + kh) * k[2] + kw;
                      dx[xb + ci] += g * w[wi];
                      dw[wi] += g * x[xb + ci];
                    }
                  }
                }
              }
            }
    return new double[][] {dx, dw, db};
  }
}

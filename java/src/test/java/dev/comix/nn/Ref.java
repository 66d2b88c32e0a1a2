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

  /**
   * Smallest distance to a kink seen by {@link #relu} (|x|) and {@link #maxPool} (max − runner-up,
   * for positive maxima) since the last {@link #resetMargin}. In a chain the fp32 layers compute
   * the pool and ReLU inputs with ~1e-6 error, so an input closer than that to a kink may take the
   * other branch than the float64 reference; {@link #awayFromKinks} draws inputs that stay clear.
   */
  static double margin = Double.POSITIVE_INFINITY;

  static void resetMargin() {
    margin = Double.POSITIVE_INFINITY;
  }

  /** Random normal input whose float64 chain f stays ≥ 1e-4 from every ReLU / max-pool kink. */
  static float[] awayFromKinks(Random r, int n, Function<double[], double[]> f) {
    for (int attempt = 0; attempt < 20; attempt++) {
      float[] x = randn(r, n);
      resetMargin();
      f.apply(dbl(x));
      if (margin >= 1e-4) return x;
    }
    throw new AssertionError("no input clear of the kinks in 20 draws");
  }

  static Random rng() {
    long seed = Long.getLong("comix.test.seed", System.nanoTime());
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
    System.out.printf("%-28s rel err %.2e%n", what, e);
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

  // ---- batch norm over NDHWC, C = last dim ----

  /** Training-mode BN (batch mean, biased variance); returns y. */
  static double[] bnTrain(double[] x, int C, double[] g, double[] b, double eps) {
    int M = x.length / C;
    double[] y = new double[x.length];
    for (int c = 0; c < C; c++) {
      double m = 0;
      for (int i = 0; i < M; i++) m += x[i * C + c];
      m /= M;
      double v = 0;
      for (int i = 0; i < M; i++) v += (x[i * C + c] - m) * (x[i * C + c] - m);
      v /= M;
      for (int i = 0; i < M; i++) y[i * C + c] = (x[i * C + c] - m) / Math.sqrt(v + eps) * g[c] + b[c];
    }
    return y;
  }

  static double[] bnEval(double[] x, int C, double[] g, double[] b, double[] rm, double[] rv, double eps) {
    double[] y = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      int c = i % C;
      y[i] = (x[i] - rm[c]) / Math.sqrt(rv[c] + eps) * g[c] + b[c];
    }
    return y;
  }

  // ---- pools over NDHWC ----

  /** Max-pool after explicit TF-SAME zero padding (F.pad then nn.MaxPool3d). */
  static double[] maxPool(double[] x, int[] s, int[] k, int[] st) {
    int[] size = {s[1], s[2], s[3]};
    int[] f = TfSame.front(size, k, st), bk = TfSame.back(size, k, st);
    // materialise the padded tensor, as the original does
    int PD = s[1] + f[0] + bk[0], PH = s[2] + f[1] + bk[1], PW = s[3] + f[2] + bk[2], C = s[4];
    double[] p = new double[s[0] * PD * PH * PW * C];
    for (int n = 0; n < s[0]; n++)
      for (int d = 0; d < s[1]; d++)
        for (int h = 0; h < s[2]; h++)
          for (int w = 0; w < s[3]; w++)
            for (int c = 0; c < C; c++)
              p[((((n * PD + d + f[0]) * PH + h + f[1]) * PW + w + f[2]) * C) + c] = x[(((n * s[1] + d) * s[2] + h) * s[3] + w) * C + c];
    int[] o = {(PD - k[0]) / st[0] + 1, (PH - k[1]) / st[1] + 1, (PW - k[2]) / st[2] + 1};
    double[] y = new double[s[0] * o[0] * o[1] * o[2] * C];
    for (int n = 0; n < s[0]; n++)
      for (int od = 0; od < o[0]; od++)
        for (int oh = 0; oh < o[1]; oh++)
          for (int ow = 0; ow < o[2]; ow++)
            for (int c = 0; c < C; c++) {
              double m = Double.NEGATIVE_INFINITY, second = Double.NEGATIVE_INFINITY;
              for (int a = 0; a < k[0]; a++)
                for (int bb = 0; bb < k[1]; bb++)
                  for (int cc = 0; cc < k[2]; cc++) {
                    double v = p[((((n * PD + od * st[0] + a) * PH + oh * st[1] + bb) * PW + ow * st[2] + cc) * C) + c];
                    if (v > m) {
                      second = m;
                      m = v;
                    } else if (v > second) {
                      second = v;
                    }
                  }
              if (m > 0) margin = Math.min(margin, m - second);
              y[(((n * o[0] + od) * o[1] + oh) * o[2] + ow) * C + c] = m;
            }
    return y;
  }

  static double[] avgPool(double[] x, int[] s, int[] k, int[] st) {
    int C = s[4];
    int[] o = {(s[1] - k[0]) / st[0] + 1, (s[2] - k[1]) / st[1] + 1, (s[3] - k[2]) / st[2] + 1};
    double[] y = new double[s[0] * o[0] * o[1] * o[2] * C];
    for (int n = 0; n < s[0]; n++)
      for (int od = 0; od < o[0]; od++)
        for (int oh = 0; oh < o[1]; oh++)
          for (int ow = 0; ow < o[2]; ow++)
            for (int c = 0; c < C; c++) {
              double m = 0;
              for (int a = 0; a < k[0]; a++)
                for (int bb = 0; bb < k[1]; bb++)
                  for (int cc = 0; cc < k[2]; cc++)
                    m += x[((((n * s[1] + od * st[0] + a) * s[2] + oh * st[1] + bb) * s[3] + ow * st[2] + cc) * C) + c];
              y[(((n * o[0] + od) * o[1] + oh) * o[2] + ow) * C + c] = m / (k[0] * k[1] * k[2]);
            }
    return y;
  }

  static double[] relu(double[] x) {
    double[] y = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      y[i] = Math.max(x[i], 0);
      margin = Math.min(margin, Math.abs(x[i]));
    }
    return y;
  }

  static double[] linear(double[] x, int n, int in, double[] w, double[] b, int out) {
    double[] y = new double[n * out];
    for (int i = 0; i < n; i++)
      for (int j = 0; j < out; j++) {
        double a = b == null ? 0 : b[j];
        for (int k = 0; k < in; k++) a += x[i * in + k] * w[j * in + k];
        y[i * out + j] = a;
      }
    return y;
  }
}

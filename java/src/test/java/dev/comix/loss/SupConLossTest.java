package dev.comix.loss;

import static dev.comix.loss.TensorsForTests.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.comix.runtime.ComixException;
import dev.comix.runtime.CpuOps;
import dev.comix.runtime.DType;
import dev.comix.runtime.Ops;
import dev.comix.runtime.Tensor;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * SupConLoss on the CPU backend against the float64 oracle, on fresh random inputs (seed
 * printed): the acceptance list of the issue, through the JNI path. float32: 1e-5 relative
 * (loss, and gradient as max|err| / max|ref|); float64: 1e-11.
 */
class SupConLossTest {
  static Ops ops;
  static final long SEED = System.nanoTime();

  @BeforeAll
  static void open() {
    ops = new CpuOps();
    System.out.println("SupConLossTest seed " + SEED);
  }

  @AfterAll
  static void close() {
    ops.close();
  }

  record Case(String name, int n, int v, int d, int classes, boolean mask, boolean normalize, boolean viewMajor,
              float tau, float tauB, double scale) {
    @Override
    public String toString() {
      return name;
    }
  }

  static Stream<Arguments> cases() {
    return Stream.of(
        new Case("only the other view positive", 23, 2, 17, 0, false, false, false, 0.5f, 0.07f, 0.3),
        new Case("many positives per anchor", 40, 2, 9, 3, false, false, false, 0.5f, 0.07f, 0.3),
        new Case("masked rows", 31, 2, 11, 4, true, false, false, 0.5f, 0.07f, 0.3),
        new Case("N*V not a tile multiple", 301, 2, 33, 20, false, false, false, 0.5f, 0.07f, 0.2),
        new Case("V=1", 37, 1, 8, 5, false, false, false, 0.5f, 0.07f, 0.3),
        new Case("V=3", 19, 3, 14, 4, false, false, false, 0.5f, 0.07f, 0.3),
        new Case("normalised NT-Xent", 45, 2, 64, 0, false, true, false, 0.1f, 0.1f, 1.0),
        new Case("normalised, masked, V=3, view-major", 29, 3, 24, 6, true, true, true, 0.2f, 0.07f, 1.0),
        new Case("CoMix shape [16, 2, 12]", 16, 2, 12, 8, false, false, false, 0.5f, 0.07f, 0.6))
        .map(Arguments::of);
  }

  static double[] randn(Random r, int n, double scale) {
    double[] x = new double[n];
    for (int i = 0; i < n; i++) x[i] = r.nextGaussian() * scale;
    return x;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void matchesFloat64Reference(Case c) {
    Random r = new Random(SEED ^ c.name.hashCode());
    double[] x = roundF32(randn(r, c.n * c.v * c.d, c.scale));
    long[] labels = null;
    if (c.classes > 0) {
      labels = new long[c.n];
      for (int i = 0; i < c.n; i++) labels[i] = r.nextInt(c.classes);
    }
    boolean[] keep = null;
    if (c.mask) {
      keep = new boolean[c.n];
      for (int i = 0; i < c.n; i++) keep[i] = r.nextDouble() < 0.6;
      keep[0] = true;
    }
    SupConOracle ref = new SupConOracle(x, c.n, c.v, c.d, labels, keep, c.tau, c.tauB, c.normalize, c.viewMajor);
    long[] shape = c.viewMajor ? new long[] {c.v, c.n, c.d} : new long[] {c.n, c.v, c.d};
    SupConLoss loss = new SupConLoss(c.tau, c.tauB, c.normalize).viewMajor(c.viewMajor);
    try (Tensor lab = labels == null ? null : i64(labels); Tensor msk = keep == null ? null : u8(keep)) {
      try (Tensor f = f32(x, shape); SupConLoss.Result res = loss.compute(ops, f, lab, msk)) {
        assertEquals(ref.loss, res.loss(), 1e-5 * Math.abs(ref.loss), c + ": float32 loss");
        double e = SupConOracle.relErr(ref.grad, values(res.grad()));
        assertTrue(e <= 1e-5, c + ": float32 gradient rel err " + e);
      }
      // float64: the temperatures are taken as the decimals written (0.07f -> 0.07)
      SupConOracle ref64 = new SupConOracle(x, c.n, c.v, c.d, labels, keep, Double.parseDouble(Float.toString(c.tau)),
          Double.parseDouble(Float.toString(c.tauB)), c.normalize, c.viewMajor);
      try (Tensor f = f64(x, shape); SupConLoss.Result res = loss.compute(ops, f, lab, msk)) {
        assertEquals(ref64.loss, res.loss(), 1e-11 * Math.abs(ref64.loss), c + ": float64 loss");
        double e = SupConOracle.relErr(ref64.grad, values(res.grad()));
        assertTrue(e <= 1e-11, c + ": float64 gradient rel err " + e);
      }
    }
  }

  @Test
  void allRowsMaskedGivesZeroLossAndGradient() {
    double[] x = randn(new Random(SEED), 6 * 2 * 5, 1.0);
    try (Tensor f = f32(x, 6, 2, 5); Tensor m = u8(new boolean[6]);
         SupConLoss.Result r = SupConLoss.comix().compute(ops, f, null, m)) {
      assertEquals(0.0, r.loss());
      for (double g : values(r.grad())) assertEquals(0.0, g);
    }
  }

  @Test
  void finiteDifferencesFloat64() {
    Random r = new Random(SEED + 1);
    int n = 4, v = 2, d = 3;
    double[] x = randn(r, n * v * d, 0.7);
    long[] labels = {0, 1, 0, 1};
    for (boolean norm : new boolean[] {false, true}) {
      SupConLoss loss = new SupConLoss(0.5f, 0.07f, norm);
      double[] g;
      try (Tensor f = f64(x, n, v, d); Tensor lab = i64(labels); SupConLoss.Result res = loss.compute(ops, f, lab, null)) {
        g = values(res.grad());
      }
      double h = 1e-6, worst = 0, mag = 0;
      for (int i = 0; i < x.length; i++) {
        double keep = x[i];
        x[i] = keep + h;
        double lp = value(loss, x, labels, n, v, d);
        x[i] = keep - h;
        double lm = value(loss, x, labels, n, v, d);
        x[i] = keep;
        double fd = (lp - lm) / (2 * h);
        worst = Math.max(worst, Math.abs(fd - g[i]));
        mag = Math.max(mag, Math.abs(fd));
      }
      assertTrue(worst <= 1e-6 * Math.max(1, mag), "finite differences (normalize=" + norm + "): " + worst);
    }
  }

  private static double value(SupConLoss loss, double[] x, long[] labels, int n, int v, int d) {
    try (Tensor f = f64(x, n, v, d); Tensor lab = i64(labels)) {
      return loss.value(ops, f, lab, null);
    }
  }

  @Test
  void badInputIsAClearExceptionBeforeAnyNativeCall() {
    SupConLoss loss = SupConLoss.comix();
    try (Tensor empty = Tensor.host(DType.F32, 0, 2, 4)) {
      ComixException e = assertThrows(ComixException.class, () -> loss.compute(ops, empty, null, null));
      assertTrue(e.getMessage().contains("N = 0"), e.getMessage());
    }
    try (Tensor f = f32(new double[24], 3, 2, 4); Tensor lab = i64(new long[] {0, 1})) {
      ComixException e = assertThrows(ComixException.class, () -> loss.compute(ops, f, lab, null));
      assertTrue(e.getMessage().contains("2 labels for N = 3"), e.getMessage());
    }
    double[] bad = new double[24];
    bad[7] = Double.NaN;
    try (Tensor f = f32(bad, 3, 2, 4)) {
      ComixException e = assertThrows(ComixException.class, () -> loss.compute(ops, f, null, null));
      assertTrue(e.getMessage().contains("NaN") && e.getMessage().contains("index 7"), e.getMessage());
    }
    bad[7] = Double.POSITIVE_INFINITY;
    try (Tensor f = f64(bad, 3, 2, 4)) {
      ComixException e = assertThrows(ComixException.class, () -> loss.compute(ops, f, null, null));
      assertTrue(e.getMessage().contains("Infinity"), e.getMessage());
    }
    assertThrows(ComixException.class, () -> new SupConLoss(0f, 0.07f, false));
    assertThrows(ComixException.class, () -> new SupConLoss(-1f, 0.07f, false));
    assertThrows(ComixException.class, () -> new SupConLoss(0.5f, Float.NaN, false));
    try (Tensor f = f32(new double[24], 3, 2, 4); Tensor l = Tensor.host(DType.F32, 1)) {
      assertThrows(ComixException.class, () -> ops.supCon(f, null, null, 0f, 0.07f, 0, 1f, l, null));
    }
    try (Tensor f = f32(new double[8], 2, 4); Tensor l = Tensor.host(DType.F32, 1)) {
      assertThrows(ComixException.class, () -> ops.supCon(f, null, null, 0.5f, 0.07f, 0, 1f, l, null));
    }
  }
}

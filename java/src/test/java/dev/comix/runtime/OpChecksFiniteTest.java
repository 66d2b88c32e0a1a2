package dev.comix.runtime;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The branch-free NaN/Inf scan: found in any chunk, at the right index; extremes pass. */
class OpChecksFiniteTest {
  private static final long N = (1 << 16) * 2 + 123;  // three F32 chunks, five F64 chunks

  @Test
  void f32FindsTheFirstNonFiniteInAnyChunk() {
    try (Tensor t = Tensor.host(DType.F32, N)) {
      for (long i = 0; i < N; i++) t.data().putFloat(4 * i, (i % 3 == 0 ? -1f : 1f) * (float) (i % 1000) * 1e-3f);
      // finite extremes: largest, smallest normal and subnormal, negative zero
      t.data().putFloat(0, Float.MAX_VALUE);
      t.data().putFloat(4, -Float.MAX_VALUE);
      t.data().putFloat(8, Float.MIN_NORMAL);
      t.data().putFloat(12, Float.MIN_VALUE);
      t.data().putFloat(16, -0f);
      assertDoesNotThrow(() -> OpChecks.finite("op", "x", t));
      long[] at = {5, (1 << 16) + 17, N - 1};
      float[] bad = {Float.NaN, Float.NEGATIVE_INFINITY, Float.intBitsToFloat(0xffc00001)};  // last: NaN, sign set
      String[] shown = {"NaN", "-Infinity", "NaN"};
      for (int k = 0; k < at.length; k++) {
        float keep = t.data().getFloat(4 * at[k]);
        t.data().putFloat(4 * at[k], bad[k]);
        ComixException e = assertThrows(ComixException.class, () -> OpChecks.finite("op", "x", t));
        assertTrue(e.getMessage().contains(shown[k] + " at flat index " + at[k]), e.getMessage());
        t.data().putFloat(4 * at[k], keep);
      }
      t.data().putFloat(4 * at[2], Float.POSITIVE_INFINITY);
      t.data().putFloat(4 * at[1], Float.NaN);
      ComixException e = assertThrows(ComixException.class, () -> OpChecks.finite("op", "x", t));
      assertTrue(e.getMessage().contains("NaN at flat index " + at[1]), e.getMessage());  // the first one
    }
  }

  @Test
  void f64FindsNonFiniteAndPassesExtremes() {
    try (Tensor t = Tensor.host(DType.F64, N)) {
      for (long i = 0; i < N; i++) t.data().putDouble(8 * i, Math.sin(i));
      t.data().putDouble(0, Double.MAX_VALUE);
      t.data().putDouble(8, -Double.MIN_VALUE);
      assertDoesNotThrow(() -> OpChecks.finite("op", "x", t));
      long at = 3L * (1 << 15) + 5;
      t.data().putDouble(8 * at, Double.POSITIVE_INFINITY);
      ComixException e = assertThrows(ComixException.class, () -> OpChecks.finite("op", "x", t));
      assertTrue(e.getMessage().contains("Infinity at flat index " + at), e.getMessage());
    }
  }
}

package dev.comix.testing;

import java.util.Arrays;

/** Obvious, slow references the kernels are checked against. */
public final class Oracles {
  private Oracles() {}

  /** numpy.median(frames, axis=0).astype(uint8) for frames [T][n] given as T*n bytes. */
  public static byte[] median(byte[] frames, int T, int n) {
    byte[] out = new byte[n];
    double[] col = new double[T];
    for (int i = 0; i < n; i++) {
      for (int t = 0; t < T; t++) col[t] = frames[t * n + i] & 0xff;
      Arrays.sort(col);
      double m = T % 2 == 1 ? col[T / 2] : (col[T / 2 - 1] + col[T / 2]) / 2.0;
      out[i] = (byte) (int) m;
    }
    return out;
  }

  public static double mix(int x, int bg, double gamma) {
    return (1.0 - gamma) * (x * 2.0 / 255.0 - 1.0) + gamma * (bg * 2.0 / 255.0 - 1.0);
  }

  public static float bf16ToFloat(short bits) {
    return Float.intBitsToFloat((bits & 0xffff) << 16);
  }
}

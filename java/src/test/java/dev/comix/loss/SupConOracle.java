package dev.comix.loss;

/**
 * The SupCon loss and gradient in float64, written the obvious way (full M x M matrices, labels
 * compared pair by pair), as the reference for the tests. Layout [N, V, D] (or [V, N, D]).
 */
public final class SupConOracle {
  public final double loss;
  public final double[] grad;

  public SupConOracle(double[] x, int n, int v, int d, long[] labels, boolean[] keep, double tau, double tauB,
               boolean normalize, boolean viewMajor) {
    int m = n * v;
    double[][] z = new double[m][d];
    double[] inv = new double[m];
    boolean[] act = new boolean[m];
    for (int r = 0; r < m; r++) {
      int off = offset(r, n, v, d, viewMajor);
      act[r] = keep == null || keep[r % n];
      double ss = 0;
      for (int j = 0; j < d; j++) ss += x[off + j] * x[off + j];
      inv[r] = normalize ? 1.0 / Math.max(Math.sqrt(ss), 1e-12) : 1.0;
      for (int j = 0; j < d; j++) z[r][j] = x[off + j] * inv[r];
    }
    double[][] s = new double[m][m];
    for (int a = 0; a < m; a++)
      for (int k = 0; k < m; k++) {
        double dot = 0;
        for (int j = 0; j < d; j++) dot += z[a][j] * z[k][j];
        s[a][k] = dot / tau;
      }
    double[][] g = new double[m][m];
    int count = 0;
    double total = 0;
    for (int a = 0; a < m; a++) {
      if (!act[a]) continue;
      double mx = Double.NEGATIVE_INFINITY;
      int npos = 0;
      for (int k = 0; k < m; k++)
        if (k != a && act[k]) {
          mx = Math.max(mx, s[a][k]);
          if (label(labels, a, n) == label(labels, k, n)) npos++;
        }
      if (npos == 0) continue;
      double den = 0;
      for (int k = 0; k < m; k++) if (k != a && act[k]) den += Math.exp(s[a][k] - mx);
      double lse = mx + Math.log(den), l = 0;
      for (int k = 0; k < m; k++)
        if (k != a && act[k]) {
          boolean pos = label(labels, a, n) == label(labels, k, n);
          if (pos) l -= (s[a][k] - lse) / npos;
          g[a][k] = Math.exp(s[a][k] - lse) - (pos ? 1.0 / npos : 0.0);
        }
      total += l;
      count++;
    }
    double f = tau / tauB;
    loss = count == 0 ? 0 : f * total / count;
    grad = new double[x.length];
    if (count == 0) return;
    double c = f / count / tau;
    for (int a = 0; a < m; a++) {
      if (!act[a]) continue;
      double[] dz = new double[d];
      for (int k = 0; k < m; k++) {
        double w = c * (g[a][k] + g[k][a]);
        for (int j = 0; j < d; j++) dz[j] += w * z[k][j];
      }
      double dot = 0;
      for (int j = 0; j < d; j++) dot += dz[j] * z[a][j];
      int off = offset(a, n, v, d, viewMajor);
      for (int j = 0; j < d; j++) grad[off + j] = normalize ? (dz[j] - z[a][j] * dot) * inv[a] : dz[j];
    }
  }

  static int offset(int r, int n, int v, int d, boolean viewMajor) {
    return viewMajor ? r * d : ((r % n) * v + r / n) * d;
  }

  static long label(long[] labels, int r, int n) {
    return labels == null ? r % n : labels[r % n];
  }

  /** max|got - ref| / max|ref| (absolute when ref is all zero). */
  public static double relErr(double[] ref, double[] got) {
    double w = 0, m = 0;
    for (int i = 0; i < ref.length; i++) {
      w = Math.max(w, Math.abs(got[i] - ref[i]));
      m = Math.max(m, Math.abs(ref[i]));
    }
    return m > 0 ? w / m : w;
  }
}

package dev.comix.nn;

import dev.comix.runtime.Tensor;
import java.util.SplittableRandom;

/**
 * Inverted dropout: in training each element is kept with probability 1 − p and scaled by
 * 1 / (1 − p), else zeroed; in eval it is the identity. Masks come from a seeded generator, so a
 * run is repeatable; the last mask is saved for the backward.
 */
public final class Dropout implements Layer {
  private final double p;
  private final SplittableRandom random;
  private float[] savedMask; // null: identity
  private long[] savedShape;

  public Dropout(double p, long seed) {
    if (!(p >= 0 && p <= 1)) throw new IllegalArgumentException("dropout probability " + p + " not in [0, 1]");
    this.p = p;
    this.random = new SplittableRandom(seed);
  }

  @Override
  public Tensor forward(Tensor x, boolean training) {
    Floats.requireF32(x);
    float[] v = Floats.read(x);
    savedShape = x.shape();
    if (!training || p == 0) {
      savedMask = null;
      return Floats.of(v, savedShape);
    }
    float scale = p == 1 ? 0f : (float) (1.0 / (1.0 - p));
    float[] m = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      m[i] = random.nextDouble() >= p ? scale : 0f;
      v[i] *= m[i];
    }
    savedMask = m;
    return Floats.of(v, savedShape);
  }

  /** The last training mask (scale or 0 per element), or null when the last forward was the identity. */
  public float[] mask() {
    return savedMask == null ? null : savedMask.clone();
  }

  @Override
  public Tensor backward(Tensor gradOut) {
    if (savedShape == null) throw new IllegalStateException("Dropout.backward before forward");
    Floats.requireF32(gradOut);
    Floats.sameShape(gradOut, savedShape, "Dropout");
    float[] g = Floats.read(gradOut);
    if (savedMask != null) for (int i = 0; i < g.length; i++) g[i] *= savedMask[i];
    return Floats.of(g, savedShape);
  }
}

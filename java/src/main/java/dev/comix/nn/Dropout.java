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
  private record Ctx(float[] mask, long[] shape) {} // mask null: identity

  private final Saved<Ctx> saved = new Saved<>();
  private float[] lastMask;

  public Dropout(double p, long seed) {
    if (!(p >= 0 && p <= 1)) throw new IllegalArgumentException("dropout probability " + p + " not in [0, 1]");
    this.p = p;
    this.random = new SplittableRandom(seed);
  }

  @Override
  public Tensor forward(Tensor x, boolean training) {
    Floats.requireF32(x);
    float[] v = Floats.read(x);
    if (!training || p == 0) {
      lastMask = null;
      saved.push(new Ctx(null, x.shape()), training);
      return Floats.of(v, x.shape());
    }
    float scale = p == 1 ? 0f : (float) (1.0 / (1.0 - p));
    float[] m = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      m[i] = random.nextDouble() >= p ? scale : 0f;
      v[i] *= m[i];
    }
    lastMask = m;
    saved.push(new Ctx(m, x.shape()), training);
    return Floats.of(v, x.shape());
  }

  /** The last training mask (scale or 0 per element), or null when the last forward was the identity. */
  public float[] mask() {
    return lastMask == null ? null : lastMask.clone();
  }

  @Override
  public Tensor backward(Tensor gradOut) {
    Ctx c = saved.pop("Dropout");
    Floats.requireF32(gradOut);
    Floats.sameShape(gradOut, c.shape(), "Dropout");
    float[] g = Floats.read(gradOut);
    if (c.mask() != null) for (int i = 0; i < g.length; i++) g[i] *= c.mask()[i];
    return Floats.of(g, c.shape());
  }

  @Override
  public void clearSaved() {
    saved.clear();
  }
}

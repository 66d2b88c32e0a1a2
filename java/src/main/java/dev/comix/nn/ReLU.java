package dev.comix.nn;

import dev.comix.runtime.Tensor;

/** y = max(x, 0); backward passes the gradient where the output is positive (as PyTorch). */
public final class ReLU implements Layer {
  private float[] savedOut;
  private long[] savedShape;

  @Override
  public Tensor forward(Tensor x, boolean training) {
    Floats.requireF32(x);
    float[] v = Floats.read(x);
    for (int i = 0; i < v.length; i++) if (!(v[i] > 0f)) v[i] = 0f;
    savedOut = v;
    savedShape = x.shape();
    return Floats.of(v, savedShape);
  }

  @Override
  public Tensor backward(Tensor gradOut) {
    if (savedOut == null) throw new IllegalStateException("ReLU.backward before forward");
    Floats.requireF32(gradOut);
    Floats.sameShape(gradOut, savedShape, "ReLU");
    float[] g = Floats.read(gradOut);
    for (int i = 0; i < g.length; i++) if (!(savedOut[i] > 0f)) g[i] = 0f;
    return Floats.of(g, savedShape);
  }
}

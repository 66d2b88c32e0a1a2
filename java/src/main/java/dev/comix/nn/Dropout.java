package dev.comix.nn;

import dev.comix.jni.ComixCuda;
import dev.comix.nn.gpu.GpuContext;
import dev.comix.runtime.DType;
import dev.comix.runtime.Tensor;
import java.util.SplittableRandom;

/**
 * Inverted dropout: in training each element is kept with probability 1 − p and scaled by
 * 1 / (1 − p), else zeroed; in eval it is the identity. Masks come from a seeded generator, so a
 * run is repeatable; the last mask is saved for the backward. On a CUDA device the mask comes from
 * a counter-based generator in the kernel, seeded from the same seeded generator (repeatable, but
 * not the same mask as on the CPU); {@link #mask} is then null.
 */
public final class Dropout implements Layer {
  private final double p;
  private final SplittableRandom random;
  /** mask null: identity (CPU); gpuMask: the kept/dropped bytes of a GPU forward. */
  private record Ctx(float[] mask, long[] shape, Tensor gpuMask, GpuContext gpu) {}

  private final Saved<Ctx> saved = new Saved<>(c -> {
    if (c.gpuMask() != null) c.gpuMask().close();
  });
  private float[] lastMask;

  public Dropout(double p, long seed) {
    if (!(p >= 0 && p <= 1)) throw new IllegalArgumentException("dropout probability " + p + " not in [0, 1]");
    this.p = p;
    this.random = new SplittableRandom(seed);
  }

  @Override
  public Tensor forward(Tensor x, boolean training) {
    if (x.device().isCuda()) return gpuForward(x, training);
    Floats.requireF32(x);
    float[] v = Floats.read(x);
    if (!training || p == 0) {
      lastMask = null;
      saved.push(new Ctx(null, x.shape(), null, null), training);
      return Floats.of(v, x.shape());
    }
    float scale = p == 1 ? 0f : (float) (1.0 / (1.0 - p));
    float[] m = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      m[i] = random.nextDouble() >= p ? scale : 0f;
      v[i] *= m[i];
    }
    lastMask = m;
    saved.push(new Ctx(m, x.shape(), null, null), training);
    return Floats.of(v, x.shape());
  }

  private Tensor gpuForward(Tensor x, boolean training) {
    GpuContext g = GpuContext.of(x);
    int code = GpuContext.code(x);
    lastMask = null;
    if (!training || p == 0) {
      Tensor y = g.alloc(x.dtype(), x.shape());
      g.ops().copy(x, y);
      saved.push(new Ctx(null, x.shape(), null, g), training);
      return y;
    }
    Tensor y = g.alloc(x.dtype(), x.shape());
    Tensor mask = g.alloc(DType.U8, x.shape());
    try {
      if (x.numel() > 0)
        g.check(ComixCuda.comix_nn_dropout_forward_cuda(x.data(), code, x.numel(), (float) p, random.nextLong(), 0L,
            y.data(), mask.data(), g.stream()), "Dropout");
    } catch (RuntimeException e) {
      y.close();
      mask.close();
      throw e;
    }
    saved.push(new Ctx(null, x.shape(), mask, g), training);
    return y;
  }

  /** The last training mask (scale or 0 per element), or null when the last forward was the identity. */
  public float[] mask() {
    return lastMask == null ? null : lastMask.clone();
  }

  @Override
  public Tensor backward(Tensor gradOut) {
    Ctx c = saved.pop("Dropout");
    if (c.gpu() != null) {
      try {
        GpuContext g = c.gpu();
        Floats.sameShape(gradOut, c.shape(), "Dropout");
        Tensor dx = g.alloc(gradOut.dtype(), gradOut.shape());
        if (c.gpuMask() == null) {
          g.ops().copy(gradOut, dx);
        } else if (dx.numel() > 0) {
          g.check(ComixCuda.comix_nn_dropout_backward_cuda(gradOut.data(), GpuContext.code(gradOut), gradOut.numel(),
              (float) p, c.gpuMask().data(), dx.data(), g.stream()), "Dropout backward");
        }
        return dx;
      } finally {
        saved.release(c);
      }
    }
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

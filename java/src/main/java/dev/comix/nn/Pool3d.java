package dev.comix.nn;

import dev.comix.nn.cpu.DnnlPool3d;
import dev.comix.runtime.DType;
import dev.comix.runtime.Tensor;

/**
 * What max and average pooling share: a oneDNN pooling plan per call, its workspace saved for the
 * backward, NDHWC in and out. Subclasses only say how the output size and padding come out.
 */
abstract class Pool3d implements Layer {
  protected final int[] kernel, stride;
  private final DnnlPool3d dnnl;
  private final String name;

  private record Ctx(DnnlPool3d.Plan plan, org.bytedeco.dnnl.memory workspace, long[] inShape, long[] outShape) {}

  private final Saved<Ctx> saved = new Saved<>(c -> {
    if (c.workspace() != null) c.workspace().close();
  });

  Pool3d(String name, boolean max, int[] kernel, int[] stride) {
    this.name = name;
    this.kernel = kernel.clone();
    this.stride = stride.clone();
    this.dnnl = new DnnlPool3d(max, this.kernel, this.stride);
  }

  /** Front padding, back padding and output size (each 3 values: D, H, W) for input sizes {@code size}. */
  protected abstract long[][] geometry(int[] size);

  @Override
  public Tensor forward(Tensor x, boolean training) {
    int[] s = Floats.ndhwc(x, -1, name);
    long[][] g = geometry(new int[] {s[1], s[2], s[3]});
    long[] o = g[2];
    DnnlPool3d.Plan p = dnnl.plan(s[0], s[4], s[1], s[2], s[3], g[0], g[1], o);
    long[] os = {s[0], o[0], o[1], o[2], s[4]};
    Tensor y = Tensor.host(DType.F32, os);
    org.bytedeco.dnnl.memory ws = dnnl.workspace(p);
    dnnl.forward(p, x.data(), y.data(), ws);
    saved.push(new Ctx(p, ws, x.shape(), os), training);
    return y;
  }

  @Override
  public Tensor backward(Tensor gradOut) {
    Ctx c = saved.pop(name);
    try {
      Floats.requireF32(gradOut);
      Floats.sameShape(gradOut, c.outShape(), name);
      Tensor dx = Tensor.host(DType.F32, c.inShape());
      dnnl.backward(c.plan(), gradOut.data(), dx.data(), c.workspace());
      return dx;
    } finally {
      saved.release(c);
    }
  }

  @Override
  public void clearSaved() {
    saved.clear();
  }
}

package dev.comix.nn;

import dev.comix.nn.cpu.DnnlPool3d;
import dev.comix.runtime.DType;
import dev.comix.runtime.Tensor;

/**
 * nn.AvgPool3d(kernel, stride) without padding (I3D's final pool is (1, 7, 7), stride 1): output
 * size floor((s − k) / t) + 1 per dimension. oneDNN average pooling; NDHWC in and out.
 */
public final class AvgPool3d implements Layer {
  private final int[] kernel, stride;
  private final DnnlPool3d dnnl;
  private record Ctx(DnnlPool3d.Plan plan, org.bytedeco.dnnl.memory workspace, long[] inShape, long[] outShape) {}

  private final Saved<Ctx> saved = new Saved<>(c -> {
    if (c.workspace() != null) c.workspace().close();
  });

  public AvgPool3d(int[] kernel, int[] stride) {
    this.kernel = kernel.clone();
    this.stride = stride.clone();
    this.dnnl = new DnnlPool3d(false, this.kernel, this.stride);
  }

  @Override
  public Tensor forward(Tensor x, boolean training) {
    int[] s = Floats.ndhwc(x, -1, "AvgPool3d");
    long[] o = new long[3];
    for (int i = 0; i < 3; i++) {
      if (s[i + 1] < kernel[i])
        throw new IllegalArgumentException("AvgPool3d: input " + s[i + 1] + " smaller than kernel " + kernel[i]);
      o[i] = (s[i + 1] - kernel[i]) / stride[i] + 1;
    }
    long[] zero = {0, 0, 0};
    DnnlPool3d.Plan p = dnnl.plan(s[0], s[4], s[1], s[2], s[3], zero, zero, o);
    long[] os = {s[0], o[0], o[1], o[2], s[4]};
    Tensor y = Tensor.host(DType.F32, os);
    org.bytedeco.dnnl.memory ws = dnnl.workspace(p);
    dnnl.forward(p, x.data(), y.data(), ws);
    saved.push(new Ctx(p, ws, x.shape(), os), training);
    return y;
  }

  @Override
  public Tensor backward(Tensor gradOut) {
    Ctx c = saved.pop("AvgPool3d");
    try {
      Floats.requireF32(gradOut);
      Floats.sameShape(gradOut, c.outShape(), "AvgPool3d");
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

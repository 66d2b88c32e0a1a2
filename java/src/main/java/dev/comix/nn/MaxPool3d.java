package dev.comix.nn;

import dev.comix.nn.cpu.DnnlPool3d;
import dev.comix.runtime.DType;
import dev.comix.runtime.Tensor;

/**
 * pytorch-i3d's MaxPool3dSamePadding: TF-SAME padding with <b>zeros</b> (F.pad, constant 0), then
 * nn.MaxPool3d without padding (floor mode). The padded zeros take part in the max, so a window
 * of negatives hanging over the edge yields 0 (oneDNN's own padding would give the largest
 * negative): {@link DnnlPool3d} pads explicitly and pools unpadded. A gradient whose maximum is a
 * padded zero is dropped, as F.pad's backward drops it. Between exactly equal values the maximum
 * oneDNN picks may differ from PyTorch's first-in-window; after a ReLU such ties are zeros whose
 * gradient the ReLU discards anyway. NDHWC in and out.
 */
public final class MaxPool3d implements Layer {
  private final int[] kernel, stride;
  private final DnnlPool3d dnnl;
  private record Ctx(DnnlPool3d.Plan plan, org.bytedeco.dnnl.memory workspace, long[] inShape, long[] outShape) {}

  private final Saved<Ctx> saved = new Saved<>(c -> {
    if (c.workspace() != null) c.workspace().close();
  });

  public MaxPool3d(int[] kernel, int[] stride) {
    this.kernel = kernel.clone();
    this.stride = stride.clone();
    this.dnnl = new DnnlPool3d(true, this.kernel, this.stride);
  }

  @Override
  public Tensor forward(Tensor x, boolean training) {
    int[] s = Floats.ndhwc(x, -1, "MaxPool3d");
    int[] size = {s[1], s[2], s[3]};
    int[] o = TfSame.out(size, kernel, stride), f = TfSame.front(size, kernel, stride), b = TfSame.back(size, kernel, stride);
    DnnlPool3d.Plan p = dnnl.plan(s[0], s[4], s[1], s[2], s[3], new long[] {f[0], f[1], f[2]},
        new long[] {b[0], b[1], b[2]}, new long[] {o[0], o[1], o[2]});
    long[] os = {s[0], o[0], o[1], o[2], s[4]};
    Tensor y = Tensor.host(DType.F32, os);
    org.bytedeco.dnnl.memory ws = dnnl.workspace(p);
    dnnl.forward(p, x.data(), y.data(), ws);
    saved.push(new Ctx(p, ws, x.shape(), os), training);
    return y;
  }

  @Override
  public Tensor backward(Tensor gradOut) {
    Ctx c = saved.pop("MaxPool3d");
    try {
      Floats.requireF32(gradOut);
      Floats.sameShape(gradOut, c.outShape(), "MaxPool3d");
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

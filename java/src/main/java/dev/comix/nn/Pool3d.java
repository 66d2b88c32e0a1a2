package dev.comix.nn;

import dev.comix.jni.ComixCuda;
import dev.comix.nn.cpu.DnnlPool3d;
import dev.comix.nn.gpu.GpuContext;
import dev.comix.nn.gpu.GpuProfile;
import dev.comix.runtime.DType;
import dev.comix.runtime.Tensor;
import java.util.Arrays;

/**
 * What max and average pooling share: a oneDNN pooling plan per call, its workspace saved for the
 * backward, NDHWC in and out. Subclasses only say how the output size and padding come out. On a
 * CUDA device comix's pooling kernels run instead; the max pool saves the window index of each
 * maximum (first in scan order) for the backward, which gathers without atomics.
 */
abstract class Pool3d implements Layer {
  protected final int[] kernel, stride;
  private final DnnlPool3d dnnl;
  private final String name;

  /** CPU: plan + oneDNN workspace; GPU: argmax (max pooling) and the geometry. */
  private record Ctx(DnnlPool3d.Plan plan, org.bytedeco.dnnl.memory workspace, long[] inShape, long[] outShape,
      Tensor argmax, int[] front, GpuContext gpu, DType dtype) {}

  private final Saved<Ctx> saved = new Saved<>(c -> {
    if (c.workspace() != null) c.workspace().close();
    if (c.argmax() != null) c.argmax().close();
  });
  private final boolean max;
  private final String spanFwd, spanBwd;

  Pool3d(String name, boolean max, int[] kernel, int[] stride) {
    this.name = name;
    this.kernel = kernel.clone();
    this.stride = stride.clone();
    this.dnnl = new DnnlPool3d(max, this.kernel, this.stride);
    this.max = max;
    this.spanFwd = name + " fwd";
    this.spanBwd = name + " bwd";
  }

  /** Front padding, back padding and output size (each 3 values: D, H, W) for input sizes {@code size}. */
  protected abstract long[][] geometry(int[] size);

  @Override
  public Tensor forward(Tensor x, boolean training) {
    if (x.device().isCuda()) return gpuForward(x, training);
    int[] s = Floats.ndhwc(x, -1, name);
    long[][] g = geometry(new int[] {s[1], s[2], s[3]});
    long[] o = g[2];
    DnnlPool3d.Plan p = dnnl.plan(s[0], s[4], s[1], s[2], s[3], g[0], g[1], o);
    long[] os = {s[0], o[0], o[1], o[2], s[4]};
    Tensor y = Tensor.host(DType.F32, os);
    org.bytedeco.dnnl.memory ws = dnnl.workspace(p);
    dnnl.forward(p, x.data(), y.data(), ws);
    saved.push(new Ctx(p, ws, x.shape(), os, null, null, null, null), training);
    return y;
  }

  private Tensor gpuForward(Tensor x, boolean training) {
    GpuContext g = GpuContext.of(x);
    int[] s = Floats.ndhwcGpu(x, -1, name, g);
    long[][] geo = geometry(new int[] {s[1], s[2], s[3]});
    long[] o = geo[2];
    int[] front = {(int) geo[0][0], (int) geo[0][1], (int) geo[0][2]};
    long[] os = {s[0], o[0], o[1], o[2], s[4]};
    Tensor y = g.alloc(x.dtype(), os);
    Tensor argmax = max ? g.alloc(DType.U8, os) : null;
    int[] k = kernel, st = stride, f = front;
    try (GpuProfile.Span sp = g.span(spanFwd, () -> Arrays.toString(kernel) + " @ " + Arrays.toString(s))) {
      if (y.numel() > 0)
        g.check(ComixCuda.comix_nn_pool3d_forward_cuda(x.data(), GpuContext.code(x), s[0], s[1], s[2], s[3], s[4], k, st,
            f, o[0], o[1], o[2], max ? 0 : 1, y.data(), argmax == null ? null : argmax.data(), g.stream()), name);
    } catch (RuntimeException e) {
      y.close();
      if (argmax != null) argmax.close();
      throw e;
    }
    saved.push(new Ctx(null, null, x.shape(), os, argmax, front, g, x.dtype()), training);
    return y;
  }

  private Tensor gpuBackward(Ctx c, Tensor gradOut) {
    GpuContext g = c.gpu();
    Floats.sameShape(gradOut, c.outShape(), name);
    if (gradOut.dtype() != c.dtype() || !gradOut.device().isCuda())
      throw new IllegalArgumentException(name + ": gradient is " + gradOut + ", expected " + c.dtype() + " on the GPU");
    long[] is = c.inShape(), o = c.outShape();
    Tensor dx = g.alloc(gradOut.dtype(), is);
    int[] k = kernel, st = stride, f = c.front();
    try (GpuProfile.Span sp = g.span(spanBwd, () -> Arrays.toString(kernel) + " @ " + Arrays.toString(is))) {
      if (dx.numel() > 0)
        g.check(ComixCuda.comix_nn_pool3d_backward_cuda(gradOut.data(), GpuContext.code(gradOut), is[0], is[1], is[2],
            is[3], is[4], k, st, f, o[1], o[2], o[3], max ? 0 : 1, c.argmax() == null ? null : c.argmax().data(),
            dx.data(), g.stream()), name + " backward");
      return dx;
    } catch (RuntimeException e) {
      dx.close();
      throw e;
    }
  }

  @Override
  public Tensor backward(Tensor gradOut) {
    Ctx c = saved.pop(name);
    try {
      if (c.gpu() != null) return gpuBackward(c, gradOut);
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

package dev.comix.nn;

import dev.comix.jni.ComixCuda;
import dev.comix.nn.cpu.DnnlConv3d;
import dev.comix.nn.gpu.Conv3dEngine;
import dev.comix.nn.gpu.ConvApi;
import dev.comix.nn.gpu.ConvLayout;
import dev.comix.nn.gpu.ConvPrecision;
import dev.comix.nn.gpu.CudnnConv3d;
import dev.comix.nn.gpu.GpuContext;
import dev.comix.runtime.ComixException;
import dev.comix.runtime.DType;
import dev.comix.runtime.Tensor;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * 3-D convolution with TF-SAME padding (pytorch-i3d's Unit3D conv): any kernel and stride, with or
 * without bias. Input [N, D, H, W, Cin] (NDHWC), output [N, D', H', W', Cout] with D' = ceil(D / sD)
 * etc.; weight [Cout, Cin, kT, kH, kW] and bias [Cout] as PyTorch stores them. Runs on oneDNN
 * (forward, backward-data and backward-weights primitives cached per input shape), with the
 * asymmetric padding passed as padding_l / padding_r.
 *
 * <p>On a CUDA device (input on the GPU) it runs on cuDNN ({@link CudnnConv3d}, channels-last,
 * the {@link GpuContext}'s precision): symmetric TF-SAME padding is cuDNN's own; an asymmetric one
 * (a strided conv such as Conv3d_1a) is materialised by a zero-pad kernel first, and the input
 * gradient cropped back. The weight is kept on the device in cuDNN's [Cout, kT, kH, kW, Cin]
 * order (bf16 in BF16 precision), rebuilt when the parameter changes; its gradient is reordered
 * back and accumulated into the parameter's F32 device gradient.
 */
public final class Conv3d implements Layer {
  private final int cin, cout;
  private final int[] kernel, stride;
  private final Param weight, bias;
  private final DnnlConv3d dnnl;
  /** input: the (retained) input, zero-padded on the GPU when the padding is asymmetric. */
  private record Ctx(Tensor input, DnnlConv3d.Plan plan, long[] outShape, Gpu gpu) {}

  /** What a GPU forward saved besides the input. */
  private record Gpu(GpuContext g, Conv3dEngine conv, int chunk, long[] inShape, int[] front, int[] back,
      boolean padded) {}

  private record ConvKey(GpuContext g, ConvApi api, ConvPrecision precision, int p0, int p1, int p2) {}

  private final Saved<Ctx> saved = new Saved<>(c -> c.input().close());
  private final Map<ConvKey, Conv3dEngine> gpuConvs = new HashMap<>();
  private Tensor devWeight;
  private GpuContext devWeightCtx;
  private DType devWeightType;
  private long devWeightVersion = -1;

  public Conv3d(int cin, int cout, int[] kernel, int[] stride, boolean withBias) {
    if (kernel.length != 3 || stride.length != 3) throw new IllegalArgumentException("kernel and stride need 3 entries");
    this.cin = cin;
    this.cout = cout;
    this.kernel = kernel.clone();
    this.stride = stride.clone();
    this.weight = new Param("weight", cout, cin, kernel[0], kernel[1], kernel[2]);
    this.bias = withBias ? new Param("bias", cout) : null;
    this.dnnl = new DnnlConv3d(cin, cout, this.kernel, this.stride, withBias);
  }

  public Param weight() {
    return weight;
  }

  /** The bias, or null when the conv has none. */
  public Param bias() {
    return bias;
  }

  public int[] kernel() {
    return kernel.clone();
  }

  public int[] stride() {
    return stride.clone();
  }

  /** Output shape for an NDHWC input shape. */
  public long[] outShape(long[] in) {
    int[] size = {(int) in[1], (int) in[2], (int) in[3]};
    int[] o = TfSame.out(size, kernel, stride);
    return new long[] {in[0], o[0], o[1], o[2], cout};
  }

  /** The oneDNN implementations chosen for this input shape (fwd, bwd-data, bwd-weights). */
  public String implementations(long[] inShape) {
    return plan(inShape).implementations();
  }

  private DnnlConv3d.Plan plan(long[] s) {
    int[] size = {(int) s[1], (int) s[2], (int) s[3]};
    int[] o = TfSame.out(size, kernel, stride);
    int[] f = TfSame.front(size, kernel, stride), b = TfSame.back(size, kernel, stride);
    return dnnl.plan(s[0], s[1], s[2], s[3], o[0], o[1], o[2],
        new long[] {f[0], f[1], f[2]}, new long[] {b[0], b[1], b[2]});
  }

  @Override
  public Tensor forward(Tensor x, boolean training) {
    if (x.device().isCuda()) return gpuForward(x, training);
    Floats.ndhwc(x, cin, "Conv3d");
    long[] s = x.shape();
    DnnlConv3d.Plan p = plan(s);
    long[] os = outShape(s);
    Tensor y = Tensor.host(DType.F32, os);
    dnnl.forward(p, x.data(), weight.value().data(), bias == null ? null : bias.value().data(), y.data());
    saved.push(new Ctx(x.retain(), p, os, null), training);
    return y;
  }

  private Conv3dEngine gpuConv(GpuContext g, int[] pad) {
    return gpuConvs.computeIfAbsent(new ConvKey(g, g.convEngine(), g.precision(), pad[0], pad[1], pad[2]),
        k -> Conv3dEngine.create(k.api(), g.cudnn(), cin, cout, kernel, stride, pad, ConvLayout.NDHWC, k.precision()));
  }

  /** The weight in cuDNN's channels-last filter order and the activation type, current. */
  private Tensor deviceWeight(GpuContext g, DType dt) {
    Tensor master = weight.valueOn(g);
    if (devWeight == null || devWeightCtx != g || devWeightType != dt || devWeightVersion != weight.deviceVersion()) {
      if (devWeight != null) devWeight.close();
      devWeight = g.alloc(dt, cout, kernel[0], kernel[1], kernel[2], cin);
      g.check(ComixCuda.comix_nn_weight_to_krsc_cuda(master.data(), cout, cin, kernel[0], kernel[1], kernel[2],
          devWeight.data(), GpuContext.code(dt), g.stream()), "Conv3d weight reorder");
      devWeightCtx = g;
      devWeightType = dt;
      devWeightVersion = weight.deviceVersion();
    }
    return devWeight;
  }

  private Tensor gpuForward(Tensor x, boolean training) {
    GpuContext g = GpuContext.of(x);
    int[] s = Floats.ndhwcGpu(x, cin, "Conv3d", g);
    DType dt = x.dtype();
    int[] size = {s[1], s[2], s[3]};
    int[] f = TfSame.front(size, kernel, stride), b = TfSame.back(size, kernel, stride);
    boolean padded = !Arrays.equals(f, b);
    Tensor xin;
    if (padded) {
      xin = g.alloc(dt, s[0], s[1] + f[0] + b[0], s[2] + f[1] + b[1], s[3] + f[2] + b[2], cin);
      g.check(ComixCuda.comix_nn_pad5d_cuda(x.data(), GpuContext.code(dt), s[0], s[1], s[2], s[3], cin, f, b,
          xin.data(), g.stream()), "Conv3d pad");
    } else {
      xin = x.retain();
    }
    try {
      Conv3dEngine conv = gpuConv(g, padded ? new int[] {0, 0, 0} : f);
      long[] os = outShape(x.shape());
      long n = xin.dim(0);
      int chunk = g.convChunk(n, Math.max(xin.numel(), Tensor.numel(os)) / Math.max(1, n));
      Tensor y = g.alloc(dt, os);
      Tensor w = deviceWeight(g, dt);
      try {
        for (long b0 = 0; b0 < n; b0 += chunk) {
          long b1 = Math.min(n, b0 + chunk);
          Conv3dEngine.Plan p = conv.plan(b1 - b0, xin.dim(1), xin.dim(2), xin.dim(3));
          Tensor ys = y.slice0(b0, b1);
          conv.forward(p, xin.slice0(b0, b1).data(), w.data(), ys.data());
          if (bias != null) {
            if (dt == DType.BF16)
              throw new ComixException("Conv3d with bias runs on the GPU in F32/TF32 only (the logits unit; I3D features do not use it)");
            conv.addBias(p, bias.valueOn(g).data(), ys.data());
          }
        }
      } catch (RuntimeException e) {
        y.close();
        throw e;
      }
      saved.push(new Ctx(xin, null, os, new Gpu(g, conv, chunk, x.shape(), f, b, padded)), training);
      xin = null;
      return y;
    } finally {
      if (xin != null) xin.close();
    }
  }

  private Tensor gpuBackward(Ctx c, Tensor gradOut) {
    Gpu q = c.gpu();
    GpuContext g = q.g();
    Floats.sameShapeAndType(gradOut, c.outShape(), c.input(), "Conv3d");
    DType dt = gradOut.dtype();
    int code = GpuContext.code(dt);
    Tensor w = deviceWeight(g, dt);
    Tensor dxin = g.alloc(dt, c.input().shape());
    Tensor dx = dxin;
    try {
      long n = dxin.dim(0);
      long[] ps = c.input().shape();
      for (long b0 = 0; b0 < n; b0 += q.chunk()) {
        long b1 = Math.min(n, b0 + q.chunk());
        Conv3dEngine.Plan p = q.conv().plan(b1 - b0, ps[1], ps[2], ps[3]);
        q.conv().backwardData(p, gradOut.slice0(b0, b1).data(), w.data(), dxin.slice0(b0, b1).data());
      }
      if (q.padded()) {
        long[] is = q.inShape();
        dx = g.alloc(dt, is);
        g.check(ComixCuda.comix_nn_crop5d_cuda(dxin.data(), code, is[0], is[1], is[2], is[3], is[4], q.front(),
            q.back(), dx.data(), g.stream()), "Conv3d crop");
        dxin.close();
      }
      try (Tensor dwk = g.alloc(dt, cout, kernel[0], kernel[1], kernel[2], cin)) {
        for (long b0 = 0; b0 < n; b0 += q.chunk()) {
          long b1 = Math.min(n, b0 + q.chunk());
          Conv3dEngine.Plan p = q.conv().plan(b1 - b0, ps[1], ps[2], ps[3]);
          // each micro-batch's filter gradient goes straight into the F32 gradient (no bf16 accumulation)
          q.conv().backwardFilter(p, c.input().slice0(b0, b1).data(), gradOut.slice0(b0, b1).data(), dwk.data(), false);
          g.check(ComixCuda.comix_nn_weight_grad_from_krsc_cuda(dwk.data(), code, cout, cin, kernel[0], kernel[1],
              kernel[2], weight.gradOn(g).data(), 1, g.stream()), "Conv3d weight gradient");
        }
      }
      if (bias != null) {
        long rows = gradOut.numel() / cout;
        long wsBytes = ComixCuda.comix_nn_channel_sum_workspace(rows, cout);
        try (Tensor ws = g.alloc(DType.U8, Math.max(1, wsBytes))) {
          g.check(ComixCuda.comix_nn_channel_sum_cuda(gradOut.data(), code, rows, cout, bias.gradOn(g).data(), 1,
              ws.data(), wsBytes, g.stream()), "Conv3d bias gradient");
        }
      }
      return dx;
    } catch (RuntimeException e) {
      dx.close();
      if (dx != dxin) dxin.close();
      throw e;
    }
  }

  @Override
  public Tensor backward(Tensor gradOut) {
    Ctx c = saved.pop("Conv3d");
    try {
      if (c.gpu() != null) return gpuBackward(c, gradOut);
      Floats.requireF32(gradOut);
      Floats.sameShape(gradOut, c.outShape(), "Conv3d");
      Tensor dx = Tensor.host(DType.F32, c.input().shape());
      dnnl.backwardData(c.plan(), gradOut.data(), weight.value().data(), dx.data());
      try (Tensor dw = Tensor.host(DType.F32, weight.value().shape());
          Tensor db = bias == null ? null : Tensor.host(DType.F32, cout)) {
        dnnl.backwardWeights(c.plan(), c.input().data(), gradOut.data(), dw.data(), db == null ? null : db.data());
        Floats.addInto(weight.grad(), Floats.read(dw));
        if (bias != null) Floats.addInto(bias.grad(), Floats.read(db));
      }
      return dx;
    } finally {
      saved.release(c);
    }
  }

  @Override
  public void clearSaved() {
    saved.clear();
  }

  @Override
  public List<Param> params() {
    return bias == null ? List.of(weight) : List.of(weight, bias);
  }
}

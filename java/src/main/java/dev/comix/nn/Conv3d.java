package dev.comix.nn;

import dev.comix.jni.ComixCuda;
import dev.comix.nn.cpu.DnnlConv3d;
import dev.comix.nn.gpu.Conv3dEngine;
import dev.comix.nn.gpu.ConvApi;
import dev.comix.nn.gpu.ConvLayout;
import dev.comix.nn.gpu.ConvPrecision;
import dev.comix.nn.gpu.GemmConv3d;
import dev.comix.nn.gpu.GpuContext;
import dev.comix.nn.gpu.GpuProfile;
import dev.comix.runtime.ComixException;
import dev.comix.runtime.DType;
import dev.comix.runtime.Tensor;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * 3-D convolution with TF-SAME padding (pytorch-i3d's Unit3D conv): any kernel and stride, with or
 * without bias. Input [N, D, H, W, Cin] (NDHWC), output [N, D', H', W', Cout] with D' = ceil(D / sD)
 * etc.; weight [Cout, Cin, kT, kH, kW] and bias [Cout] as PyTorch stores them. Runs on oneDNN
 * (forward, backward-data and backward-weights primitives cached per input shape), with the
 * asymmetric padding passed as padding_l / padding_r.
 *
 * <p>On a CUDA device (input on the GPU) it runs on cuDNN ({@link Conv3dEngine}: the legacy or the
 * graph API; channels-last, or NCDHW behind transposes; the {@link GpuContext}'s precision): symmetric TF-SAME padding is cuDNN's own; an asymmetric one
 * (a strided conv such as Conv3d_1a) is materialised by a zero-pad kernel first, and the input
 * gradient cropped back. The weight is kept on the device in cuDNN's [Cout, kT, kH, kW, Cin']
 * order (bf16 in BF16 precision), rebuilt when the parameter changes; its gradient is reordered
 * back and accumulated into the parameter's F32 device gradient. Cin' = Cin, or with {@link
 * GpuContext#setPadInputChannels} Cin rounded up to 16 bytes (zero channels, in the input too,
 * which is then materialised padded: 8/3 of a 3-channel bf16 input is kept for the backward). With
 * {@link #setInputGradient}(false) the backward runs no backward-data convolution. With the context's conv layout
 * NCDHW ({@link GpuContext#setConvLayout}) cuDNN runs in NCDHW instead, between transposes of x,
 * y, dy and dx, on the weight in its own PyTorch order.
 */
public final class Conv3d implements Layer {
  private final int cin, cout;
  private final int[] kernel, stride;
  private final Param weight, bias;
  private final DnnlConv3d dnnl;
  /** input: the (retained) input, zero-padded on the GPU when the padding is asymmetric. */
  private record Ctx(Tensor input, DnnlConv3d.Plan plan, long[] outShape, Gpu gpu) {}

  /**
   * What a GPU forward saved besides the input. padded: the input was materialised padded (D, H,
   * W asymmetric, or channels cin -> cinP); cinP: the channels cuDNN saw (> cin when padded).
   */
  private record Gpu(GpuContext g, Conv3dEngine conv, int chunk, long[] inShape, int[] front, int[] back,
      boolean padded, int cinP) {}

  private record ConvKey(GpuContext g, ConvApi api, ConvPrecision precision, ConvLayout layout, int p0, int p1, int p2,
      int cinP, boolean gemm) {}

  private final Saved<Ctx> saved = new Saved<>(c -> c.input().close());
  /** Whether {@link #backward} computes dL/dx (off for a network's first layer when nobody reads it). */
  private boolean inputGradient = true;
  private final Map<ConvKey, Conv3dEngine> gpuConvs = new HashMap<>();
  private Tensor devWeight;
  private GpuContext devWeightCtx;
  private DType devWeightType;
  private long devWeightVersion = -1;
  private int devWeightCinP;
  /** BF16 copy of the weight in PyTorch order for NCDHW convs (F32/TF32 use the parameter's own). */
  private Tensor devWeightPt;
  private GpuContext devWeightPtCtx;
  private long devWeightPtVersion = -1;

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

  /**
   * Whether {@link #backward} computes and returns dL/d(input) (default true). Off, the backward
   * only accumulates the parameter gradients and returns null: the backward-data convolution is
   * skipped (for I3D's Conv3d_1a, whose input gradient is the gradient w.r.t. the video clip, which
   * training never uses; PyTorch skips it the same way when the input does not require grad).
   */
  public void setInputGradient(boolean on) {
    inputGradient = on;
  }

  public boolean inputGradient() {
    return inputGradient;
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

  /** "3x3x3/1 64->192 @ 8x4x56x56 TF32" for profiles. */
  private String describe(long[] in, GpuContext g) {
    return describe(in, g, cin);
  }

  /** The same with the channels cuDNN saw: "3(8)->64" when the input channels were padded. */
  private String describe(long[] in, GpuContext g, int cinP) {
    return kernel[0] + "x" + kernel[1] + "x" + kernel[2] + "/" + stride[0] + stride[1] + stride[2] + " " + cin
        + (cinP != cin ? "(" + cinP + ")" : "") + "->" + cout + " @ " + in[0] + "x" + in[1] + "x" + in[2] + "x" + in[3]
        + " " + g.precision();
  }

  /**
   * The engine of this conv for the context's API, precision and {@code layout}: cuDNN's, or for a
   * strict-F32 conv with few input channels on a padded input ({@link GemmConv3d#eligible}; I3D's
   * Conv3d_1a) im2col + cuBLAS around a cuDNN engine, while {@link GpuContext#gemmConv()} allows it.
   */
  private Conv3dEngine gpuConv(GpuContext g, int[] pad, ConvLayout layout, int cinP) {
    boolean gemm = g.gemmConv() && GemmConv3d.eligible(g.precision(), layout, cinP, kernel, pad, true);
    return gpuConvs.computeIfAbsent(
        new ConvKey(g, g.convEngine(), g.precision(), layout, pad[0], pad[1], pad[2], cinP, gemm), k -> {
          Conv3dEngine c = Conv3dEngine.create(k.api(), g.cudnn(), cinP, cout, kernel, stride, pad, k.layout(),
              k.precision());
          return k.gemm() ? new GemmConv3d(c, g.ops(), 0) : c;
        });
  }

  /**
   * The weight in cuDNN's channels-last filter order [Cout, kT, kH, kW, cinP] (zeros past cin)
   * and the activation type, current.
   */
  private Tensor deviceWeight(GpuContext g, DType dt, int cinP) {
    Tensor master = weight.valueOn(g);
    if (devWeight == null || devWeightCtx != g || devWeightType != dt || devWeightVersion != weight.deviceVersion()
        || devWeightCinP != cinP) {
      if (devWeight != null) devWeight.close();
      devWeight = null;
      devWeightVersion = -1; // stays invalid unless the reorder below succeeds
      devWeight = g.alloc(dt, cout, kernel[0], kernel[1], kernel[2], cinP);
      GpuProfile.Span sp = g.span("conv weight reorder");
      g.check(ComixCuda.comix_nn_weight_to_krsc_padded_cuda(master.data(), cout, cin, cinP, kernel[0], kernel[1],
          kernel[2], devWeight.data(), GpuContext.code(dt), g.stream()), "Conv3d weight reorder");
      sp.close();
      devWeightCtx = g;
      devWeightType = dt;
      devWeightVersion = weight.deviceVersion();
      devWeightCinP = cinP;
    }
    return devWeight;
  }

  private Tensor gpuForward(Tensor x, boolean training) {
    GpuContext g = GpuContext.of(x);
    if (g.convLayout() == ConvLayout.NCDHW) return gpuForwardNcdhw(g, x, training);
    int[] s = Floats.ndhwcGpu(x, cin, "Conv3d", g);
    DType dt = x.dtype();
    int[] size = {s[1], s[2], s[3]};
    int[] f = TfSame.front(size, kernel, stride), b = TfSame.back(size, kernel, stride);
    int cinP = g.padInputChannels() ? GpuContext.paddedChannels(cin, dt) : cin;
    boolean padded = !Arrays.equals(f, b) || cinP != cin;
    Tensor xin = null;
    try {
      if (padded) {
        xin = g.alloc(dt, s[0], s[1] + f[0] + b[0], s[2] + f[1] + b[1], s[3] + f[2] + b[2], cinP);
        try (GpuProfile.Span sp = g.span("conv pad")) {
          if (cinP != cin)
            g.check(ComixCuda.comix_nn_pad5d_channels_cuda(x.data(), GpuContext.code(dt), s[0], s[1], s[2], s[3], cin,
                cinP, f, b, xin.data(), g.stream()), "Conv3d pad (channels " + cin + " -> " + cinP + ")");
          else
            g.check(ComixCuda.comix_nn_pad5d_cuda(x.data(), GpuContext.code(dt), s[0], s[1], s[2], s[3], cin, f, b,
                xin.data(), g.stream()), "Conv3d pad");
        }
      } else {
        xin = x.retain();
      }
      Conv3dEngine conv = gpuConv(g, padded ? new int[] {0, 0, 0} : f, ConvLayout.NDHWC, cinP);
      long[] os = outShape(x.shape());
      long n = xin.dim(0);
      int chunk = g.convChunk(n, Math.max(xin.numel(), Tensor.numel(os)) / Math.max(1, n));
      Tensor w = deviceWeight(g, dt, cinP);
      Tensor y = g.alloc(dt, os);
      try (GpuProfile.Span sp = g.span("conv fwd", () -> describe(x.shape(), g, cinP))) {
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
      saved.push(new Ctx(xin, null, os, new Gpu(g, conv, chunk, x.shape(), f, b, padded, cinP)), training);
      xin = null;
      return y;
    } finally {
      if (xin != null) xin.close();
    }
  }

  private Tensor gpuBackward(Ctx c, Tensor gradOut) {
    if (c.gpu().conv().layout() == ConvLayout.NCDHW) return gpuBackwardNcdhw(c, gradOut);
    Gpu q = c.gpu();
    GpuContext g = q.g();
    Floats.sameShapeAndType(gradOut, c.outShape(), c.input(), "Conv3d");
    DType dt = gradOut.dtype();
    int code = GpuContext.code(dt);
    int cinP = q.cinP();
    Tensor w = inputGradient ? deviceWeight(g, dt, cinP) : null; // only backward-data reads it
    Tensor dxin = inputGradient ? g.alloc(dt, c.input().shape()) : null;
    Tensor dx = dxin;
    try {
      long n = c.input().dim(0);
      long[] ps = c.input().shape();
      if (inputGradient) {
        try (GpuProfile.Span sp = g.span("conv bwd-data", () -> describe(q.inShape(), g, cinP))) {
          for (long b0 = 0; b0 < n; b0 += q.chunk()) {
            long b1 = Math.min(n, b0 + q.chunk());
            Conv3dEngine.Plan p = q.conv().plan(b1 - b0, ps[1], ps[2], ps[3]);
            q.conv().backwardData(p, gradOut.slice0(b0, b1).data(), w.data(), dxin.slice0(b0, b1).data());
          }
        }
      }
      if (inputGradient && q.padded()) {
        long[] is = q.inShape();
        dx = g.alloc(dt, is);
        try (GpuProfile.Span sp = g.span("conv crop")) {
          if (cinP != cin)
            g.check(ComixCuda.comix_nn_crop5d_channels_cuda(dxin.data(), code, is[0], is[1], is[2], is[3], is[4], cinP,
                q.front(), q.back(), dx.data(), g.stream()), "Conv3d crop (channels " + cinP + " -> " + cin + ")");
          else
            g.check(ComixCuda.comix_nn_crop5d_cuda(dxin.data(), code, is[0], is[1], is[2], is[3], is[4], q.front(),
              q.back(), dx.data(), g.stream()), "Conv3d crop");
        }
        dxin.close();
      }
      try (Tensor dwk = g.alloc(dt, cout, kernel[0], kernel[1], kernel[2], cinP);
          GpuProfile.Span sp = g.span("conv bwd-filter", () -> describe(q.inShape(), g, cinP))) {
        for (long b0 = 0; b0 < n; b0 += q.chunk()) {
          long b1 = Math.min(n, b0 + q.chunk());
          Conv3dEngine.Plan p = q.conv().plan(b1 - b0, ps[1], ps[2], ps[3]);
          // each micro-batch's filter gradient goes straight into the F32 gradient (no bf16 accumulation)
          q.conv().backwardFilter(p, c.input().slice0(b0, b1).data(), gradOut.slice0(b0, b1).data(), dwk.data(), false);
          g.check(ComixCuda.comix_nn_weight_grad_from_krsc_padded_cuda(dwk.data(), code, cout, cin, cinP, kernel[0],
              kernel[1], kernel[2], weight.gradOn(g).data(), 1, g.stream()), "Conv3d weight gradient");
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
      if (dx != null) dx.close();
      if (dxin != null && dx != dxin) dxin.close();
      throw e;
    }
  }

  // ---- the GPU path in cuDNN's NCDHW layout (GpuContext.convLayout() == NCDHW) ----

  /**
   * The weight for NCDHW convolutions: PyTorch's [Cout, Cin, kT, kH, kW] is cuDNN's NCDHW filter
   * order, so F32/TF32 use the parameter's device value itself and BF16 a cast copy, rebuilt when
   * the parameter changes.
   */
  private Tensor ncdhwWeight(GpuContext g, DType dt) {
    Tensor master = weight.valueOn(g);
    if (dt == DType.F32) return master;
    if (devWeightPt == null || devWeightPtCtx != g || devWeightPtVersion != weight.deviceVersion()) {
      if (devWeightPt != null) devWeightPt.close();
      devWeightPt = null;
      devWeightPt = g.cast(master, dt); // span "cast"
      devWeightPtCtx = g;
      devWeightPtVersion = weight.deviceVersion();
    }
    return devWeightPt;
  }

  /** src [N, D, H, W, C] into dst [N, C, D, H, W]. */
  private static void toNcdhw(GpuContext g, Tensor src, Tensor dst, Supplier<String> what) {
    if (src.numel() == 0) return; // an empty batch
    long n = src.dim(0), c = src.dim(4);
    try (GpuProfile.Span sp = g.span("conv transpose", what)) {
      g.check(ComixCuda.comix_nn_ndhwc_to_ncdhw_cuda(src.data(), GpuContext.code(src), n, src.numel() / (n * c), c,
          dst.data(), g.stream()), "Conv3d NDHWC -> NCDHW");
    }
  }

  /** src [N, C, D, H, W] into dst [N, D, H, W, C]. */
  private static void toNdhwc(GpuContext g, Tensor src, Tensor dst, Supplier<String> what) {
    if (src.numel() == 0) return; // an empty batch
    long n = src.dim(0), c = src.dim(1);
    try (GpuProfile.Span sp = g.span("conv transpose", what)) {
      g.check(ComixCuda.comix_nn_ncdhw_to_ndhwc_cuda(src.data(), GpuContext.code(src), n, src.numel() / (n * c), c,
          dst.data(), g.stream()), "Conv3d NCDHW -> NDHWC");
    }
  }

  /**
   * Forward with cuDNN in NCDHW: the NDHWC input (zero-padded first when the padding is
   * asymmetric) is transposed into an NCDHW temporary, cuDNN runs per micro-batch on its slices
   * (an NCDHW sample is one contiguous block too) into an NCDHW output, which is transposed back
   * to NDHWC. The backward keeps the NCDHW input only (not the NDHWC one), so it needs no
   * transpose of x; that copy is memory the NDHWC path does not spend (there it retains x).
   */
  private Tensor gpuForwardNcdhw(GpuContext g, Tensor x, boolean training) {
    int[] s = Floats.ndhwcGpu(x, cin, "Conv3d", g);
    DType dt = x.dtype();
    int[] size = {s[1], s[2], s[3]};
    int[] f = TfSame.front(size, kernel, stride), b = TfSame.back(size, kernel, stride);
    boolean padded = !Arrays.equals(f, b);
    long n = s[0];
    long[] ps = padded ? new long[] {n, s[1] + f[0] + b[0], s[2] + f[1] + b[1], s[3] + f[2] + b[2], cin} : x.shape();
    long[] os = outShape(x.shape());
    Tensor xc = null, yc = null, y = null;
    try {
      xc = g.alloc(dt, n, cin, ps[1], ps[2], ps[3]);
      if (padded) {
        try (Tensor xp = g.alloc(dt, ps)) {
          try (GpuProfile.Span sp = g.span("conv pad")) {
            g.check(ComixCuda.comix_nn_pad5d_cuda(x.data(), GpuContext.code(dt), s[0], s[1], s[2], s[3], cin, f, b,
                xp.data(), g.stream()), "Conv3d pad");
          }
          toNcdhw(g, xp, xc, () -> "x " + describe(x.shape(), g));
        }
      } else {
        toNcdhw(g, x, xc, () -> "x " + describe(x.shape(), g));
      }
      Conv3dEngine conv = gpuConv(g, padded ? new int[] {0, 0, 0} : f, ConvLayout.NCDHW, cin);
      int chunk = g.convChunk(n, Math.max(xc.numel(), Tensor.numel(os)) / Math.max(1, n));
      yc = g.alloc(dt, n, cout, os[1], os[2], os[3]);
      Tensor w = ncdhwWeight(g, dt);
      try (GpuProfile.Span sp = g.span("conv fwd", () -> describe(x.shape(), g) + " NCDHW")) {
        for (long b0 = 0; b0 < n; b0 += chunk) {
          long b1 = Math.min(n, b0 + chunk);
          Conv3dEngine.Plan p = conv.plan(b1 - b0, ps[1], ps[2], ps[3]);
          Tensor ys = yc.slice0(b0, b1);
          conv.forward(p, xc.slice0(b0, b1).data(), w.data(), ys.data());
          if (bias != null) {
            if (dt == DType.BF16)
              throw new ComixException("Conv3d with bias runs on the GPU in F32/TF32 only (the logits unit; I3D features do not use it)");
            conv.addBias(p, bias.valueOn(g).data(), ys.data());
          }
        }
      }
      y = g.alloc(dt, os);
      toNdhwc(g, yc, y, () -> "y " + describe(x.shape(), g));
      saved.push(new Ctx(xc, null, os, new Gpu(g, conv, chunk, x.shape(), f, b, padded, cin)), training);
      xc = null;
      Tensor out = y;
      y = null;
      return out;
    } finally {
      if (xc != null) xc.close();
      if (yc != null) yc.close();
      if (y != null) y.close();
    }
  }

  /**
   * Backward of {@link #gpuForwardNcdhw}: dy transposed to NCDHW; backward-data into an NCDHW
   * temporary, transposed to NDHWC (and cropped when the forward padded); backward-filter per
   * micro-batch from the saved NCDHW input gives dW in PyTorch order, added into the F32 gradient
   * (axpy, from f32 or bf16); the bias gradient sums dy as in the NDHWC path.
   */
  private Tensor gpuBackwardNcdhw(Ctx c, Tensor gradOut) {
    Gpu q = c.gpu();
    GpuContext g = q.g();
    Floats.sameShapeAndType(gradOut, c.outShape(), c.input(), "Conv3d");
    DType dt = gradOut.dtype();
    int code = GpuContext.code(dt);
    Tensor xc = c.input(); // [N, Cin, D', H', W'] (padded when the forward padded)
    long n = xc.dim(0);
    long[] os = c.outShape(), is = q.inShape();
    long[] ps = {n, xc.dim(2), xc.dim(3), xc.dim(4), cin};
    Supplier<String> what = () -> describe(is, g);
    Tensor w = ncdhwWeight(g, dt);
    Tensor dyc = null, dxc = null, dxin = null, dx = null;
    try {
      dyc = g.alloc(dt, n, cout, os[1], os[2], os[3]);
      toNcdhw(g, gradOut, dyc, () -> "dy " + what.get());
      if (inputGradient) {
        dxc = g.alloc(dt, xc.shape());
        try (GpuProfile.Span sp = g.span("conv bwd-data", () -> what.get() + " NCDHW")) {
          for (long b0 = 0; b0 < n; b0 += q.chunk()) {
            long b1 = Math.min(n, b0 + q.chunk());
            Conv3dEngine.Plan p = q.conv().plan(b1 - b0, ps[1], ps[2], ps[3]);
            q.conv().backwardData(p, dyc.slice0(b0, b1).data(), w.data(), dxc.slice0(b0, b1).data());
          }
        }
        dxin = g.alloc(dt, ps);
        toNdhwc(g, dxc, dxin, () -> "dx " + what.get());
        dxc.close();
        dxc = null;
        if (q.padded()) {
          dx = g.alloc(dt, is);
          try (GpuProfile.Span sp = g.span("conv crop")) {
            g.check(ComixCuda.comix_nn_crop5d_cuda(dxin.data(), code, is[0], is[1], is[2], is[3], is[4], q.front(),
                q.back(), dx.data(), g.stream()), "Conv3d crop");
          }
          dxin.close();
        } else {
          dx = dxin;
        }
        dxin = null;
      }
      // (the shape spelled out: weight.value() would mark the host copy newer and force an upload)
      try (Tensor dw = g.alloc(dt, cout, cin, kernel[0], kernel[1], kernel[2]);
          GpuProfile.Span sp = g.span("conv bwd-filter", () -> what.get() + " NCDHW")) {
        Tensor grad = weight.gradOn(g);
        for (long b0 = 0; b0 < n; b0 += q.chunk()) {
          long b1 = Math.min(n, b0 + q.chunk());
          Conv3dEngine.Plan p = q.conv().plan(b1 - b0, ps[1], ps[2], ps[3]);
          // each micro-batch's filter gradient goes straight into the F32 gradient (no bf16 accumulation)
          q.conv().backwardFilter(p, xc.slice0(b0, b1).data(), dyc.slice0(b0, b1).data(), dw.data(), false);
          g.check(ComixCuda.comix_nn_axpy_cuda(1f, dw.data(), code, grad.data(), dw.numel(), g.stream()),
              "Conv3d weight gradient");
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
      Tensor out = dx;
      dx = null;
      return out;
    } finally {
      if (dyc != null) dyc.close();
      if (dxc != null) dxc.close();
      if (dxin != null) dxin.close();
      if (dx != null) dx.close();
    }
  }

  @Override
  public Tensor backward(Tensor gradOut) {
    Ctx c = saved.pop("Conv3d");
    try {
      if (c.gpu() != null) return gpuBackward(c, gradOut);
      Floats.requireF32(gradOut);
      Floats.sameShape(gradOut, c.outShape(), "Conv3d");
      Tensor dx = null;
      if (inputGradient) {
        dx = Tensor.host(DType.F32, c.input().shape());
        dnnl.backwardData(c.plan(), gradOut.data(), weight.value().data(), dx.data());
      }
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

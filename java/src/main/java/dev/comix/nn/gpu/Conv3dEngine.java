package dev.comix.nn.gpu;

import org.bytedeco.javacpp.Pointer;

/**
 * A 3-D convolution (cross-correlation, no dilation, no groups) on raw device pointers, in one
 * {@link ConvLayout} and one {@link ConvPrecision}: the part of {@link CudnnConv3d} (cuDNN's legacy
 * API) and {@link CudnnGraphConv3d} (cuDNN's backend/graph API) that the layers use, so either can
 * be plugged in ({@link #create}, or {@link GpuContext#convEngine()} for the layers).
 *
 * <p>Contract of both: {@link #plan} is cached per input shape (the same shape returns the same
 * object); each pass picks its kernel the first time it runs on a plan and then reuses it; every
 * call runs on the stream of the {@link Cudnn}'s backend, with a workspace taken from that
 * backend's caching allocator and given back right after the call; x, y, dx, dy, w and dw all
 * have the precision's element type; outputs are overwritten (backward-filter may accumulate).
 */
public interface Conv3dEngine extends AutoCloseable {
  /** Descriptors and cached kernel choices for one input shape. Close the engine, not the plan. */
  interface Plan {
    /** The input shape in the conv's layout order ([N,C,D,H,W] or [N,D,H,W,C]). */
    long[] inputShape();

    /** The output shape in the conv's layout order. */
    long[] outputShape();
  }

  /** A new engine of {@code api} (the arguments as {@link CudnnConv3d}'s constructor takes them). */
  static Conv3dEngine create(ConvApi api, Cudnn cudnn, int cin, int cout, int[] kernel, int[] stride, int[] pad,
                             ConvLayout layout, ConvPrecision precision) {
    return switch (api) {
      case LEGACY -> new CudnnConv3d(cudnn, cin, cout, kernel, stride, pad, layout, precision);
      case GRAPH -> new CudnnGraphConv3d(cudnn, cin, cout, kernel, stride, pad, layout, precision);
    };
  }

  /** Which cuDNN API this engine calls. */
  ConvApi api();

  /** The plan for input [N, C, D, H, W] (sizes given as N, D, H, W); created once per shape and cached. */
  Plan plan(long n, long d, long h, long w);

  /** y = conv(x, w); y is overwritten. */
  void forward(Plan p, Pointer x, Pointer w, Pointer y);

  /** dx = conv_transpose(dy, w); dx is overwritten. */
  void backwardData(Plan p, Pointer dy, Pointer w, Pointer dx);

  /** dw = grad wrt the filter, or dw += it when {@code accumulate}. */
  void backwardFilter(Plan p, Pointer x, Pointer dy, Pointer dw, boolean accumulate);

  /** y[n, c, ...] += bias[c] (fp32 bias; F32 and TF32 precisions only). */
  void addBias(Plan p, Pointer biasF32, Pointer y);

  /** db[c] = sum of dy over N, D, H, W (or db += it when {@code accumulate}); F32 and TF32 precisions only. */
  void backwardBias(Plan p, Pointer dy, Pointer dbF32, boolean accumulate);

  /** The chosen kernels of a plan per pass, for logs. */
  String describe(Plan p);

  /** How many kernel searches this engine has run so far (one per plan and pass, at most, for the legacy API). */
  long searches();

  int inChannels();

  int outChannels();

  int[] kernel();

  int[] stride();

  /** Symmetric padding per (D, H, W) (for the graph engine built with asymmetric padding: the front side). */
  int[] pad();

  ConvLayout layout();

  ConvPrecision precision();

  /** Filter shape in this conv's layout order. */
  default long[] filterShape() {
    int[] k = kernel();
    return layout() == ConvLayout.NCDHW ? new long[] {outChannels(), inChannels(), k[0], k[1], k[2]}
        : new long[] {outChannels(), k[0], k[1], k[2], inChannels()};
  }

  /** Multiply-accumulates of one pass on a plan (fwd, bwd-data and bwd-filter each do this many; FLOPs = 2 · MACs). */
  default long macs(Plan p) {
    long m = 1;
    for (long v : p.outputShape()) m *= v;
    int[] k = kernel();
    return m * inChannels() * k[0] * k[1] * k[2];
  }

  @Override
  void close();
}

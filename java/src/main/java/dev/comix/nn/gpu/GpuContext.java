package dev.comix.nn.gpu;

import static org.bytedeco.cuda.global.cudart.cudaMemcpy2DAsync;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyDeviceToDevice;

import dev.comix.jni.ComixCuda;
import dev.comix.runtime.Backends;
import dev.comix.runtime.ComixException;
import dev.comix.runtime.CudaOps;
import dev.comix.runtime.DType;
import dev.comix.runtime.Device;
import dev.comix.runtime.NativeStatus;
import dev.comix.runtime.Ops;
import dev.comix.runtime.Tensor;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.Pointer;

/**
 * What the layers need to run on one CUDA device: its {@link CudaOps} (one stream, caching
 * allocator), the cuDNN handle on that stream, and the precision of the GPU path.
 *
 * <p>Precision ({@link ConvPrecision}): F32 = fp32 everywhere, no tensor cores; TF32 = fp32
 * activations, convolutions may use TF32 tensor cores (what PyTorch does by default for cuDNN
 * convolutions); BF16 = bf16 activations and convolution data with fp32 accumulation, while
 * parameters, their gradients and BN statistics stay fp32. The default is TF32, or
 * {@code COMIX_GPU_PRECISION} (f32, tf32, bf16).
 *
 * <p>One context per device for the life of the process ({@link #of(Device)}); tensors given to
 * layers on that device must come from {@link #ops()} (same stream, same allocator).
 */
public final class GpuContext {
  private static final Map<Integer, GpuContext> CONTEXTS = new HashMap<>();

  private final CudaOps ops;
  private Cudnn cudnn;
  private volatile ConvPrecision precision;
  private volatile int microBatch;
  private volatile ConvLayout convLayout;
  private final GpuProfile profile;
  private volatile ConvApi convApi = ConvApi.fromEnvironment();

  private GpuContext(CudaOps ops) {
    this.ops = ops;
    this.precision = defaultPrecision();
    this.convLayout = defaultConvLayout();
    this.microBatch = defaultMicroBatch();
    this.profile = new GpuProfile(ops, "1".equals(System.getenv("COMIX_GPU_PROFILE")));
  }

  /** Per-op device time of the layers ({@link GpuProfile}); off by default. */
  public GpuProfile profile() {
    return profile;
  }

  public void setProfiling(boolean on) {
    profile.setOn(on);
  }

  /** A profiling span on this context's stream (a no-op unless profiling is on). */
  public GpuProfile.Span span(String name) {
    return profile.span(name);
  }

  /** A span "category|detail" whose detail is built only while profiling is on. */
  public GpuProfile.Span span(String category, java.util.function.Supplier<String> detail) {
    return profile.span(category, detail);
  }

  /** The precision a new context takes: {@code COMIX_GPU_PRECISION}, else TF32; one clear error for a bad value. */
  public static ConvPrecision defaultPrecision() {
    String s = System.getenv("COMIX_GPU_PRECISION");
    if (s == null || s.isBlank()) return ConvPrecision.TF32;
    try {
      return ConvPrecision.valueOf(s.trim().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new ComixException("COMIX_GPU_PRECISION=" + s + ": expected f32, tf32 or bf16");
    }
  }

  /** The conv layout a new context takes: {@code COMIX_GPU_CONV_LAYOUT}, else NDHWC; one clear error for a bad value. */
  public static ConvLayout defaultConvLayout() {
    String s = System.getenv("COMIX_GPU_CONV_LAYOUT");
    if (s == null || s.isBlank()) return ConvLayout.NDHWC;
    try {
      return ConvLayout.valueOf(s.trim().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new ComixException("COMIX_GPU_CONV_LAYOUT=" + s + ": expected ndhwc or ncdhw");
    }
  }

  /** The micro-batch a new context takes: {@code COMIX_GPU_MICROBATCH}, else {@link #DEFAULT_MICRO_BATCH}. */
  public static int defaultMicroBatch() {
    String s = System.getenv("COMIX_GPU_MICROBATCH");
    if (s == null || s.isBlank()) return DEFAULT_MICRO_BATCH;
    try {
      int v = Integer.parseInt(s.trim());
      if (v >= 0) return v;
    } catch (NumberFormatException e) {
      // below
    }
    throw new ComixException("COMIX_GPU_MICROBATCH=" + s + ": expected clips per cuDNN call, 0 (no cap) or more");
  }

  /** The context of CUDA device {@code device} (created on first use). */
  public static synchronized GpuContext of(Device device) {
    if (!device.isCuda()) throw new IllegalArgumentException("not a CUDA device: " + device);
    GpuContext c = CONTEXTS.get(device.index());
    if (c == null) {
      Ops o = Backends.open(device, 0);
      if (!(o instanceof CudaOps cuda)) throw new ComixException("no CUDA backend for " + device);
      c = new GpuContext(cuda);
      CONTEXTS.put(device.index(), c);
    }
    return c;
  }

  /** The context of the device a tensor lives on. */
  public static GpuContext of(Tensor t) {
    return of(t.device());
  }

  public CudaOps ops() {
    return ops;
  }

  public Device device() {
    return ops.device();
  }

  public Pointer stream() {
    return ops.stream();
  }

  public synchronized Cudnn cudnn() {
    if (cudnn == null) cudnn = Cudnn.of(ops);
    return cudnn;
  }

  public ConvPrecision precision() {
    return precision;
  }

  /** Sets the precision of later forwards; layers keep one cuDNN plan per precision. */
  public void setPrecision(ConvPrecision p) {
    precision = p;
  }

  /**
   * The layout the GPU convolutions hand to cuDNN. Activations between layers are NDHWC either
   * way; with {@link ConvLayout#NCDHW} a Conv3d transposes its input to NCDHW, runs cuDNN there
   * (filters in PyTorch's own order) and transposes the output back, for cuDNN's NCDHW kernels
   * (its fast strict-fp32 3-D kernels exist for NCDHW only). Default NDHWC, or
   * {@code COMIX_GPU_CONV_LAYOUT} (ndhwc, ncdhw).
   */
  public ConvLayout convLayout() {
    return convLayout;
  }

  /** Sets the conv layout of later forwards; a forward's backward keeps the forward's layout. */
  public void setConvLayout(ConvLayout layout) {
    if (layout == null) throw new IllegalArgumentException("layout is required");
    convLayout = layout;
  }

  private volatile boolean padInputChannels = "1".equals(System.getenv("COMIX_GPU_PAD_CHANNELS"));

  /**
   * Whether NDHWC convolutions whose input channels are not a multiple of 16 bytes (I3D's
   * Conv3d_1a: 3 channels; every such conv, e.g. most of a tiny-width test model) run on an input
   * and filter zero-padded to the next multiple (8 bf16 or 4 fp32 channels): tensor-core kernels
   * want 16-byte channel vectors. Same results (the extra channels are zeros); costs the padded
   * input's memory, kept for the backward (8/3 of a 3-channel bf16 clip, 4/3 in fp32). Off by default, {@code COMIX_GPU_PAD_CHANNELS=1} turns it on: on
   * an H200 Conv3d_1a took 5.8 ms of a 28 ms BF16 step (36 TFLOP/s) and 4.4 ms in TF32; whether
   * 2.7x (bf16) or 1.3x (fp32) the MACs at tensor-core rates is faster is unmeasured.
   */
  public boolean padInputChannels() {
    return padInputChannels;
  }

  /** Sets {@link #padInputChannels} for later forwards; a forward's backward keeps the forward's choice. */
  public void setPadInputChannels(boolean on) {
    padInputChannels = on;
  }

  /** Input channels a padded NDHWC conv gives cuDNN: cin rounded up to 16 bytes of {@code dtype}. */
  public static int paddedChannels(int cin, DType dtype) {
    int per16 = 16 / dtype.size();
    return (cin + per16 - 1) / per16 * per16;
  }

  /**
   * Default cap on clips per cuDNN call. Measured on an H200 (2026-11-26): a 512-clip BF16
   * training step in one cuDNN call per layer ran at 17 clips/s (session 2); with calls of at
   * most 64 clips it ran at 1361 clips/s, above the 32-clip step's 1144 (session 3).
   */
  public static final int DEFAULT_MICRO_BATCH = 64;

  /**
   * Caps the clips per cuDNN convolution call (0: no cap; default {@link #DEFAULT_MICRO_BATCH},
   * {@code COMIX_GPU_MICROBATCH}). The layers then run their convolutions
   * over micro-batches of the call's clips (accumulating weight gradients across them) while every
   * other layer, batch norm's statistics included, still sees the whole call. Independently of the
   * cap, a call is split so each cuDNN tensor stays under 2^31 elements (cuDNN's legacy API
   * counts in int: a 1024-clip Conv3d_1a output would not fit).
   */
  public void setMicroBatch(int clips) {
    if (clips < 0) throw new IllegalArgumentException("micro-batch must be >= 0, got " + clips);
    microBatch = clips;
  }

  public int microBatch() {
    return microBatch;
  }

  private volatile boolean gemmConv = GemmConv3d.enabled();

  /**
   * Whether strict-F32 convs with few input channels on a padded input (I3D's Conv3d_1a) run their
   * forward and backward-filter as im2col + cuBLAS SGEMM ({@link GemmConv3d}) instead of cuDNN: on
   * unless {@code COMIX_GPU_GEMM_CONV=0}. Layers keep one engine per setting.
   */
  public boolean gemmConv() {
    return gemmConv;
  }

  /** Sets {@link #gemmConv} for later convolutions. */
  public void setGemmConv(boolean on) {
    gemmConv = on;
  }

  /** The cuDNN API of the convolution engines layers create from now on ({@code COMIX_CUDNN_API}, default graph). */
  public ConvApi convEngine() {
    return convApi;
  }

  /** Selects the cuDNN API ({@link CudnnConv3d} or {@link CudnnGraphConv3d}) of later convolutions; layers keep one engine per API. */
  public void setConvEngine(ConvApi api) {
    convApi = java.util.Objects.requireNonNull(api, "api");
  }

  /** Clips per cuDNN call for n clips of at most {@code perClipElements} elements each (in or out). */
  public int convChunk(long n, long perClipElements) {
    long limit = Math.max(1, (Integer.MAX_VALUE - 1) / Math.max(1, perClipElements));
    long c = Math.min(n, limit);
    if (microBatch > 0) c = Math.min(c, microBatch);
    return (int) Math.max(1, c);
  }

  /** Activation element type for the current precision (BF16 for BF16, else F32). */
  public DType activationType() {
    return precision == ConvPrecision.BF16 ? DType.BF16 : DType.F32;
  }

  /** The native dtype code (COMIX_DTYPE_F32 / COMIX_DTYPE_BF16) of an activation tensor. */
  public static int code(DType t) {
    return switch (t) {
      case F32 -> 0;
      case BF16 -> 1;
      default -> throw new IllegalArgumentException("GPU layers take F32 or BF16 activations, got " + t);
    };
  }

  public static int code(Tensor t) {
    return code(t.dtype());
  }

  public Tensor alloc(DType dtype, long... shape) {
    return ops.allocate(dtype, shape);
  }

  public Tensor zeros(DType dtype, long... shape) {
    return ops.zeros(dtype, shape);
  }

  public void check(int status, String op) {
    NativeStatus.check(status, op);
  }

  /** A host F32 tensor copied to the device as the current activation type. */
  public Tensor upload(Tensor host) {
    return upload(host, activationType());
  }

  /** A host F32 tensor copied to the device as {@code dtype} (F32 or BF16). */
  public Tensor upload(Tensor host, DType dtype) {
    if (host.device().isCuda() || host.dtype() != DType.F32)
      throw new IllegalArgumentException("upload takes a host F32 tensor, got " + host);
    Tensor f = ops.allocate(DType.F32, host.shape());
    try {
      ops.copy(host, f);
      if (dtype == DType.F32) return f.retain();
      return cast(f, dtype);
    } finally {
      f.close();
    }
  }

  /** A device F32/BF16 tensor copied to a new host F32 tensor (waits for the stream). */
  public Tensor toHostF32(Tensor dev) {
    if (!dev.device().isCuda()) throw new IllegalArgumentException("toHostF32 takes a device tensor, got " + dev);
    Tensor f = dev.dtype() == DType.F32 ? dev.retain() : cast(dev, DType.F32);
    try {
      Tensor h = Tensor.host(DType.F32, dev.shape());
      ops.copy(f, h);
      return h;
    } finally {
      f.close();
    }
  }

  /** A new device tensor holding {@code src} converted to {@code dtype}. */
  public Tensor cast(Tensor src, DType dtype) {
    Tensor out = ops.allocate(dtype, src.shape());
    if (src.numel() > 0)
      try (GpuProfile.Span sp = span("cast")) {
        check(ComixCuda.comix_nn_cast_cuda(src.data(), code(src), out.data(), code(dtype), src.numel(), stream()), "cast");
      }
    return out;
  }

  /**
   * Copies a [rows, width] block of bytes with row pitches (the channel concat/split of NDHWC
   * tensors).
   */
  public void copy2d(Pointer dst, long dstPitch, Pointer src, long srcPitch, long width, long rows) {
    if (width == 0 || rows == 0) return;
    CudaOps.check(cudaMemcpy2DAsync(dst, dstPitch, src, srcPitch, width, rows, cudaMemcpyDeviceToDevice,
        new CUstream_st(stream())),
        "cudaMemcpy2DAsync");
  }
}

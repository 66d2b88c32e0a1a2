package dev.comix.nn.gpu;

import dev.comix.jni.ComixCuda;
import dev.comix.runtime.CudaOps;
import dev.comix.runtime.DType;
import dev.comix.runtime.NativeStatus;
import dev.comix.runtime.Tensor;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * A strict-fp32 NDHWC convolution with few input channels (I3D's Conv3d_1a: 3 channels, 7x7x7,
 * stride 2, on an input already padded TF-SAME) whose forward and backward-filter run as explicit
 * im2col plus cuBLAS SGEMM (CUBLAS_COMPUTE_32F: plain fp32 FMA, as cuDNN's fp32 engines and
 * PyTorch eager fp32). Backward-data and the bias go to the cuDNN engine it wraps, which also
 * makes the plans (geometry only: this engine never asks it for the two passes it runs itself).
 *
 * <p>Why: with 3 input channels cuDNN's fp32 engines run far below the card's fp32 rate. On an
 * H200 (2026-11-26, the wider search of every heuristics mode, 8 GiB workspace) Conv3d_1a took
 * 12.2 ms forward and 17.5 ms backward-filter of a 134 ms F32 training step at batch 32 (211 GFLOP
 * each: 17 and 12 TFLOP/s against 51 for cuBLAS SGEMM). As a GEMM the window matrix is
 * [clips*4*112*112, 1029] (206 MB per clip in fp32, built in chunks of clips), and
 * <ul>
 *   <li>forward: y [M, Cout] = cols [M, K] * w^T, one SGEMM per chunk (m = Cout, n = M, k = K);
 *   <li>backward-filter: dw [Cout, K] = dy^T * cols summed over M. M is large and Cout x K small
 *       (64 x 1029: nine 128-wide tiles), so one GEMM would leave most of the card idle unless
 *       cuBLAS splits the sum itself; here it is split explicitly: each clip's rows in S slices, one
 *       strided-batched SGEMM per chunk into S partial filters (accumulated over chunks), then
 *       dw = partials * ones (one more SGEMM), or dw += that when accumulating.
 * </ul>
 * Used by the layers where {@link #eligible} holds; {@code COMIX_GPU_GEMM_CONV=0} turns it off.
 */
public final class GemmConv3d implements Conv3dEngine {
  /** Largest window (K = kd*kh*kw*Cin) taken; the im2col kernel's offset table holds at most 8192. */
  static final int MAX_K = 4096;
  /** Cap on the im2col buffer of one chunk of clips (COMIX_GPU_GEMM_CONV_COLS_MB overrides; tests shrink it). */
  static final long DEFAULT_COLS_BYTES = 1L << 30;

  private final Conv3dEngine cudnn;
  private final CudaOps ops;
  private final int cin, cout, k;
  private final int[] kernel, stride;
  private final long colsCap;
  private Tensor ones;  // [MAX slices] of 1.0f, for the sum of the partial filters
  private boolean closed;

  /**
   * Wraps {@code cudnn} (an NDHWC F32 engine with zero padding, of the same geometry) on the
   * backend of {@code ops}; {@code colsBytes} caps the im2col buffer per chunk (<= 0: the default).
   */
  public GemmConv3d(Conv3dEngine cudnn, CudaOps ops, long colsBytes) {
    if (cudnn == null || ops == null) throw new IllegalArgumentException("cudnn engine and ops are required");
    if (!eligible(cudnn.precision(), cudnn.layout(), cudnn.inChannels(), cudnn.kernel(), cudnn.pad(), true))
      throw new IllegalArgumentException("GemmConv3d takes an F32 NDHWC conv with zero padding, few input channels and"
          + " a window of at most " + MAX_K + " values, not " + cudnn.precision() + " " + cudnn.layout() + " cin "
          + cudnn.inChannels() + " kernel " + java.util.Arrays.toString(cudnn.kernel()) + " pad "
          + java.util.Arrays.toString(cudnn.pad()));
    this.cudnn = cudnn;
    this.ops = ops;
    this.cin = cudnn.inChannels();
    this.cout = cudnn.outChannels();
    this.kernel = cudnn.kernel();
    this.stride = cudnn.stride();
    this.k = kernel[0] * kernel[1] * kernel[2] * cin;
    this.colsCap = colsBytes > 0 ? colsBytes : colsBytesFromEnv();
  }

  /** Whether the env switch allows this engine (COMIX_GPU_GEMM_CONV, on unless "0"). */
  public static boolean enabled() {
    return !"0".equals(System.getenv("COMIX_GPU_GEMM_CONV"));
  }

  private static long colsBytesFromEnv() {
    String v = System.getenv("COMIX_GPU_GEMM_CONV_COLS_MB");
    if (v == null || v.isBlank()) return DEFAULT_COLS_BYTES;
    try {
      long mb = Long.parseLong(v.trim());
      if (mb > 0 && mb <= (1L << 30)) return mb << 20;
    } catch (NumberFormatException ignored) {
      // fall through
    }
    throw new IllegalArgumentException("COMIX_GPU_GEMM_CONV_COLS_MB must be a positive number of MiB, not " + v);
  }

  /**
   * Whether a conv is one this engine takes: strict F32, NDHWC, no padding (the layers pass an
   * explicitly padded input for TF-SAME's asymmetric case), at most 4 input channels, a window of
   * at least 8 and at most {@value #MAX_K} values; {@code ignoreSwitch} skips the env switch.
   */
  public static boolean eligible(ConvPrecision p, ConvLayout l, int cin, int[] kernel, int[] pad, boolean ignoreSwitch) {
    if (p != ConvPrecision.F32 || l != ConvLayout.NDHWC || cin < 1 || cin > 4) return false;
    if (kernel == null || kernel.length != 3 || pad == null || pad.length != 3) return false;
    long vol = 1;
    for (int i = 0; i < 3; i++) {
      if (pad[i] != 0 || kernel[i] < 1) return false;
      vol *= kernel[i];
    }
    return vol >= 8 && vol * cin <= MAX_K && (ignoreSwitch || enabled());
  }

  /** Clips per im2col chunk for a plan: as many as fit the cap, at least one (a single clip may exceed it). */
  int chunkClips(AbstractConv3dEngine.PlanGeometry g) {
    long perClip = g.od * g.oh * g.ow * (long) k * 4;
    return (int) Math.max(1, Math.min(g.n, colsCap / Math.max(1, perClip)));
  }

  /**
   * Slices per clip in backward-filter: the largest of 16, 8, 4, 2, 1 that divides a clip's rows
   * into slices of at least max(64, Cout) rows, so the partial filters (Cout x K each) never
   * outgrow the window rows they sum.
   */
  static int slicesPerClip(long rowsPerClip, int cout) {
    for (int s = 16; s > 1; s /= 2)
      if (rowsPerClip % s == 0 && rowsPerClip / s >= Math.max(64, cout)) return s;
    return 1;
  }

  private static AbstractConv3dEngine.PlanGeometry geometry(Plan p) {
    if (p instanceof AbstractConv3dEngine.PlanGeometry g) return g;
    throw new IllegalArgumentException("not a plan of this engine: " + p);
  }

  private static Pointer at(Pointer base, long bytes) {
    return new BytePointer(base).position(base.position() + bytes);
  }

  private void ensureOpen() {
    if (closed) throw new dev.comix.runtime.ComixException("GemmConv3d is closed");
  }

  /** cols [c clips' rows, K] = im2col of clips n0 .. n0+c-1 of x. */
  private void im2col(AbstractConv3dEngine.PlanGeometry g, Pointer x, long n0, long c, Tensor cols) {
    long clipIn = g.d * g.h * g.w * cin * 4L;
    NativeStatus.check(ComixCuda.comix_nn_im2col3d_cuda(at(x, n0 * clipIn), GpuContext.code(DType.F32), c, g.d, g.h,
        g.w, cin, kernel, stride, g.od, g.oh, g.ow, cols.data(), ops.stream()), "Conv3d im2col");
  }

  @Override
  public ConvApi api() {
    return cudnn.api();
  }

  @Override
  public Plan plan(long n, long d, long h, long w) {
    ensureOpen();
    return cudnn.plan(n, d, h, w);
  }

  @Override
  public void forward(Plan p, Pointer x, Pointer w, Pointer y) {
    ensureOpen();
    AbstractConv3dEngine.PlanGeometry g = geometry(p);
    long rowsPerClip = g.od * g.oh * g.ow;
    int nc = chunkClips(g);
    try (Tensor cols = ops.allocate(DType.F32, nc * rowsPerClip, k)) {
      for (long n0 = 0; n0 < g.n; n0 += nc) {
        long c = Math.min(nc, g.n - n0), rows = c * rowsPerClip;
        im2col(g, x, n0, c, cols);
        // column-major: y^T [Cout x rows] = (w as [K x Cout])^T [Cout x K] * (cols as [K x rows])
        ops.gemm(true, false, cout, rows, k, 1f, w, k, cols.data(), k, 0f, at(y, n0 * rowsPerClip * cout * 4L), cout,
            false, "Conv3d im2col forward");
      }
    }
  }

  @Override
  public void backwardFilter(Plan p, Pointer x, Pointer dy, Pointer dw, boolean accumulate) {
    ensureOpen();
    AbstractConv3dEngine.PlanGeometry g = geometry(p);
    long rowsPerClip = g.od * g.oh * g.ow;
    int nc = chunkClips(g);
    int spc = slicesPerClip(rowsPerClip, cout);
    long sliceRows = rowsPerClip / spc, filter = (long) k * cout;
    long partials = Math.min(nc, g.n) * (long) spc;  // the first chunk is the largest: it writes them all
    try (Tensor cols = ops.allocate(DType.F32, nc * rowsPerClip, k);
         Tensor part = ops.allocate(DType.F32, partials, filter)) {
      for (long n0 = 0; n0 < g.n; n0 += nc) {
        long c = Math.min(nc, g.n - n0);
        im2col(g, x, n0, c, cols);
        // per slice s (column-major): part_s [K x Cout] (+)= (cols_s as [K x sliceRows]) * (dy_s as [Cout x sliceRows])^T
        ops.gemmStridedBatched(false, true, k, cout, sliceRows, 1f, cols.data(), k, sliceRows * k,
            at(dy, n0 * rowsPerClip * cout * 4L), cout, sliceRows * cout, n0 == 0 ? 0f : 1f, part.data(), k, filter,
            c * spc, false, "Conv3d im2col backward-filter");
      }
      // dw [filter x 1] (+)= part [filter x partials] * ones [partials x 1]
      ops.gemm(false, false, filter, 1, partials, 1f, part.data(), filter, ones(partials).data(), partials,
          accumulate ? 1f : 0f, dw, filter, false, "Conv3d im2col backward-filter sum");
    }
  }

  private Tensor ones(long n) {
    if (ones == null || ones.numel() < n) {
      if (ones != null) {
        ones.close();
        ones = null;  // never left pointing at freed memory if the allocation below throws
      }
      try (Tensor h = Tensor.host(DType.F32, n)) {
        float[] f = new float[Math.toIntExact(n)];
        java.util.Arrays.fill(f, 1f);
        new FloatPointer(h.data()).put(f);
        ones = ops.toDevice(h);
      }
    }
    return ones;
  }

  @Override
  public void backwardData(Plan p, Pointer dy, Pointer w, Pointer dx) {
    ensureOpen();
    cudnn.backwardData(p, dy, w, dx);
  }

  @Override
  public void addBias(Plan p, Pointer biasF32, Pointer y) {
    ensureOpen();
    cudnn.addBias(p, biasF32, y);
  }

  @Override
  public void backwardBias(Plan p, Pointer dy, Pointer dbF32, boolean accumulate) {
    ensureOpen();
    cudnn.backwardBias(p, dy, dbF32, accumulate);
  }

  @Override
  public String describe(Plan p) {
    return "forward, backward-filter: im2col + cuBLAS SGEMM (fp32); backward-data: " + cudnn.describe(p);
  }

  @Override
  public long searches() {
    return cudnn.searches();
  }

  // geometry, layout and precision: the wrapped engine's (the same conv)
  @Override
  public int inChannels() {
    return cudnn.inChannels();
  }

  @Override
  public int outChannels() {
    return cudnn.outChannels();
  }

  @Override
  public int[] kernel() {
    return cudnn.kernel();
  }

  @Override
  public int[] stride() {
    return cudnn.stride();
  }

  @Override
  public int[] pad() {
    return cudnn.pad();
  }

  @Override
  public ConvLayout layout() {
    return cudnn.layout();
  }

  @Override
  public ConvPrecision precision() {
    return cudnn.precision();
  }

  @Override
  public void close() {
    if (closed) return;
    closed = true;
    try {
      if (ones != null) ones.close();
    } finally {
      cudnn.close();
    }
  }
}

package dev.comix.runtime;

import static org.bytedeco.cuda.global.cudart.*;

import dev.comix.jni.ComixCuda;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.cudart.cudaDeviceProp;
import java.util.Locale;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.SizeTPointer;

/**
 * Ops on one CUDA device through libcomix_cuda, on one stream of its own, with device memory
 * from a {@link CudaAllocator}. Obtain it through {@link Backends}, which probes the CUDA
 * runtime safely first; constructing it where no GPU answers throws {@link ComixException}.
 */
public final class CudaOps implements Ops {
  private final Device device;
  private final CUstream_st stream;
  private final CudaAllocator allocator = new CudaAllocator();
  private final String name;
  private final java.util.List<Runnable> closeHooks = new java.util.ArrayList<>();
  private boolean closed;
  private Cublas cublas;  // opened on the first SupCon call that takes the GEMM path

  // ---- SupCon path selection (see supConPath) ----
  /** SupCon paths: automatic, single block, tiled, generic reference (libcomix_cuda), cuBLAS GEMM. */
  public static final int SUPCON_AUTO = 0, SUPCON_TINY = 1, SUPCON_TILED = 2, SUPCON_GENERIC = 3, SUPCON_GEMM = 4;
  /**
   * Rows M = N*V from which the automatic choice takes the GEMM path. Per similarity s_ak the
   * GEMM path does 4D flops (6D with row blocks) at cuBLAS rates and moves ~20 bytes (S written,
   * read by the statistics, read and written by the weights, read by W.Z): at D = 128 that is
   * ~10 ps + ~5 ps per similarity on an H200, against the tiled kernel's measured 60-240 ps (its
   * grid is only M/64 blocks); below ~1000 rows its ~6 launches (~30-40 us) are what counts.
   */
  static final long GEMM_MIN_ROWS = 1024;
  /**
   * Smallest bound on the similarity block S held in device memory by the GEMM path, and the
   * block size it falls back to when a larger S cannot be allocated.
   */
  static final long GEMM_S_BYTES_DEFAULT = 1L << 30;
  /**
   * Elements of S at most (whole or one block): offsets stay in int range in the row kernels and
   * in cuBLAS's leading-dimension arithmetic (M up to 46,336 as one matrix).
   */
  static final long GEMM_S_MAX_ELEMENTS = Integer.MAX_VALUE;

  /**
   * The bound on S for a card with {@code totalBytes} of memory when COMIX_SUPCON_GEMM_S_BYTES is
   * not set: an eighth of the card, at least {@link #GEMM_S_BYTES_DEFAULT}. A whole S takes the
   * symmetric form (two products, W = P + P^T in one pass); row blocks need a third product, so
   * on an H200 16384 × 2 × 128 (S = 4 GiB) ran 22.5 ms in 1 GiB blocks, where the whole-S path
   * is predicted at ~19 ms from the measured 8192-row case (1.16 ms, scaled by 16; unmeasured).
   */
  static long defaultGemmSBytes(long totalBytes) {
    return Math.max(GEMM_S_BYTES_DEFAULT, totalBytes / 8);
  }
  private static final String PATH_ENV = System.getenv("COMIX_SUPCON_CUDA_PATH");
  // Test knobs (package-private): GEMM row-block size (0: as many rows as gemmMaxSBytes allow),
  // whether a whole stored S takes the one-product symmetric gradient, and the bound on S.
  int gemmBlockRows = 0;
  boolean gemmSymmetric = true;
  long gemmMaxSBytes = envLong("COMIX_SUPCON_GEMM_S_BYTES", 0);  // 0: defaultGemmSBytes(card memory)
  private boolean warnedNoCublas;

  CudaOps(int index) {
    this.device = Device.cuda(index);
    check(cudaSetDevice(index), "cudaSetDevice(" + index + ")");
    CUstream_st s = new CUstream_st();
    check(cudaStreamCreate(s), "cudaStreamCreate");
    this.stream = s;
    try (cudaDeviceProp prop = new cudaDeviceProp()) {
      check(cudaGetDeviceProperties(prop, index), "cudaGetDeviceProperties");
      this.name = String.format("%s, sm_%d%d, %d SMs, %.1f GiB", prop.name().getString(), prop.major(), prop.minor(),
          prop.multiProcessorCount(), prop.totalGlobalMem() / 1073741824.0);
    }
  }

  public static void check(int status, String what) {
    if (status == 0) return;
    String text = cudaGetErrorString(status).getString();
    cudaGetLastError();
    if (status == cudaErrorMemoryAllocation)
      throw new ComixException(what + ": out of GPU memory (" + CudaAllocator.memoryInfo() + ")");
    throw new ComixException(what + " failed: " + text);
  }

  private void ensureCurrent() {
    if (closed) throw new ComixException("CUDA backend is closed");
    check(cudaSetDevice(device.index()), "cudaSetDevice");
  }

  public CudaAllocator allocator() {
    return allocator;
  }

  /** The stream every op of this backend is queued on (a cudaStream_t). */
  public Pointer stream() {
    return stream;
  }

  @Override
  public Device device() {
    return device;
  }

  @Override
  public String describe() {
    return device + " (" + name + ", " + ComixCuda.comix_cuda_version().getString() + ", CUDA runtime "
        + formatVersion(ComixCuda.comix_cuda_runtime_version()) + ")";
  }

  static String formatVersion(int v) {
    return v <= 0 ? "?" : (v / 1000) + "." + (v % 1000) / 10;
  }

  @Override
  public Tensor allocate(DType dtype, long... shape) {
    ensureCurrent();
    long bytes = Tensor.numel(shape) * dtype.size();
    if (Tensor.numel(shape) < 0) throw new ComixException("allocate: negative dimension");
    Pointer p = allocator.allocate(bytes);
    BytePointer bp = new BytePointer(p);
    return new Tensor(dtype, device, bp, () -> allocator.release(p, bytes), shape);
  }

  @Override
  public Tensor zeros(DType dtype, long... shape) {
    Tensor t = allocate(dtype, shape);
    check(cudaMemsetAsync(t.data(), 0, t.byteSize(), stream), "cudaMemsetAsync");
    return t;
  }

  @Override
  public void copy(Tensor src, Tensor dst) {
    OpChecks.copy(src, dst);
    for (Tensor t : new Tensor[] {src, dst})
      if (t.device().isCuda() && !t.device().equals(device))
        throw new ComixException("copy: " + t + " is on another device than " + device);
    ensureCurrent();
    boolean fromDev = src.device().isCuda(), toDev = dst.device().isCuda();
    int kind = fromDev ? (toDev ? cudaMemcpyDeviceToDevice : cudaMemcpyDeviceToHost)
        : (toDev ? cudaMemcpyHostToDevice : cudaMemcpyHostToHost);
    if (src.byteSize() > 0) check(cudaMemcpyAsync(dst.data(), src.data(), src.byteSize(), kind, stream), "cudaMemcpyAsync");
    if (!toDev) synchronize(); // host memory must hold the data when copy returns
  }

  @Override
  public void temporalMedian(Tensor frames, Tensor out) {
    long n = OpChecks.median(device, frames, out);
    ensureCurrent();
    NativeStatus.check(ComixCuda.comix_median_u8_cuda(frames.data(), frames.dim(0), n, out.data(), stream),
        "temporalMedian");
  }

  @Override
  public void medianHistogramFold(Tensor frames, Tensor hist) {
    long n = OpChecks.histogramFold(device, frames, hist);
    ensureCurrent();
    NativeStatus.check(ComixCuda.comix_median_hist_fold_cuda(frames.data(), frames.dim(0), n, hist.data(), stream),
        "medianHistogramFold");
  }

  @Override
  public void medianFromHistogram(Tensor hist, long totalFrames, Tensor out) {
    OpChecks.fromHistogram(device, hist, totalFrames, out);
    ensureCurrent();
    NativeStatus.check(ComixCuda.comix_median_from_hist_cuda(hist.data(), totalFrames, out.numel(), out.data(), stream),
        "medianFromHistogram");
  }

  @Override
  public void backgroundMix(Tensor x, Tensor bg, float gamma, Tensor out) {
    long[] bfn = OpChecks.backgroundMix(device, x, bg, gamma, out);
    if (bfn == null) return;
    ensureCurrent();
    NativeStatus.check(ComixCuda.comix_background_mix_cuda(x.data(), bg.data(), bfn[0], bfn[1], bfn[2], gamma,
        OpChecks.mixDtype(out), out.data(), stream), "backgroundMix");
  }

  @Override
  public void synchronize() {
    ensureCurrent();
    check(cudaStreamSynchronize(stream), "CUDA stream");
  }

  /**
   * Runs {@code hook} when this backend closes, after the stream drained and before its memory and
   * stream go (libraries bound to the stream, such as a cuDNN handle, release themselves there).
   */
  public synchronized void onClose(Runnable hook) {
    if (closed) throw new ComixException("CUDA backend is closed");
    closeHooks.add(hook);
  }

  @Override
  public void close() {
    if (closed) return;
    cudaStreamSynchronize(stream);
    for (int i = closeHooks.size() - 1; i >= 0; i--) closeHooks.get(i).run();
    closeHooks.clear();
    if (cublas != null) cublas.close();
    allocator.close();
    cudaStreamDestroy(stream);
    closed = true;
  }

  @Override
  public String toString() {
    return "CudaOps(" + device + ")";
  }

  // ---- losses ----

  private static Pointer ptr(Tensor t) {
    return t == null ? null : t.data();
  }

  @Override
  public void supCon(Tensor features, Tensor labels, Tensor mask, float temperature, float baseTemperature, int flags,
                     float gradScale, Tensor loss, Tensor grad) {
    supConPath(features, labels, mask, temperature, baseTemperature, flags, gradScale, loss, grad, 0);
  }

  /**
   * {@link #supCon} on a chosen path, for tests and benchmarks: {@link #SUPCON_AUTO},
   * {@link #SUPCON_TINY} (single block), {@link #SUPCON_TILED}, {@link #SUPCON_GENERIC} (reference),
   * {@link #SUPCON_GEMM} (products in cuBLAS, statistics in fused kernels). Automatic: the GEMM path
   * for M = N*V >= {@value #GEMM_MIN_ROWS} where cuBLAS loads, else libcomix_cuda's own choice
   * (one launch for small shapes such as CoMix's, else tiled). The environment variable
   * COMIX_SUPCON_CUDA_PATH (auto, tiny, tiled, generic, gemm) overrides the automatic choice.
   * Device tensors are not scanned for NaN/Inf here.
   */
  public void supConPath(Tensor features, Tensor labels, Tensor mask, float temperature, float baseTemperature,
                         int flags, float gradScale, Tensor loss, Tensor grad, int path) {
    String op = "supCon";
    long[] nvd = OpChecks.supCon(device, features, labels, mask, temperature, baseTemperature, flags, gradScale, loss,
        grad, false);
    if (path < SUPCON_AUTO || path > SUPCON_GEMM) throw new ComixException(op + ": unknown path " + path);
    ensureCurrent();
    if (path == SUPCON_AUTO && PATH_ENV != null) path = supConPathNumber(PATH_ENV);
    if (path == SUPCON_AUTO && nvd[0] * nvd[1] >= GEMM_MIN_ROWS) {
      String why = Cublas.unavailableReason();
      if (why == null) path = SUPCON_GEMM;
      else if (!warnedNoCublas) {
        warnedNoCublas = true;
        System.err.println("comix: SupCon runs on the tiled kernels: " + why);
      }
    }
    if (path == SUPCON_GEMM) {
      supConGemm(features, labels, mask, temperature, baseTemperature, flags, gradScale, loss, grad, nvd[0], nvd[1],
          nvd[2]);
      return;
    }
    long wsBytes = ComixCuda.comix_supcon_cuda_workspace_bytes(nvd[0], nvd[1], nvd[2], flags);
    // The allocator reuses blocks only on this stream, so releasing right after the launch is safe.
    Pointer ws = allocator.allocate(wsBytes);
    try {
      NativeStatus.check(ComixCuda.comix_supcon_cuda_path(features.data(), nvd[0], nvd[1], nvd[2], ptr(labels),
          ptr(mask), temperature, baseTemperature, flags, gradScale, loss.data(), ptr(grad), ws, wsBytes, stream, path),
          op);
    } finally {
      allocator.release(ws, wsBytes);
    }
  }

  /** A SupCon path by name (auto, tiny, tiled, generic, gemm or cublas) or number (0-4). */
  public static int supConPathNumber(String name) {
    switch (name.trim().toLowerCase(Locale.ROOT)) {
      case "auto": case "0": return SUPCON_AUTO;
      case "tiny": case "single": case "1": return SUPCON_TINY;
      case "tiled": case "2": return SUPCON_TILED;
      case "generic": case "3": return SUPCON_GENERIC;
      case "gemm": case "cublas": case "4": return SUPCON_GEMM;
      default:
        throw new ComixException("unknown SupCon path '" + name + "' (COMIX_SUPCON_CUDA_PATH or -p path): expected "
            + "auto, tiny, tiled, generic or gemm");
    }
  }

  private static long envLong(String name, long fallback) {
    String v = System.getenv(name);
    if (v == null || v.isBlank()) return fallback;
    try {
      long x = Long.parseLong(v.trim());
      if (x > 0) return x;
    } catch (NumberFormatException e) {
      // fall through
    }
    throw new ComixException(name + "=" + v + ": expected a positive number of bytes");
  }

  /** The GEMM path's layout: S rows are ld floats apart; blocks of `rows` rows; symmetric: one block, W = P + P^T. */
  record GemmPlan(long ld, long rows, boolean symmetric) {
    long sBytes() {
      return rows * ld * 4;
    }
  }

  GemmPlan gemmPlan(long m) {
    return gemmPlan(m, gemmBlockRows, gemmSymmetric, gemmMaxSBytes > 0 ? gemmMaxSBytes : defaultGemmSBytes(totalMemory()));
  }

  private long totalMemoryBytes = -1;
  /** The smallest S (bytes, above the fallback block) that could not be allocated: plans that large take blocks. */
  private volatile long gemmSFailedBytes = Long.MAX_VALUE;

  /** The card's memory in bytes (cudaMemGetInfo once), or 0 when it cannot be read. */
  private synchronized long totalMemory() {
    if (totalMemoryBytes < 0) {
      try (SizeTPointer f = new SizeTPointer(1); SizeTPointer t = new SizeTPointer(1)) {
        ensureCurrent();
        if (cudaMemGetInfo(f, t) == 0) {
          totalMemoryBytes = t.get();
        } else {
          cudaGetLastError();
          totalMemoryBytes = 0;
        }
      }
    }
    return totalMemoryBytes;
  }

  /** blockRows > 0 forces the block size; else as many rows as maxSBytes allow (multiples of 128 when split). */
  static GemmPlan gemmPlan(long m, int blockRows, boolean symmetric, long maxSBytes) {
    long ld = (m + 31) / 32 * 32;  // 128-byte aligned rows of S for cuBLAS and the float4 row kernels
    long rows;
    if (blockRows > 0) {
      rows = Math.min(blockRows, m);
    } else {
      rows = Math.min(m, Math.max(1, Math.min(maxSBytes / (ld * 4), GEMM_S_MAX_ELEMENTS / ld)));
      if (rows < m && rows >= 128) rows = rows / 128 * 128;
    }
    return new GemmPlan(ld, rows, symmetric && rows == m);
  }

  /** Null when cuBLAS loads here, else why not (one line); loads it on the first call. */
  public static String cublasUnavailableReason() {
    return Cublas.unavailableReason();
  }

  /**
   * C = alpha·op(A)·op(B) + beta·C on column-major fp32 device matrices (m × n result, inner
   * dimension k) through cuBLAS on this backend's stream: strict fp32, or TF32 tensor cores when
   * {@code tf32}. A row-major [r, c] matrix is a column-major [c, r] one (the layers use that).
   */
  public void gemm(boolean transA, boolean transB, long m, long n, long k, float alpha, Pointer a, long lda, Pointer b,
                   long ldb, float beta, Pointer c, long ldc, boolean tf32, String what) {
    ensureCurrent();
    cublas().gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, tf32, what);
  }

  /**
   * {@code batch} GEMMs as {@link #gemm} in one cuBLAS call, the i-th on A + i·strideA, B + i·strideB
   * and C + i·strideC (strides in elements).
   */
  public void gemmStridedBatched(boolean transA, boolean transB, long m, long n, long k, float alpha, Pointer a,
                                 long lda, long strideA, Pointer b, long ldb, long strideB, float beta, Pointer c,
                                 long ldc, long strideC, long batch, boolean tf32, String what) {
    ensureCurrent();
    cublas().gemmStridedBatched(transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC,
        batch, tf32, what);
  }

  private Cublas cublas() {
    if (cublas == null) cublas = Cublas.open(stream, allocator);
    return cublas;
  }

  /** A device address {@code bytes} past {@code base}. */
  private static Pointer at(Pointer base, long bytes) {
    return new BytePointer(base).getPointer(bytes);
  }

  /**
   * The GEMM path (supcon.h, "GEMM path, in stages"). Matrices are column-major for cuBLAS: the
   * gathered rows zn ([M, D] row-major) are X = D x M with column k = z_k; a row-major block of S
   * (b rows of stride ld) is the column-major M x b matrix Sc with Sc(k, i) = s_{r0+i, k}.
   * <pre>
   *   Sc          = X^T X_blk / tau                  (M x b,  K = D)
   *   dX_blk     += X Pc                             (D x b,  K = M)   i.e. dZ_blk += P_blk Z
   *   dX         += X_blk Pc^T                       (D x M,  K = b)   i.e. dZ     += P_blk^T Z_blk
   *   symmetric (b = M): dX = X W                    (D x M,  K = M)
   * </pre>
   */
  private void supConGemm(Tensor features, Tensor labels, Tensor mask, float tau, float tauB, int flags,
                          float gradScale, Tensor loss, Tensor grad, long n, long v, long d) {
    String op = "supCon";
    long m = n * v;
    Cublas blas = cublas();
    boolean tf32 = (flags & Ops.SUPCON_TF32) != 0;
    long wsBytes = ComixCuda.comix_supcon_cuda_workspace_bytes(n, v, d, flags);
    long zOff = ComixCuda.comix_supcon_cuda_workspace_offset(n, v, d, flags, 0);
    long dzOff = ComixCuda.comix_supcon_cuda_workspace_offset(n, v, d, flags, 1);
    if (wsBytes <= 0 || zOff < 0 || dzOff < 0) throw new ComixException(op + ": bad GEMM workspace layout");
    GemmPlan small = gemmPlan(m, gemmBlockRows, gemmSymmetric, GEMM_S_BYTES_DEFAULT);
    GemmPlan want = gemmPlan(m);
    GemmPlan plan = want.sBytes() >= gemmSFailedBytes && small.sBytes() < want.sBytes() ? small : want;
    Pointer ws = allocator.allocate(wsBytes);
    Pointer s = null;
    try {
      try {
        s = allocator.allocate(plan.sBytes());
      } catch (ComixException oom) {
        // an S larger than the fallback block does not fit: 1 GiB row blocks, and for S this large
        // from now on (each failed cudaMalloc empties the allocator's cache: not on every call)
        if (small.sBytes() >= plan.sBytes()) throw oom;
        gemmSFailedBytes = Math.min(gemmSFailedBytes, plan.sBytes());
        plan = small;
        s = allocator.allocate(plan.sBytes());
      }
      long ld = plan.ld();
      NativeStatus.check(ComixCuda.comix_supcon_cuda_gemm_prep(features.data(), n, v, d, ptr(labels), ptr(mask), flags,
          ws, wsBytes, stream), op);
      Pointer x = at(ws, zOff), dx = at(ws, dzOff);
      float invTau = 1f / tau;
      if (plan.symmetric()) {
        blas.gemm(true, false, m, m, d, invTau, x, d, x, d, 0f, s, ld, tf32, op + " S = Z Z^T");
        NativeStatus.check(ComixCuda.comix_supcon_cuda_gemm_rows(n, v, d, s, ld, 0, m, 0, ws, wsBytes, stream), op);
        if (grad != null) {
          NativeStatus.check(ComixCuda.comix_supcon_cuda_gemm_sym(n, v, d, s, ld, ws, wsBytes, stream), op);
          blas.gemm(false, false, d, m, m, 1f, x, d, s, ld, 0f, dx, d, tf32, op + " dZ = W Z");
        }
      } else {
        for (long r0 = 0; r0 < m; r0 += plan.rows()) {
          long b = Math.min(plan.rows(), m - r0);
          Pointer xb = at(x, r0 * d * 4);
          blas.gemm(true, false, m, b, d, invTau, x, d, xb, d, 0f, s, ld, tf32, op + " S_blk = Z_blk Z^T");
          NativeStatus.check(ComixCuda.comix_supcon_cuda_gemm_rows(n, v, d, s, ld, r0, b, grad != null ? 1 : 0, ws,
              wsBytes, stream), op);
          if (grad == null) continue;
          blas.gemm(false, false, d, b, m, 1f, x, d, s, ld, 1f, at(dx, r0 * d * 4), d, tf32, op + " dZ_blk += P_blk Z");
          blas.gemm(false, true, d, m, b, 1f, xb, d, s, ld, 1f, dx, d, tf32, op + " dZ += P_blk^T Z_blk");
        }
      }
      NativeStatus.check(ComixCuda.comix_supcon_cuda_gemm_finish(n, v, d, tau, tauB, flags, gradScale, loss.data(),
          ptr(grad), ws, wsBytes, stream), op);
    } finally {
      // stream order keeps the reuse of these blocks safe (the allocator hands them out on this stream only)
      if (s != null) allocator.release(s, plan.sBytes());
      allocator.release(ws, wsBytes);
    }
  }

  @Override
  public void softmax(Tensor x, Tensor out) {
    String op = "softmax";
    OpChecks.on(device, op, x, out);
    long[] rc = OpChecks.rowsC(op, "x", x);
    OpChecks.sameShape(op, x, out);
    ensureCurrent();
    NativeStatus.check(ComixCuda.comix_softmax_cuda(x.data(), rc[0], rc[1], out.data(), stream), op);
  }

  @Override
  public void softmaxBackward(Tensor p, Tensor g, boolean accumulate, Tensor dx) {
    String op = "softmaxBackward";
    OpChecks.on(device, op, p, g, dx);
    long[] rc = OpChecks.rowsC(op, "p", p);
    OpChecks.sameShape(op, p, g);
    OpChecks.sameShape(op, p, dx);
    ensureCurrent();
    NativeStatus.check(
        ComixCuda.comix_softmax_backward_cuda(p.data(), g.data(), rc[0], rc[1], accumulate ? 1 : 0, dx.data(), stream), op);
  }

  @Override
  public void crossEntropySmooth(Tensor logits, Tensor labels, float eps, float gradScale, boolean accumulate,
                                 Tensor loss, Tensor grad) {
    String op = "crossEntropySmooth";
    OpChecks.crossEntropy(device, logits, labels, eps, gradScale, loss, grad);
    ensureCurrent();
    NativeStatus.check(ComixCuda.comix_ce_smooth_cuda(logits.data(), logits.dim(0), logits.dim(1), labels.data(), eps,
        gradScale, accumulate ? 1 : 0, loss.data(), ptr(grad), stream), op);
  }

  @Override
  public void pseudoLabels(Tensor a, Tensor b, float threshold, Tensor labels, Tensor mask) {
    long[] rc = OpChecks.pseudoLabels(device, a, b, labels, mask);
    ensureCurrent();
    NativeStatus.check(
        ComixCuda.comix_pseudo_labels_cuda(a.data(), b.data(), rc[0], rc[1], threshold, labels.data(), mask.data(), stream),
        "pseudoLabels");
  }
}

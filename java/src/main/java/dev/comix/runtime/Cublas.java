package dev.comix.runtime;

import static org.bytedeco.cuda.global.cublas.*;

import org.bytedeco.cuda.cublas.cublasContext;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;

/**
 * One cuBLAS handle bound to a {@link CudaOps} stream, for fp32 GEMMs on column-major device
 * matrices (strict FP32 by default, as PyTorch eager fp32 with TF32 matmul off; TF32 tensor cores
 * only when asked). This is the only class that touches the cuBLAS preset
 * ({@code org.bytedeco.cuda.global.cublas}, which needs libcublas.so.13 and libcublasLt.so.13):
 * {@link #open} loads it once, lazily, and a failure is remembered and reported as one
 * {@link ComixException} line, never retried.
 */
final class Cublas implements AutoCloseable {
  /** cuBLAS's own scratch for its kernels (Hopper recommends 32 MiB). */
  static final long WORKSPACE_BYTES = 32L << 20;

  private static final Object LOCK = new Object();
  private static boolean probed;
  private static String unavailable;  // null: loaded

  private final cublasContext handle;
  private final CudaAllocator allocator;
  private final Pointer workspace;
  private final FloatPointer alpha = new FloatPointer(1);
  private final FloatPointer beta = new FloatPointer(1);
  private boolean closed;

  /** Why cuBLAS cannot be used here, or null when it loaded (loads it on the first call). */
  static String unavailableReason() {
    synchronized (LOCK) {
      if (!probed) {
        probed = true;
        try {
          Loader.load(org.bytedeco.cuda.global.cublas.class);
        } catch (Throwable t) {  // UnsatisfiedLinkError, NoClassDefFoundError, ...: keep one line
          String msg = t.getMessage() == null ? t.toString() : t.getMessage();
          unavailable = "cuBLAS is not usable (libcublas.so.13 and libcublasLt.so.13 must be on LD_LIBRARY_PATH): "
              + t.getClass().getSimpleName() + ": " + msg.lines().findFirst().orElse("");
        }
      }
      return unavailable;
    }
  }

  /** A handle on {@code stream} with its scratch from {@code allocator}; throws if cuBLAS is unusable. */
  static Cublas open(CUstream_st stream, CudaAllocator allocator) {
    String why = unavailableReason();
    if (why != null) throw new ComixException(why);
    return new Cublas(stream, allocator);
  }

  private Cublas(CUstream_st stream, CudaAllocator allocator) {
    this.allocator = allocator;
    cublasContext h = new cublasContext();
    check(cublasCreate_v2(h), "cublasCreate");
    this.handle = h;
    Pointer ws = null;
    try {
      check(cublasSetStream_v2(h, stream), "cublasSetStream");
      // after SetStream, which resets the workspace to cuBLAS's own pool
      ws = allocator.allocate(WORKSPACE_BYTES);
      check(cublasSetWorkspace_v2(h, ws, WORKSPACE_BYTES), "cublasSetWorkspace");
      check(cublasSetPointerMode_v2(h, CUBLAS_POINTER_MODE_HOST), "cublasSetPointerMode");
      check(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
    } catch (RuntimeException e) {
      cublasDestroy_v2(h);
      if (ws != null) allocator.release(ws, WORKSPACE_BYTES);
      throw e;
    }
    this.workspace = ws;
  }

  private static void check(int status, String what) {
    if (status == CUBLAS_STATUS_SUCCESS) return;
    throw new ComixException(what + " failed: " + cublasGetStatusString(status).getString() + " (status " + status + ")");
  }

  /**
   * C = alpha op(A) op(B) + beta C, column-major fp32 (m x n result, inner dimension k); A, B and
   * C are device addresses. tf32: CUBLAS_COMPUTE_32F_FAST_TF32, else CUBLAS_COMPUTE_32F (fp32).
   */
  void gemm(boolean transA, boolean transB, long m, long n, long k, float alphaValue, Pointer a, long lda, Pointer b,
            long ldb, float betaValue, Pointer c, long ldc, boolean tf32, String what) {
    if (closed) throw new ComixException(what + ": cuBLAS handle is closed");
    for (long v : new long[] {m, n, k, lda, ldb, ldc})
      if (v < 0 || v > Integer.MAX_VALUE) throw new ComixException(what + ": GEMM dimension " + v + " out of int range");
    alpha.put(alphaValue);
    beta.put(betaValue);
    check(cublasGemmEx(handle, transA ? CUBLAS_OP_T : CUBLAS_OP_N, transB ? CUBLAS_OP_T : CUBLAS_OP_N, (int) m, (int) n,
        (int) k, alpha, a, org.bytedeco.cuda.global.cudart.CUDA_R_32F, (int) lda, b,
        org.bytedeco.cuda.global.cudart.CUDA_R_32F, (int) ldb, beta, c, org.bytedeco.cuda.global.cudart.CUDA_R_32F,
        (int) ldc, tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT), what);
  }

  /**
   * {@code batch} independent GEMMs as {@link #gemm}, the i-th on A + i·strideA, B + i·strideB and
   * C + i·strideC (strides in elements), in one cuBLAS call (cublasGemmStridedBatchedEx).
   */
  void gemmStridedBatched(boolean transA, boolean transB, long m, long n, long k, float alphaValue, Pointer a, long lda,
                          long strideA, Pointer b, long ldb, long strideB, float betaValue, Pointer c, long ldc,
                          long strideC, long batch, boolean tf32, String what) {
    if (closed) throw new ComixException(what + ": cuBLAS handle is closed");
    for (long v : new long[] {m, n, k, lda, ldb, ldc, batch})
      if (v < 0 || v > Integer.MAX_VALUE) throw new ComixException(what + ": GEMM dimension " + v + " out of int range");
    alpha.put(alphaValue);
    beta.put(betaValue);
    int f32 = org.bytedeco.cuda.global.cudart.CUDA_R_32F;
    check(cublasGemmStridedBatchedEx(handle, transA ? CUBLAS_OP_T : CUBLAS_OP_N, transB ? CUBLAS_OP_T : CUBLAS_OP_N,
        (int) m, (int) n, (int) k, alpha, a, f32, (int) lda, strideA, b, f32, (int) ldb, strideB, beta, c, f32, (int) ldc,
        strideC, (int) batch, tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT), what);
  }

  /** Call with the stream idle (CudaOps.close synchronises first). */
  @Override
  public void close() {
    if (closed) return;
    closed = true;
    cublasDestroy_v2(handle);
    allocator.release(workspace, WORKSPACE_BYTES);
    alpha.close();
    beta.close();
  }
}

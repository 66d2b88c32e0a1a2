package dev.comix.nn.gpu;

import static org.bytedeco.cuda.global.cudnn.*;

import dev.comix.runtime.ComixException;
import dev.comix.runtime.CudaOps;
import java.util.IdentityHashMap;
import java.util.Map;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.cudnn.cudnnContext;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.FloatPointer;

/**
 * One cuDNN handle per {@link CudaOps}, bound to that backend's stream, so cuDNN work is ordered
 * with every other op of the backend and workspaces from its allocator are safe to release right
 * after a call. Obtain it with {@link #of}; it closes itself when the backend closes.
 *
 * <p>The cuDNN bindings ({@code org.bytedeco.cuda.global.cudnn}) need libcudnn 9, libcublas and a
 * driver; they are loaded here, lazily, the first time a CUDA backend asks for cuDNN, and never on
 * a CPU-only path. A failed load is remembered and reported as one {@link ComixException} line.
 */
public final class Cudnn implements AutoCloseable {
  private static final Map<CudaOps, Cudnn> HANDLES = new IdentityHashMap<>();
  private static String loadFailure;
  private static boolean loaded;

  private final CudaOps ops;
  private final cudnnContext handle;
  /** Host scalars for alpha/beta (float for fp32 and bf16 data). */
  final FloatPointer one = new FloatPointer(1f), zero = new FloatPointer(0f);
  private boolean closed;

  private Cudnn(CudaOps ops) {
    this.ops = ops;
    bindDevice();
    cudnnContext h = new cudnnContext();
    check(cudnnCreate(h), "cudnnCreate");
    this.handle = h;
    try {
      check(cudnnSetStream(h, new CUstream_st(ops.stream())), "cudnnSetStream");
    } catch (RuntimeException e) {
      cudnnDestroy(h);
      throw e;
    }
  }

  /** The handle of {@code ops}, created on first use (loads cuDNN then). */
  public static Cudnn of(CudaOps ops) {
    synchronized (HANDLES) {
      ensureLoaded();
      Cudnn c = HANDLES.get(ops);
      if (c == null) {
        c = new Cudnn(ops);
        HANDLES.put(ops, c);
        Cudnn created = c;
        ops.onClose(created::close);
      }
      return c;
    }
  }

  /** Loads the cuDNN bindings once; afterwards throws the same one-line error on every call if that failed. */
  static void ensureLoaded() {
    synchronized (HANDLES) {
      if (loaded) return;
      if (loadFailure == null) {
        try {
          Class.forName("org.bytedeco.cuda.global.cudnn", true, Cudnn.class.getClassLoader());
          long v = cudnnGetVersion();
          if (v / 10000 != 9)
            loadFailure = "cuDNN " + format(v) + " found, but comix needs cuDNN 9 (the bindings are built for "
                + format(CUDNN_VERSION) + ")";
          else loaded = true;
        } catch (Throwable t) {
          loadFailure = "cuDNN 9 not found (" + firstLine(t) + "): put the PyTorch venv's nvidia/cudnn/lib and "
              + "nvidia/cublas/lib folders on LD_LIBRARY_PATH";
        }
      }
      if (!loaded) throw new ComixException(loadFailure);
    }
  }

  /** The cuDNN library version, e.g. "9.19.0" (loads cuDNN; throws where it is absent). */
  public static String version() {
    ensureLoaded();
    return format(cudnnGetVersion());
  }

  static String format(long v) {
    return (v / 10000) + "." + (v % 10000) / 100 + "." + v % 100;
  }

  private static String firstLine(Throwable t) {
    Throwable root = t;
    while (root.getCause() != null && root.getCause() != root) root = root.getCause();
    String m = root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
    int nl = m.indexOf('\n');
    return nl < 0 ? m : m.substring(0, nl);
  }

  /** Throws a {@link ComixException} naming {@code what} and cuDNN's text when {@code status} is not success. */
  public static void check(int status, String what) {
    if (status == CUDNN_STATUS_SUCCESS) return;
    String text = cudnnGetErrorString(status).getString();
    String detail = lastErrorDetail();
    throw new ComixException(what + " failed: " + text + " (status " + status + ")"
        + (detail.isEmpty() ? "" : ": " + detail));
  }

  /**
   * cuDNN's text for the most recent error on this thread (cudnnGetLastErrorString, which also
   * clears it), "" when there is none or it cannot be read. Call it right after a failed call whose
   * status is not passed to {@link #check} (a candidate that does not finalize), so the reason is
   * kept and does not leak into the next error message.
   */
  static String lastErrorDetail() {
    try {
      byte[] buf = new byte[512];
      cudnnGetLastErrorString(buf, buf.length);
      int n = 0;
      while (n < buf.length && buf[n] != 0) n++;
      return n > 0 ? new String(buf, 0, n, java.nio.charset.StandardCharsets.UTF_8).trim() : "";
    } catch (Throwable ignored) { // older cuDNN 9 builds may lack it (lazy binding)
      return "";
    }
  }

  /** The backend this handle belongs to. */
  public CudaOps ops() {
    return ops;
  }

  /** The raw handle, bound to {@code ops().stream()}. */
  public cudnnContext handle() {
    if (closed) throw new ComixException("cuDNN handle is closed");
    bindDevice();
    return handle;
  }

  private void bindDevice() {
    int st = cudart.cudaSetDevice(ops.device().index());
    if (st != 0) {
      cudart.cudaGetLastError();
      throw new ComixException("cudaSetDevice(" + ops.device().index() + ") failed: "
          + cudart.cudaGetErrorString(st).getString());
    }
  }

  @Override
  public void close() {
    synchronized (HANDLES) {
      if (closed) return;
      closed = true;
      HANDLES.remove(ops);
      cudnnDestroy(handle);
      one.close();
      zero.close();
    }
  }

  @Override
  public String toString() {
    return "Cudnn(" + ops.device() + ", cuDNN " + format(cudnnGetVersion()) + ")";
  }
}

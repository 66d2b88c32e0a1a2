package dev.comix.runtime;

import static org.bytedeco.cuda.global.cudart.*;

import dev.comix.jni.ComixCuda;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.cudart.cudaDeviceProp;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;

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
   * {@link #supCon} on a chosen kernel path (0 automatic, 1 single block, 2 tiled, 3 generic
   * reference), for tests and benchmarks. Device tensors are not scanned for NaN/Inf here.
   */
  public void supConPath(Tensor features, Tensor labels, Tensor mask, float temperature, float baseTemperature,
                         int flags, float gradScale, Tensor loss, Tensor grad, int path) {
    String op = "supCon";
    long[] nvd = OpChecks.supCon(device, features, labels, mask, temperature, baseTemperature, flags, gradScale, loss,
        grad, false);
    if (path < 0 || path > 3) throw new ComixException(op + ": unknown path " + path);
    ensureCurrent();
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

package dev.comix.runtime;

/**
 * The op catalogue, one implementation per backend ({@link CpuOps}, {@link CudaOps}). Every op
 * validates shapes, dtypes and devices in Java before any native call and throws
 * {@link ComixException} with a one-line reason. GPU ops are asynchronous on the backend's
 * stream; {@link #synchronize()} or a copy to the host waits for them.
 */
public interface Ops extends AutoCloseable {
  Device device();

  /** One line: backend, device name, library versions. */
  String describe();

  /** Uninitialised tensor on this backend's device. */
  Tensor allocate(DType dtype, long... shape);

  /** Tensor filled with zero bytes. */
  Tensor zeros(DType dtype, long... shape);

  /** Copies src into dst (same dtype and element count; either may be host or this device). */
  void copy(Tensor src, Tensor dst);

  /** Copy of a tensor on this device (host tensors are uploaded; device ones copied). */
  default Tensor toDevice(Tensor src) {
    Tensor t = allocate(src.dtype(), src.shape());
    copy(src, t);
    return t;
  }

  /** Copy on the host (waits for pending work). */
  default Tensor toHost(Tensor src) {
    Tensor t = Tensor.host(src.dtype(), src.shape());
    copy(src, t);
    return t;
  }

  /**
   * Temporal median: frames U8 [T, ...] (T >= 1), out U8 [...] with the trailing shape;
   * numpy.median(axis=0) semantics, truncated to uint8.
   */
  void temporalMedian(Tensor frames, Tensor out);

  /** Adds frames U8 [T, ...] into a histogram U16 [n, 256] (n = elements per frame). */
  void medianHistogramFold(Tensor frames, Tensor hist);

  /** Median of {@code totalFrames} frames from a histogram U16 [n, 256] into out U8 (n elements). */
  void medianFromHistogram(Tensor hist, long totalFrames, Tensor out);

  /**
   * Background mixing fused with normalisation: x U8 [B, F, ...], bg U8 [B, ...] (x's trailing
   * shape), out F32 or BF16 shaped like x: out = (1-gamma)(x*2/255-1) + gamma(bg*2/255-1).
   */
  void backgroundMix(Tensor x, Tensor bg, float gamma, Tensor out);

  /** Waits for all work queued on this backend. */
  void synchronize();

  @Override
  void close();
}

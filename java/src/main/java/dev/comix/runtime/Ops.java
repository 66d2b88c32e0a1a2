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

  // ---- contrastive and cross-entropy losses (native/include/comix/supcon.h, cross_entropy.h) ----

  /** {@link #supCon} flag: L2-normalise each row first (F.normalize). */
  int SUPCON_NORMALIZE = 1;
  /** {@link #supCon} flag: features (and grad) are [V, N, D] instead of [N, V, D]. */
  int SUPCON_VIEW_MAJOR = 2;
  /** {@link #supCon} flag: grad += gradScale * dL/dF instead of grad = gradScale * dL/dF. */
  int SUPCON_ACCUMULATE = 4;
  /**
   * {@link #supCon} flag: on CUDA compute the products on TF32 tensor cores (tiled path, D >= 64:
   * the similarity tiles; GEMM path: all three cuBLAS products, CUBLAS_COMPUTE_32F_FAST_TF32):
   * faster, tested to 2e-3 relative on the loss and 2e-2 on the gradient; ignored on the CPU.
   */
  int SUPCON_TF32 = 8;

  /**
   * Supervised-contrastive loss (COMIX-SPEC 4.0; InfoNCE / NT-Xent when labels is null), fused
   * forward + backward. features F32 (CPU also F64) [N, V, D] (or [V, N, D] with
   * {@link #SUPCON_VIEW_MAJOR}); labels I64 [N] or null (each sample its own class); mask U8 [N]
   * or null (0 removes a sample entirely); loss: a one-element tensor on this device (CPU: F32 or
   * F64; CUDA: F32), written asynchronously on CUDA; grad: like features, or null. Semantics and
   * the gradient's flags: {@code native/include/comix/supcon.h}.
   */
  void supCon(Tensor features, Tensor labels, Tensor mask, float temperature, float baseTemperature, int flags,
              float gradScale, Tensor loss, Tensor grad);

  /** Row softmax: x F32 [rows, C] (any shape, last dim C) into out of the same shape. */
  void softmax(Tensor x, Tensor out);

  /** dx = (accumulate ? dx : 0) + p * (g - sum(p * g)) per row; p, g, dx F32 of one shape. */
  void softmaxBackward(Tensor p, Tensor g, boolean accumulate, Tensor dx);

  /**
   * Label-smoothed cross-entropy (COMIX-SPEC 4.1): logits F32 [B, C], labels I64 [B] in [0, C),
   * target (1 - eps) onehot + eps/C; loss (one element; CPU F32/F64, CUDA F32) = batch mean;
   * grad (F32 [B, C] or null) = (accumulate ? grad : 0) + gradScale * dloss/dlogits.
   */
  void crossEntropySmooth(Tensor logits, Tensor labels, float eps, float gradScale, boolean accumulate, Tensor loss,
                          Tensor grad);

  /**
   * Pseudo labels (COMIX-SPEC 4.3): p = softmax((a + b) / 2) per row of F32 [B, C]; labels I64 [B]
   * = argmax p, mask U8 [B] = (max p >= threshold).
   */
  void pseudoLabels(Tensor a, Tensor b, float threshold, Tensor labels, Tensor mask);
}

package dev.comix.runtime;

import dev.comix.jni.ComixCpu;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.Pointer;

/** Ops on the host through libcomix_cpu (multi-threaded native code). */
public final class CpuOps implements Ops {
  private final int threads;

  /** threads <= 0: all hardware threads. */
  public CpuOps(int threads) {
    this.threads = threads;
  }

  public CpuOps() {
    this(0);
  }

  public int threads() {
    return threads;
  }

  @Override
  public Device device() {
    return Device.CPU;
  }

  @Override
  public String describe() {
    return "cpu (" + Runtime.getRuntime().availableProcessors() + " hardware threads, "
        + ComixCpu.comix_cpu_version().getString() + ", median ISA " + ComixCpu.comix_median_cpu_isa().getString() + ")";
  }

  @Override
  public Tensor allocate(DType dtype, long... shape) {
    return Tensor.host(dtype, shape);
  }

  @Override
  public Tensor zeros(DType dtype, long... shape) {
    Tensor t = Tensor.host(dtype, shape);
    Pointer.memset(t.data(), 0, t.byteSize());
    return t;
  }

  @Override
  public void copy(Tensor src, Tensor dst) {
    OpChecks.copy(src, dst);
    OpChecks.on(Device.CPU, "copy", src, dst);
    Pointer.memcpy(dst.data(), src.data(), src.byteSize());
  }

  @Override
  public void temporalMedian(Tensor frames, Tensor out) {
    long n = OpChecks.median(Device.CPU, frames, out);
    NativeStatus.check(ComixCpu.comix_median_u8_cpu(frames.data(), frames.dim(0), n, out.data(), threads),
        "temporalMedian");
  }

  @Override
  public void medianHistogramFold(Tensor frames, Tensor hist) {
    long n = OpChecks.histogramFold(Device.CPU, frames, hist);
    NativeStatus.check(ComixCpu.comix_median_hist_fold_cpu(frames.data(), frames.dim(0), n, hist.data(), threads),
        "medianHistogramFold");
  }

  @Override
  public void medianFromHistogram(Tensor hist, long totalFrames, Tensor out) {
    OpChecks.fromHistogram(Device.CPU, hist, totalFrames, out);
    NativeStatus.check(ComixCpu.comix_median_from_hist_cpu(hist.data(), totalFrames, out.numel(), out.data(), threads),
        "medianFromHistogram");
  }

  @Override
  public void backgroundMix(Tensor x, Tensor bg, float gamma, Tensor out) {
    long[] bfn = OpChecks.backgroundMix(Device.CPU, x, bg, gamma, out);
    if (bfn == null) return;
    NativeStatus.check(ComixCpu.comix_background_mix_cpu(x.data(), bg.data(), bfn[0], bfn[1], bfn[2], gamma,
        OpChecks.mixDtype(out), out.data(), threads), "backgroundMix");
  }

  @Override
  public void synchronize() {}

  @Override
  public void close() {}

  @Override
  public String toString() {
    return "CpuOps(" + (threads <= 0 ? "all" : threads) + " threads)";
  }

  // ---- losses ----

  private static void storeLoss(Tensor loss, double value) {
    // BytePointer's typed accessors honour the (byte) position of a slice
    if (loss.dtype() == DType.F64) loss.data().putDouble(value);
    else loss.data().putFloat((float) value);
  }

  private static double decimal(float f) {
    return Double.parseDouble(Float.toString(f));
  }

  private static Pointer ptr(Tensor t) {
    return t == null ? null : t.data();
  }

  @Override
  public void supCon(Tensor features, Tensor labels, Tensor mask, float temperature, float baseTemperature, int flags,
                     float gradScale, Tensor loss, Tensor grad) {
    String op = "supCon";
    long[] nvd = OpChecks.supCon(Device.CPU, features, labels, mask, temperature, baseTemperature, flags, gradScale,
        loss, grad, true);
    OpChecks.finite(op, "features", features);
    try (DoublePointer out = new DoublePointer(1)) {
      int st = features.dtype() == DType.F64
          // float64 path: the temperatures as the decimals they were written as (0.07f -> 0.07)
          ? ComixCpu.comix_supcon_f64_cpu(features.data(), nvd[0], nvd[1], nvd[2], ptr(labels), ptr(mask),
              decimal(temperature), decimal(baseTemperature), flags, decimal(gradScale), out, ptr(grad), threads)
          : ComixCpu.comix_supcon_f32_cpu(features.data(), nvd[0], nvd[1], nvd[2], ptr(labels), ptr(mask), temperature,
              baseTemperature, flags, gradScale, out, ptr(grad), threads);
      NativeStatus.check(st, op);
      storeLoss(loss, out.get());
    }
  }

  @Override
  public void softmax(Tensor x, Tensor out) {
    String op = "softmax";
    OpChecks.on(Device.CPU, op, x, out);
    long[] rc = OpChecks.rowsC(op, "x", x);
    OpChecks.sameShape(op, x, out);
    NativeStatus.check(ComixCpu.comix_softmax_f32_cpu(x.data(), rc[0], rc[1], out.data(), threads), op);
  }

  @Override
  public void softmaxBackward(Tensor p, Tensor g, boolean accumulate, Tensor dx) {
    String op = "softmaxBackward";
    OpChecks.on(Device.CPU, op, p, g, dx);
    long[] rc = OpChecks.rowsC(op, "p", p);
    OpChecks.sameShape(op, p, g);
    OpChecks.sameShape(op, p, dx);
    NativeStatus.check(
        ComixCpu.comix_softmax_backward_f32_cpu(p.data(), g.data(), rc[0], rc[1], accumulate ? 1 : 0, dx.data(), threads),
        op);
  }

  @Override
  public void crossEntropySmooth(Tensor logits, Tensor labels, float eps, float gradScale, boolean accumulate,
                                 Tensor loss, Tensor grad) {
    String op = "crossEntropySmooth";
    OpChecks.crossEntropy(Device.CPU, logits, labels, eps, gradScale, loss, grad);
    OpChecks.finite(op, "logits", logits);
    try (DoublePointer out = new DoublePointer(1)) {
      NativeStatus.check(ComixCpu.comix_ce_smooth_f32_cpu(logits.data(), logits.dim(0), logits.dim(1), labels.data(),
          eps, gradScale, accumulate ? 1 : 0, out, ptr(grad), threads), op);
      storeLoss(loss, out.get());
    }
  }

  @Override
  public void pseudoLabels(Tensor a, Tensor b, float threshold, Tensor labels, Tensor mask) {
    long[] rc = OpChecks.pseudoLabels(Device.CPU, a, b, labels, mask);
    NativeStatus.check(
        ComixCpu.comix_pseudo_labels_f32_cpu(a.data(), b.data(), rc[0], rc[1], threshold, labels.data(), mask.data()),
        "pseudoLabels");
  }
}

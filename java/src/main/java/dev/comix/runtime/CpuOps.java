package dev.comix.runtime;

import dev.comix.jni.ComixCpu;
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
    String op = "temporalMedian";
    OpChecks.on(Device.CPU, op, frames, out);
    OpChecks.dtype(op, "frames", frames, DType.U8);
    OpChecks.dtype(op, "out", out, DType.U8);
    long n = OpChecks.frameElements(op, frames, out);
    NativeStatus.check(ComixCpu.comix_median_u8_cpu(frames.data(), frames.dim(0), n, out.data(), threads), op);
  }

  @Override
  public void medianHistogramFold(Tensor frames, Tensor hist) {
    String op = "medianHistogramFold";
    OpChecks.on(Device.CPU, op, frames, hist);
    OpChecks.dtype(op, "frames", frames, DType.U8);
    OpChecks.dtype(op, "hist", hist, DType.U16);
    long n = frames.numel() / Math.max(1, frames.dim(0));
    if (frames.dim(0) < 1 || hist.numel() != n * 256)
      throw new ComixException(op + ": hist must hold 256 bins for each of the " + n + " frame elements");
    NativeStatus.check(
        ComixCpu.comix_median_hist_fold_cpu(frames.data(), frames.dim(0), n, hist.data(), threads), op);
  }

  @Override
  public void medianFromHistogram(Tensor hist, long totalFrames, Tensor out) {
    String op = "medianFromHistogram";
    OpChecks.on(Device.CPU, op, hist, out);
    OpChecks.dtype(op, "hist", hist, DType.U16);
    OpChecks.dtype(op, "out", out, DType.U8);
    if (hist.numel() != out.numel() * 256) throw new ComixException(op + ": hist must be [" + out.numel() + ", 256]");
    if (totalFrames < 1 || totalFrames > 65535)
      throw new ComixException(op + ": frame count must be in [1, 65535], got " + totalFrames);
    NativeStatus.check(
        ComixCpu.comix_median_from_hist_cpu(hist.data(), totalFrames, out.numel(), out.data(), threads),
        op);
  }

  @Override
  public void backgroundMix(Tensor x, Tensor bg, float gamma, Tensor out) {
    String op = "backgroundMix";
    OpChecks.on(Device.CPU, op, x, bg, out);
    OpChecks.mix(op, x, bg, gamma, out);
    long b = x.dim(0), f = x.dim(1), n = x.numel() / Math.max(1, b * f);
    if (x.numel() == 0) return;
    NativeStatus.check(
        ComixCpu.comix_background_mix_cpu(x.data(), bg.data(), b, f, n, gamma, OpChecks.mixDtype(out), out.data(), threads),
        op);
  }

  @Override
  public void synchronize() {}

  @Override
  public void close() {}

  @Override
  public String toString() {
    return "CpuOps(" + (threads <= 0 ? "all" : threads) + " threads)";
  }
}

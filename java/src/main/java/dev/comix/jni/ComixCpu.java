package dev.comix.jni;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Platform;

/** JNI binding of libcomix_cpu (native/include/comix). Raw C ABI: callers validate first. */
@Platform(
    include = {"comix/common.h", "comix/temporal_median.h", "comix/background_mix.h", "comix/supcon.h",
        "comix/cross_entropy.h"},
    link = "comix_cpu")
public final class ComixCpu {
  static {
    Loader.load();
  }

  private ComixCpu() {}

  public static native @Cast("const char*") BytePointer comix_error_string(int status);

  public static native @Cast("const char*") BytePointer comix_cpu_version();

  public static native @Cast("const char*") BytePointer comix_median_cpu_isa();

  public static native int comix_median_u8_cpu(
      @Cast("const uint8_t*") BytePointer frames, long T, long n, @Cast("uint8_t*") BytePointer out, int threads);

  public static native int comix_median_hist_fold_cpu(
      @Cast("const uint8_t*") BytePointer frames, long T, long n, @Cast("uint16_t*") BytePointer hist, int threads);

  public static native int comix_median_from_hist_cpu(
      @Cast("const uint16_t*") BytePointer hist, long T, long n, @Cast("uint8_t*") BytePointer out, int threads);

  public static native int comix_background_mix_cpu(
      @Cast("const uint8_t*") BytePointer x, @Cast("const uint8_t*") BytePointer bg, long B, long F, long n,
      float gamma, int outDtype, Pointer out, int threads);

  // ---- supcon.h, cross_entropy.h ----

  public static native int comix_supcon_f32_cpu(
      @Cast("const float*") Pointer features, long N, long V, long D, @Cast("const int64_t*") Pointer labels,
      @Cast("const uint8_t*") Pointer mask, float temperature, float baseTemperature, int flags, float gradScale,
      DoublePointer loss, @Cast("float*") Pointer grad, int threads);

  public static native int comix_supcon_f64_cpu(
      @Cast("const double*") Pointer features, long N, long V, long D, @Cast("const int64_t*") Pointer labels,
      @Cast("const uint8_t*") Pointer mask, double temperature, double baseTemperature, int flags, double gradScale,
      DoublePointer loss, @Cast("double*") Pointer grad, int threads);

  public static native int comix_softmax_f32_cpu(
      @Cast("const float*") Pointer x, long rows, long C, @Cast("float*") Pointer out, int threads);

  public static native int comix_softmax_backward_f32_cpu(
      @Cast("const float*") Pointer p, @Cast("const float*") Pointer g, long rows, long C, int accumulate,
      @Cast("float*") Pointer dx, int threads);

  public static native int comix_ce_smooth_f32_cpu(
      @Cast("const float*") Pointer logits, long B, long C, @Cast("const int64_t*") Pointer labels, float eps,
      float gradScale, int accumulate, DoublePointer loss, @Cast("float*") Pointer grad, int threads);

  public static native int comix_pseudo_labels_f32_cpu(
      @Cast("const float*") Pointer a, @Cast("const float*") Pointer b, long B, long C, float threshold,
      @Cast("int64_t*") Pointer labels, @Cast("uint8_t*") Pointer mask);
}

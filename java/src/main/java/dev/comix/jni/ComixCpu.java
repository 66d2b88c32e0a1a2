package dev.comix.jni;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Platform;

/** JNI binding of libcomix_cpu (native/include/comix). Raw C ABI: callers validate first. */
@Platform(
    include = {"comix/common.h", "comix/temporal_median.h", "comix/background_mix.h"},
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
}

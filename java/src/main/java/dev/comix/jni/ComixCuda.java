package dev.comix.jni;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * JNI binding of libcomix_cuda. Pointers are device pointers (as allocated through the cudart
 * preset); {@code stream} is a cudaStream_t or null. Loading this class needs the CUDA runtime
 * (libcudart.so.13); only {@link dev.comix.runtime.Backends} touches it, after probing.
 */
@Platform(
    include = {"comix/common.h", "comix/temporal_median.h", "comix/background_mix.h", "comix/cuda_runtime_info.h",
        "comix/supcon.h", "comix/cross_entropy.h", "comix/nn_layers.h"},
    link = "comix_cuda")
public final class ComixCuda {
  static {
    Loader.load();
  }

  private ComixCuda() {}

  public static native @Cast("const char*") BytePointer comix_cuda_version();

  public static native int comix_cuda_runtime_version();

  public static native int comix_median_u8_cuda(
      @Cast("const uint8_t*") Pointer frames, long T, long n, @Cast("uint8_t*") Pointer out, Pointer stream);

  public static native int comix_median_hist_fold_cuda(
      @Cast("const uint8_t*") Pointer frames, long T, long n, @Cast("uint16_t*") Pointer hist, Pointer stream);

  public static native int comix_median_from_hist_cuda(
      @Cast("const uint16_t*") Pointer hist, long T, long n, @Cast("uint8_t*") Pointer out, Pointer stream);

  public static native int comix_background_mix_cuda(
      @Cast("const uint8_t*") Pointer x, @Cast("const uint8_t*") Pointer bg, long B, long F, long n, float gamma,
      int outDtype, Pointer out, Pointer stream);

  // ---- supcon.h, cross_entropy.h ----

  public static native long comix_supcon_cuda_workspace_bytes(long N, long V, long D, int flags);

  public static native int comix_supcon_cuda(
      @Cast("const float*") Pointer features, long N, long V, long D, @Cast("const int64_t*") Pointer labels,
      @Cast("const uint8_t*") Pointer mask, float temperature, float baseTemperature, int flags, float gradScale,
      @Cast("float*") Pointer loss, @Cast("float*") Pointer grad, Pointer workspace, long workspaceBytes,
      Pointer stream);

  public static native int comix_supcon_cuda_path(
      @Cast("const float*") Pointer features, long N, long V, long D, @Cast("const int64_t*") Pointer labels,
      @Cast("const uint8_t*") Pointer mask, float temperature, float baseTemperature, int flags, float gradScale,
      @Cast("float*") Pointer loss, @Cast("float*") Pointer grad, Pointer workspace, long workspaceBytes,
      Pointer stream, int path);

  // GEMM path stages (the caller runs the cuBLAS products in between; see supcon.h)

  public static native long comix_supcon_cuda_workspace_offset(long N, long V, long D, int flags, int part);

  public static native int comix_supcon_cuda_gemm_prep(
      @Cast("const float*") Pointer features, long N, long V, long D, @Cast("const int64_t*") Pointer labels,
      @Cast("const uint8_t*") Pointer mask, int flags, Pointer workspace, long workspaceBytes, Pointer stream);

  public static native int comix_supcon_cuda_gemm_rows(
      long N, long V, long D, @Cast("float*") Pointer S, long ldS, long r0, long rows, int writeP, Pointer workspace,
      long workspaceBytes, Pointer stream);

  public static native int comix_supcon_cuda_gemm_sym(
      long N, long V, long D, @Cast("float*") Pointer S, long ldS, Pointer workspace, long workspaceBytes,
      Pointer stream);

  public static native int comix_supcon_cuda_gemm_finish(
      long N, long V, long D, float temperature, float baseTemperature, int flags, float gradScale,
      @Cast("float*") Pointer loss, @Cast("float*") Pointer grad, Pointer workspace, long workspaceBytes,
      Pointer stream);

  public static native int comix_softmax_cuda(
      @Cast("const float*") Pointer x, long rows, long C, @Cast("float*") Pointer out, Pointer stream);

  public static native int comix_softmax_backward_cuda(
      @Cast("const float*") Pointer p, @Cast("const float*") Pointer g, long rows, long C, int accumulate,
      @Cast("float*") Pointer dx, Pointer stream);

  public static native int comix_ce_smooth_cuda(
      @Cast("const float*") Pointer logits, long B, long C, @Cast("const int64_t*") Pointer labels, float eps,
      float gradScale, int accumulate, @Cast("float*") Pointer loss, @Cast("float*") Pointer grad, Pointer stream);

  public static native int comix_pseudo_labels_cuda(
      @Cast("const float*") Pointer a, @Cast("const float*") Pointer b, long B, long C, float threshold,
      @Cast("int64_t*") Pointer labels, @Cast("uint8_t*") Pointer mask, Pointer stream);

  // ---- nn_layers.h: activations NDHWC in dtype (COMIX_DTYPE_F32 / COMIX_DTYPE_BF16), statistics,
  // parameters and their gradients float32; shape arrays (kernel3, stride3, padFront3, front3,
  // back3) are host int[3] in D, H, W order; every other pointer is device memory. ----

  public static native @Cast("size_t") long comix_nn_bn_stats_workspace(long M, long C);

  public static native int comix_nn_bn_stats_cuda(
      @Cast("const void*") Pointer x, int dtype, long M, long C, @Cast("float*") Pointer mean,
      @Cast("float*") Pointer var, Pointer ws, @Cast("size_t") long wsBytes, Pointer stream);

  public static native int comix_nn_bn_forward_cuda(
      @Cast("const void*") Pointer x, int dtype, long M, long C, @Cast("const float*") Pointer mean,
      @Cast("const float*") Pointer var, float eps, @Cast("const float*") Pointer gamma,
      @Cast("const float*") Pointer beta, int relu, Pointer y, Pointer stream);

  public static native int comix_nn_bn_running_update_cuda(
      @Cast("float*") Pointer runMean, @Cast("float*") Pointer runVar, @Cast("const float*") Pointer mean,
      @Cast("const float*") Pointer var, long C, double momentum, long M, Pointer stream);

  public static native @Cast("size_t") long comix_nn_bn_backward_workspace(long M, long C);

  public static native int comix_nn_bn_backward_cuda(
      @Cast("const void*") Pointer x, @Cast("const void*") Pointer y, @Cast("const void*") Pointer dy, int dtype,
      long M, long C, @Cast("const float*") Pointer mean, @Cast("const float*") Pointer var, float eps,
      @Cast("const float*") Pointer gamma, int training, Pointer dx, @Cast("float*") Pointer dgamma,
      @Cast("float*") Pointer dbeta, Pointer ws, @Cast("size_t") long wsBytes, Pointer stream);

  public static native int comix_nn_relu_forward_cuda(
      @Cast("const void*") Pointer x, int dtype, long n, Pointer y, Pointer stream);

  public static native int comix_nn_relu_backward_cuda(
      @Cast("const void*") Pointer y, @Cast("const void*") Pointer dy, int dtype, long n, Pointer dx,
      Pointer stream);

  public static native int comix_nn_pool3d_forward_cuda(
      @Cast("const void*") Pointer x, int dtype, long N, long D, long H, long W, long C,
      @Cast("const int*") int[] kernel3, @Cast("const int*") int[] stride3, @Cast("const int*") int[] padFront3,
      long OD, long OH, long OW, int mode, Pointer y, @Cast("uint8_t*") Pointer argmax, Pointer stream);

  public static native int comix_nn_pool3d_backward_cuda(
      @Cast("const void*") Pointer dy, int dtype, long N, long D, long H, long W, long C,
      @Cast("const int*") int[] kernel3, @Cast("const int*") int[] stride3, @Cast("const int*") int[] padFront3,
      long OD, long OH, long OW, int mode, @Cast("const uint8_t*") Pointer argmax, Pointer dx, Pointer stream);

  public static native int comix_nn_pad5d_cuda(
      @Cast("const void*") Pointer x, int dtype, long N, long D, long H, long W, long C,
      @Cast("const int*") int[] front3, @Cast("const int*") int[] back3, Pointer y, Pointer stream);

  public static native int comix_nn_crop5d_cuda(
      @Cast("const void*") Pointer dyPadded, int dtype, long N, long D, long H, long W, long C,
      @Cast("const int*") int[] front3, @Cast("const int*") int[] back3, Pointer dx, Pointer stream);

  /** pad5d with the channels padded too: y [N, D', H', W', CP], zeros past channel C and outside. */
  public static native int comix_nn_pad5d_channels_cuda(
      @Cast("const void*") Pointer x, int dtype, long N, long D, long H, long W, long C, long CP,
      @Cast("const int*") int[] front3, @Cast("const int*") int[] back3, Pointer y, Pointer stream);

  /** dx [N, D, H, W, C] = the first C channels of the interior of dyPadded [N, D', H', W', CP]. */
  public static native int comix_nn_crop5d_channels_cuda(
      @Cast("const void*") Pointer dyPadded, int dtype, long N, long D, long H, long W, long C, long CP,
      @Cast("const int*") int[] front3, @Cast("const int*") int[] back3, Pointer dx, Pointer stream);

  /** cols [N*OD*OH*OW, KD*KH*KW*C] (row-major, the NDHWC filter's column order) = im2col of x [N, D, H, W, C]. */
  public static native int comix_nn_im2col3d_cuda(
      @Cast("const void*") Pointer x, int dtype, long N, long D, long H, long W, long C,
      @Cast("const int*") int[] kernel3, @Cast("const int*") int[] stride3, long OD, long OH, long OW, Pointer cols,
      Pointer stream);

  public static native int comix_nn_cast_cuda(
      @Cast("const void*") Pointer src, int srcDtype, Pointer dst, int dstDtype, long n, Pointer stream);

  public static native int comix_nn_axpy_cuda(
      float a, @Cast("const void*") Pointer x, int dtype, @Cast("float*") Pointer y, long n, Pointer stream);

  public static native @Cast("size_t") long comix_nn_channel_sum_workspace(long M, long C);

  public static native int comix_nn_channel_sum_cuda(
      @Cast("const void*") Pointer dy, int dtype, long M, long C, @Cast("float*") Pointer out, int accumulate,
      Pointer ws, @Cast("size_t") long wsBytes, Pointer stream);

  public static native int comix_nn_weight_to_krsc_cuda(
      @Cast("const float*") Pointer w, long Cout, long Cin, long kT, long kH, long kW, Pointer out, int dtype,
      Pointer stream);

  /** KRSC filter of CinP >= Cin channels (zeros past Cin). */
  public static native int comix_nn_weight_to_krsc_padded_cuda(
      @Cast("const float*") Pointer w, long Cout, long Cin, long CinP, long kT, long kH, long kW, Pointer out, int dtype,
      Pointer stream);

  /** grad (+)= the first Cin channels of a KRSC gradient of CinP channels. */
  public static native int comix_nn_weight_grad_from_krsc_padded_cuda(
      @Cast("const void*") Pointer g, int dtype, long Cout, long Cin, long CinP, long kT, long kH, long kW,
      @Cast("float*") Pointer grad, int accumulate, Pointer stream);

  public static native int comix_nn_weight_grad_from_krsc_cuda(
      @Cast("const void*") Pointer g, int dtype, long Cout, long Cin, long kT, long kH, long kW,
      @Cast("float*") Pointer grad, int accumulate, Pointer stream);

  /** y [N, C, S] = x [N, S, C] transposed (S = D*H*W); x and y must not overlap. */
  public static native int comix_nn_ndhwc_to_ncdhw_cuda(
      @Cast("const void*") Pointer x, int dtype, long N, long S, long C, Pointer y, Pointer stream);

  /** y [N, S, C] = x [N, C, S] transposed (S = D*H*W); x and y must not overlap. */
  public static native int comix_nn_ncdhw_to_ndhwc_cuda(
      @Cast("const void*") Pointer x, int dtype, long N, long S, long C, Pointer y, Pointer stream);

  public static native int comix_nn_dropout_forward_cuda(
      @Cast("const void*") Pointer x, int dtype, long n, float p, @Cast("uint64_t") long seed,
      @Cast("uint64_t") long offset, Pointer y, @Cast("uint8_t*") Pointer mask, Pointer stream);

  public static native int comix_nn_dropout_backward_cuda(
      @Cast("const void*") Pointer dy, int dtype, long n, float p, @Cast("const uint8_t*") Pointer mask,
      Pointer dx, Pointer stream);
}

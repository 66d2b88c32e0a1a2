package dev.comix.nn.gpu;

/**
 * Numerics of a {@link CudnnConv3d}. The data type applies to every tensor of the conv (x, w, y,
 * dx, dw); accumulation is always fp32.
 */
public enum ConvPrecision {
  /** fp32 data, fp32 FMA math (CUDNN_FMA_MATH): no tensor cores, no TF32; algorithms reporting tensor-op math are rejected. */
  F32,
  /** fp32 data with CUDNN_TENSOR_OP_MATH: cuDNN may round the inputs to TF32 (10-bit mantissa) on tensor cores. */
  TF32,
  /** bf16 data (x, w, y, dx, dw all bf16) with an fp32 compute type and tensor-op math. */
  BF16;

  /** Bytes per element of this precision's data. */
  public int elementSize() {
    return this == BF16 ? 2 : 4;
  }
}

package dev.comix.nn.gpu;

/** Memory layout of a {@link CudnnConv3d}'s activations and filters. */
public enum ConvLayout {
  /** x [N, C, D, H, W], filters [Cout, Cin, kT, kH, kW] (PyTorch's default; CUDNN_TENSOR_NCHW). */
  NCDHW,
  /** x [N, D, H, W, C], filters [Cout, kT, kH, kW, Cin] (channels-last; CUDNN_TENSOR_NHWC). */
  NDHWC
}

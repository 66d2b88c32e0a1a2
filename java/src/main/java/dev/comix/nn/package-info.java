/**
 * Neural-network layers with explicit forward and backward, on the CPU (oneDNN) and on CUDA
 * devices (cuDNN, cuBLAS and comix's kernels): every layer runs where its input tensor lives.
 *
 * <h2>Conventions</h2>
 * <ul>
 *   <li>Activations are F32 {@link dev.comix.runtime.Tensor}s in <b>NDHWC</b> (channels-last,
 *       [N, D, H, W, C]) on the host, or F32/BF16 (the {@link dev.comix.nn.gpu.GpuContext}'s
 *       precision) on a CUDA device; Linear takes [N, features]. Weights keep PyTorch's order ([Cout, Cin, kT,
 *       kH, kW] for Conv3d, [out, in] for Linear) so pytorch-i3d state dicts map 1:1 (a weight
 *       converter only renames keys; it never transposes).
 *   <li>{@link dev.comix.nn.Layer#forward} saves what the backward needs on a stack: each
 *       training forward pushes, each backward pops the latest (backpropagate several forwards in
 *       reverse order, as CoMix's four I3D calls per iteration need); an eval forward keeps only
 *       itself; {@link dev.comix.nn.Layer#clearSaved} drops everything.
 *       {@link dev.comix.nn.Layer#backward} returns dL/dx and <b>accumulates</b> parameter
 *       gradients into {@link dev.comix.nn.Param#grad} (zero them per step). Returned tensors belong
 *       to the caller; layers never close their inputs; a layer that saves a tensor for its
 *       backward retains it ({@link dev.comix.runtime.Tensor#retain}) and closes it when the
 *       backward ran or the context is dropped, and containers close intermediates as soon as the
 *       next layer consumed them, so device memory is given back deterministically.
 *   <li>On a device, parameters (and BN running statistics) are mirrored: the host tensor is the
 *       master, uploaded when changed; backwards accumulate into a device gradient that
 *       {@link dev.comix.nn.Param#grad} folds into the host one when read.
 *   <li>Layers are not thread-safe; all oneDNN work goes through one engine and stream
 *       ({@link dev.comix.nn.cpu.Dnnl}).
 * </ul>
 *
 * <h2>Implementations</h2>
 * <ul>
 *   <li>{@link dev.comix.nn.Conv3d}: oneDNN forward, backward-data and backward-weights primitives
 *       ({@link dev.comix.nn.cpu.DnnlConv3d}), NDHWC activations, weights in the layout oneDNN picks
 *       ({@code format_tag.any}, reordered once per forward), asymmetric TF-SAME padding as
 *       padding_l / padding_r ({@link dev.comix.nn.TfSame}).
 *   <li>{@link dev.comix.nn.BatchNorm3d}: oneDNN batch normalisation (scale and shift; batch
 *       statistics in training, use_global_stats in eval), forward and backward; the PyTorch running
 *       update (momentum 0.01, unbiased variance) is done in Java from oneDNN's batch statistics.
 *   <li>{@link dev.comix.nn.ReLU}: oneDNN eltwise ReLU, forward and backward.
 *   <li>{@link dev.comix.nn.MaxPool3d}: oneDNN max pooling with no padding over an explicitly
 *       zero-padded copy (oneDNN pads max-pools with −∞; pytorch-i3d pads with zeros), gradient
 *       copied back out of the padded buffer's interior ({@link dev.comix.nn.cpu.DnnlPool3d}).
 *   <li>{@link dev.comix.nn.AvgPool3d}: oneDNN average pooling (valid, as nn.AvgPool3d).
 *   <li>{@link dev.comix.nn.Channels} (concat / split), {@link dev.comix.nn.Dropout},
 *       {@link dev.comix.nn.Linear}: plain Java (copies, a seeded mask, and a 1024 → classes
 *       product that is too small for a library call to pay off).
 *   <li>{@link dev.comix.nn.Unit3D} = Conv3d (TF-SAME, no bias) → BatchNorm3d(eps 1e-3, momentum
 *       0.01) → ReLU, as pytorch-i3d's Unit3D; {@link dev.comix.nn.Sequential} chains layers.
 *   <li>{@link dev.comix.nn.InceptionModule}: the four Mixed branches and their channel concat;
 *       {@link dev.comix.nn.InceptionI3d}: the whole backbone of COMIX-SPEC 1.1 (Conv3d_1a_7x7 …
 *       Mixed_5c, average pool) with a width multiplier and the pytorch-i3d state-dict names
 *       ({@code loadWeights} reads .pt or safetensors). Forward + backward of a width-1 8×224² clip
 *       at batch 4: 0.55–0.62 s per clip on 2 cores, 0.92–1.02× PyTorch 1.13 on oneDNN
 *       (benchmarks/RESULTS.md).
 *   <li>GPU: Conv3d on cuDNN ({@link dev.comix.nn.gpu.Conv3dEngine}: legacy or graph API, NDHWC
 *       or NCDHW behind transposes, micro-batched calls, asymmetric TF-SAME padding by a pad
 *       kernel), BatchNorm3d (fused with the ReLU in a Unit3D), pools, ReLU, dropout, casts and
 *       reorders on comix's kernels (native/include/comix/nn_layers.h), concat/split as pitched
 *       device copies, Linear on cuBLAS. Checked on an H200 against float64 and against PyTorch's
 *       stored outputs (GpuLayersTest); speed in benchmarks/RESULTS.md.
 * </ul>
 */
package dev.comix.nn;

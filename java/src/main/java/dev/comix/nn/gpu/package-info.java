/**
 * cuDNN-backed layers on raw device pointers: {@link dev.comix.nn.gpu.Cudnn} (one handle per
 * {@link dev.comix.runtime.CudaOps}, bound to its stream) and two 3-D convolution engines behind
 * one interface, {@link dev.comix.nn.gpu.Conv3dEngine} (forward, backward-data, backward-filter;
 * bias for fp32 data): {@link dev.comix.nn.gpu.CudnnConv3d} on cuDNN's legacy API and
 * {@link dev.comix.nn.gpu.CudnnGraphConv3d} on its backend (graph) API.
 *
 * <h2>Two engines, and why</h2>
 * <ul>
 *   <li>{@link dev.comix.nn.gpu.CudnnConv3d} ({@link dev.comix.nn.gpu.ConvApi#LEGACY}):
 *       tensor/filter/convolution descriptors, an algorithm per pass from
 *       cudnnFind{Forward,BackwardData,BackwardFilter}AlgorithmEx (or the _v7 heuristics), then
 *       cudnnConvolutionForward / BackwardData / BackwardFilter. Measured correct on an H200
 *       (cuDNN 9.14), but slower there: each call costs ~0.1–0.2 ms of host time (a batch-32 I3D
 *       step queued in 27–37 ms against 9.6 with the graph engine) and its Conv3d_1a kernels
 *       (Cin = 3, NDHWC) took 15 ms per pass in BF16 (benchmarks/RESULTS.md, session 3).</li>
 *   <li>{@link dev.comix.nn.gpu.CudnnGraphConv3d} ({@link dev.comix.nn.gpu.ConvApi#GRAPH}, the
 *       default since 2026-11-26 session 3): the path PyTorch 2 takes. Per pass one operation graph (one CONVOLUTION_FORWARD /
 *       BACKWARD_DATA / BACKWARD_FILTER operation over three TENSOR descriptors and a CONVOLUTION
 *       descriptor), engine configurations from ENGINEHEUR mode A (B, then FALLBACK, when A
 *       yields nothing usable), engines whose numerical notes the precision forbids skipped, up to
 *       8 finalizable EXECUTION_PLANs timed with CUDA events on scratch buffers and the fastest
 *       kept (like {@code torch.backends.cudnn.benchmark}), then cudnnBackendExecute with a
 *       VARIANT_PACK of the data pointers by unique id and a workspace from the backend's
 *       allocator. It reaches the engines (including runtime-compiled ones) that the legacy API
 *       does not offer. It can also take TF-SAME's asymmetric padding directly. On an H200 the
 *       batch-32 I3D training step (NDHWC) ran at 2.2x (TF32) and 1.22x (BF16) the legacy
 *       engine's clips/s (benchmarks/RESULTS.md). Calls on pointers that
 *       are not 16-byte aligned run on aligned copies (a plan declaring less faulted).</li>
 * </ul>
 * Both share the public shape: same constructor arguments, {@code plan(n, d, h, w)} cached per
 * shape, kernel choice per plan and pass on first use, {@code describe(plan)}, {@code close()}.
 * Selection: {@link dev.comix.nn.gpu.Conv3dEngine#create}, or for the layers
 * {@link dev.comix.nn.gpu.GpuContext#setConvEngine} / {@code COMIX_CUDNN_API=legacy|graph}
 * (system property {@code comix.cudnn.api}); {@code COMIX_CUDNN_FIND=heuristic} skips the timing
 * in both, {@code COMIX_CUDNN_GRAPH_CANDIDATES} (default 8) caps the graph engine's timed plans (per
 * heuristics mode), {@code COMIX_CUDNN_GRAPH_MODES=all|first} times the candidates of heuristics
 * modes A, B and fallback together or stops at the first mode whose plans run (default: all for
 * strict F32, first otherwise), {@code COMIX_CUDNN_WORKSPACE_MB} (default 8192 for F32, 1024
 * otherwise; at most a quarter of free memory) caps the workspace a search of either engine may
 * choose, and {@code COMIX_CUDNN_GRAPH_RTC=0} keeps runtime-compiled (NVRTC) engines out of its
 * search. {@link dev.comix.nn.gpu.GemmConv3d} wraps a cuDNN engine for strict-F32 convs with few
 * input channels (Conv3d_1a) and runs their forward and backward-filter as im2col + cuBLAS SGEMM.
 *
 * <h2>Loading</h2>
 * The cuDNN bindings need libcudnn 9 (all its sub-libraries), libcublas/libcublasLt 13 and a
 * driver. They are loaded the first time {@link dev.comix.nn.gpu.Cudnn#of} or
 * {@link dev.comix.nn.gpu.Cudnn#version} is called, which only code holding a CUDA backend does;
 * a CPU-only run never touches them. Where they are missing the call throws one
 * {@link dev.comix.runtime.ComixException} line ("cuDNN 9 not found (…): put the PyTorch venv's
 * nvidia/cudnn/lib and nvidia/cublas/lib folders on LD_LIBRARY_PATH"), every time.
 *
 * <h2>Precisions ({@link dev.comix.nn.gpu.ConvPrecision})</h2>
 * <ul>
 *   <li>{@code F32}: fp32 tensors, fp32 compute, {@code CUDNN_FMA_MATH}. No tensor cores and no
 *       TF32: the algorithm search rejects any result that reports tensor-op math (the graph
 *       engine: any engine with CUDNN_NUMERICAL_NOTE_TENSOR_CORE, which for fp32 data means TF32).
 *       Expect about 1e-6 relative error; the reference precision. The graph engine rejects
 *       engines noted DOWN_CONVERT_INPUTS or REDUCED_PRECISION_REDUCTION in every precision.</li>
 *   <li>{@code TF32}: fp32 tensors, fp32 compute, {@code CUDNN_TENSOR_OP_MATH}: cuDNN may run
 *       tensor-core kernels that round x and w (or dy) to TF32 (10-bit mantissa) and accumulate in
 *       fp32; about 1e-3 relative error. Same memory traffic as F32.</li>
 *   <li>{@code BF16}: every tensor (x, w, y, dx, dw) is bf16, the convolution's compute type is
 *       fp32 ({@code CUDNN_DATA_FLOAT}), with tensor-op math; outputs are rounded to bf16 once, so
 *       about 4e-3 relative error per element. Half the memory traffic. Bias is not offered here
 *       (cuDNN's legacy bias calls would need an fp32 bias beside bf16 activations).</li>
 * </ul>
 *
 * <h2>Layouts ({@link dev.comix.nn.gpu.ConvLayout})</h2>
 * {@code NCDHW}: x [N, C, D, H, W], filters [Cout, Cin, kT, kH, kW]. {@code NDHWC}: x
 * [N, D, H, W, C], filters [Cout, kT, kH, kW, Cin]. Descriptors always give cuDNN the dimensions in
 * N, C, D, H, W order with explicit strides for the layout; filters use CUDNN_TENSOR_NCHW or
 * CUDNN_TENSOR_NHWC. Tensor-core kernels generally want NDHWC with C a multiple of 8.
 *
 * <h2>Plans and the algorithm cache (legacy engine; the graph engine's is in its class comment)</h2>
 * {@link dev.comix.nn.gpu.CudnnConv3d#plan} builds the tensor descriptors for one input shape
 * (checking cuDNN's output size against the formula) and caches the plan per (N, D, H, W): the
 * same shape returns the same object. Each plan remembers one algorithm per pass, chosen the first
 * time that pass runs: by default by timing every candidate once with
 * cudnnFind{Forward,BackwardData,BackwardFilter}AlgorithmEx on scratch buffers of the plan's sizes
 * (plain cudaMalloc, freed at once) and a workspace of up to min(1 GiB, free memory / 4); the
 * fastest result with success status, a math type allowed by the precision and a workspace within
 * the limit wins. {@code COMIX_CUDNN_FIND=heuristic} (or {@code -Dcomix.cudnn.find=heuristic})
 * takes cuDNN's heuristic ranking (cudnnGet…Algorithm_v7) instead: no timing, but no guarantee of
 * the fastest. The first call of each pass per shape therefore costs a search (milliseconds to a
 * second); later calls only set the math type, take a workspace from the backend's caching
 * allocator, launch, and give the workspace back (safe: the allocator reuses blocks only on the
 * same stream). {@link dev.comix.nn.gpu.CudnnConv3d#describe} names the chosen algorithms, their
 * math type and workspace bytes. Timed choices are also kept across processes in a small file
 * (AlgoCache: {@code COMIX_CUDNN_CACHE}, default {@code ~/.cache/comix/cudnn-legacy-algos.tsv},
 * keyed by GPU, cuDNN version, convolution, shape and pass; {@code off} disables it), so a new JVM
 * skips the search for shapes already seen. The graph engine keeps its timed choices the same way
 * ({@code COMIX_CUDNN_GRAPH_CACHE}, default {@code ~/.cache/comix/cudnn-graph-plans.tsv};
 * {@code COMIX_CUDNN_CACHE=off} turns both off).
 */
package dev.comix.nn.gpu;

package dev.comix.nn.gpu;

import static org.bytedeco.cuda.global.cudnn.*;

import dev.comix.runtime.ComixException;
import dev.comix.runtime.CudaAllocator;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.bytedeco.cuda.cudnn.cudnnConvolutionBwdDataAlgoPerf_t;
import org.bytedeco.cuda.cudnn.cudnnConvolutionBwdFilterAlgoPerf_t;
import org.bytedeco.cuda.cudnn.cudnnConvolutionFwdAlgoPerf_t;
import org.bytedeco.cuda.cudnn.cudnnConvolutionStruct;
import org.bytedeco.cuda.cudnn.cudnnFilterStruct;
import org.bytedeco.cuda.cudnn.cudnnTensorStruct;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.SizeTPointer;

/**
 * A 3-D convolution (cross-correlation, no dilation, no groups) through cuDNN on raw device
 * pointers: forward, backward-data and backward-filter, in one {@link ConvLayout} and one
 * {@link ConvPrecision}. Padding is symmetric per dimension (for TF-SAME's asymmetric padding,
 * pad the input first or pass the larger side and crop). Everything runs on the stream of the
 * {@link Cudnn}'s backend; workspaces come from its allocator and go back right after each call.
 *
 * <pre>{@code
 * CudnnConv3d conv = new CudnnConv3d(Cudnn.of(ops), 64, 192, new int[] {3, 3, 3}, new int[] {1, 1, 1},
 *     new int[] {1, 1, 1}, ConvLayout.NDHWC, ConvPrecision.BF16);
 * CudnnConv3d.Plan p = conv.plan(8, 4, 56, 56);      // cached per input shape
 * conv.forward(p, x.data(), w.data(), y.data());     // y: p.outputShape()
 * conv.backwardData(p, dy.data(), w.data(), dx.data());
 * conv.backwardFilter(p, x.data(), dy.data(), dw.data(), true);
 * }</pre>
 *
 * <p>Algorithms are chosen per plan and per pass on first use and then cached: by default by
 * timing every candidate once (cudnnFind…AlgorithmEx on scratch buffers, workspace limit
 * min(1 GiB, free/4)); with {@code COMIX_CUDNN_FIND=heuristic} (or the system property
 * {@code comix.cudnn.find=heuristic}) from cuDNN's heuristics (cudnnGet…Algorithm_v7) instead.
 * Not thread-safe beyond the per-call lock: calls share one convolution descriptor.
 */
public final class CudnnConv3d extends AbstractConv3dEngine {
  /** The three passes, each with its own cached algorithm per plan. */
  public enum Pass { FORWARD, BACKWARD_DATA, BACKWARD_FILTER }

  /** An algorithm cuDNN chose for one pass: its id, math type, workspace bytes and measured time (ms; -1 if not timed). */
  public record Algo(int algo, int mathType, long workspaceBytes, float ms, boolean timed) {}

  /** Descriptors and cached algorithms for one input shape. Close the conv, not the plan. */
  public static final class Plan extends PlanGeometry {
    final cudnnTensorStruct xDesc = new cudnnTensorStruct(), yDesc = new cudnnTensorStruct();
    final Algo[] algos = new Algo[3];

    private Plan(long n, long d, long h, long w, long od, long oh, long ow, ConvLayout layout, int cin, int cout) {
      super(n, d, h, w, od, oh, ow, layout, cin, cout);
    }

    /** The algorithm chosen for a pass, or null before that pass first ran. */
    public Algo algo(Pass pass) {
      return algos[pass.ordinal()];
    }
  }

  private record Key(long n, long d, long h, long w) {}

  private static final long ONE_GIB = 1L << 30;
  private static final String[] FWD_NAMES = {"IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT", "FFT",
      "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
  private static final String[] BWD_DATA_NAMES = {"ALGO_0", "ALGO_1", "FFT", "FFT_TILING", "WINOGRAD",
      "WINOGRAD_NONFUSED"};
  private static final String[] BWD_FILTER_NAMES = {"ALGO_0", "ALGO_1", "FFT", "ALGO_3", "WINOGRAD",
      "WINOGRAD_NONFUSED", "FFT_TILING"};

  private final cudnnFilterStruct wDesc = new cudnnFilterStruct();
  private final cudnnConvolutionStruct convDesc = new cudnnConvolutionStruct();
  private cudnnTensorStruct biasDesc;
  private final Map<Key, Plan> plans = new HashMap<>();

  public CudnnConv3d(Cudnn cudnn, int cin, int cout, int[] kernel, int[] stride, int[] pad, ConvLayout layout,
                     ConvPrecision precision) {
    super(cudnn, cin, cout, kernel, stride, pad, pad, layout, precision);
    int format = layout == ConvLayout.NCDHW ? CUDNN_TENSOR_NCHW : CUDNN_TENSOR_NHWC;
    try {
      Cudnn.check(cudnnCreateFilterDescriptor(wDesc), "cudnnCreateFilterDescriptor");
      Cudnn.check(cudnnSetFilterNdDescriptor(wDesc, dataType(), format, 5,
          new int[] {cout, cin, kernel[0], kernel[1], kernel[2]}), "cudnnSetFilterNdDescriptor" + this);
      Cudnn.check(cudnnCreateConvolutionDescriptor(convDesc), "cudnnCreateConvolutionDescriptor");
      Cudnn.check(cudnnSetConvolutionNdDescriptor(convDesc, 3, prePad, this.stride, new int[] {1, 1, 1},
          CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT), "cudnnSetConvolutionNdDescriptor" + this);
      Cudnn.check(cudnnSetConvolutionMathType(convDesc, defaultMath()), "cudnnSetConvolutionMathType" + this);
    } catch (RuntimeException e) {
      if (!wDesc.isNull()) cudnnDestroyFilterDescriptor(wDesc);
      if (!convDesc.isNull()) cudnnDestroyConvolutionDescriptor(convDesc);
      throw e;
    }
  }

  @Override
  public ConvApi api() {
    return ConvApi.LEGACY;
  }

  /** Filter shape in this conv's layout order. */
  @Override
  public long[] filterShape() {
    return layout == ConvLayout.NCDHW ? new long[] {cout, cin, kernel[0], kernel[1], kernel[2]}
        : new long[] {cout, kernel[0], kernel[1], kernel[2], cin};
  }

  /** Multiply-accumulates of one pass on a plan (fwd, bwd-data and bwd-filter each do this many; FLOPs = 2 · MACs). */
  @Override
  public long macs(Conv3dEngine.Plan plan) {
    Plan p = own(plan);
    return p.n * cout * p.od * p.oh * p.ow * cin * (long) kernel[0] * kernel[1] * kernel[2];
  }

  private int dataType() {
    return precision == ConvPrecision.BF16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
  }

  private int defaultMath() {
    return precision == ConvPrecision.F32 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH;
  }

  private boolean mathAllowed(int mathType) {
    return precision != ConvPrecision.F32
        || (mathType != CUDNN_TENSOR_OP_MATH && mathType != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION);
  }

  private static int[] strides(ConvLayout layout, int c, int d, int h, int w) {
    return layout == ConvLayout.NCDHW ? new int[] {c * d * h * w, d * h * w, h * w, w, 1}
        : new int[] {d * h * w * c, 1, h * w * c, w * c, c};
  }

  private static int toInt(long v, String what) {
    if (v <= 0 || v > Integer.MAX_VALUE) throw new ComixException(what + " = " + v + " is out of cuDNN's int range");
    return (int) v;
  }

  /** The plan for input [N, C, D, H, W] (in this layout's order); created once per shape and cached. */
  @Override
  public synchronized Plan plan(long n, long d, long h, long w) {
    ensureOpen();
    Key key = new Key(n, d, h, w);
    Plan p = plans.get(key);
    if (p != null) return p;
    if (n <= 0 || d <= 0 || h <= 0 || w <= 0)
      throw new ComixException("CudnnConv3d.plan: sizes must be positive, got N=" + n + " D=" + d + " H=" + h + " W=" + w);
    long[] in = {d, h, w};
    long[] out = new long[3];
    for (int i = 0; i < 3; i++) {
      long span = in[i] + 2L * prePad[i] - kernel[i];
      if (span < 0)
        throw new ComixException("CudnnConv3d.plan: input " + Arrays.toString(in) + " padded by " + Arrays.toString(prePad)
            + " is smaller than kernel " + Arrays.toString(kernel));
      out[i] = span / stride[i] + 1;
    }
    toInt(Math.multiplyExact(Math.multiplyExact(n, cin), d * h * w), "input elements");
    toInt(Math.multiplyExact(Math.multiplyExact(n, cout), out[0] * out[1] * out[2]), "output elements");
    p = new Plan(n, d, h, w, out[0], out[1], out[2], layout, cin, cout);
    boolean ok = false;
    try {
      Cudnn.check(cudnnCreateTensorDescriptor(p.xDesc), "cudnnCreateTensorDescriptor");
      Cudnn.check(cudnnCreateTensorDescriptor(p.yDesc), "cudnnCreateTensorDescriptor");
      int[] xd = {(int) n, cin, (int) d, (int) h, (int) w};
      Cudnn.check(cudnnSetTensorNdDescriptor(p.xDesc, dataType(), 5, xd, strides(layout, cin, xd[2], xd[3], xd[4])),
          "cudnnSetTensorNdDescriptor(x " + Arrays.toString(xd) + ")" + this);
      int[] yd = new int[5];
      Cudnn.check(cudnnGetConvolutionNdForwardOutputDim(convDesc, p.xDesc, wDesc, 5, yd),
          "cudnnGetConvolutionNdForwardOutputDim" + this);
      int[] expect = {(int) n, cout, (int) out[0], (int) out[1], (int) out[2]};
      if (!Arrays.equals(yd, expect))
        throw new ComixException("cuDNN output dims " + Arrays.toString(yd) + " differ from the expected "
            + Arrays.toString(expect) + this);
      Cudnn.check(cudnnSetTensorNdDescriptor(p.yDesc, dataType(), 5, yd, strides(layout, cout, yd[2], yd[3], yd[4])),
          "cudnnSetTensorNdDescriptor(y " + Arrays.toString(yd) + ")" + this);
      ok = true;
    } finally {
      if (!ok) destroy(p);
    }
    plans.put(key, p);
    return p;
  }

  private static void destroy(Plan p) {
    if (!p.xDesc.isNull()) cudnnDestroyTensorDescriptor(p.xDesc);
    if (!p.yDesc.isNull()) cudnnDestroyTensorDescriptor(p.yDesc);
  }

  // ---- algorithm choice ---------------------------------------------------------------------------

  private record Candidate(int algo, int status, float time, long memory, int mathType) {}

  static boolean heuristicMode() {
    String v = System.getProperty("comix.cudnn.find");
    if (v == null || v.isBlank()) v = System.getenv("COMIX_CUDNN_FIND");
    return v != null && v.trim().equalsIgnoreCase("heuristic");
  }

  /** The cached algorithm for a pass, searching once per plan and pass. */
  private Algo algo(Plan p, Pass pass) {
    Algo a = p.algos[pass.ordinal()];
    if (a != null) return a;
    searches++;
    boolean heuristic = heuristicMode();
    long limit = workspaceLimit(precision);
    String cacheKey = cacheKey(p, pass);
    AlgoCache.Entry hit = heuristic ? null : AlgoCache.get(cacheKey);
    if (hit != null) {
      Cudnn.check(cudnnSetConvolutionMathType(convDesc, hit.mathType()), "cudnnSetConvolutionMathType");
      long ws = workspaceSize(p, pass, hit.algo());
      if (ws <= limit) {
        a = new Algo(hit.algo(), hit.mathType(), ws, hit.ms(), false);
        p.algos[pass.ordinal()] = a;
        diskHits++;
        return a;
      }
    }
    Cudnn.check(cudnnSetConvolutionMathType(convDesc, defaultMath()), "cudnnSetConvolutionMathType");
    List<Candidate> found = heuristic ? heuristics(p, pass) : find(p, pass, limit);
    Candidate best = null;
    for (Candidate c : found) // cuDNN returns them fastest (or most promising) first
      if (c.status() == CUDNN_STATUS_SUCCESS && mathAllowed(c.mathType()) && c.memory() <= limit) {
        best = c;
        break;
      }
    if (best == null) {
      StringBuilder sb = new StringBuilder();
      for (Candidate c : found)
        sb.append(' ').append(algoName(pass, c.algo())).append("/status ").append(c.status()).append("/math ")
            .append(c.mathType()).append('/').append(c.memory()).append('B');
      throw new ComixException("no usable cuDNN " + pass + " algorithm for " + this + " at " + shapeText(p)
          + " (workspace limit " + limit + " B; candidates:" + (sb.length() == 0 ? " none" : sb) + ")");
    }
    // F32 always runs with FMA math: cuDNN may report DEFAULT_MATH for an algorithm, and DEFAULT_MATH
    // permits TF32 on Ampere and later
    int math = precision == ConvPrecision.F32 ? CUDNN_FMA_MATH : best.mathType();
    Cudnn.check(cudnnSetConvolutionMathType(convDesc, math), "cudnnSetConvolutionMathType");
    long ws = Math.max(workspaceSize(p, pass, best.algo()), best.memory());
    a = new Algo(best.algo(), math, ws, heuristic ? -1f : best.time(), !heuristic);
    p.algos[pass.ordinal()] = a;
    if (!heuristic) AlgoCache.put(cacheKey, best.algo(), math, best.time());
    return a;
  }

  /** The persistent cache's key: GPU, cuDNN version, this convolution, the plan's shape and the pass. */
  private String cacheKey(Plan p, Pass pass) {
    return cudnn.ops().describe() + " | cuDNN " + Cudnn.version() + " | legacy" + this + " | " + shapeText(p) + " | " + pass
        + workspaceKey(precision);
  }

  /** Default workspace cap of a strict-F32 search: some fp32 engines need more than 1 GiB at I3D's shapes. */
  static final long F32_DEFAULT_CAP = 8L << 30;

  /**
   * The largest workspace a search for {@code precision} may pick: min(cap, free device memory / 4),
   * min(cap, 256 MiB) if the free memory cannot be asked. The cap is {@code comix.cudnn.workspace.mb}
   * / {@code COMIX_CUDNN_WORKSPACE_MB} (MiB) when set, else 8 GiB for F32 and 1 GiB otherwise:
   * PyTorch's benchmark mode lets plans use what memory is free, and fp32 engines need it most.
   */
  static long workspaceLimit(ConvPrecision precision) {
    long cap = workspaceCap(precision);
    try (SizeTPointer free = new SizeTPointer(1); SizeTPointer total = new SizeTPointer(1)) {
      int st = cudart.cudaMemGetInfo(free, total);
      if (st != 0) {
        cudart.cudaGetLastError();
        return Math.min(cap, 256L << 20);
      }
      return Math.min(cap, free.get() / 4);
    }
  }

  /** The workspace cap of a search in bytes ({@link #workspaceLimit}); a clear error for a bad setting. */
  static long workspaceCap(ConvPrecision precision) {
    String v = System.getProperty("comix.cudnn.workspace.mb");
    if (v == null || v.isBlank()) v = System.getenv("COMIX_CUDNN_WORKSPACE_MB");
    if (v == null || v.isBlank()) return precision == ConvPrecision.F32 ? F32_DEFAULT_CAP : ONE_GIB;
    try {
      long mb = Long.parseLong(v.trim());
      if (mb >= 1 && mb <= (1L << 24)) return mb << 20;
    } catch (NumberFormatException e) {
      // the message below
    }
    throw new ComixException("COMIX_CUDNN_WORKSPACE_MB=" + v + ": expected a number of MiB from 1 to 16777216");
  }

  /**
   * The convolution search settings for {@code precision} as the environment gives them, for
   * {@code comix info} and the benchmarks: "timed, graph: 8 candidates from the first heuristics
   * mode that runs, workspace cap 1024 MiB". Throws a ComixException naming a bad setting.
   */
  public static String searchSettings(ConvPrecision precision) {
    String what = heuristicMode() ? "cuDNN's first heuristic choice (COMIX_CUDNN_FIND=heuristic)"
        : "timed, graph: " + CudnnGraphConv3d.candidateLimit() + " candidates "
            + (CudnnGraphConv3d.allHeuristicModes(precision) ? "from every heuristics mode"
                : "from the first heuristics mode that runs");
    return what + ", workspace cap " + (workspaceCap(precision) >> 20) + " MiB";
  }

  /** {@link #searchSettings(ConvPrecision)} for TF32/BF16 and, where it differs, for F32. */
  public static String searchSettings() {
    String tc = searchSettings(ConvPrecision.TF32), f32 = searchSettings(ConvPrecision.F32);
    return tc.equals(f32) ? tc : tc + "; strict F32: " + f32;
  }

  /**
   * The part of a persistent-cache key that names a workspace cap other than 1 GiB (a search under
   * another cap can choose differently); empty for 1 GiB, so the lines cached before it stay valid.
   */
  static String workspaceKey(ConvPrecision precision) {
    long cap = workspaceCap(precision);
    return cap == ONE_GIB ? "" : " | ws " + (cap >> 20) + " MiB";
  }

  private long workspaceSize(Plan p, Pass pass, int algo) {
    try (SizeTPointer size = new SizeTPointer(1)) {
      int st = switch (pass) {
        case FORWARD -> cudnnGetConvolutionForwardWorkspaceSize(cudnn.handle(), p.xDesc, wDesc, convDesc, p.yDesc, algo, size);
        case BACKWARD_DATA -> cudnnGetConvolutionBackwardDataWorkspaceSize(cudnn.handle(), wDesc, p.yDesc, convDesc,
            p.xDesc, algo, size);
        case BACKWARD_FILTER -> cudnnGetConvolutionBackwardFilterWorkspaceSize(cudnn.handle(), p.xDesc, p.yDesc,
            convDesc, wDesc, algo, size);
      };
      Cudnn.check(st, "cudnnGet" + passName(pass) + "WorkspaceSize(" + algoName(pass, algo) + ")" + this);
      return size.get();
    }
  }

  private List<Candidate> heuristics(Plan p, Pass pass) {
    List<Candidate> out = new ArrayList<>();
    try (IntPointer max = new IntPointer(1); IntPointer got = new IntPointer(1)) {
      String what = "cudnnGet" + passName(pass) + "Algorithm_v7" + this;
      switch (pass) {
        case FORWARD -> {
          Cudnn.check(cudnnGetConvolutionForwardAlgorithmMaxCount(cudnn.handle(), max), what);
          try (cudnnConvolutionFwdAlgoPerf_t perf = new cudnnConvolutionFwdAlgoPerf_t(Math.max(1, max.get()))) {
            Cudnn.check(cudnnGetConvolutionForwardAlgorithm_v7(cudnn.handle(), p.xDesc, wDesc, convDesc, p.yDesc,
                max.get(), got, perf), what);
            for (int i = 0; i < got.get(); i++) {
              cudnnConvolutionFwdAlgoPerf_t r = perf.getPointer(i);
              out.add(new Candidate(r.algo(), r.status(), r.time(), r.memory(), r.mathType()));
            }
          }
        }
        case BACKWARD_DATA -> {
          Cudnn.check(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(cudnn.handle(), max), what);
          try (cudnnConvolutionBwdDataAlgoPerf_t perf = new cudnnConvolutionBwdDataAlgoPerf_t(Math.max(1, max.get()))) {
            Cudnn.check(cudnnGetConvolutionBackwardDataAlgorithm_v7(cudnn.handle(), wDesc, p.yDesc, convDesc, p.xDesc,
                max.get(), got, perf), what);
            for (int i = 0; i < got.get(); i++) {
              cudnnConvolutionBwdDataAlgoPerf_t r = perf.getPointer(i);
              out.add(new Candidate(r.algo(), r.status(), r.time(), r.memory(), r.mathType()));
            }
          }
        }
        case BACKWARD_FILTER -> {
          Cudnn.check(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(cudnn.handle(), max), what);
          try (cudnnConvolutionBwdFilterAlgoPerf_t perf =
                   new cudnnConvolutionBwdFilterAlgoPerf_t(Math.max(1, max.get()))) {
            Cudnn.check(cudnnGetConvolutionBackwardFilterAlgorithm_v7(cudnn.handle(), p.xDesc, p.yDesc, convDesc, wDesc,
                max.get(), got, perf), what);
            for (int i = 0; i < got.get(); i++) {
              cudnnConvolutionBwdFilterAlgoPerf_t r = perf.getPointer(i);
              out.add(new Candidate(r.algo(), r.status(), r.time(), r.memory(), r.mathType()));
            }
          }
        }
      }
    }
    return out;
  }

  /**
   * Times every algorithm once on scratch buffers. The scratch tensors and the search workspace
   * are plain cudaMalloc/cudaFree (not the caching allocator): a one-off search must not leave a
   * 1 GiB block parked in the allocator's cache.
   */
  private List<Candidate> find(Plan p, Pass pass, long limit) {
    long es = precision.elementSize();
    long xBytes = p.n * cin * p.d * p.h * p.w * es;
    long yBytes = p.n * cout * p.od * p.oh * p.ow * es;
    long wBytes = (long) cout * cin * kernel[0] * kernel[1] * kernel[2] * es;
    List<Pointer> scratch = new ArrayList<>();
    List<Candidate> out = new ArrayList<>();
    try {
      cudnn.ops().synchronize();
      Pointer x = scratch(xBytes, scratch), y = scratch(yBytes, scratch), w = scratch(wBytes, scratch);
      long wsBytes = limit;
      Pointer ws = null;
      while (wsBytes > 0) { // take what fits, halving down from the limit
        Pointer t = new Pointer();
        if (cudart.cudaMalloc(t, wsBytes) == 0) {
          ws = t;
          scratch.add(t);
          break;
        }
        cudart.cudaGetLastError();
        wsBytes /= 2;
        if (wsBytes < (1L << 20)) wsBytes = 0;
      }
      if (ws == null) ws = new Pointer();
      try (IntPointer max = new IntPointer(1); IntPointer got = new IntPointer(1)) {
        String what = "cudnnFind" + passName(pass) + "AlgorithmEx" + this + " at " + shapeText(p);
        switch (pass) {
          case FORWARD -> {
            Cudnn.check(cudnnGetConvolutionForwardAlgorithmMaxCount(cudnn.handle(), max), what);
            try (cudnnConvolutionFwdAlgoPerf_t perf = new cudnnConvolutionFwdAlgoPerf_t(Math.max(1, max.get()))) {
              Cudnn.check(cudnnFindConvolutionForwardAlgorithmEx(cudnn.handle(), p.xDesc, x, wDesc, w, convDesc, p.yDesc,
                  y, max.get(), got, perf, ws, wsBytes), what);
              for (int i = 0; i < got.get(); i++) {
                cudnnConvolutionFwdAlgoPerf_t r = perf.getPointer(i);
                out.add(new Candidate(r.algo(), r.status(), r.time(), r.memory(), r.mathType()));
              }
            }
          }
          case BACKWARD_DATA -> {
            Cudnn.check(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(cudnn.handle(), max), what);
            try (cudnnConvolutionBwdDataAlgoPerf_t perf = new cudnnConvolutionBwdDataAlgoPerf_t(Math.max(1, max.get()))) {
              Cudnn.check(cudnnFindConvolutionBackwardDataAlgorithmEx(cudnn.handle(), wDesc, w, p.yDesc, y, convDesc,
                  p.xDesc, x, max.get(), got, perf, ws, wsBytes), what);
              for (int i = 0; i < got.get(); i++) {
                cudnnConvolutionBwdDataAlgoPerf_t r = perf.getPointer(i);
                out.add(new Candidate(r.algo(), r.status(), r.time(), r.memory(), r.mathType()));
              }
            }
          }
          case BACKWARD_FILTER -> {
            Cudnn.check(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(cudnn.handle(), max), what);
            try (cudnnConvolutionBwdFilterAlgoPerf_t perf =
                     new cudnnConvolutionBwdFilterAlgoPerf_t(Math.max(1, max.get()))) {
              Cudnn.check(cudnnFindConvolutionBackwardFilterAlgorithmEx(cudnn.handle(), p.xDesc, x, p.yDesc, y, convDesc,
                  wDesc, w, max.get(), got, perf, ws, wsBytes), what);
              for (int i = 0; i < got.get(); i++) {
                cudnnConvolutionBwdFilterAlgoPerf_t r = perf.getPointer(i);
                out.add(new Candidate(r.algo(), r.status(), r.time(), r.memory(), r.mathType()));
              }
            }
          }
        }
      }
      cudnn.ops().synchronize();
    } finally {
      for (Pointer s : scratch) cudart.cudaFree(s);
    }
    return out;
  }

  private static Pointer scratch(long bytes, List<Pointer> keep) {
    Pointer t = new Pointer();
    int st = cudart.cudaMalloc(t, Math.max(bytes, 1));
    if (st != 0) {
      cudart.cudaGetLastError();
      throw new ComixException("cuDNN algorithm search: could not allocate " + bytes + " scratch bytes: "
          + cudart.cudaGetErrorString(st).getString());
    }
    keep.add(t);
    cudart.cudaMemset(t, 0, Math.max(bytes, 1));
    return t;
  }

  // ---- passes -------------------------------------------------------------------------------------

  private interface Call {
    int run(Pointer workspace, long bytes);
  }

  private void execute(Plan p, Pass pass, Algo a, Call call, String what) {
    Cudnn.check(cudnnSetConvolutionMathType(convDesc, a.mathType()), "cudnnSetConvolutionMathType");
    CudaAllocator alloc = cudnn.ops().allocator();
    Pointer ws = a.workspaceBytes() > 0 ? alloc.allocate(a.workspaceBytes()) : new Pointer();
    try {
      Cudnn.check(call.run(ws, a.workspaceBytes()), what + "(" + algoName(pass, a.algo()) + ")" + this + " at " + shapeText(p));
    } finally {
      // stream order makes the reuse safe: the allocator hands blocks out again only on this stream
      if (a.workspaceBytes() > 0) alloc.release(ws, a.workspaceBytes());
    }
  }

  /** {@code plan} as this conv's own plan type, or a ComixException when it belongs to another conv. */
  private Plan own(Conv3dEngine.Plan plan) {
    if (!(plan instanceof Plan p) || plans.get(new Key(p.n, p.d, p.h, p.w)) != p)
      throw new ComixException("CudnnConv3d: the plan does not belong to this conv" + this);
    return p;
  }

  private Plan ready(Conv3dEngine.Plan plan, Pointer... ptrs) {
    ensureOpen();
    Plan p = own(plan);
    for (Pointer q : ptrs) if (q == null || q.isNull()) throw new ComixException("CudnnConv3d: null device pointer" + this);
    return p;
  }

  /** y = conv(x, w); y is overwritten. */
  @Override
  public synchronized void forward(Conv3dEngine.Plan plan, Pointer x, Pointer w, Pointer y) {
    Plan p = ready(plan, x, w, y);
    Algo a = algo(p, Pass.FORWARD);
    execute(p, Pass.FORWARD, a, (ws, bytes) -> cudnnConvolutionForward(cudnn.handle(), cudnn.one, p.xDesc, x, wDesc, w,
        convDesc, a.algo(), ws, bytes, cudnn.zero, p.yDesc, y), "cudnnConvolutionForward");
  }

  /** dx = conv_transpose(dy, w); dx is overwritten. */
  @Override
  public synchronized void backwardData(Conv3dEngine.Plan plan, Pointer dy, Pointer w, Pointer dx) {
    Plan p = ready(plan, dy, w, dx);
    Algo a = algo(p, Pass.BACKWARD_DATA);
    execute(p, Pass.BACKWARD_DATA, a, (ws, bytes) -> cudnnConvolutionBackwardData(cudnn.handle(), cudnn.one, wDesc, w,
        p.yDesc, dy, convDesc, a.algo(), ws, bytes, cudnn.zero, p.xDesc, dx), "cudnnConvolutionBackwardData");
  }

  /** dw = grad wrt the filter, or dw += it when {@code accumulate}. */
  @Override
  public synchronized void backwardFilter(Conv3dEngine.Plan plan, Pointer x, Pointer dy, Pointer dw, boolean accumulate) {
    Plan p = ready(plan, x, dy, dw);
    Algo a = algo(p, Pass.BACKWARD_FILTER);
    execute(p, Pass.BACKWARD_FILTER, a, (ws, bytes) -> cudnnConvolutionBackwardFilter(cudnn.handle(), cudnn.one, p.xDesc,
        x, p.yDesc, dy, convDesc, a.algo(), ws, bytes, accumulate ? cudnn.one : cudnn.zero, wDesc, dw),
        "cudnnConvolutionBackwardFilter");
  }

  // ---- bias (fp32 data only) ----------------------------------------------------------------------

  private cudnnTensorStruct biasDesc() {
    if (precision == ConvPrecision.BF16)
      throw new ComixException("CudnnConv3d bias: bf16 activations with an fp32 bias are not passed to cuDNN "
          + "(mixed-type cudnnAddTensor/cudnnConvolutionBackwardBias); use the CUDA channel-sum kernel" + this);
    if (biasDesc == null) {
      cudnnTensorStruct b = new cudnnTensorStruct();
      Cudnn.check(cudnnCreateTensorDescriptor(b), "cudnnCreateTensorDescriptor");
      Cudnn.check(cudnnSetTensorNdDescriptor(b, CUDNN_DATA_FLOAT, 5, new int[] {1, cout, 1, 1, 1},
          new int[] {cout, 1, 1, 1, 1}), "cudnnSetTensorNdDescriptor(bias)" + this);
      biasDesc = b;
    }
    return biasDesc;
  }

  /** y[n, c, ...] += bias[c] (fp32 bias; F32 and TF32 precisions only). */
  @Override
  public synchronized void addBias(Conv3dEngine.Plan plan, Pointer biasF32, Pointer y) {
    Plan p = ready(plan, biasF32, y);
    Cudnn.check(cudnnAddTensor(cudnn.handle(), cudnn.one, biasDesc(), biasF32, cudnn.one, p.yDesc, y),
        "cudnnAddTensor(bias)" + this);
  }

  /** db[c] = sum of dy over N, D, H, W (or db += it when {@code accumulate}); F32 and TF32 precisions only. */
  @Override
  public synchronized void backwardBias(Conv3dEngine.Plan plan, Pointer dy, Pointer dbF32, boolean accumulate) {
    Plan p = ready(plan, dy, dbF32);
    Cudnn.check(cudnnConvolutionBackwardBias(cudnn.handle(), cudnn.one, p.yDesc, dy,
        accumulate ? cudnn.one : cudnn.zero, biasDesc(), dbF32), "cudnnConvolutionBackwardBias" + this);
  }

  // ---- reporting ------------------------------------------------------------------------------------

  private static String passName(Pass pass) {
    return switch (pass) {
      case FORWARD -> "ConvolutionForward";
      case BACKWARD_DATA -> "ConvolutionBackwardData";
      case BACKWARD_FILTER -> "ConvolutionBackwardFilter";
    };
  }

  /** cuDNN's name of an algorithm of a pass (e.g. IMPLICIT_PRECOMP_GEMM, ALGO_1). */
  public static String algoName(Pass pass, int algo) {
    String[] names = switch (pass) {
      case FORWARD -> FWD_NAMES;
      case BACKWARD_DATA -> BWD_DATA_NAMES;
      case BACKWARD_FILTER -> BWD_FILTER_NAMES;
    };
    return algo >= 0 && algo < names.length ? names[algo] : "algo" + algo;
  }

  private static String mathName(int m) {
    return switch (m) {
      case CUDNN_DEFAULT_MATH -> "default";
      case CUDNN_TENSOR_OP_MATH -> "tensor-op";
      case CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION -> "tensor-op+conv";
      case CUDNN_FMA_MATH -> "fma";
      default -> "math" + m;
    };
  }

  private String shapeText(Plan p) {
    return Arrays.toString(p.inputShape()) + " -> " + Arrays.toString(p.outputShape());
  }

  /** The chosen algorithms of a plan with their math type, workspace bytes and search time, for logs. */
  @Override
  public synchronized String describe(Conv3dEngine.Plan plan) {
    Plan p = own(plan);
    StringBuilder sb = new StringBuilder();
    sb.append(shapeText(p)).append(' ').append(layout).append(' ').append(precision);
    for (Pass pass : Pass.values()) {
      Algo a = p.algos[pass.ordinal()];
      sb.append("; ").append(pass.name().toLowerCase(Locale.ROOT).replace('_', '-')).append(' ');
      if (a == null) sb.append("(not chosen yet)");
      else {
        sb.append(algoName(pass, a.algo())).append(" (").append(mathName(a.mathType())).append(", ws ")
            .append(a.workspaceBytes()).append(" B");
        if (a.timed()) sb.append(String.format(Locale.ROOT, ", %.3f ms in search", a.ms()));
        else if (a.ms() >= 0) sb.append(String.format(Locale.ROOT, ", %.3f ms in an earlier search (cached)", a.ms()));
        sb.append(')');
      }
    }
    return sb.toString();
  }

  @Override
  public synchronized void close() {
    if (closed) return;
    closed = true;
    for (Plan p : plans.values()) destroy(p);
    plans.clear();
    if (biasDesc != null) cudnnDestroyTensorDescriptor(biasDesc);
    cudnnDestroyFilterDescriptor(wDesc);
    cudnnDestroyConvolutionDescriptor(convDesc);
  }

  @Override
  public String toString() {
    return String.format(Locale.ROOT, " [conv3d %d->%d k%s s%s p%s %s %s]", cin, cout, Arrays.toString(kernel),
        Arrays.toString(stride), Arrays.toString(prePad), layout, precision);
  }
}

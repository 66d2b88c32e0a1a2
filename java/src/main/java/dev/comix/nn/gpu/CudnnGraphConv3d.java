package dev.comix.nn.gpu;

import static org.bytedeco.cuda.global.cudnn.*;

import dev.comix.nn.gpu.CudnnConv3d.Pass;
import dev.comix.runtime.ComixException;
import dev.comix.runtime.CudaAllocator;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Set;
import java.util.Locale;
import java.util.Map;
import org.bytedeco.cuda.cudart.CUevent_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.cudnn.cudnnContext;
import org.bytedeco.cuda.cudnn.cudnnTensorStruct;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * A 3-D convolution through cuDNN's backend ("graph") API, with the same public shape as
 * {@link CudnnConv3d} (the legacy API): one operation graph per pass holding a single
 * CONVOLUTION_FORWARD / BACKWARD_DATA / BACKWARD_FILTER operation, engine configurations from
 * cuDNN's heuristics, and the fastest finalizable execution plan, timed once per plan and pass the
 * way PyTorch's {@code cudnn.benchmark} does.
 *
 * <pre>{@code
 * Conv3dEngine conv = new CudnnGraphConv3d(Cudnn.of(ops), 64, 192, new int[] {3, 3, 3}, new int[] {1, 1, 1},
 *     new int[] {1, 1, 1}, ConvLayout.NDHWC, ConvPrecision.BF16);
 * Conv3dEngine.Plan p = conv.plan(8, 4, 56, 56);     // cached per input shape
 * conv.forward(p, x.data(), w.data(), y.data());     // y: p.outputShape()
 * conv.backwardData(p, dy.data(), w.data(), dx.data());
 * conv.backwardFilter(p, x.data(), dy.data(), dw.data(), true);
 * }</pre>
 *
 * <h2>What is built</h2>
 * Per conv: one CONVOLUTION descriptor (compute type FLOAT, CROSS_CORRELATION, 3 spatial dims,
 * pre/post paddings, filter strides, dilations 1). Per plan, pass, accumulate flag (backward-filter
 * with beta 1 is a different graph from beta 0), on first use: three TENSOR
 * descriptors (x, w, y; dims in N, C, D, H, W order with the layout's strides; unique ids
 * {@link #UID_X}, {@link #UID_W}, {@link #UID_Y}; dx shares x's id and dy y's), the operation
 * (alpha 1, beta 0 or 1), the OPERATIONGRAPH, then engine configurations from ENGINEHEUR mode A
 * (mode B, then FALLBACK, only when no plan of an earlier mode is usable or runs). Each configuration's
 * engine notes are checked against the precision ({@link #rejection}), its EXECUTION_PLAN is
 * finalized (configurations that do not finalize are skipped) and its workspace compared with the
 * limit (min(1 GiB, free / 4), as the legacy search); the first {@link #candidateLimit()} usable
 * plans (default 8) are each run once to warm up and then {@value #TIMED_RUNS} times between CUDA
 * events on scratch buffers (plain cudaMalloc, freed at once), and the fastest is kept.
 * {@code COMIX_CUDNN_FIND=heuristic} (as for the legacy engine) keeps the first usable plan
 * untimed. A timed choice is also written to a file ({@link AlgoCache}: heuristics mode, engine
 * index, knobs; {@code COMIX_CUDNN_GRAPH_CACHE}, default {@code ~/.cache/comix/cudnn-graph-plans.tsv}),
 * and a later process asks that heuristics mode again, finalizes only the configuration with the
 * same engine and knobs and skips the timing ({@link #diskHits}); when that configuration is not
 * offered or not usable any more it searches as usual.
 *
 * <h2>Alignment</h2>
 * A micro-batch slice of a tensor is not always 16-byte aligned (13×229×229×3 bf16 elements per
 * clip is 4,090,398 bytes). Declaring the smaller alignment in the tensor descriptors is not
 * enough: on an H200 with cuDNN 9.14 (2026-11-26) an engine chosen for a 4-byte-aligned fp32
 * graph still faulted with "misaligned address" (a sticky error that ends the CUDA context). So
 * every plan declares 16 bytes, and a call whose pointers are not all 16-byte aligned runs on
 * aligned copies from the caching allocator ({@link #stagedCalls}): inputs copied in, the output
 * (and for an accumulating backward-filter its prior contents) copied back, all on the stream.
 *
 * <p>Bias ({@link #addBias}, {@link #backwardBias}) is not a convolution: it uses the same legacy
 * calls as {@link CudnnConv3d} (cudnnAddTensor, cudnnConvolutionBackwardBias; fp32 data only).
 * Not thread-safe beyond the per-call lock.
 */
public final class CudnnGraphConv3d extends AbstractConv3dEngine {
  /** Unique ids of the three tensors of every operation graph (x or dx, w or dw, y or dy). */
  public static final long UID_X = 1, UID_W = 2, UID_Y = 3;

  static final int MAX_ALIGNMENT = 16;
  static final int TIMED_RUNS = 3;
  private static final int MAX_CONFIGS = 64;

  /**
   * Serializes the finalization of mode-B heuristics descriptors across all convs (and threads):
   * cudnn-frontend guards exactly this call with one process-wide mutex (EngineHeuristicsBuilder_v8,
   * get_heur_b_mutex), as mode B's model is not safe to run concurrently.
   */
  private static final Object HEUR_B_LOCK = new Object();

  /**
   * The execution plan chosen for one pass: cuDNN's engine global index, its knob choices
   * ("k&lt;type&gt;=&lt;value&gt;", "" if unreadable), numerical and behavior notes, workspace bytes, the
   * mean time of the timed runs in the search (ms; -1 when not timed), how many plans were timed,
   * how many configurations were rejected, the byte alignment declared, and the heuristics mode.
   */
  public record Choice(long engine, String knobs, String numericalNotes, String behaviorNotes, long workspaceBytes,
                       float ms, int timed, int rejected, int alignment, String heuristics) {
    /** e.g. "eng28 k2=3 k3=0". */
    public String name() {
      return "eng" + engine + (knobs.isEmpty() ? "" : " " + knobs);
    }
  }

  /** Input shape, output shape and the execution plans chosen so far. Close the conv, not the plan. */
  public static final class Plan extends PlanGeometry {
    private final Map<ExecKey, Exec> execs = new HashMap<>();
    private final Choice[] latest = new Choice[3];
    private cudnnTensorStruct legacyY;

    private Plan(long n, long d, long h, long w, long[] out, ConvLayout layout, int cin, int cout) {
      super(n, d, h, w, out[0], out[1], out[2], layout, cin, cout);
    }

    /** The execution plan most recently chosen for a pass, or null before that pass first ran. */
    public Choice choice(Pass pass) {
      return latest[pass.ordinal()];
    }
  }

  private record Key(long n, long d, long h, long w) {}

  private record ExecKey(Pass pass, boolean accumulate) {}

  /** A finalized execution plan and every descriptor it was built from (destroyed together). */
  private record Exec(BackendDescriptor plan, List<BackendDescriptor> owned, Choice choice) {}

  /** A usable engine configuration with its finalized execution plan. */
  private record Candidate(BackendDescriptor cfg, BackendDescriptor plan, long engine, String knobs, int[] notes,
                           int[] behavior, long workspace) {
    String name() {
      return "eng" + engine + (knobs.isEmpty() ? "" : " " + knobs);
    }
  }

  private final BackendDescriptor convDesc;
  private cudnnTensorStruct biasDesc;
  private final Map<Key, Plan> plans = new HashMap<>();
  private long staged;

  /** The arguments of {@link CudnnConv3d}'s constructor: symmetric padding {@code pad} per (D, H, W). */
  public CudnnGraphConv3d(Cudnn cudnn, int cin, int cout, int[] kernel, int[] stride, int[] pad, ConvLayout layout,
                          ConvPrecision precision) {
    this(cudnn, cin, cout, kernel, stride, pad, pad, layout, precision);
  }

  /**
   * Asymmetric padding: {@code prePad} before and {@code postPad} after each of (D, H, W), which the
   * backend API takes directly (TF-SAME's larger back side needs no padded copy of the input).
   */
  public CudnnGraphConv3d(Cudnn cudnn, int cin, int cout, int[] kernel, int[] stride, int[] prePad, int[] postPad,
                          ConvLayout layout, ConvPrecision precision) {
    super(cudnn, cin, cout, kernel, stride, prePad, postPad, layout, precision);
    BackendDescriptor c = BackendDescriptor.create(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR, toString());
    try {
      c.setEnum(CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, CUDNN_DATA_FLOAT)
          .setEnum(CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, CUDNN_CROSS_CORRELATION)
          .setInt64(CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, 3)
          .setInt64(CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, longs(this.prePad))
          .setInt64(CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, longs(this.postPad))
          .setInt64(CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, longs(this.stride))
          .setInt64(CUDNN_ATTR_CONVOLUTION_DILATIONS, 1, 1, 1)
          .finish();
    } catch (RuntimeException e) {
      c.close();
      throw e;
    }
    this.convDesc = c;
  }

  private static long[] longs(int[] a) {
    long[] l = new long[a.length];
    for (int i = 0; i < a.length; i++) l[i] = a[i];
    return l;
  }

  @Override
  public ConvApi api() {
    return ConvApi.GRAPH;
  }


  /** Padding after each of (D, H, W) (equal to {@link #pad()} unless built with asymmetric padding). */
  public int[] postPad() {
    return postPad.clone();
  }

  /** Calls that ran on 16-byte-aligned copies of their tensors (see the class comment). */
  public synchronized long stagedCalls() {
    return staged;
  }

  private int dataType() {
    return precision == ConvPrecision.BF16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
  }

  // ---- pure helpers (no cuDNN call; tested on the CPU) -------------------------------------------------

  /** Strides of a logical [N, C, D, H, W] tensor (or [Cout, Cin, kD, kH, kW] filter) stored in {@code layout}. */
  static long[] strides(ConvLayout layout, long c, long d, long h, long w) {
    return layout == ConvLayout.NCDHW ? new long[] {c * d * h * w, d * h * w, h * w, w, 1}
        : new long[] {d * h * w * c, 1, h * w * c, w * c, c};
  }

  /** Output size of one spatial dimension (dilation 1), or -1 when the padded input is smaller than the kernel. */
  static long outSize(long in, int pre, int post, int k, int s) {
    long span = in + pre + post - k;
    return span < 0 ? -1 : span / s + 1;
  }

  /** The byte alignment these pointers share: the largest power of two up to 16 dividing every address. */
  static int alignment(Pointer... ptrs) {
    long a = MAX_ALIGNMENT;
    for (Pointer p : ptrs) {
      long addr = BackendDescriptor.effectiveAddress(p);
      a = Math.min(a, addr == 0 ? MAX_ALIGNMENT : Long.lowestOneBit(addr));
    }
    return (int) a;
  }

  /**
   * Why an engine with these numerical notes may not run {@code precision}, or null when it may.
   * Every precision rejects engines that down-convert their inputs (fp32 data to fp16, as PyTorch
   * filters them out too) or reduce in reduced precision (the precisions promise fp32
   * accumulation); F32 also rejects tensor-core engines (with fp32 data the tensor-core note means
   * TF32), which is what makes F32 the FMA reference path.
   */
  static String rejection(ConvPrecision precision, int[] notes) {
    for (int n : notes) {
      if (n == CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS) return "down-converts inputs";
      if (n == CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION) return "reduced-precision reduction";
      if (precision == ConvPrecision.F32 && n == CUDNN_NUMERICAL_NOTE_TENSOR_CORE)
        return "tensor cores (TF32) not allowed for F32";
    }
    return null;
  }

  static String numericalNotes(int[] notes) {
    StringBuilder sb = new StringBuilder();
    for (int n : notes) {
      String s = switch (n) {
        case CUDNN_NUMERICAL_NOTE_TENSOR_CORE -> "tensor-core";
        case CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS -> "down-convert";
        case CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION -> "reduced-reduction";
        case CUDNN_NUMERICAL_NOTE_FFT -> "fft";
        case CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC -> "nondeterministic";
        case CUDNN_NUMERICAL_NOTE_WINOGRAD -> "winograd";
        case CUDNN_NUMERICAL_NOTE_WINOGRAD_TILE_4x4 -> "winograd-4x4";
        case CUDNN_NUMERICAL_NOTE_WINOGRAD_TILE_6x6 -> "winograd-6x6";
        case CUDNN_NUMERICAL_NOTE_WINOGRAD_TILE_13x13 -> "winograd-13x13";
        case CUDNN_NUMERICAL_NOTE_STRICT_NAN_PROP -> "strict-nan";
        default -> "note" + n;
      };
      if (sb.length() > 0) sb.append(',');
      sb.append(s);
    }
    return sb.toString();
  }

  static String behaviorNotes(int[] notes) {
    StringBuilder sb = new StringBuilder();
    for (int n : notes) {
      String s = switch (n) {
        case CUDNN_BEHAVIOR_NOTE_RUNTIME_COMPILATION -> "runtime-compiled";
        case CUDNN_BEHAVIOR_NOTE_SUPPORTS_CUDA_GRAPH_NATIVE_API -> "cuda-graph";
        case CUDNN_BEHAVIOR_NOTE_CUBLASLT_DEPENDENCY -> "cublaslt";
        default -> "behavior" + n;
      };
      if (sb.length() > 0) sb.append(',');
      sb.append(s);
    }
    return sb.toString();
  }

  /** The index of the smallest time in {@code ms} (-1 marks a plan that did not run), or -1 when none ran. */
  static int fastest(float[] ms) {
    int best = -1;
    for (int i = 0; i < ms.length; i++)
      if (ms[i] >= 0 && (best < 0 || ms[i] < ms[best])) best = i;
    return best;
  }

  /** How many finalizable plans a search times: {@code comix.cudnn.graph.candidates} / {@code COMIX_CUDNN_GRAPH_CANDIDATES}, default 8. */
  public static int candidateLimit() {
    String v = System.getProperty("comix.cudnn.graph.candidates");
    if (v == null || v.isBlank()) v = System.getenv("COMIX_CUDNN_GRAPH_CANDIDATES");
    if (v == null || v.isBlank()) return 8;
    try {
      return Math.max(1, Integer.parseInt(v.trim()));
    } catch (NumberFormatException e) {
      throw new ComixException("COMIX_CUDNN_GRAPH_CANDIDATES=" + v + ": expected a positive integer");
    }
  }

  /**
   * Which heuristics lists a timed search for {@code precision} draws from:
   * {@code comix.cudnn.graph.modes} / {@code COMIX_CUDNN_GRAPH_MODES} = {@code first} (modes A, B
   * and fallback in turn, the first whose candidates run; its top {@link #candidateLimit} are timed)
   * or {@code all} (the top candidates of every mode, duplicates dropped, timed together: what
   * PyTorch's benchmark mode does with its heuristics and fallback lists; a longer search, cached
   * on disk like any other). Unset: {@code all} for F32, {@code first} otherwise. For strict fp32
   * the library's first list is led by tensor-core engines that an F32 graph rejects; on an H200
   * (2026-11-26) timing every list (with an 8 GiB workspace cap) took I3D's F32 training step from
   * 196.5 to 134 ms.
   */
  static boolean allHeuristicModes(ConvPrecision precision) {
    String v = System.getProperty("comix.cudnn.graph.modes");
    if (v == null || v.isBlank()) v = System.getenv("COMIX_CUDNN_GRAPH_MODES");
    if (v == null || v.isBlank()) return precision == ConvPrecision.F32;
    String t = v.trim().toLowerCase(Locale.ROOT);
    if (t.equals("first")) return false;
    if (t.equals("all")) return true;
    throw new ComixException("COMIX_CUDNN_GRAPH_MODES=" + v + ": expected first or all");
  }

  /**
   * Whether runtime-compiled engines (behavior note RUNTIME_COMPILATION: NVRTC at finalization,
   * which can take a good fraction of a second per plan) may be candidates:
   * {@code comix.cudnn.graph.rtc} / {@code COMIX_CUDNN_GRAPH_RTC} = 0 or false forbids them;
   * default allowed, as PyTorch does.
   */
  static boolean runtimeCompilationAllowed() {
    String v = System.getProperty("comix.cudnn.graph.rtc");
    if (v == null || v.isBlank()) v = System.getenv("COMIX_CUDNN_GRAPH_RTC");
    if (v == null || v.isBlank()) return true;
    String t = v.trim().toLowerCase(Locale.ROOT);
    return !(t.equals("0") || t.equals("false") || t.equals("no") || t.equals("off"));
  }

  // ---- plans ---------------------------------------------------------------------------------------------

  /** The plan for input [N, C, D, H, W] (in this layout's order); created once per shape and cached. */
  @Override
  public synchronized Plan plan(long n, long d, long h, long w) {
    ensureOpen();
    Key key = new Key(n, d, h, w);
    Plan p = plans.get(key);
    if (p != null) return p;
    if (n <= 0 || d <= 0 || h <= 0 || w <= 0)
      throw new ComixException("CudnnGraphConv3d.plan: sizes must be positive, got N=" + n + " D=" + d + " H=" + h
          + " W=" + w);
    long[] in = {d, h, w};
    long[] out = new long[3];
    for (int i = 0; i < 3; i++) {
      out[i] = outSize(in[i], prePad[i], postPad[i], kernel[i], stride[i]);
      if (out[i] <= 0)
        throw new ComixException("CudnnGraphConv3d.plan: input " + Arrays.toString(in) + " padded by "
            + Arrays.toString(prePad) + "/" + Arrays.toString(postPad) + " is smaller than kernel "
            + Arrays.toString(kernel));
    }
    Math.multiplyExact(Math.multiplyExact(n, cin), Math.multiplyExact(d, Math.multiplyExact(h, w)));
    Math.multiplyExact(Math.multiplyExact(n, cout), out[0] * out[1] * out[2]);
    p = new Plan(n, d, h, w, out, layout, cin, cout);
    plans.put(key, p);
    return p;
  }

  private Plan own(Conv3dEngine.Plan plan) {
    if (!(plan instanceof Plan p) || plans.get(new Key(p.n, p.d, p.h, p.w)) != p)
      throw new ComixException("CudnnGraphConv3d: the plan does not belong to this conv" + this);
    return p;
  }

  private Plan ready(Conv3dEngine.Plan plan, Pointer... ptrs) {
    ensureOpen();
    Plan p = own(plan);
    for (Pointer q : ptrs)
      if (q == null || q.isNull()) throw new ComixException("CudnnGraphConv3d: null device pointer" + this);
    return p;
  }

  private String shapeText(Plan p) {
    return Arrays.toString(p.inputShape()) + " -> " + Arrays.toString(p.outputShape());
  }

  private static String passText(Pass pass, boolean accumulate) {
    return pass.name().toLowerCase(Locale.ROOT).replace('_', '-') + (accumulate ? " (accumulate)" : "");
  }

  /** The execution plan for a pass, searched on first use. */
  private Exec exec(Plan p, Pass pass, boolean accumulate) {
    ExecKey key = new ExecKey(pass, accumulate);
    Exec e = p.execs.get(key);
    if (e == null) {
      searches++;
      e = build(p, pass, accumulate);
      p.execs.put(key, e);
    }
    p.latest[pass.ordinal()] = e.choice();
    return e;
  }

  /** A tensor descriptor declaring {@link #MAX_ALIGNMENT} (run() stages pointers that are not). */
  private BackendDescriptor tensor(long uid, long[] dims, long[] strides, String where) {
    BackendDescriptor t = BackendDescriptor.create(CUDNN_BACKEND_TENSOR_DESCRIPTOR, where);
    try {
      return t.setEnum(CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, dataType())
          .setInt64(CUDNN_ATTR_TENSOR_DIMENSIONS, dims)
          .setInt64(CUDNN_ATTR_TENSOR_STRIDES, strides)
          .setInt64(CUDNN_ATTR_TENSOR_UNIQUE_ID, uid)
          .setInt64(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, MAX_ALIGNMENT)
          .finish();
    } catch (RuntimeException e) {
      t.close();
      throw e;
    }
  }

  private Exec build(Plan p, Pass pass, boolean accumulate) {
    String where = " for " + passText(pass, accumulate) + this + " at " + shapeText(p);
    cudnnContext handle = cudnn.handle();
    List<BackendDescriptor> owned = new ArrayList<>();
    boolean ok = false;
    try {
      BackendDescriptor x = tensor(UID_X, new long[] {p.n, cin, p.d, p.h, p.w}, strides(layout, cin, p.d, p.h, p.w),
          where);
      owned.add(x);
      BackendDescriptor w = tensor(UID_W, new long[] {cout, cin, kernel[0], kernel[1], kernel[2]},
          strides(layout, cin, kernel[0], kernel[1], kernel[2]), where);
      owned.add(w);
      BackendDescriptor y = tensor(UID_Y, new long[] {p.n, cout, p.od, p.oh, p.ow},
          strides(layout, cout, p.od, p.oh, p.ow), where);
      owned.add(y);
      BackendDescriptor op = operation(pass, accumulate, x, w, y, where);
      owned.add(op);
      BackendDescriptor graph = BackendDescriptor.create(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, where);
      owned.add(graph);
      graph.setHandle(CUDNN_ATTR_OPERATIONGRAPH_HANDLE, handle)
          .setDescriptors(CUDNN_ATTR_OPERATIONGRAPH_OPS, op)
          .finish();
      Exec e = select(p, pass, accumulate, graph, handle, owned, where);
      ok = true;
      return e;
    } finally {
      if (!ok) BackendDescriptor.closeAll(owned);
    }
  }

  private BackendDescriptor operation(Pass pass, boolean accumulate, BackendDescriptor x, BackendDescriptor w,
                                      BackendDescriptor y, String where) {
    int type, ax, aw, ay, conv, alpha, beta;
    switch (pass) {
      case FORWARD -> {
        type = CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR;
        ax = CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X;
        aw = CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W;
        ay = CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y;
        conv = CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC;
        alpha = CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA;
        beta = CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA;
      }
      case BACKWARD_DATA -> {
        type = CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR;
        ax = CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX;
        aw = CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W;
        ay = CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY;
        conv = CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC;
        alpha = CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_ALPHA;
        beta = CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_BETA;
      }
      case BACKWARD_FILTER -> {
        type = CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR;
        ax = CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_X;
        aw = CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DW;
        ay = CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DY;
        conv = CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_CONV_DESC;
        alpha = CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_ALPHA;
        beta = CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_BETA;
      }
      default -> throw new IllegalStateException(pass.toString());
    }
    BackendDescriptor op = BackendDescriptor.create(type, where);
    try {
      return op.setDescriptors(ax, x)
          .setDescriptors(aw, w)
          .setDescriptors(ay, y)
          .setDescriptors(conv, convDesc)
          .setFloat(alpha, 1f)
          .setFloat(beta, accumulate ? 1f : 0f)
          .finish();
    } catch (RuntimeException e) {
      op.close();
      throw e;
    }
  }

  // ---- engine choice -----------------------------------------------------------------------------------

  private static String heurName(int mode) {
    return switch (mode) {
      case CUDNN_HEUR_MODE_A -> "A";
      case CUDNN_HEUR_MODE_B -> "B";
      case CUDNN_HEUR_MODE_FALLBACK -> "FALLBACK";
      case CUDNN_HEUR_MODE_INSTANT -> "INSTANT";
      default -> "mode" + mode;
    };
  }

  /** The engine configurations heuristics mode {@code mode} proposes, best first (the caller closes them). */
  private static List<BackendDescriptor> heuristics(BackendDescriptor graph, int mode, String where) {
    String w = where + ", heuristics mode " + heurName(mode);
    List<BackendDescriptor> cfgs = new ArrayList<>();
    try (BackendDescriptor heur = BackendDescriptor.create(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, w)) {
      heur.setDescriptors(CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, graph)
          .setEnum(CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, mode);
      if (mode == CUDNN_HEUR_MODE_B) {
        synchronized (HEUR_B_LOCK) {
          heur.finish();
        }
      } else {
        heur.finish();
      }
      int n = (int) Math.min(MAX_CONFIGS, heur.countDescriptors(CUDNN_ATTR_ENGINEHEUR_RESULTS));
      for (int i = 0; i < n; i++) cfgs.add(BackendDescriptor.create(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, w));
      int got = n == 0 ? 0 : heur.getDescriptors(CUDNN_ATTR_ENGINEHEUR_RESULTS, cfgs.toArray(new BackendDescriptor[0]));
      while (cfgs.size() > got) cfgs.remove(cfgs.size() - 1).close();
      return cfgs;
    } catch (RuntimeException e) {
      BackendDescriptor.closeAll(cfgs);
      throw e;
    }
  }

  /** The global index of a configuration's engine, or -1 when it cannot be read. */
  private static long engineIndex(BackendDescriptor cfg, String where) {
    try (BackendDescriptor e = BackendDescriptor.create(CUDNN_BACKEND_ENGINE_DESCRIPTOR, where)) {
      cfg.getDescriptors(CUDNN_ATTR_ENGINECFG_ENGINE, e);
      return e.getInt64(CUDNN_ATTR_ENGINE_GLOBAL_INDEX);
    } catch (ComixException ex) {
      return -1;
    }
  }

  /**
   * The persistent cache's key of a plan's pass: GPU, cuDNN version, this conv (geometry, layout,
   * precision), shape, pass, accumulate, and the search settings that change its
   * outcome (candidates timed, runtime compilation allowed).
   */
  private String cacheKey(Plan p, Pass pass, boolean accumulate) {
    return cudnn.ops().describe() + " | cuDNN " + Cudnn.version() + " | graph" + this + " | " + shapeText(p) + " | "
        + passText(pass, accumulate) + " | candidates " + candidateLimit() + " | rtc "
        + runtimeCompilationAllowed() + CudnnConv3d.workspaceKey(precision) + (allHeuristicModes(precision) ? " | modes all" : "");
  }

  /** What {@link #knobs} gives when a configuration's knobs cannot be read (never cached or matched). */
  private static final String UNREADABLE_KNOBS = "knobs?";

  /** "k&lt;type&gt;=&lt;value&gt; …" of an engine configuration's knob choices ("" for none), {@link #UNREADABLE_KNOBS} when they cannot be read. */
  private static String knobs(BackendDescriptor cfg, String where) {
    List<BackendDescriptor> ks = new ArrayList<>();
    try {
      for (int i = 0; i < CUDNN_KNOB_TYPE_COUNTS; i++)
        ks.add(BackendDescriptor.create(CUDNN_BACKEND_KNOB_CHOICE_DESCRIPTOR, where));
      int n = cfg.getDescriptors(CUDNN_ATTR_ENGINECFG_KNOB_CHOICES, ks.toArray(new BackendDescriptor[0]));
      StringBuilder sb = new StringBuilder();
      for (int i = 0; i < n; i++) {
        int[] type = ks.get(i).getEnums(CUDNN_ATTR_KNOB_CHOICE_KNOB_TYPE, CUDNN_TYPE_KNOB_TYPE, 1);
        long value = ks.get(i).getInt64(CUDNN_ATTR_KNOB_CHOICE_KNOB_VALUE);
        if (sb.length() > 0) sb.append(' ');
        sb.append('k').append(type.length > 0 ? type[0] : -1).append('=').append(value);
      }
      return sb.toString();
    } catch (ComixException e) {
      return UNREADABLE_KNOBS;
    } finally {
      BackendDescriptor.closeAll(ks);
    }
  }

  /** The configuration as a finalized plan when the precision allows it and its workspace fits, else null (reason added). */
  private Candidate candidate(BackendDescriptor cfg, cudnnContext handle, long limit, List<String> rejected,
                              String where) {
    long engine = -1;
    int[] notes, behavior = new int[0];
    try (BackendDescriptor e = BackendDescriptor.create(CUDNN_BACKEND_ENGINE_DESCRIPTOR, where)) {
      cfg.getDescriptors(CUDNN_ATTR_ENGINECFG_ENGINE, e);
      engine = e.getInt64(CUDNN_ATTR_ENGINE_GLOBAL_INDEX);
      notes = e.getEnums(CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE, CUDNN_NUMERICAL_NOTE_TYPE_COUNT);
      try {
        behavior = e.getEnums(CUDNN_ATTR_ENGINE_BEHAVIOR_NOTE, CUDNN_TYPE_BEHAVIOR_NOTE, CUDNN_BEHAVIOR_NOTE_TYPE_COUNT);
      } catch (ComixException ignored) { // informational only
      }
    } catch (ComixException ex) {
      rejected.add("eng" + engine + ": notes unreadable (" + ex.getMessage() + ")");
      return null;
    }
    String why = rejection(precision, notes);
    if (why == null && !runtimeCompilationAllowed())
      for (int b : behavior)
        if (b == CUDNN_BEHAVIOR_NOTE_RUNTIME_COMPILATION) why = "runtime-compiled (COMIX_CUDNN_GRAPH_RTC=0)";
    if (why != null) {
      rejected.add("eng" + engine + " [" + numericalNotes(notes) + "]: " + why);
      return null;
    }
    BackendDescriptor plan = BackendDescriptor.create(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, where);
    try {
      plan.setHandle(CUDNN_ATTR_EXECUTION_PLAN_HANDLE, handle)
          .setDescriptors(CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, cfg);
      int st = plan.tryFinish();
      if (st != CUDNN_STATUS_SUCCESS) {
        rejected.add("eng" + engine + ": not finalizable (" + statusText(st) + ")");
        plan.close();
        return null;
      }
      long ws = plan.getInt64(CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE);
      if (ws > limit) {
        rejected.add("eng" + engine + ": workspace " + ws + " B over the limit " + limit + " B");
        plan.close();
        return null;
      }
      return new Candidate(cfg, plan, engine, knobs(cfg, where), notes, behavior, ws);
    } catch (RuntimeException e) {
      plan.close();
      throw e;
    }
  }

  /**
   * Heuristics, filtering, finalization and timing for one operation graph. On return the chosen
   * plan and its configuration are in {@code owned}; every other descriptor made here is destroyed.
   */
  private Exec select(Plan p, Pass pass, boolean accumulate, BackendDescriptor graph, cudnnContext handle,
                      List<BackendDescriptor> owned, String where) {
    boolean heuristic = CudnnConv3d.heuristicMode();
    int want = heuristic ? 1 : candidateLimit();
    long limit = CudnnConv3d.workspaceLimit(precision);
    List<String> rejected = new ArrayList<>();
    List<Candidate> cands = new ArrayList<>(); // every finalized plan, for the cleanup below
    List<BackendDescriptor> configs = new ArrayList<>();
    String cacheKey = heuristic ? null : cacheKey(p, pass, accumulate);
    try {
      AlgoCache.GraphEntry hit = cacheKey == null ? null : AlgoCache.getGraph(cacheKey);
      boolean keepCached = false; // the cached choice is still the right one, only not usable now
      if (hit != null) {
        // the engine a timed search chose in an earlier process: ask the same heuristics mode,
        // take the configuration with the same engine and knobs, finalize that one only, and run
        // it once on scratch tensors (as the search would) before trusting it
        List<BackendDescriptor> cfgs;
        try {
          cfgs = heuristics(graph, hit.heurMode(), where);
        } catch (ComixException e) {
          cfgs = List.of();
        }
        configs.addAll(cfgs);
        for (BackendDescriptor cfg : cfgs) {
          if (engineIndex(cfg, where) != hit.engine() || !knobs(cfg, where).equals(hit.knobs())) continue;
          int before = rejected.size();
          Candidate c = candidate(cfg, handle, limit, rejected, where);
          if (c == null) {
            // over today's workspace limit (free memory): search now, but keep the cached choice
            keepCached = rejected.size() > before && rejected.get(before).contains("over the limit");
            break;
          }
          cands.add(c);
          float[] ms = {-1f};
          time(p, List.of(c), ms, rejected, where);
          if (ms[0] < 0) break; // it does not run here any more: search
          owned.add(c.cfg());
          owned.add(c.plan());
          diskHits++;
          Choice choice = new Choice(c.engine(), c.knobs(), numericalNotes(c.notes()), behaviorNotes(c.behavior()),
              c.workspace(), ms[0], 0, rejected.size(), MAX_ALIGNMENT, heurName(hit.heurMode()) + " (cached)");
          return new Exec(c.plan(), owned, choice);
        }
        rejected.clear();
      }
      if (!heuristic && allHeuristicModes(precision)) {
        List<Candidate> all = new ArrayList<>();
        List<Integer> modeOf = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (int mode : new int[] {CUDNN_HEUR_MODE_A, CUDNN_HEUR_MODE_B, CUDNN_HEUR_MODE_FALLBACK}) {
          List<BackendDescriptor> cfgs = listed(graph, mode, where, configs, rejected);
          if (cfgs == null) continue;
          int mine = 0;
          for (BackendDescriptor cfg : cfgs) {
            if (mine >= want) break;
            long eng = engineIndex(cfg, where);
            String kn = knobs(cfg, where);
            // listed by an earlier mode (only when both are readable: unreadable ones are kept apart)
            if (eng >= 0 && !kn.equals(UNREADABLE_KNOBS) && !seen.add(eng + " " + kn)) continue;
            Candidate c = candidate(cfg, handle, limit, rejected, where);
            if (c != null) {
              all.add(c);
              cands.add(c);
              modeOf.add(mode);
              mine++;
            }
          }
        }
        if (!all.isEmpty()) {
          float[] ms = new float[all.size()];
          Arrays.fill(ms, -1f);
          int timed = time(p, all, ms, rejected, where);
          int best = fastest(ms);
          if (best >= 0) {
            Candidate b = all.get(best);
            int mode = modeOf.get(best);
            owned.add(b.cfg());
            owned.add(b.plan());
            Choice choice = new Choice(b.engine(), b.knobs(), numericalNotes(b.notes()), behaviorNotes(b.behavior()),
                b.workspace(), ms[best], timed, rejected.size(), MAX_ALIGNMENT, heurName(mode) + " (of all modes)");
            if (cacheKey != null && timed > 0 && !keepCached && !b.knobs().equals(UNREADABLE_KNOBS))
              AlgoCache.putGraph(cacheKey, new AlgoCache.GraphEntry(mode, b.engine(), b.knobs(), ms[best]));
            return new Exec(b.plan(), owned, choice);
          }
        }
      }
      for (int mode : !heuristic && allHeuristicModes(precision) ? new int[0]
          : new int[] {CUDNN_HEUR_MODE_A, CUDNN_HEUR_MODE_B, CUDNN_HEUR_MODE_FALLBACK}) {
        List<BackendDescriptor> cfgs = listed(graph, mode, where, configs, rejected);
        if (cfgs == null) continue;
        List<Candidate> mine = new ArrayList<>();
        for (BackendDescriptor cfg : cfgs) {
          if (mine.size() >= want) break;
          Candidate c = candidate(cfg, handle, limit, rejected, where);
          if (c != null) {
            mine.add(c);
            cands.add(c);
          }
        }
        if (mine.isEmpty()) continue;
        float[] ms = new float[mine.size()];
        Arrays.fill(ms, -1f);
        int timed = heuristic ? 0 : time(p, mine, ms, rejected, where);
        int best = heuristic ? 0 : fastest(ms);
        if (best < 0) continue; // none of this mode's plans ran: try the next mode's
        Candidate b = mine.get(best);
        owned.add(b.cfg());
        owned.add(b.plan());
        Choice choice = new Choice(b.engine(), b.knobs(), numericalNotes(b.notes()), behaviorNotes(b.behavior()),
            b.workspace(), ms[best], timed, rejected.size(), MAX_ALIGNMENT, heurName(mode));
        if (cacheKey != null && timed > 0 && !keepCached && !b.knobs().equals(UNREADABLE_KNOBS))
          AlgoCache.putGraph(cacheKey, new AlgoCache.GraphEntry(mode, b.engine(), b.knobs(), ms[best]));
        return new Exec(b.plan(), owned, choice);
      }
      throw new ComixException((cands.isEmpty() ? "no usable cuDNN graph engine" : "no cuDNN graph engine ran")
          + where + " (workspace limit " + limit + " B; "
          + (rejected.isEmpty() ? "no candidates" : String.join("; ", rejected)) + ")");
    } finally {
      // everything but the chosen plan and its configuration
      for (Candidate c : cands) if (!owned.contains(c.plan())) c.plan().close();
      for (BackendDescriptor cfg : configs) if (!owned.contains(cfg)) cfg.close();
    }
  }

  /**
   * A heuristics mode's engine configurations, added to {@code configs} (destroyed by the caller
   * unless chosen); null, with the reason in {@code rejected}, when the mode cannot be asked.
   */
  private List<BackendDescriptor> listed(BackendDescriptor graph, int mode, String where, List<BackendDescriptor> configs,
                                         List<String> rejected) {
    List<BackendDescriptor> cfgs;
    try {
      cfgs = heuristics(graph, mode, where);
    } catch (ComixException e) {
      rejected.add("heuristics " + heurName(mode) + ": " + e.getMessage());
      return null;
    }
    configs.addAll(cfgs);
    if (cfgs.isEmpty()) rejected.add("heuristics " + heurName(mode) + ": no engine configurations");
    return cfgs;
  }

  /** cuDNN's name for a status plus its last-error text (read and cleared here, so it cannot leak into a later message). */
  private static String statusText(int st) {
    String detail = Cudnn.lastErrorDetail();
    return cudnnGetErrorString(st).getString() + (detail.isEmpty() ? "" : ": " + detail);
  }

  private static Pointer cudaMalloc(long bytes, List<Pointer> keep, String where) {
    Pointer t = new Pointer();
    int st = cudart.cudaMalloc(t, Math.max(bytes, 1));
    if (st != 0) {
      cudart.cudaGetLastError();
      throw new ComixException("cuDNN graph engine search: could not allocate " + bytes + " scratch bytes ("
          + cudart.cudaGetErrorString(st).getString() + ")" + where);
    }
    keep.add(t);
    cudaCheck(cudart.cudaMemset(t, 0, Math.max(bytes, 1)), "cudaMemset(scratch)" + where);
    return t;
  }

  /** A CUDA runtime status check for the search, with the runtime's own text. */
  private static void cudaCheck(int st, String what) {
    if (st == 0) return;
    cudart.cudaGetLastError();
    throw new ComixException(what + " failed: " + cudart.cudaGetErrorString(st).getString() + " (" + st + ")");
  }

  /**
   * Runs every candidate once (warm-up; a failure rejects it), then {@value #TIMED_RUNS} times
   * between two CUDA events, on zeroed scratch tensors and one scratch workspace; fills {@code ms}
   * with the mean (-1 where it failed) and returns how many were timed.
   */
  private int time(Plan p, List<Candidate> cands, float[] ms, List<String> rejected, String where) {
    long es = precision.elementSize();
    long xBytes = p.n * cin * p.d * p.h * p.w * es;
    long yBytes = p.n * cout * p.od * p.oh * p.ow * es;
    long wBytes = (long) cout * cin * kernel[0] * kernel[1] * kernel[2] * es;
    long wsMax = 0;
    for (Candidate c : cands) wsMax = Math.max(wsMax, c.workspace());
    List<Pointer> scratch = new ArrayList<>();
    CUevent_st start = new CUevent_st(), stop = new CUevent_st();
    boolean haveStart = false, haveStop = false;
    int timed = 0;
    cudnnContext handle = cudnn.handle();
    CUstream_st stream = new CUstream_st(cudnn.ops().stream());
    try {
      cudnn.ops().synchronize();
      Pointer x = cudaMalloc(xBytes, scratch, where), w = cudaMalloc(wBytes, scratch, where),
          y = cudaMalloc(yBytes, scratch, where);
      Pointer ws = new Pointer();
      long wsBytes = 0;
      if (wsMax > 0) {
        Pointer t = new Pointer();
        if (cudart.cudaMalloc(t, wsMax) == 0) {
          scratch.add(t);
          ws = t;
          wsBytes = wsMax;
        } else {
          cudart.cudaGetLastError(); // candidates needing a workspace are skipped below
        }
      }
      cudaCheck(cudart.cudaEventCreate(start), "cudaEventCreate" + where);
      haveStart = true;
      cudaCheck(cudart.cudaEventCreate(stop), "cudaEventCreate" + where);
      haveStop = true;
      try (BackendDescriptor pack = variantPack(x, w, y, ws, where); FloatPointer elapsed = new FloatPointer(1)) {
        for (int i = 0; i < cands.size(); i++) {
          Candidate c = cands.get(i);
          if (c.workspace() > wsBytes) {
            rejected.add(c.name() + ": its " + c.workspace() + " B scratch workspace could not be allocated");
            continue;
          }
          int st = cudnnBackendExecute(handle, c.plan().d, pack.d);
          if (st != CUDNN_STATUS_SUCCESS) {
            rejected.add(c.name() + ": cudnnBackendExecute failed in the search (" + statusText(st) + ")");
            continue;
          }
          cudaCheck(cudart.cudaEventRecord(start, stream), "cudaEventRecord" + where);
          for (int r = 0; r < TIMED_RUNS; r++)
            Cudnn.check(cudnnBackendExecute(handle, c.plan().d, pack.d), "cudnnBackendExecute(" + c.name() + ", timing)"
                + where);
          cudaCheck(cudart.cudaEventRecord(stop, stream), "cudaEventRecord" + where);
          cudaCheck(cudart.cudaEventSynchronize(stop), "cudaEventSynchronize (a candidate engine failed on the "
              + "device: " + c.name() + ")" + where);
          cudaCheck(cudart.cudaEventElapsedTime(elapsed, start, stop), "cudaEventElapsedTime" + where);
          ms[i] = elapsed.get() / TIMED_RUNS;
          timed++;
        }
      }
      cudnn.ops().synchronize();
    } finally {
      if (haveStart) cudart.cudaEventDestroy(start);
      if (haveStop) cudart.cudaEventDestroy(stop);
      for (Pointer s : scratch) cudart.cudaFree(s);
    }
    return timed;
  }

  private static BackendDescriptor variantPack(Pointer x, Pointer w, Pointer y, Pointer workspace, String where) {
    BackendDescriptor pack = BackendDescriptor.create(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, where);
    try {
      return pack.setInt64(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, UID_X, UID_W, UID_Y)
          .setPointers(CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, x, w, y)
          .setPointers(CUDNN_ATTR_VARIANT_PACK_WORKSPACE, workspace)
          .finish();
    } catch (RuntimeException e) {
      pack.close();
      throw e;
    }
  }

  // ---- passes ------------------------------------------------------------------------------------------

  /** Runs a pass with the tensors bound to their unique ids: x (or dx), w (or dw), y (or dy). */
  private void run(Plan p, Pass pass, boolean accumulate, Pointer x, Pointer w, Pointer y) {
    int align = alignment(x, w, y);
    if (align < precision.elementSize())
      throw new ComixException("CudnnGraphConv3d: a device pointer is not aligned to its " + precision.elementSize()
          + "-byte elements" + this);
    if (align < MAX_ALIGNMENT) {
      runStaged(p, pass, accumulate, x, w, y);
      return;
    }
    Exec e = exec(p, pass, accumulate);
    long bytes = e.choice().workspaceBytes();
    CudaAllocator alloc = cudnn.ops().allocator();
    Pointer ws = bytes > 0 ? alloc.allocate(bytes) : new Pointer();
    String where = " for " + passText(pass, accumulate) + " (" + e.choice().name() + ")" + this + " at "
        + shapeText(p);
    try (BackendDescriptor pack = variantPack(x, w, y, ws, where)) {
      Cudnn.check(cudnnBackendExecute(cudnn.handle(), e.plan().d, pack.d), "cudnnBackendExecute" + where);
    } finally {
      // stream order makes the reuse safe: the allocator hands blocks out again only on this stream
      if (bytes > 0) alloc.release(ws, bytes);
    }
  }

  /**
   * {@link #run} on 16-byte-aligned copies of whichever of x, w, y is not aligned: the pass's
   * inputs (and an accumulating output) are copied in, its output copied back.
   */
  private void runStaged(Plan p, Pass pass, boolean accumulate, Pointer x, Pointer w, Pointer y) {
    staged++;
    long es = precision.elementSize();
    long[] bytes = {p.n * cin * p.d * p.h * p.w * es, (long) cout * cin * kernel[0] * kernel[1] * kernel[2] * es,
        p.n * cout * p.od * p.oh * p.ow * es};
    Pointer[] ptr = {x, w, y};
    int out = switch (pass) {
      case FORWARD -> 2;
      case BACKWARD_DATA -> 0;
      case BACKWARD_FILTER -> 1;
    };
    CudaAllocator alloc = cudnn.ops().allocator();
    CUstream_st stream = new CUstream_st(cudnn.ops().stream());
    Pointer[] use = ptr.clone();
    try {
      for (int i = 0; i < 3; i++) {
        if (alignment(ptr[i]) >= MAX_ALIGNMENT) continue;
        use[i] = alloc.allocate(bytes[i]);
        if (i != out || accumulate)
          cudaCheck(cudart.cudaMemcpyAsync(use[i], ptr[i], bytes[i], cudart.cudaMemcpyDeviceToDevice, stream),
              "cudaMemcpyAsync(aligned copy in)" + this);
      }
      run(p, pass, accumulate, use[0], use[1], use[2]);
      if (use[out] != ptr[out])
        cudaCheck(cudart.cudaMemcpyAsync(ptr[out], use[out], bytes[out], cudart.cudaMemcpyDeviceToDevice, stream),
            "cudaMemcpyAsync(aligned copy out)" + this);
    } finally {
      for (int i = 0; i < 3; i++) if (use[i] != ptr[i]) alloc.release(use[i], bytes[i]);
    }
  }

  @Override
  public synchronized void forward(Conv3dEngine.Plan plan, Pointer x, Pointer w, Pointer y) {
    Plan p = ready(plan, x, w, y);
    run(p, Pass.FORWARD, false, x, w, y);
  }

  @Override
  public synchronized void backwardData(Conv3dEngine.Plan plan, Pointer dy, Pointer w, Pointer dx) {
    Plan p = ready(plan, dy, w, dx);
    run(p, Pass.BACKWARD_DATA, false, dx, w, dy);
  }

  @Override
  public synchronized void backwardFilter(Conv3dEngine.Plan plan, Pointer x, Pointer dy, Pointer dw,
                                          boolean accumulate) {
    Plan p = ready(plan, x, dy, dw);
    run(p, Pass.BACKWARD_FILTER, accumulate, x, dw, dy);
  }

  // ---- bias (fp32 data only; legacy calls, as CudnnConv3d) --------------------------------------------

  private cudnnTensorStruct biasDesc() {
    if (precision == ConvPrecision.BF16)
      throw new ComixException("CudnnGraphConv3d bias: bf16 activations with an fp32 bias are not passed to cuDNN "
          + "(mixed-type cudnnAddTensor/cudnnConvolutionBackwardBias); use the CUDA channel-sum kernel" + this);
    if (biasDesc == null) {
      cudnnTensorStruct b = new cudnnTensorStruct();
      Cudnn.check(cudnnCreateTensorDescriptor(b), "cudnnCreateTensorDescriptor(bias)" + this);
      try {
        Cudnn.check(cudnnSetTensorNdDescriptor(b, CUDNN_DATA_FLOAT, 5, new int[] {1, cout, 1, 1, 1},
            new int[] {cout, 1, 1, 1, 1}), "cudnnSetTensorNdDescriptor(bias)" + this);
      } catch (RuntimeException e) {
        cudnnDestroyTensorDescriptor(b);
        throw e;
      }
      biasDesc = b;
    }
    return biasDesc;
  }

  /** The legacy descriptor of the plan's y, for the bias calls. */
  private cudnnTensorStruct legacyY(Plan p) {
    if (p.legacyY == null) {
      long elements = p.n * cout * p.od * p.oh * p.ow;
      if (elements > Integer.MAX_VALUE)
        throw new ComixException("CudnnGraphConv3d bias: " + elements + " output elements exceed cuDNN's int range"
            + this);
      int[] dims = {(int) p.n, cout, (int) p.od, (int) p.oh, (int) p.ow};
      long[] s = strides(layout, cout, p.od, p.oh, p.ow);
      int[] strides = {(int) s[0], (int) s[1], (int) s[2], (int) s[3], (int) s[4]};
      cudnnTensorStruct t = new cudnnTensorStruct();
      Cudnn.check(cudnnCreateTensorDescriptor(t), "cudnnCreateTensorDescriptor(y)" + this);
      try {
        Cudnn.check(cudnnSetTensorNdDescriptor(t, dataType(), 5, dims, strides),
            "cudnnSetTensorNdDescriptor(y " + Arrays.toString(dims) + ")" + this);
      } catch (RuntimeException e) {
        cudnnDestroyTensorDescriptor(t);
        throw e;
      }
      p.legacyY = t;
    }
    return p.legacyY;
  }

  @Override
  public synchronized void addBias(Conv3dEngine.Plan plan, Pointer biasF32, Pointer y) {
    Plan p = ready(plan, biasF32, y);
    cudnnTensorStruct b = biasDesc();
    Cudnn.check(cudnnAddTensor(cudnn.handle(), cudnn.one, b, biasF32, cudnn.one, legacyY(p), y),
        "cudnnAddTensor(bias)" + this);
  }

  @Override
  public synchronized void backwardBias(Conv3dEngine.Plan plan, Pointer dy, Pointer dbF32, boolean accumulate) {
    Plan p = ready(plan, dy, dbF32);
    cudnnTensorStruct b = biasDesc();
    Cudnn.check(cudnnConvolutionBackwardBias(cudnn.handle(), cudnn.one, legacyY(p), dy,
        accumulate ? cudnn.one : cudnn.zero, b, dbF32), "cudnnConvolutionBackwardBias" + this);
  }

  // ---- reporting ---------------------------------------------------------------------------------------

  /** The execution plans last chosen per pass: engine, knobs, notes, workspace, search time. */
  @Override
  public synchronized String describe(Conv3dEngine.Plan plan) {
    Plan p = own(plan);
    StringBuilder sb = new StringBuilder();
    sb.append(shapeText(p)).append(' ').append(layout).append(' ').append(precision).append(" graph");
    for (Pass pass : Pass.values()) {
      Choice c = p.latest[pass.ordinal()];
      sb.append("; ").append(passText(pass, false)).append(' ');
      if (c == null) sb.append("(not chosen yet)");
      else {
        sb.append(c.name()).append(" (").append(c.numericalNotes().isEmpty() ? "no notes" : c.numericalNotes());
        if (!c.behaviorNotes().isEmpty()) sb.append(", ").append(c.behaviorNotes());
        sb.append(", ws ").append(c.workspaceBytes()).append(" B");
        if (c.ms() >= 0)
          sb.append(String.format(Locale.ROOT, ", %.3f ms", c.ms())).append(c.timed() > 0 ? ", fastest of " + c.timed() : "");
        sb.append(", heur ").append(c.heuristics());
        sb.append(')');
      }
    }
    return sb.toString();
  }

  @Override
  public synchronized void close() {
    if (closed) return;
    closed = true;
    for (Plan p : plans.values()) {
      for (Exec e : p.execs.values()) BackendDescriptor.closeAll(e.owned());
      p.execs.clear();
      if (p.legacyY != null) cudnnDestroyTensorDescriptor(p.legacyY);
    }
    plans.clear();
    if (biasDesc != null) cudnnDestroyTensorDescriptor(biasDesc);
    convDesc.close();
  }

  @Override
  public String toString() {
    String pads = Arrays.equals(prePad, postPad) ? Arrays.toString(prePad)
        : Arrays.toString(prePad) + "/" + Arrays.toString(postPad);
    return String.format(Locale.ROOT, " [graph conv3d %d->%d k%s s%s p%s %s %s]", cin, cout, Arrays.toString(kernel),
        Arrays.toString(stride), pads, layout, precision);
  }
}

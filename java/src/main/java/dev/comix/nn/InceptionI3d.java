package dev.comix.nn;

import dev.comix.io.StateDict;
import dev.comix.io.StateDicts;
import dev.comix.jni.ComixCuda;
import dev.comix.nn.gpu.GpuContext;
import dev.comix.runtime.ComixException;
import dev.comix.runtime.DType;
import dev.comix.runtime.Tensor;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * The I3D RGB backbone as CoMix uses it (COMIX-SPEC §1.1; piergiaj/pytorch-i3d's InceptionI3d):
 * Conv3d_1a_7x7 … Mixed_5c, then the final average pool, returning the pooled <b>features</b>
 * [N, 1024·width] (the logits unit is held so that state dicts load and save 1:1, but never run).
 *
 * <p>Input [N, T, H, W, 3] NDHWC F32 (values in [−1, 1]); shapes are dynamic. For 8×224×224 the
 * blocks give (T, H, W, C) = 4×112×112×64, 4×56×56×64, 4×56×56×64, 4×56×56×192, 4×28×28×192,
 * 256, 480, 2×14×14×480, 512, 512, 512, 528, 832, 1×7×7×832, 832, 1×7×7×1024 (see
 * {@link #ENDPOINTS}).
 *
 * <p><b>Final pool.</b> The original is nn.AvgPool3d(kernel (1, 7, 7), stride 1), valid, and its
 * output [N, 1024, T', 1, 1] is squeezed (T' = 1 for 8 frames). Here the kernel is
 * (1, min(7, H'), min(7, W')) over the Mixed_5c map (H', W' = ceil(H/32), ceil(W/32)), stride 1,
 * valid, and the result is then averaged over every remaining (T', H'', W'') position. At 224² (and
 * any input with H' = W' = 7) this is exactly the original; for smaller inputs (H' &lt; 7, where the
 * original fails) it pools the whole remaining H'×W'; for larger ones it averages the original's
 * (H'−6)×(W'−6) pooled map, and for T' &gt; 1 (more than 8 frames) it averages over T' as well.
 *
 * <p><b>Width.</b> {@code widthMultiplier} scales every channel count c of the backbone to
 * max(1, floor(c·w + 0.5)) (e.g. 1/16 for CPU tests; 1.0 is the real model); the logits unit
 * keeps 400 outputs. Input channels of each block are the previous block's actual output.
 *
 * <p><b>Weights.</b> PyTorch names ({@code Conv3d_1a_7x7.conv3d.weight},
 * {@code Mixed_3b.b1a.bn.running_mean}, {@code logits.conv3d.weight/bias}, …), see
 * {@link #expectedShapes()}. {@code *.num_batches_tracked} entries (present in state dicts of
 * recent PyTorch versions) are accepted and ignored on load, and not written by
 * {@link #stateDict()}.
 */
public final class InceptionI3d implements Layer {
  /** The blocks in order, pytorch-i3d's VALID_ENDPOINTS up to Mixed_5c. */
  public static final List<String> ENDPOINTS = List.of("Conv3d_1a_7x7", "MaxPool3d_2a_3x3", "Conv3d_2b_1x1",
      "Conv3d_2c_3x3", "MaxPool3d_3a_3x3", "Mixed_3b", "Mixed_3c", "MaxPool3d_4a_3x3", "Mixed_4b", "Mixed_4c",
      "Mixed_4d", "Mixed_4e", "Mixed_4f", "MaxPool3d_5a_2x2", "Mixed_5b", "Mixed_5c");

  public static final int NUM_CLASSES = 400;
  private static final String NBT = ".num_batches_tracked";
  private static final String[] UNITS = {"b0", "b1a", "b1b", "b2a", "b2b", "b3b"};

  private final double width;
  private final LinkedHashMap<String, Layer> blocks = new LinkedHashMap<>();
  private final Unit3D logits;
  private final int features;
  private final ArrayDeque<HeadCtx> head = new ArrayDeque<>();

  /** all: on the GPU, the second average pool over every remaining position (null on the CPU). */
  private record HeadCtx(AvgPool3d pool, long[] pooledShape, AvgPool3d all, DType dtype) {}

  /** The full-width model (1024 features). */
  public InceptionI3d() {
    this(1.0);
  }

  public InceptionI3d(double widthMultiplier) {
    if (!(widthMultiplier > 0) || Double.isInfinite(widthMultiplier))
      throw new IllegalArgumentException("width multiplier must be positive, got " + widthMultiplier);
    this.width = widthMultiplier;
    int[] k1 = {1, 1, 1}, k3 = {3, 3, 3}, k7 = {7, 7, 7}, s2 = {2, 2, 2}, p133 = {1, 3, 3}, s122 = {1, 2, 2};
    int c = ch(64);
    blocks.put("Conv3d_1a_7x7", new Unit3D(3, c, k7, s2));
    blocks.put("MaxPool3d_2a_3x3", new MaxPool3d(p133, s122));
    blocks.put("Conv3d_2b_1x1", new Unit3D(c, c, k1, k1));
    blocks.put("Conv3d_2c_3x3", new Unit3D(c, ch(192), k3, k1));
    c = ch(192);
    blocks.put("MaxPool3d_3a_3x3", new MaxPool3d(p133, s122));
    c = mixed("Mixed_3b", c, 64, 96, 128, 16, 32, 32);
    c = mixed("Mixed_3c", c, 128, 128, 192, 32, 96, 64);
    blocks.put("MaxPool3d_4a_3x3", new MaxPool3d(k3, s2));
    c = mixed("Mixed_4b", c, 192, 96, 208, 16, 48, 64);
    c = mixed("Mixed_4c", c, 160, 112, 224, 24, 64, 64);
    c = mixed("Mixed_4d", c, 128, 128, 256, 24, 64, 64);
    c = mixed("Mixed_4e", c, 112, 144, 288, 32, 64, 64);
    c = mixed("Mixed_4f", c, 256, 160, 320, 32, 128, 128);
    blocks.put("MaxPool3d_5a_2x2", new MaxPool3d(new int[] {2, 2, 2}, s2));
    c = mixed("Mixed_5b", c, 256, 160, 320, 32, 128, 128);
    c = mixed("Mixed_5c", c, 384, 192, 384, 48, 128, 128);
    features = c;
    logits = new Unit3D(c, NUM_CLASSES, k1, k1, false, true, false);
  }

  /** A channel count scaled by the width multiplier: max(1, floor(c·w + 0.5)). */
  public int ch(int c) {
    return Math.max(1, (int) Math.floor(c * width + 0.5));
  }

  private int mixed(String name, int cin, int... out) {
    int[] o = new int[6];
    for (int i = 0; i < 6; i++) o[i] = ch(out[i]);
    InceptionModule m = new InceptionModule(cin, o);
    blocks.put(name, m);
    return m.outChannels();
  }

  public double widthMultiplier() {
    return width;
  }

  /** Size of the output feature vector (1024 at width 1). */
  public int featureSize() {
    return features;
  }

  /** The block called {@code name} (one of {@link #ENDPOINTS}): a Unit3D, MaxPool3d or InceptionModule. */
  public Layer block(String name) {
    Layer l = blocks.get(name);
    if (l == null) throw new IllegalArgumentException("no block " + name);
    return l;
  }

  /** The unused logits unit (bias, no BN, no ReLU), kept for state-dict compatibility. */
  public Unit3D logits() {
    return logits;
  }

  @Override
  public Tensor forward(Tensor x, boolean training) {
    return forward(x, training, null);
  }

  /**
   * The forward, calling {@code tap} with each block's name and output (owned by the model: read
   * it, do not close or keep it) as it is computed.
   */
  public Tensor forward(Tensor x, boolean training, BiConsumer<String, Tensor> tap) {
    if (x.device().isCuda()) Floats.ndhwcGpu(x, 3, "InceptionI3d", GpuContext.of(x));
    else Floats.ndhwc(x, 3, "InceptionI3d");
    Tensor h = x;
    for (Map.Entry<String, Layer> e : blocks.entrySet()) {
      Tensor next = e.getValue().forward(h, training);
      if (h != x) h.close(); // retained by the layers that need it
      h = next;
      if (tap != null) tap.accept(e.getKey(), h);
    }
    try {
      return pooledFeatures(h, training);
    } finally {
      if (h != x) h.close();
    }
  }

  /** GPU head: the same average pool, then an average pool over all remaining positions; F32 [N, C] out. */
  private Tensor gpuPooledFeatures(Tensor h, boolean training) {
    GpuContext g = GpuContext.of(h);
    int[] s = Floats.ndhwcGpu(h, features, "InceptionI3d head", g);
    AvgPool3d pool = new AvgPool3d(new int[] {1, Math.min(7, s[2]), Math.min(7, s[3])}, new int[] {1, 1, 1});
    Tensor p = pool.forward(h, training);
    long[] ps = p.shape();
    AvgPool3d all = new AvgPool3d(new int[] {(int) ps[1], (int) ps[2], (int) ps[3]}, new int[] {1, 1, 1});
    Tensor q;
    try {
      q = all.forward(p, training);
    } finally {
      p.close();
    }
    try {
      Tensor out = g.alloc(DType.F32, s[0], features);
      g.check(ComixCuda.comix_nn_cast_cuda(q.data(), GpuContext.code(q), out.data(), 0, out.numel(), g.stream()),
          "InceptionI3d head");
      if (!training) dropHead();
      head.push(new HeadCtx(pool, ps, all, h.dtype()));
      return out;
    } finally {
      q.close();
    }
  }

  private Tensor gpuHeadBackward(HeadCtx ctx, Tensor gradOut) {
    GpuContext g = GpuContext.of(gradOut);
    long n = ctx.pooledShape()[0];
    if (!Arrays.equals(gradOut.shape(), new long[] {n, features}) || gradOut.dtype() != DType.F32)
      throw new IllegalArgumentException("InceptionI3d: gradient " + gradOut + " != output F32 [" + n + ", " + features + "]");
    Tensor gp;
    try (Tensor g5 = g.alloc(ctx.dtype(), n, 1, 1, 1, features)) {
      g.check(ComixCuda.comix_nn_cast_cuda(gradOut.data(), 0, g5.data(), GpuContext.code(ctx.dtype()), g5.numel(),
          g.stream()), "InceptionI3d head backward");
      gp = ctx.all().backward(g5);
    }
    try {
      return ctx.pool().backward(gp);
    } finally {
      gp.close();
    }
  }

  private Tensor pooledFeatures(Tensor h, boolean training) {
    if (h.device().isCuda()) return gpuPooledFeatures(h, training);
    int[] s = Floats.ndhwc(h, features, "InceptionI3d head");
    AvgPool3d pool = new AvgPool3d(new int[] {1, Math.min(7, s[2]), Math.min(7, s[3])}, new int[] {1, 1, 1});
    Tensor p = pool.forward(h, training);
    long[] ps = p.shape();
    int n = s[0], c = features, positions = Math.toIntExact(p.numel() / ((long) n * c));
    float[] pv = Floats.read(p), out = new float[n * c];
    for (int i = 0; i < n; i++)
      for (int j = 0; j < positions; j++) {
        int base = (i * positions + j) * c;
        for (int k = 0; k < c; k++) out[i * c + k] += pv[base + k];
      }
    if (positions > 1) for (int i = 0; i < out.length; i++) out[i] /= positions;
    p.close();
    if (!training) dropHead();
    head.push(new HeadCtx(pool, ps, null, DType.F32));
    return Floats.of(out, n, c);
  }

  /**
   * Whether {@link #backward} computes dL/d(clip) (default true). Training never reads it (the
   * clips are data), so a trainer turns it off: Conv3d_1a_7x7 then skips its backward-data
   * convolution (on an H200 in BF16 the costliest single convolution of the step) and
   * {@link #backward} returns null. PyTorch does the same when the input does not require grad.
   */
  public void setInputGradient(boolean on) {
    ((Unit3D) blocks.get("Conv3d_1a_7x7")).conv3d().setInputGradient(on);
  }

  public boolean inputGradient() {
    return ((Unit3D) blocks.get("Conv3d_1a_7x7")).conv3d().inputGradient();
  }

  /** dL/d(clips) for a gradient of the features, or null when {@link #setInputGradient} is off. */
  @Override
  public Tensor backward(Tensor gradOut) {
    HeadCtx ctx = head.poll();
    if (ctx == null) throw new IllegalStateException("InceptionI3d.backward without a saved forward");
    if (ctx.all() != null) return blocksBackward(gpuHeadBackward(ctx, gradOut));
    long[] ps = ctx.pooledShape();
    int n = (int) ps[0], c = features, positions = Math.toIntExact(Tensor.numel(ps) / ((long) n * c));
    if (!Arrays.equals(gradOut.shape(), new long[] {n, c}))
      throw new IllegalArgumentException("InceptionI3d: gradient shape " + Arrays.toString(gradOut.shape())
          + " != output " + Arrays.toString(new long[] {n, c}));
    float[] g = Floats.read(gradOut), gp = new float[Math.toIntExact(Tensor.numel(ps))];
    for (int i = 0; i < n; i++)
      for (int j = 0; j < positions; j++)
        for (int k = 0; k < c; k++) gp[(i * positions + j) * c + k] = g[i * c + k] / positions;
    Tensor gPool = Floats.of(gp, ps);
    Tensor gr = ctx.pool().backward(gPool);
    gPool.close();
    return blocksBackward(gr);
  }

  private Tensor blocksBackward(Tensor gr) {
    List<Layer> ls = new ArrayList<>(blocks.values());
    for (int i = ls.size() - 1; i >= 0; i--) {
      Tensor next = ls.get(i).backward(gr);
      gr.close();
      gr = next;
    }
    return gr;
  }

  @Override
  public void clearSaved() {
    for (Layer l : blocks.values()) l.clearSaved();
    dropHead();
  }

  private void dropHead() {
    for (HeadCtx h : head) {
      h.pool().clearSaved();
      if (h.all() != null) h.all().clearSaved();
    }
    head.clear();
  }

  /** The backbone's trainable parameters (not the unused logits unit). */
  @Override
  public List<Param> params() {
    return new ArrayList<>(namedParams(false).values());
  }

  /** Trainable parameters by PyTorch name, in state-dict order; with the logits unit's if asked. */
  public Map<String, Param> namedParams(boolean withLogits) {
    LinkedHashMap<String, Param> m = new LinkedHashMap<>();
    forEachUnit((name, u) -> {
      m.put(name + ".conv3d.weight", u.conv3d().weight());
      if (u.conv3d().bias() != null) m.put(name + ".conv3d.bias", u.conv3d().bias());
      if (u.bn() != null) {
        m.put(name + ".bn.weight", u.bn().weight());
        m.put(name + ".bn.bias", u.bn().bias());
      }
    }, withLogits);
    return Collections.unmodifiableMap(m);
  }

  /** BN running statistics by PyTorch name ({@code ….bn.running_mean / running_var}). */
  public Map<String, Tensor> namedBuffers() {
    LinkedHashMap<String, Tensor> m = new LinkedHashMap<>();
    forEachUnit((name, u) -> {
      if (u.bn() != null) {
        m.put(name + ".bn.running_mean", u.bn().runningMean());
        m.put(name + ".bn.running_var", u.bn().runningVar());
      }
    }, false);
    return Collections.unmodifiableMap(m);
  }

  /** Every tensor of the state dict (parameters and buffers, logits included) in PyTorch's order. */
  public Map<String, Tensor> namedTensors() {
    LinkedHashMap<String, Tensor> m = new LinkedHashMap<>();
    forEachUnit((name, u) -> {
      m.put(name + ".conv3d.weight", u.conv3d().weight().value());
      if (u.conv3d().bias() != null) m.put(name + ".conv3d.bias", u.conv3d().bias().value());
      if (u.bn() != null) {
        m.put(name + ".bn.weight", u.bn().weight().value());
        m.put(name + ".bn.bias", u.bn().bias().value());
        m.put(name + ".bn.running_mean", u.bn().runningMean());
        m.put(name + ".bn.running_var", u.bn().runningVar());
      }
    }, true);
    return Collections.unmodifiableMap(m);
  }

  private void forEachUnit(BiConsumer<String, Unit3D> f, boolean withLogits) {
    for (Map.Entry<String, Layer> e : blocks.entrySet()) {
      if (e.getValue() instanceof Unit3D u) f.accept(e.getKey(), u);
      else if (e.getValue() instanceof InceptionModule m)
        for (String b : UNITS) f.accept(e.getKey() + "." + b, m.unit(b));
    }
    if (withLogits) f.accept("logits", logits);
  }

  /** Name → shape of every tensor {@link #loadStateDict} needs (for {@link StateDicts#check} / readFor). */
  public Map<String, long[]> expectedShapes() {
    LinkedHashMap<String, long[]> m = new LinkedHashMap<>();
    for (Map.Entry<String, Tensor> e : namedTensors().entrySet()) m.put(e.getKey(), e.getValue().shape());
    return m;
  }

  /**
   * Copies the weights in (F32, F64, F16 or BF16 accepted). Every name of {@link #expectedShapes}
   * must be there with its shape; {@code *.num_batches_tracked} entries are ignored; anything else
   * is an error. All problems are reported in one {@link ComixException}, and nothing is changed
   * if there is one.
   */
  public void loadStateDict(StateDict sd) {
    Map<String, long[]> want = expectedShapes();
    List<String> missing = new ArrayList<>(), unexpected = new ArrayList<>(), shapes = new ArrayList<>();
    for (Map.Entry<String, long[]> e : want.entrySet()) {
      if (!sd.contains(e.getKey())) missing.add(e.getKey());
      else if (!Arrays.equals(e.getValue(), sd.shape(e.getKey())))
        shapes.add(e.getKey() + " is " + Arrays.toString(sd.shape(e.getKey())) + ", expected " + Arrays.toString(e.getValue()));
    }
    for (String n : sd.names()) if (!want.containsKey(n) && !n.endsWith(NBT)) unexpected.add(n);
    if (!missing.isEmpty() || !unexpected.isEmpty() || !shapes.isEmpty()) {
      List<String> parts = new ArrayList<>();
      if (!missing.isEmpty()) parts.add(list(missing.size() + " missing", missing));
      if (!unexpected.isEmpty()) parts.add(list(unexpected.size() + " unexpected", unexpected));
      if (!shapes.isEmpty()) parts.add(list(shapes.size() + " of the wrong shape", shapes));
      throw new ComixException("I3D weights (width " + width + ") do not match the model: " + String.join("; ", parts));
    }
    for (Map.Entry<String, Tensor> e : namedTensors().entrySet()) Floats.write(e.getValue(), sd.floats(e.getKey()));
  }

  private static String list(String head, List<String> items) {
    return head + ": " + String.join(", ", items.subList(0, Math.min(5, items.size())))
        + (items.size() > 5 ? " and " + (items.size() - 5) + " more" : "");
  }

  /**
   * Reads a weight file (.pt zip/legacy or safetensors; a DataParallel {@code module.} prefix is
   * stripped) and loads it, ignoring {@code num_batches_tracked}; see {@link #loadStateDict}.
   */
  public void loadWeights(Path file) {
    try (StateDict sd = StateDicts.read(file, true)) {
      try {
        loadStateDict(sd);
      } catch (ComixException e) {
        throw new ComixException(file + ": " + e.getMessage(), e);
      }
    }
  }

  /** A copy of every tensor (F32, PyTorch names and order, logits included), e.g. for {@code SafeTensors.write}. */
  public StateDict stateDict() {
    StateDict sd = new StateDict();
    for (Map.Entry<String, Tensor> e : namedTensors().entrySet())
      sd.put(e.getKey(), Floats.of(Floats.read(e.getValue()), e.getValue().shape()));
    sd.metadata().put("format", "pt");
    sd.metadata().put("model", "InceptionI3d");
    sd.metadata().put("width", Double.toString(width));
    return sd;
  }

  /** Zeroes every parameter gradient (backbone and logits). */
  public void zeroGrad() {
    for (Param p : namedParams(true).values()) p.zeroGrad();
  }
}

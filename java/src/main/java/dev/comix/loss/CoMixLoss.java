package dev.comix.loss;

import dev.comix.runtime.ComixException;
import dev.comix.runtime.DType;
import dev.comix.runtime.Ops;
import dev.comix.runtime.Tensor;
import java.util.Arrays;

/**
 * The CoMix objective (COMIX-SPEC section 4.4):
 * {@code L = L_ce + lambda_bgm * (L_bgm^s + L_bgm^t) + lambda_tpl * L_tpl}, with its gradient with
 * respect to the GCN logits.
 *
 * <p>Input layout, per domain: logits F32 {@code [2, 2B, C]} = (view: fast, slow) x (rows: the B
 * original videos, then their B background-mixed copies) x classes. In this view-major layout
 * every piece the terms need is contiguous and the BGM term is one SupCon call:
 * <ul>
 *   <li>L_ce: label-smoothed CE (eps 0.1) of the source fast logits of the originals (rows 0..B-1
 *       of view 0) against the source labels;</li>
 *   <li>L_bgm^d: SupCon (tau 0.5, base 0.07, no normalisation) over softmax probabilities of the
 *       whole domain tensor, N = 2B samples with virtual labels [0..B-1, 0..B-1] (section 4.2:
 *       3 positives per anchor, 4B-4 negatives, domains never mixed);</li>
 *   <li>L_tpl: pseudo labels from the detached temporal ensemble (fast + slow target logits)/2 of the
 *       originals, confidence >= 0.7; SupCon over the confident originals' fast and slow
 *       probabilities with the pseudo labels (mixed copies and unconfident videos masked out);
 *       0 when none qualifies (section 4.3).</li>
 * </ul>
 * The pseudo labels are computed from the logits as given and receive no gradient (detached).
 */
public final class CoMixLoss {
  private final float lambdaBgm;
  private final float lambdaTpl;
  private final float threshold;
  private final SupConLoss supCon;
  private final LabelSmoothedCrossEntropy ce;

  public CoMixLoss(float lambdaBgm, float lambdaTpl, float pseudoThreshold, SupConLoss supCon,
                   LabelSmoothedCrossEntropy ce) {
    if (!Float.isFinite(lambdaBgm) || !Float.isFinite(lambdaTpl))
      throw new ComixException("CoMixLoss: lambdas must be finite");
    this.lambdaBgm = lambdaBgm;
    this.lambdaTpl = lambdaTpl;
    this.threshold = pseudoThreshold;
    this.supCon = supCon.viewMajor(true).checkFinite(false);
    this.ce = ce;
  }

  /** The original's defaults: lambda_bgm 0.1, lambda_tpl 0.01, threshold 0.7, tau 0.5/0.07, eps 0.1. */
  public CoMixLoss(float lambdaBgm, float lambdaTpl) {
    this(lambdaBgm, lambdaTpl, 0.7f, SupConLoss.comix(), new LabelSmoothedCrossEntropy());
  }

  public CoMixLoss() {
    this(0.1f, 0.01f);
  }

  /** Terms, total and gradients (owned by the result) with respect to both logits tensors. */
  public record Result(double total, double ce, double bgmSource, double bgmTarget, double tpl, int confident,
                       Tensor sourceGrad, Tensor targetGrad) implements AutoCloseable {
    @Override
    public void close() {
      sourceGrad.close();
      targetGrad.close();
    }
  }

  /**
   * @param source F32 [2, 2B, C] source logits (see the class comment)
   * @param target F32 [2, 2B, C] target logits
   * @param sourceLabels I64 [B] labels of the source videos
   */
  public Result compute(Ops ops, Tensor source, Tensor target, Tensor sourceLabels) {
    long[] s = source.shape();
    if (source.rank() != 3 || s[0] != 2 || s[1] < 2 || s[1] % 2 != 0 || s[2] < 1)
      throw new ComixException("CoMixLoss: source logits must be [2, 2B, C], got " + Arrays.toString(s));
    if (!Arrays.equals(s, target.shape()))
      throw new ComixException("CoMixLoss: target logits " + Arrays.toString(target.shape())
          + " must match source " + Arrays.toString(s));
    if (source.dtype() != DType.F32 || target.dtype() != DType.F32)
      throw new ComixException("CoMixLoss: logits must be F32");
    long b = s[1] / 2, n = s[1], c = s[2];
    if (sourceLabels.numel() != b)
      throw new ComixException("CoMixLoss: " + sourceLabels.numel() + " source labels for B = " + b + " videos");
    DType lt = ops.device().isCuda() ? DType.F32 : DType.F64;
    Tensor gS = ops.allocate(DType.F32, s), gT = ops.allocate(DType.F32, s);
    try (Tensor pS = ops.allocate(DType.F32, s); Tensor pT = ops.allocate(DType.F32, s);
         Tensor dpS = ops.allocate(DType.F32, s); Tensor dpT = ops.allocate(DType.F32, s);
         Tensor losses = ops.allocate(lt, 4); Tensor virt = virtualLabels(ops, b);
         Tensor pl = ops.zeros(DType.I64, n); Tensor pm = ops.zeros(DType.U8, n)) {
      ops.softmax(source, pS);
      ops.softmax(target, pT);
      Tensor l0 = losses.slice0(0, 1), l1 = losses.slice0(1, 2), l2 = losses.slice0(2, 3), l3 = losses.slice0(3, 4);
      // BGM per domain: gradient w.r.t. probabilities, scaled by lambda_bgm
      supCon.apply(ops, pS, virt, null, lambdaBgm, false, l1, dpS);
      supCon.apply(ops, pT, virt, null, lambdaBgm, false, l2, dpT);
      // TPL: pseudo labels of the original target videos (detached), then SupCon on the confident ones
      Tensor flat = target.view(2 * n, c);
      ops.pseudoLabels(flat.slice0(0, b), flat.slice0(n, n + b), threshold, pl.slice0(0, b), pm.slice0(0, b));
      supCon.apply(ops, pT, pl, pm, lambdaTpl, true, l3, dpT);
      // back through the softmax, then the CE term on the source fast originals
      ops.softmaxBackward(pS, dpS, false, gS);
      ops.softmaxBackward(pT, dpT, false, gT);
      Tensor srcFast = source.view(2 * n, c).slice0(0, b);
      ce.apply(ops, srcFast, sourceLabels, 1f, true, l0, gS.view(2 * n, c).slice0(0, b));
      double[] v = readAll(ops, losses);
      int confident = countConfident(ops, pm);
      double total = v[0] + lambdaBgm * (v[1] + v[2]) + lambdaTpl * v[3];
      return new Result(total, v[0], v[1], v[2], v[3], confident, gS, gT);
    } catch (RuntimeException e) {
      gS.close();
      gT.close();
      throw e;
    }
  }

  private static Tensor virtualLabels(Ops ops, long b) {
    long[] v = new long[(int) (2 * b)];
    for (int i = 0; i < v.length; i++) v[i] = i % b;
    Tensor h = Tensor.host(DType.I64, 2 * b);
    new org.bytedeco.javacpp.LongPointer(h.data()).put(v);
    if (!ops.device().isCuda()) return h;
    try (h) {
      return ops.toDevice(h);
    }
  }

  private static double[] readAll(Ops ops, Tensor losses) {
    try (Tensor h = losses.device().isCuda() ? ops.toHost(losses) : null) {
      Tensor src = h != null ? h : losses;
      double[] out = new double[4];
      if (src.dtype() == DType.F64) new org.bytedeco.javacpp.DoublePointer(src.data()).get(out);
      else {
        float[] f = src.toFloats();
        for (int i = 0; i < 4; i++) out[i] = f[i];
      }
      return out;
    }
  }

  private static int countConfident(Ops ops, Tensor mask) {
    try (Tensor h = mask.device().isCuda() ? ops.toHost(mask) : null) {
      byte[] m = (h != null ? h : mask).toBytes();
      int k = 0;
      for (byte x : m) k += x != 0 ? 1 : 0;
      return k;
    }
  }
}

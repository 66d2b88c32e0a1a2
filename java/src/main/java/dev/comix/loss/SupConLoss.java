package dev.comix.loss;

import dev.comix.runtime.ComixException;
import dev.comix.runtime.DType;
import dev.comix.runtime.Ops;
import dev.comix.runtime.Tensor;

/**
 * Supervised-contrastive loss over views (Khosla et al.; COMIX-SPEC section 4.0), fused forward
 * and backward on the CPU or the GPU. With no labels it is InfoNCE / NT-Xent (each sample its
 * own class: the positives of a view are the other views of the same sample).
 *
 * <pre>{@code
 * // CoMix's form: probability vectors, no normalisation, tau = 0.5, factor tau / 0.07
 * SupConLoss loss = SupConLoss.comix();
 * // NT-Xent over L2-normalised embeddings, factor 1
 * SupConLoss ntxent = SupConLoss.infoNce(0.1f);
 * try (SupConLoss.Result r = ntxent.compute(ops, features, null, null)) {  // features F32 [N, V, D]
 *   double value = r.loss();
 *   Tensor dFeatures = r.grad();  // [N, V, D] on ops.device()
 * }
 * }</pre>
 */
public final class SupConLoss {
  /** CoMix's temperature (hard-coded in the original adapt.py). */
  public static final float COMIX_TEMPERATURE = 0.5f;
  /** SupConLoss's default base temperature; the loss is scaled by temperature / base. */
  public static final float COMIX_BASE_TEMPERATURE = 0.07f;

  private final float temperature;
  private final float baseTemperature;
  private final boolean normalize;
  private final boolean viewMajor;
  private final boolean checkFinite;

  public SupConLoss(float temperature, float baseTemperature, boolean normalize) {
    this(temperature, baseTemperature, normalize, false, true);
  }

  private SupConLoss(float temperature, float baseTemperature, boolean normalize, boolean viewMajor,
                     boolean checkFinite) {
    if (!(temperature > 0f) || !Float.isFinite(temperature))
      throw new ComixException("SupConLoss: temperature must be a positive finite number, got " + temperature);
    if (!(baseTemperature > 0f) || !Float.isFinite(baseTemperature))
      throw new ComixException("SupConLoss: base temperature must be a positive finite number, got " + baseTemperature);
    this.temperature = temperature;
    this.baseTemperature = baseTemperature;
    this.normalize = normalize;
    this.viewMajor = viewMajor;
    this.checkFinite = checkFinite;
  }

  /** CoMix defaults: tau = 0.5, base 0.07, no normalisation. */
  public static SupConLoss comix() {
    return new SupConLoss(COMIX_TEMPERATURE, COMIX_BASE_TEMPERATURE, false);
  }

  /** InfoNCE / NT-Xent: normalised rows, base temperature = temperature (factor 1). */
  public static SupConLoss infoNce(float temperature) {
    return new SupConLoss(temperature, temperature, true);
  }

  /** Same loss reading features as [V, N, D] (row r = v*N + n is the r-th vector). */
  public SupConLoss viewMajor(boolean on) {
    return new SupConLoss(temperature, baseTemperature, normalize, on, checkFinite);
  }

  /**
   * Whether features on a GPU are copied to the host and checked for NaN/Inf before the call
   * (default true; host features are always checked). Training loops turn it off.
   */
  public SupConLoss checkFinite(boolean on) {
    return new SupConLoss(temperature, baseTemperature, normalize, viewMajor, on);
  }

  public float temperature() {
    return temperature;
  }

  public float baseTemperature() {
    return baseTemperature;
  }

  public boolean normalize() {
    return normalize;
  }

  public int flags() {
    return (normalize ? Ops.SUPCON_NORMALIZE : 0) | (viewMajor ? Ops.SUPCON_VIEW_MAJOR : 0);
  }

  /** Loss value and gradient (owned by the result). */
  public record Result(double loss, Tensor grad) implements AutoCloseable {
    @Override
    public void close() {
      if (grad != null) grad.close();
    }
  }

  /**
   * Loss and dL/dfeatures. features F32 (CPU: also F64) [N, V, D]; labels I64 [N] or null;
   * mask U8 [N] or null (0 = leave the sample out). Waits for the GPU to read the loss.
   */
  public Result compute(Ops ops, Tensor features, Tensor labels, Tensor mask) {
    if (features == null) throw new ComixException("SupConLoss: features are null");
    checkDeviceFinite(ops, features);
    DType lossType = ops.device().isCuda() ? DType.F32 : DType.F64;
    Tensor grad = ops.allocate(features.dtype(), features.shape());
    try (Tensor loss = ops.allocate(lossType, 1)) {
      ops.supCon(features, labels, mask, temperature, baseTemperature, flags(), 1f, loss, grad);
      return new Result(readScalar(ops, loss), grad);
    } catch (RuntimeException e) {
      grad.close();
      throw e;
    }
  }

  /** Loss only (no gradient is computed). */
  public double value(Ops ops, Tensor features, Tensor labels, Tensor mask) {
    checkDeviceFinite(ops, features);
    DType lossType = ops.device().isCuda() ? DType.F32 : DType.F64;
    try (Tensor loss = ops.allocate(lossType, 1)) {
      ops.supCon(features, labels, mask, temperature, baseTemperature, flags(), 1f, loss, null);
      return readScalar(ops, loss);
    }
  }

  /**
   * Asynchronous form for composing losses: writes the loss into {@code lossOut} (one element on
   * ops' device) and adds {@code gradScale * dL/dfeatures} into {@code gradAccum} (or overwrites
   * it when {@code accumulate} is false).
   */
  public void apply(Ops ops, Tensor features, Tensor labels, Tensor mask, float gradScale, boolean accumulate,
                    Tensor lossOut, Tensor gradAccum) {
    checkDeviceFinite(ops, features);
    ops.supCon(features, labels, mask, temperature, baseTemperature, flags() | (accumulate ? Ops.SUPCON_ACCUMULATE : 0),
        gradScale, lossOut, gradAccum);
  }

  private void checkDeviceFinite(Ops ops, Tensor features) {
    if (!checkFinite || features == null || !features.device().isCuda() || features.isClosed()) return;
    try (Tensor h = ops.toHost(features)) {
      float[] v = h.toFloats();
      for (int i = 0; i < v.length; i++)
        if (!Float.isFinite(v[i]))
          throw new ComixException("supCon: features hold " + v[i] + " at flat index " + i);
    }
  }

  /** Reads a one-element F32/F64 tensor (copying it to the host when needed). */
  static double readScalar(Ops ops, Tensor t) {
    try (Tensor h = t.device().isCuda() ? ops.toHost(t) : null) {
      Tensor src = h != null ? h : t;
      if (src.dtype() == DType.F64) return src.data().getDouble();
      return src.data().getFloat();
    }
  }
}

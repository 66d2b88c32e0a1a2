package dev.comix.loss;

import dev.comix.runtime.ComixException;
import dev.comix.runtime.DType;
import dev.comix.runtime.Ops;
import dev.comix.runtime.Tensor;

/**
 * Cross-entropy with label smoothing (COMIX-SPEC section 4.1, the original CrossEntropyLabelSmooth):
 * target y = (1 - eps) onehot + eps / C, loss = batch mean of -sum_c y_c log softmax(logits)_c.
 *
 * <pre>{@code
 * var ce = new LabelSmoothedCrossEntropy(0.1f);
 * try (var r = ce.compute(ops, logits, labels)) {  // logits F32 [B, C], labels I64 [B]
 *   double value = r.loss();
 *   Tensor dLogits = r.grad();
 * }
 * }</pre>
 */
public final class LabelSmoothedCrossEntropy {
  /** CoMix's smoothing. */
  public static final float COMIX_EPSILON = 0.1f;

  private final float epsilon;

  public LabelSmoothedCrossEntropy(float epsilon) {
    if (!(epsilon >= 0f && epsilon <= 1f))
      throw new ComixException("LabelSmoothedCrossEntropy: epsilon must be in [0, 1], got " + epsilon);
    this.epsilon = epsilon;
  }

  public LabelSmoothedCrossEntropy() {
    this(COMIX_EPSILON);
  }

  public float epsilon() {
    return epsilon;
  }

  public record Result(double loss, Tensor grad) implements AutoCloseable {
    @Override
    public void close() {
      if (grad != null) grad.close();
    }
  }

  /** Loss and dL/dlogits; waits for the GPU to read the loss. */
  public Result compute(Ops ops, Tensor logits, Tensor labels) {
    Tensor grad = ops.allocate(DType.F32, logits.shape());
    try (Tensor loss = ops.allocate(ops.device().isCuda() ? DType.F32 : DType.F64, 1)) {
      ops.crossEntropySmooth(logits, labels, epsilon, 1f, false, loss, grad);
      return new Result(SupConLoss.readScalar(ops, loss), grad);
    } catch (RuntimeException e) {
      grad.close();
      throw e;
    }
  }

  /** Asynchronous form: loss into lossOut, gradScale * dL/dlogits into (or onto) grad. */
  public void apply(Ops ops, Tensor logits, Tensor labels, float gradScale, boolean accumulate, Tensor lossOut,
                    Tensor grad) {
    ops.crossEntropySmooth(logits, labels, epsilon, gradScale, accumulate, lossOut, grad);
  }
}

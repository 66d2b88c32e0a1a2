package dev.comix.nn;

import dev.comix.runtime.DType;
import dev.comix.runtime.Tensor;

/**
 * A trainable parameter: its value and its gradient, both host F32 tensors of the same shape,
 * in PyTorch's order (a Conv3d weight is [Cout, Cin, kT, kH, kW]) so state dicts map 1:1.
 * Backward passes <b>accumulate</b> into {@link #grad} (as PyTorch does); call {@link #zeroGrad}
 * before each step.
 */
public final class Param {
  private final String name;
  private final Tensor value;
  private final Tensor grad;

  public Param(String name, long... shape) {
    this.name = name;
    this.value = Tensor.host(DType.F32, shape);
    this.grad = Tensor.host(DType.F32, shape);
    Floats.fill(value, 0f);
    Floats.fill(grad, 0f);
  }

  public String name() {
    return name;
  }

  public Tensor value() {
    return value;
  }

  public Tensor grad() {
    return grad;
  }

  public void zeroGrad() {
    Floats.fill(grad, 0f);
  }
}

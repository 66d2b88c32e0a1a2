package dev.comix.nn;

import dev.comix.nn.gpu.GpuContext;
import dev.comix.runtime.DType;
import dev.comix.runtime.Tensor;

/**
 * A trainable parameter: its value and its gradient, both host F32 tensors of the same shape,
 * in PyTorch's order (a Conv3d weight is [Cout, Cin, kT, kH, kW]) so state dicts map 1:1.
 * Backward passes <b>accumulate</b> into {@link #grad} (as PyTorch does); call {@link #zeroGrad}
 * before each step.
 *
 * <p>On a GPU the value is mirrored to the device on first use (and again after host changes),
 * and backward passes accumulate into a device gradient that {@link #grad} folds into the host
 * gradient when asked; the host tensors stay the master copies.
 */
public final class Param {
  private final String name;
  private final Tensor value;
  private final Tensor grad;
  private final Mirrored mirror;
  private Tensor devGrad;
  private GpuContext gradCtx;
  private boolean devGradPending;
  /** The host gradient is all zeros (nothing handed it out or added into it since the last zeroing). */
  private boolean hostGradZero;

  public Param(String name, long... shape) {
    this.name = name;
    this.value = Tensor.host(DType.F32, shape);
    this.grad = Tensor.host(DType.F32, shape);
    Floats.fill(value, 0f);
    Floats.fill(grad, 0f);
    hostGradZero = true;
    this.mirror = new Mirrored(value);
  }

  public String name() {
    return name;
  }

  /** The host value (current); the caller may write it, so the next GPU use uploads it again. */
  public Tensor value() {
    return mirror.host();
  }

  /** The value on {@code g}'s device (F32, PyTorch order), uploaded when the host side changed. */
  public Tensor valueOn(GpuContext g) {
    return mirror.device(g);
  }

  /** Changes whenever the device value changes (for caches of derived forms). */
  public long deviceVersion() {
    return mirror.version();
  }

  /** The host gradient, with any gradient accumulated on a device added in. */
  public Tensor grad() {
    mergeDeviceGrad();
    hostGradZero = false; // the caller may add into it
    return grad;
  }

  /** The device gradient accumulator (F32, zero when created) that GPU backwards add into. */
  public Tensor gradOn(GpuContext g) {
    if (devGrad == null || gradCtx != g) {
      mergeDeviceGrad();
      if (devGrad != null) devGrad.close();
      devGrad = g.zeros(DType.F32, grad.shape());
      gradCtx = g;
    }
    devGradPending = true;
    return devGrad;
  }

  private void mergeDeviceGrad() {
    if (!devGradPending) return;
    try (Tensor h = Tensor.host(DType.F32, grad.shape())) {
      gradCtx.ops().copy(devGrad, h);
      Floats.addInto(grad, Floats.read(h));
      hostGradZero = false;
    }
    devGrad.close();
    devGrad = null;
    devGradPending = false;
  }

  /** Zeroes the gradient: the host one only if it was handed out or added into since (GPU steps skip it). */
  public void zeroGrad() {
    if (!hostGradZero) {
      Floats.fill(grad, 0f);
      hostGradZero = true;
    }
    if (devGrad != null) devGrad.close();
    devGrad = null;
    devGradPending = false;
  }
}

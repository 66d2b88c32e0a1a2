package dev.comix.nn;

import dev.comix.runtime.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * pytorch-i3d's Unit3D: Conv3d with TF-SAME padding (no bias) → BatchNorm3d(eps 1e-3, momentum
 * 0.01) → ReLU. The logits unit is {@code new Unit3D(cin, cout, k, s, false, true, false)}: bias,
 * no BN, no activation.
 *
 * <p>On a GPU the BN and the ReLU run as one kernel (forward and backward).
 */
public final class Unit3D extends Sequential {
  private final Conv3d conv;
  private final BatchNorm3d bn;
  private final boolean relu;
  /** Per forward: whether it took the fused GPU path (conv, then BN+ReLU in one kernel). */
  private final Saved<Boolean> fused = new Saved<>();

  public Unit3D(int cin, int cout, int[] kernel, int[] stride) {
    this(cin, cout, kernel, stride, true, false, true);
  }

  public Unit3D(int cin, int cout, int[] kernel, int[] stride, boolean useBn, boolean useBias, boolean relu) {
    this(new Conv3d(cin, cout, kernel, stride, useBias), useBn ? new BatchNorm3d(cout) : null, relu);
  }

  private Unit3D(Conv3d conv, BatchNorm3d bn, boolean relu) {
    super(layers(conv, bn, relu));
    this.conv = conv;
    this.bn = bn;
    this.relu = relu;
  }

  @Override
  public Tensor forward(Tensor x, boolean training) {
    boolean fuse = x.device().isCuda() && bn != null && relu;
    Tensor y;
    if (fuse) {
      try (Tensor h = conv.forward(x, training)) {
        y = bn.forwardRelu(h, training);
      }
    } else {
      y = super.forward(x, training);
    }
    fused.push(fuse, training);
    return y;
  }

  @Override
  public Tensor backward(Tensor gradOut) {
    if (!fused.pop("Unit3D")) return super.backward(gradOut);
    try (Tensor g = bn.backward(gradOut)) {
      return conv.backward(g);
    }
  }

  @Override
  public void clearSaved() {
    super.clearSaved();
    fused.clear();
  }

  private static List<Layer> layers(Conv3d conv, BatchNorm3d bn, boolean relu) {
    List<Layer> l = new ArrayList<>();
    l.add(conv);
    if (bn != null) l.add(bn);
    if (relu) l.add(new ReLU());
    return l;
  }

  public Conv3d conv3d() {
    return conv;
  }

  /** The batch norm, or null when the unit has none. */
  public BatchNorm3d bn() {
    return bn;
  }
}

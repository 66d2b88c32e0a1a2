package dev.comix.nn;

import java.util.ArrayList;
import java.util.List;

/**
 * pytorch-i3d's Unit3D: Conv3d with TF-SAME padding (no bias) → BatchNorm3d(eps 1e-3, momentum
 * 0.01) → ReLU. The logits unit is {@code new Unit3D(cin, cout, k, s, false, true, false)}: bias,
 * no BN, no activation.
 */
public final class Unit3D extends Sequential {
  private final Conv3d conv;
  private final BatchNorm3d bn;

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

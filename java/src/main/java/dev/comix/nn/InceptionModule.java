package dev.comix.nn;

import dev.comix.jni.ComixCuda;
import dev.comix.nn.gpu.GpuContext;
import dev.comix.runtime.DType;
import dev.comix.runtime.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * pytorch-i3d's InceptionModule: four branches over the same input, concatenated along channels
 * in the order b0, b1, b2, b3. out = [b0, b1a, b1b, b2a, b2b, b3b] channel counts, as pytorch-i3d
 * gives them: b0 = 1×1×1 Unit3D; b1 = 1×1×1 then 3×3×3; b2 = 1×1×1 then 3×3×3; b3 = 3×3×3 max-pool
 * (stride 1, TF-SAME zero padding) then 1×1×1. The backward splits the gradient by branch and sums
 * the four input gradients.
 */
public final class InceptionModule implements Layer {
  private static final int[] ONE = {1, 1, 1}, THREE = {3, 3, 3};
  private final Unit3D b0, b1a, b1b, b2a, b2b, b3b;
  private final MaxPool3d b3a;
  private final List<Sequential> branches;
  private final int[] outSizes;

  public InceptionModule(int cin, int[] out) {
    if (out.length != 6) throw new IllegalArgumentException("InceptionModule needs 6 channel counts");
    b0 = new Unit3D(cin, out[0], ONE, ONE);
    b1a = new Unit3D(cin, out[1], ONE, ONE);
    b1b = new Unit3D(out[1], out[2], THREE, ONE);
    b2a = new Unit3D(cin, out[3], ONE, ONE);
    b2b = new Unit3D(out[3], out[4], THREE, ONE);
    b3a = new MaxPool3d(THREE, ONE);
    b3b = new Unit3D(cin, out[5], ONE, ONE);
    branches = List.of(new Sequential(List.of(b0)), new Sequential(List.of(b1a, b1b)),
        new Sequential(List.of(b2a, b2b)), new Sequential(List.of(b3a, b3b)));
    outSizes = new int[] {out[0], out[2], out[4], out[5]};
  }

  /** Units by pytorch-i3d's names: b0, b1a, b1b, b2a, b2b, b3b. */
  public Unit3D unit(String name) {
    return switch (name) {
      case "b0" -> b0;
      case "b1a" -> b1a;
      case "b1b" -> b1b;
      case "b2a" -> b2a;
      case "b2b" -> b2b;
      case "b3b" -> b3b;
      default -> throw new IllegalArgumentException("no unit " + name);
    };
  }

  public int outChannels() {
    return outSizes[0] + outSizes[1] + outSizes[2] + outSizes[3];
  }

  @Override
  public Tensor forward(Tensor x, boolean training) {
    List<Tensor> outs = new ArrayList<>(4);
    for (Sequential b : branches) outs.add(b.forward(x, training));
    // the branch outputs are not saved by any layer (nothing after them in the branch)
    Tensor y = Channels.concat(outs);
    for (Tensor t : outs) t.close();
    return y;
  }

  @Override
  public Tensor backward(Tensor gradOut) {
    if (gradOut.device().isCuda()) return gpuBackward(gradOut);
    List<Tensor> gs = Channels.split(gradOut, outSizes);
    Tensor dx = null;
    float[] sum = null;
    for (int i = 0; i < 4; i++) {
      try (Tensor g = gs.get(i); Tensor d = branches.get(i).backward(g)) {
        float[] v = Floats.read(d);
        if (sum == null) {
          sum = v;
          dx = Tensor.host(d.dtype(), d.shape());
        } else {
          for (int j = 0; j < v.length; j++) sum[j] += v[j];
        }
      }
    }
    Floats.write(dx, sum);
    return dx;
  }

  /** The four input gradients summed on the device (in F32, then cast back for BF16). */
  private Tensor gpuBackward(Tensor gradOut) {
    GpuContext g = GpuContext.of(gradOut);
    List<Tensor> gs = Channels.split(gradOut, outSizes);
    Tensor acc = null;
    try {
      for (int i = 0; i < 4; i++) {
        try (Tensor gi = gs.get(i); Tensor d = branches.get(i).backward(gi)) {
          if (acc == null) {
            if (d.dtype() == DType.F32) {
              acc = d.retain();
              continue;
            }
            acc = g.zeros(DType.F32, d.shape());
          }
          try (var sp = g.span("grad sum")) {
            g.check(ComixCuda.comix_nn_axpy_cuda(1f, d.data(), GpuContext.code(d), acc.data(), d.numel(), g.stream()),
                "InceptionModule gradient sum");
          }
        }
      }
      if (gradOut.dtype() == DType.F32) {
        Tensor r = acc;
        acc = null;
        return r;
      }
      return g.cast(acc, gradOut.dtype());
    } finally {
      for (Tensor t : gs) t.close();
      if (acc != null) acc.close();
    }
  }

  @Override
  public void clearSaved() {
    for (Sequential b : branches) b.clearSaved();
  }

  @Override
  public List<Param> params() {
    List<Param> all = new ArrayList<>();
    for (Sequential b : branches) all.addAll(b.params());
    return all;
  }
}

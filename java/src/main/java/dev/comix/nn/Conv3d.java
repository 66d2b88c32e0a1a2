package dev.comix.nn;

import dev.comix.nn.cpu.DnnlConv3d;
import dev.comix.runtime.DType;
import dev.comix.runtime.Tensor;
import java.util.List;

/**
 * 3-D convolution with TF-SAME padding (pytorch-i3d's Unit3D conv): any kernel and stride, with or
 * without bias. Input [N, D, H, W, Cin] (NDHWC), output [N, D', H', W', Cout] with D' = ceil(D / sD)
 * etc.; weight [Cout, Cin, kT, kH, kW] and bias [Cout] as PyTorch stores them. Runs on oneDNN
 * (forward, backward-data and backward-weights primitives cached per input shape), with the
 * asymmetric padding passed as padding_l / padding_r.
 */
public final class Conv3d implements Layer {
  private final int cin, cout;
  private final int[] kernel, stride;
  private final Param weight, bias;
  private final DnnlConv3d dnnl;
  private record Ctx(Tensor input, DnnlConv3d.Plan plan, long[] outShape) {}

  private final Saved<Ctx> saved = new Saved<>(c -> c.input().close());

  public Conv3d(int cin, int cout, int[] kernel, int[] stride, boolean withBias) {
    if (kernel.length != 3 || stride.length != 3) throw new IllegalArgumentException("kernel and stride need 3 entries");
    this.cin = cin;
    this.cout = cout;
    this.kernel = kernel.clone();
    this.stride = stride.clone();
    this.weight = new Param("weight", cout, cin, kernel[0], kernel[1], kernel[2]);
    this.bias = withBias ? new Param("bias", cout) : null;
    this.dnnl = new DnnlConv3d(cin, cout, this.kernel, this.stride, withBias);
  }

  public Param weight() {
    return weight;
  }

  /** The bias, or null when the conv has none. */
  public Param bias() {
    return bias;
  }

  public int[] kernel() {
    return kernel.clone();
  }

  public int[] stride() {
    return stride.clone();
  }

  /** Output shape for an NDHWC input shape. */
  public long[] outShape(long[] in) {
    int[] size = {(int) in[1], (int) in[2], (int) in[3]};
    int[] o = TfSame.out(size, kernel, stride);
    return new long[] {in[0], o[0], o[1], o[2], cout};
  }

  /** The oneDNN implementations chosen for this input shape (fwd, bwd-data, bwd-weights). */
  public String implementations(long[] inShape) {
    return plan(inShape).implementations();
  }

  private DnnlConv3d.Plan plan(long[] s) {
    int[] size = {(int) s[1], (int) s[2], (int) s[3]};
    int[] o = TfSame.out(size, kernel, stride);
    int[] f = TfSame.front(size, kernel, stride), b = TfSame.back(size, kernel, stride);
    return dnnl.plan(s[0], s[1], s[2], s[3], o[0], o[1], o[2],
        new long[] {f[0], f[1], f[2]}, new long[] {b[0], b[1], b[2]});
  }

  @Override
  public Tensor forward(Tensor x, boolean training) {
    Floats.ndhwc(x, cin, "Conv3d");
    long[] s = x.shape();
    DnnlConv3d.Plan p = plan(s);
    long[] os = outShape(s);
    Tensor y = Tensor.host(DType.F32, os);
    dnnl.forward(p, x.data(), weight.value().data(), bias == null ? null : bias.value().data(), y.data());
    saved.push(new Ctx(x.retain(), p, os), training);
    return y;
  }

  @Override
  public Tensor backward(Tensor gradOut) {
    Ctx c = saved.pop("Conv3d");
    try {
      Floats.requireF32(gradOut);
      Floats.sameShape(gradOut, c.outShape(), "Conv3d");
      Tensor dx = Tensor.host(DType.F32, c.input().shape());
      dnnl.backwardData(c.plan(), gradOut.data(), weight.value().data(), dx.data());
      try (Tensor dw = Tensor.host(DType.F32, weight.value().shape());
          Tensor db = bias == null ? null : Tensor.host(DType.F32, cout)) {
        dnnl.backwardWeights(c.plan(), c.input().data(), gradOut.data(), dw.data(), db == null ? null : db.data());
        Floats.addInto(weight.grad(), Floats.read(dw));
        if (bias != null) Floats.addInto(bias.grad(), Floats.read(db));
      }
      return dx;
    } finally {
      saved.release(c);
    }
  }

  @Override
  public void clearSaved() {
    saved.clear();
  }

  @Override
  public List<Param> params() {
    return bias == null ? List.of(weight) : List.of(weight, bias);
  }
}

package dev.comix.nn;

import dev.comix.nn.cpu.DnnlRelu;
import dev.comix.runtime.DType;
import dev.comix.runtime.Tensor;

/**
 * y = max(x, 0) on oneDNN's eltwise ReLU; backward passes the gradient where x &gt; 0 (as PyTorch).
 * Keeps a reference to its input for the backward.
 */
public final class ReLU implements Layer {
  private final DnnlRelu dnnl = new DnnlRelu();
  private final Saved<Tensor> saved = new Saved<>(Tensor::close);

  @Override
  public Tensor forward(Tensor x, boolean training) {
    Floats.requireF32(x);
    Tensor y = Tensor.host(DType.F32, x.shape());
    if (x.numel() > 0) dnnl.forward(dnnl.plan(x.numel()), x.data(), y.data());
    saved.push(x.retain(), training);
    return y;
  }

  @Override
  public Tensor backward(Tensor gradOut) {
    Tensor savedInput = saved.pop("ReLU");
    try {
      Floats.requireF32(gradOut);
      Floats.sameShape(gradOut, savedInput.shape(), "ReLU");
      Tensor dx = Tensor.host(DType.F32, savedInput.shape());
      if (gradOut.numel() > 0) dnnl.backward(dnnl.plan(gradOut.numel()), savedInput.data(), gradOut.data(), dx.data());
      return dx;
    } finally {
      saved.release(savedInput);
    }
  }

  @Override
  public void clearSaved() {
    saved.clear();
  }
}

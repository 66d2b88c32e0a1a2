package dev.comix.nn;

import dev.comix.jni.ComixCuda;
import dev.comix.nn.cpu.DnnlRelu;
import dev.comix.nn.gpu.GpuContext;
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
    if (x.device().isCuda()) {
      // GPU: saves the output (y > 0 is the same mask as x > 0)
      GpuContext g = GpuContext.of(x);
      Tensor y = g.alloc(x.dtype(), x.shape());
      if (x.numel() > 0)
        g.check(ComixCuda.comix_nn_relu_forward_cuda(x.data(), GpuContext.code(x), x.numel(), y.data(), g.stream()), "ReLU");
      saved.push(y.retain(), training);
      return y;
    }
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
      if (savedInput.device().isCuda()) {
        GpuContext g = GpuContext.of(savedInput);
        Floats.sameShapeAndType(gradOut, savedInput.shape(), savedInput, "ReLU");
        Tensor dx = g.alloc(gradOut.dtype(), gradOut.shape());
        if (gradOut.numel() > 0)
          g.check(ComixCuda.comix_nn_relu_backward_cuda(savedInput.data(), gradOut.data(), GpuContext.code(gradOut),
              gradOut.numel(), dx.data(), g.stream()), "ReLU backward");
        return dx;
      }
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

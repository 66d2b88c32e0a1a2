package dev.comix.nn;

import dev.comix.jni.ComixCuda;
import dev.comix.nn.cpu.DnnlBatchNorm;
import dev.comix.nn.gpu.GpuContext;
import dev.comix.nn.gpu.GpuProfile;
import dev.comix.runtime.ComixException;
import dev.comix.runtime.DType;
import dev.comix.runtime.Tensor;
import java.util.Arrays;
import java.util.List;

/**
 * BatchNorm3d with PyTorch semantics over NDHWC input (statistics per channel over N·D·H·W).
 * Training: normalise with the batch mean and biased variance, then update
 * running = (1 − momentum)·running + momentum·batch with the <b>unbiased</b> variance for
 * running_var. Eval: normalise with the running statistics. Defaults are Unit3D's: eps 1e-3,
 * momentum 0.01. Like PyTorch it refuses training with one value per channel (N·D·H·W = 1).
 *
 * <p>Runs on oneDNN's batch normalisation (forward and backward, scale and shift); the running
 * update is done here from the batch mean and variance oneDNN returns.
 *
 * <p>On a CUDA device it runs on comix's kernels (batch statistics accumulated in double, the
 * normalisation optionally fused with the ReLU that follows in a Unit3D, the running update on
 * the device); the running statistics live on the device while training there and are copied
 * back when read through {@link #runningMean} / {@link #runningVar}.
 */
public final class BatchNorm3d implements Layer {
  private final int channels;
  private final double eps, momentum;
  private final Param weight, bias;
  private final Tensor runningMean, runningVar;
  private final Mirrored runMean, runVar;
  private final DnnlBatchNorm dnnl;
  /**
   * mean / var: the batch statistics in training, a copy of the running ones in eval; output:
   * the (retained) output when a ReLU was fused (GPU), else null.
   */
  private record Ctx(Tensor input, Tensor mean, Tensor var, DnnlBatchNorm.Plan plan, boolean training, Tensor output) {}

  private final Saved<Ctx> saved = new Saved<>(c -> {
    c.input().close();
    c.mean().close();
    c.var().close();
    if (c.output() != null) c.output().close();
  });

  public BatchNorm3d(int channels) {
    this(channels, 1e-3, 0.01);
  }

  public BatchNorm3d(int channels, double eps, double momentum) {
    this.channels = channels;
    this.eps = eps;
    this.momentum = momentum;
    weight = new Param("weight", channels);
    bias = new Param("bias", channels);
    Floats.fill(weight.value(), 1f);
    runningMean = Tensor.host(DType.F32, channels);
    runningVar = Tensor.host(DType.F32, channels);
    Floats.fill(runningMean, 0f);
    Floats.fill(runningVar, 1f);
    runMean = new Mirrored(runningMean);
    runVar = new Mirrored(runningVar);
    dnnl = new DnnlBatchNorm(channels, eps);
  }

  public Param weight() {
    return weight;
  }

  public Param bias() {
    return bias;
  }

  /** The running mean (host, current; the caller may write it). */
  public Tensor runningMean() {
    return runMean.host();
  }

  /** The running variance (host, current; the caller may write it). */
  public Tensor runningVar() {
    return runVar.host();
  }

  @Override
  public Tensor forward(Tensor x, boolean training) {
    if (x.device().isCuda()) return gpuForward(x, training, false);
    return cpuForward(x, training);
  }

  /**
   * BatchNorm followed by ReLU in one pass (GPU; on the CPU the two layers run one after the
   * other). The backward then masks the gradient by the saved output.
   */
  Tensor forwardRelu(Tensor x, boolean training) {
    if (!x.device().isCuda()) throw new IllegalStateException("the fused BN+ReLU runs on the GPU only");
    return gpuForward(x, training, true);
  }

  private Tensor gpuForward(Tensor x, boolean training, boolean relu) {
    GpuContext g = GpuContext.of(x);
    Floats.ndhwcGpu(x, channels, "BatchNorm3d", g);
    long M = x.numel() / channels;
    if (training && M <= 1)
      throw new ComixException("BatchNorm3d: expected more than 1 value per channel when training, got input "
          + Arrays.toString(x.shape()));
    int code = GpuContext.code(x);
    Tensor mean = g.alloc(DType.F32, channels), var = g.alloc(DType.F32, channels);
    Tensor y = null;
    try {
      if (training) {
        long wsBytes = ComixCuda.comix_nn_bn_stats_workspace(M, channels);
        try (Tensor ws = g.alloc(DType.U8, Math.max(1, wsBytes)); GpuProfile.Span sp = g.span("bn stats")) {
          g.check(ComixCuda.comix_nn_bn_stats_cuda(x.data(), code, M, channels, mean.data(), var.data(), ws.data(),
              wsBytes, g.stream()), "BatchNorm3d statistics");
        }
        Tensor rm = runMean.deviceForWrite(g), rv = runVar.deviceForWrite(g);
        g.check(ComixCuda.comix_nn_bn_running_update_cuda(rm.data(), rv.data(), mean.data(), var.data(), channels,
            momentum, M, g.stream()), "BatchNorm3d running update");
      } else {
        g.ops().copy(runMean.device(g), mean);
        g.ops().copy(runVar.device(g), var);
      }
      y = g.alloc(x.dtype(), x.shape());
      try (GpuProfile.Span sp = g.span(relu ? "bn+relu fwd" : "bn fwd")) {
        g.check(ComixCuda.comix_nn_bn_forward_cuda(x.data(), code, M, channels, mean.data(), var.data(), (float) eps,
            weight.valueOn(g).data(), bias.valueOn(g).data(), relu ? 1 : 0, y.data(), g.stream()), "BatchNorm3d");
      }
      saved.push(new Ctx(x.retain(), mean, var, null, training, relu ? y.retain() : null), training);
      return y;
    } catch (RuntimeException e) {
      mean.close();
      var.close();
      if (y != null) y.close();
      throw e;
    }
  }

  private Tensor gpuBackward(Ctx c, Tensor gradOut) {
    GpuContext g = GpuContext.of(c.input());
    Floats.sameShapeAndType(gradOut, c.input().shape(), c.input(), "BatchNorm3d");
    long M = c.input().numel() / channels;
    Tensor dx = g.alloc(gradOut.dtype(), gradOut.shape());
    try {
      long wsBytes = ComixCuda.comix_nn_bn_backward_workspace(M, channels);
      try (Tensor ws = g.alloc(DType.U8, Math.max(1, wsBytes));
          GpuProfile.Span sp = g.span(c.output() != null ? "bn+relu bwd" : "bn bwd")) {
        g.check(ComixCuda.comix_nn_bn_backward_cuda(c.input().data(), c.output() == null ? null : c.output().data(),
            gradOut.data(), GpuContext.code(gradOut), M, channels, c.mean().data(), c.var().data(), (float) eps,
            weight.valueOn(g).data(), c.training() ? 1 : 0, dx.data(), weight.gradOn(g).data(), bias.gradOn(g).data(),
            ws.data(), wsBytes, g.stream()), "BatchNorm3d backward");
      }
      return dx;
    } catch (RuntimeException e) {
      dx.close();
      throw e;
    }
  }

  private Tensor cpuForward(Tensor x, boolean training) {
    int[] s = Floats.ndhwc(x, channels, "BatchNorm3d");
    long M = x.numel() / channels;
    if (training && M <= 1)
      throw new ComixException("BatchNorm3d: expected more than 1 value per channel when training, got input "
          + Arrays.toString(x.shape()));
    DnnlBatchNorm.Plan p = dnnl.plan(s[0], s[1], s[2], s[3], training);
    Tensor y = Tensor.host(DType.F32, x.shape());
    Tensor mean = Tensor.host(DType.F32, channels), var = Tensor.host(DType.F32, channels);
    if (!training) {
      Floats.write(mean, Floats.read(runMean.host()));
      Floats.write(var, Floats.read(runVar.host()));
    }
    dnnl.forward(p, x.data(), y.data(), mean.data(), var.data(), weight.value().data(), bias.value().data());
    if (training) {
      // PyTorch's update: running = (1 − m)·running + m·batch, with the unbiased batch variance
      float[] bm = Floats.read(mean), bv = Floats.read(var);
      float[] rm = Floats.read(runMean.host()), rv = Floats.read(runVar.host());
      for (int c = 0; c < channels; c++) {
        rm[c] = (float) ((1 - momentum) * rm[c] + momentum * bm[c]);
        rv[c] = (float) ((1 - momentum) * rv[c] + momentum * bv[c] * ((double) M / (M - 1)));
      }
      Floats.write(runningMean, rm);
      Floats.write(runningVar, rv);
    }
    saved.push(new Ctx(x.retain(), mean, var, p, training, null), training);
    return y;
  }

  @Override
  public Tensor backward(Tensor gradOut) {
    Ctx c = saved.pop("BatchNorm3d");
    try {
      if (c.input().device().isCuda()) return gpuBackward(c, gradOut);
      Floats.requireF32(gradOut);
      Floats.sameShape(gradOut, c.input().shape(), "BatchNorm3d");
      Tensor dx = Tensor.host(DType.F32, c.input().shape());
      try (Tensor dg = Tensor.host(DType.F32, channels); Tensor db = Tensor.host(DType.F32, channels)) {
        dnnl.backward(c.plan(), c.input().data(), gradOut.data(), c.mean().data(), c.var().data(),
            weight.value().data(), dx.data(), dg.data(), db.data());
        Floats.addInto(weight.grad(), Floats.read(dg));
        Floats.addInto(bias.grad(), Floats.read(db));
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
    return List.of(weight, bias);
  }
}

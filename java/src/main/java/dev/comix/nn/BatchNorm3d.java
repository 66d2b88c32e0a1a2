package dev.comix.nn;

import dev.comix.nn.cpu.DnnlBatchNorm;
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
 */
public final class BatchNorm3d implements Layer {
  private final int channels;
  private final double eps, momentum;
  private final Param weight, bias;
  private final Tensor runningMean, runningVar;
  private final DnnlBatchNorm dnnl;
  /** mean / var: the batch statistics in training, a copy of the running ones in eval. */
  private record Ctx(Tensor input, Tensor mean, Tensor var, DnnlBatchNorm.Plan plan) {}

  private final Saved<Ctx> saved = new Saved<>(c -> {
    c.input().close();
    c.mean().close();
    c.var().close();
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
    dnnl = new DnnlBatchNorm(channels, eps);
  }

  public Param weight() {
    return weight;
  }

  public Param bias() {
    return bias;
  }

  public Tensor runningMean() {
    return runningMean;
  }

  public Tensor runningVar() {
    return runningVar;
  }

  @Override
  public Tensor forward(Tensor x, boolean training) {
    int[] s = Floats.ndhwc(x, channels, "BatchNorm3d");
    long M = x.numel() / channels;
    if (training && M <= 1)
      throw new ComixException("BatchNorm3d: expected more than 1 value per channel when training, got input "
          + Arrays.toString(x.shape()));
    DnnlBatchNorm.Plan p = dnnl.plan(s[0], s[1], s[2], s[3], training);
    Tensor y = Tensor.host(DType.F32, x.shape());
    Tensor mean = Tensor.host(DType.F32, channels), var = Tensor.host(DType.F32, channels);
    if (!training) {
      Floats.write(mean, Floats.read(runningMean));
      Floats.write(var, Floats.read(runningVar));
    }
    dnnl.forward(p, x.data(), y.data(), mean.data(), var.data(), weight.value().data(), bias.value().data());
    if (training) {
      // PyTorch's update: running = (1 − m)·running + m·batch, with the unbiased batch variance
      float[] bm = Floats.read(mean), bv = Floats.read(var);
      float[] rm = Floats.read(runningMean), rv = Floats.read(runningVar);
      for (int c = 0; c < channels; c++) {
        rm[c] = (float) ((1 - momentum) * rm[c] + momentum * bm[c]);
        rv[c] = (float) ((1 - momentum) * rv[c] + momentum * bv[c] * ((double) M / (M - 1)));
      }
      Floats.write(runningMean, rm);
      Floats.write(runningVar, rv);
    }
    saved.push(new Ctx(x.retain(), mean, var, p), training);
    return y;
  }

  @Override
  public Tensor backward(Tensor gradOut) {
    Ctx c = saved.pop("BatchNorm3d");
    try {
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

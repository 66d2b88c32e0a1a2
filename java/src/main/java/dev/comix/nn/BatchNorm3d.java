package dev.comix.nn;

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
 * <p>Plain Java with float64 statistics: the pass is memory-bound and small next to the convs,
 * and the backward (which oneDNN can do) needs the same saved x̂ either way.
 */
public final class BatchNorm3d implements Layer {
  private final int channels;
  private final double eps, momentum;
  private final Param weight, bias;
  private final Tensor runningMean, runningVar;
  private float[] savedXhat;
  private double[] savedInvStd;
  private boolean savedTraining;
  private long[] savedShape;

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
    Floats.ndhwc(x, channels, "BatchNorm3d");
    int C = channels;
    float[] xv = Floats.read(x);
    int M = xv.length / C;
    double[] mean = new double[C], invStd = new double[C];
    if (training) {
      if (M <= 1)
        throw new ComixException("BatchNorm3d: expected more than 1 value per channel when training, got input "
            + Arrays.toString(x.shape()));
      double[] sum = new double[C];
      for (int i = 0; i < M; i++) for (int c = 0; c < C; c++) sum[c] += xv[i * C + c];
      for (int c = 0; c < C; c++) mean[c] = sum[c] / M;
      double[] sq = new double[C];
      for (int i = 0; i < M; i++)
        for (int c = 0; c < C; c++) {
          double d = xv[i * C + c] - mean[c];
          sq[c] += d * d;
        }
      float[] rm = Floats.read(runningMean), rv = Floats.read(runningVar);
      for (int c = 0; c < C; c++) {
        double var = sq[c] / M;
        invStd[c] = 1.0 / Math.sqrt(var + eps);
        rm[c] = (float) ((1 - momentum) * rm[c] + momentum * mean[c]);
        rv[c] = (float) ((1 - momentum) * rv[c] + momentum * sq[c] / (M - 1));
      }
      Floats.write(runningMean, rm);
      Floats.write(runningVar, rv);
    } else {
      float[] rm = Floats.read(runningMean), rv = Floats.read(runningVar);
      for (int c = 0; c < C; c++) {
        mean[c] = rm[c];
        invStd[c] = 1.0 / Math.sqrt(rv[c] + eps);
      }
    }
    float[] g = Floats.read(weight.value()), b = Floats.read(bias.value());
    float[] xhat = new float[xv.length], y = new float[xv.length];
    for (int i = 0; i < M; i++)
      for (int c = 0; c < C; c++) {
        int j = i * C + c;
        double h = (xv[j] - mean[c]) * invStd[c];
        xhat[j] = (float) h;
        y[j] = (float) (h * g[c] + b[c]);
      }
    savedXhat = xhat;
    savedInvStd = invStd;
    savedTraining = training;
    savedShape = x.shape();
    return Floats.of(y, savedShape);
  }

  @Override
  public Tensor backward(Tensor gradOut) {
    if (savedXhat == null) throw new IllegalStateException("BatchNorm3d.backward before forward");
    Floats.requireF32(gradOut);
    Floats.sameShape(gradOut, savedShape, "BatchNorm3d");
    int C = channels;
    float[] dy = Floats.read(gradOut), xhat = savedXhat;
    int M = dy.length / C;
    double[] dg = new double[C], db = new double[C];
    for (int i = 0; i < M; i++)
      for (int c = 0; c < C; c++) {
        int j = i * C + c;
        db[c] += dy[j];
        dg[c] += (double) dy[j] * xhat[j];
      }
    float[] g = Floats.read(weight.value());
    float[] dx = new float[dy.length];
    for (int i = 0; i < M; i++)
      for (int c = 0; c < C; c++) {
        int j = i * C + c;
        double k = g[c] * savedInvStd[c];
        dx[j] = (float) (savedTraining ? k * (dy[j] - db[c] / M - xhat[j] * dg[c] / M) : k * dy[j]);
      }
    float[] dgf = new float[C], dbf = new float[C];
    for (int c = 0; c < C; c++) {
      dgf[c] = (float) dg[c];
      dbf[c] = (float) db[c];
    }
    Floats.addInto(weight.grad(), dgf);
    Floats.addInto(bias.grad(), dbf);
    return Floats.of(dx, savedShape);
  }

  @Override
  public List<Param> params() {
    return List.of(weight, bias);
  }
}

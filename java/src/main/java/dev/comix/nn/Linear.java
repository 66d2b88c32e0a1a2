package dev.comix.nn;

import dev.comix.runtime.Tensor;
import java.util.List;
import java.util.stream.IntStream;

/**
 * y = x·Wᵀ + b for x [N, in], W [out, in] (PyTorch order), b [out]. Plain Java: in CoMix it maps
 * 1024-d clip features to a few classes, far too small for a library call to pay off.
 */
public final class Linear implements Layer {
  private final int in, out;
  private final Param weight, bias;
  private record Ctx(float[] x, long[] shape) {}

  private final Saved<Ctx> saved = new Saved<>();

  public Linear(int in, int out, boolean withBias) {
    this.in = in;
    this.out = out;
    weight = new Param("weight", out, in);
    bias = withBias ? new Param("bias", out) : null;
  }

  public Param weight() {
    return weight;
  }

  public Param bias() {
    return bias;
  }

  private int rows(Tensor x) {
    Floats.requireF32(x);
    if (x.rank() != 2 || x.dim(1) != in)
      throw new IllegalArgumentException("Linear: expected [N, " + in + "], got " + java.util.Arrays.toString(x.shape()));
    return (int) x.dim(0);
  }

  @Override
  public Tensor forward(Tensor x, boolean training) {
    int n = rows(x);
    float[] xv = Floats.read(x), w = Floats.read(weight.value());
    float[] b = bias == null ? null : Floats.read(bias.value());
    float[] y = new float[n * out];
    IntStream.range(0, n * out).parallel().forEach(ij -> {
      int i = ij / out, j = ij % out;
      double acc = b == null ? 0 : b[j];
      for (int k = 0; k < in; k++) acc += xv[i * in + k] * w[j * in + k];
      y[ij] = (float) acc;
    });
    saved.push(new Ctx(xv, x.shape()), training);
    return Floats.of(y, n, out);
  }

  @Override
  public Tensor backward(Tensor gradOut) {
    Ctx c = saved.pop("Linear");
    float[] savedX = c.x();
    long[] savedShape = c.shape();
    int n = (int) savedShape[0];
    Floats.requireF32(gradOut);
    Floats.sameShape(gradOut, new long[] {n, out}, "Linear");
    float[] g = Floats.read(gradOut), w = Floats.read(weight.value());
    float[] dx = new float[n * in], dw = new float[out * in], db = new float[out];
    IntStream.range(0, n).parallel().forEach(i -> {
      for (int k = 0; k < in; k++) {
        double acc = 0;
        for (int j = 0; j < out; j++) acc += g[i * out + j] * w[j * in + k];
        dx[i * in + k] = (float) acc;
      }
    });
    IntStream.range(0, out).parallel().forEach(j -> {
      double bsum = 0;
      for (int i = 0; i < n; i++) bsum += g[i * out + j];
      db[j] = (float) bsum;
      for (int k = 0; k < in; k++) {
        double acc = 0;
        for (int i = 0; i < n; i++) acc += g[i * out + j] * savedX[i * in + k];
        dw[j * in + k] = (float) acc;
      }
    });
    Floats.addInto(weight.grad(), dw);
    if (bias != null) Floats.addInto(bias.grad(), db);
    return Floats.of(dx, savedShape);
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

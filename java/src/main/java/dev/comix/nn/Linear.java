package dev.comix.nn;

import dev.comix.jni.ComixCuda;
import dev.comix.nn.gpu.ConvPrecision;
import dev.comix.nn.gpu.GpuContext;
import dev.comix.nn.gpu.GpuProfile;
import dev.comix.runtime.DType;
import dev.comix.runtime.Tensor;
import java.util.List;
import java.util.stream.IntStream;

/**
 * y = x·Wᵀ + b for x [N, in], W [out, in] (PyTorch order), b [out]. Plain Java on the CPU: in
 * CoMix it maps 1024-d clip features to a few classes, far too small for a library call to pay
 * off. On a CUDA device (input on the GPU) the three products run on cuBLAS (strict fp32 at F32
 * precision, TF32 otherwise; a BF16 input is widened to F32 first), the bias gradient on the
 * channel-sum kernel; output and gradients are F32.
 */
public final class Linear implements Layer {
  private final int in, out;
  private final Param weight, bias;
  /** CPU: x values; GPU: the (F32, retained) input. */
  private record Ctx(float[] x, long[] shape, Tensor gpuX) {}

  private final Saved<Ctx> saved = new Saved<>(c -> {
    if (c.gpuX() != null) c.gpuX().close();
  });

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
    if (x.device().isCuda()) return gpuForward(x, training);
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
    saved.push(new Ctx(xv, x.shape(), null), training);
    return Floats.of(y, n, out);
  }

  private Tensor gpuForward(Tensor x, boolean training) {
    GpuContext g = GpuContext.of(x);
    if (x.rank() != 2 || x.dim(1) != in)
      throw new IllegalArgumentException("Linear: expected [N, " + in + "], got " + java.util.Arrays.toString(x.shape()));
    long n = x.dim(0);
    boolean tf32 = g.precision() != ConvPrecision.F32;
    Tensor xf = x.dtype() == DType.F32 ? x.retain() : g.cast(x, DType.F32);
    Tensor y = g.alloc(DType.F32, n, out);
    try (GpuProfile.Span sp = g.span("linear fwd")) {
      if (n > 0) {
        float beta = 0f;
        if (bias != null) { // y = b·1ᵀ first (column-major [out, n] = [out, 1]·[1, n])
          g.ops().gemm(false, false, out, n, 1, 1f, bias.valueOn(g).data(), out, ones(g, n).data(), 1, 0f, y.data(), out,
              false, "Linear bias");
          beta = 1f;
        }
        // column-major: Y[out, n] = W_cm[in, out]ᵀ · X_cm[in, n]
        g.ops().gemm(true, false, out, n, in, 1f, weight.valueOn(g).data(), in, xf.data(), in, beta, y.data(), out, tf32,
            "Linear");
      }
    } catch (RuntimeException e) {
      y.close();
      xf.close();
      throw e;
    }
    saved.push(new Ctx(null, x.shape(), xf), training);
    return y;
  }

  private Tensor ones;

  /** A device vector of at least n ones (kept: no host-to-device copy per step). */
  private Tensor ones(GpuContext g, long n) {
    if (ones == null || !ones.device().equals(g.device()) || ones.numel() < n) {
      if (ones != null) ones.close();
      float[] a = new float[Math.toIntExact(n)];
      java.util.Arrays.fill(a, 1f);
      try (Tensor h = Floats.of(a, n)) {
        ones = g.upload(h, DType.F32);
      }
    }
    return ones;
  }

  private Tensor gpuBackward(Ctx c, Tensor gradOut) {
    Tensor x = c.gpuX();
    GpuContext g = GpuContext.of(x);
    long n = x.dim(0);
    Floats.sameShape(gradOut, new long[] {n, out}, "Linear");
    boolean tf32 = g.precision() != ConvPrecision.F32;
    Tensor gf = gradOut.dtype() == DType.F32 ? gradOut.retain() : g.cast(gradOut, DType.F32);
    Tensor dx = g.alloc(DType.F32, n, in);
    try (GpuProfile.Span sp = g.span("linear bwd")) {
      if (n > 0) {
        // dX_cm[in, n] = W_cm[in, out] · dY_cm[out, n]
        g.ops().gemm(false, false, in, n, out, 1f, weight.valueOn(g).data(), in, gf.data(), out, 0f, dx.data(), in, tf32,
            "Linear backward-data");
        // dW_cm[in, out] += X_cm[in, n] · dY_cm[out, n]ᵀ
        g.ops().gemm(false, true, in, out, n, 1f, x.data(), in, gf.data(), out, 1f, weight.gradOn(g).data(), in, tf32,
            "Linear backward-weights");
        if (bias != null) {
          long wsBytes = ComixCuda.comix_nn_channel_sum_workspace(n, out);
          try (Tensor ws = g.alloc(DType.U8, Math.max(1, wsBytes))) {
            g.check(ComixCuda.comix_nn_channel_sum_cuda(gf.data(), 0, n, out, bias.gradOn(g).data(), 1, ws.data(), wsBytes,
                g.stream()), "Linear bias gradient");
          }
        }
      }
      return dx;
    } catch (RuntimeException e) {
      dx.close();
      throw e;
    } finally {
      gf.close();
    }
  }

  @Override
  public Tensor backward(Tensor gradOut) {
    Ctx c = saved.pop("Linear");
    if (c.gpuX() != null) {
      try {
        return gpuBackward(c, gradOut);
      } finally {
        saved.release(c);
      }
    }
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

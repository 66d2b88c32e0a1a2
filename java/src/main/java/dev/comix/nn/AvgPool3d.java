package dev.comix.nn;

import dev.comix.runtime.Tensor;

/**
 * nn.AvgPool3d(kernel, stride) without padding (I3D's final pool is (1, 7, 7), stride 1): output
 * size floor((s − k) / t) + 1 per dimension. NDHWC in and out.
 */
public final class AvgPool3d implements Layer {
  private final int[] kernel, stride;
  private long[] savedInShape, savedOutShape;

  public AvgPool3d(int[] kernel, int[] stride) {
    this.kernel = kernel.clone();
    this.stride = stride.clone();
  }

  private int[] out(int[] s) {
    int[] o = new int[3];
    for (int i = 0; i < 3; i++) {
      if (s[i + 1] < kernel[i])
        throw new IllegalArgumentException("AvgPool3d: input " + s[i + 1] + " smaller than kernel " + kernel[i]);
      o[i] = (s[i + 1] - kernel[i]) / stride[i] + 1;
    }
    return o;
  }

  @Override
  public Tensor forward(Tensor x, boolean training) {
    int[] s = Floats.ndhwc(x, -1, "AvgPool3d");
    int N = s[0], D = s[1], H = s[2], W = s[3], C = s[4];
    int[] o = out(s);
    float[] xv = Floats.read(x);
    float[] y = new float[N * o[0] * o[1] * o[2] * C];
    double inv = 1.0 / (kernel[0] * kernel[1] * kernel[2]);
    double[] acc = new double[C];
    for (int n = 0; n < N; n++)
      for (int od = 0; od < o[0]; od++)
        for (int oh = 0; oh < o[1]; oh++)
          for (int ow = 0; ow < o[2]; ow++) {
            java.util.Arrays.fill(acc, 0);
            for (int kd = 0; kd < kernel[0]; kd++)
              for (int kh = 0; kh < kernel[1]; kh++)
                for (int kw = 0; kw < kernel[2]; kw++) {
                  int b = (((n * D + od * stride[0] + kd) * H + oh * stride[1] + kh) * W + ow * stride[2] + kw) * C;
                  for (int c = 0; c < C; c++) acc[c] += xv[b + c];
                }
            int ob = (((n * o[0] + od) * o[1] + oh) * o[2] + ow) * C;
            for (int c = 0; c < C; c++) y[ob + c] = (float) (acc[c] * inv);
          }
    savedInShape = x.shape();
    savedOutShape = new long[] {N, o[0], o[1], o[2], C};
    return Floats.of(y, savedOutShape);
  }

  @Override
  public Tensor backward(Tensor gradOut) {
    if (savedInShape == null) throw new IllegalStateException("AvgPool3d.backward before forward");
    Floats.requireF32(gradOut);
    Floats.sameShape(gradOut, savedOutShape, "AvgPool3d");
    int N = (int) savedInShape[0], D = (int) savedInShape[1], H = (int) savedInShape[2], W = (int) savedInShape[3],
        C = (int) savedInShape[4];
    int[] o = {(int) savedOutShape[1], (int) savedOutShape[2], (int) savedOutShape[3]};
    float[] g = Floats.read(gradOut);
    double[] dx = new double[N * D * H * W * C];
    double inv = 1.0 / (kernel[0] * kernel[1] * kernel[2]);
    for (int n = 0; n < N; n++)
      for (int od = 0; od < o[0]; od++)
        for (int oh = 0; oh < o[1]; oh++)
          for (int ow = 0; ow < o[2]; ow++) {
            int ob = (((n * o[0] + od) * o[1] + oh) * o[2] + ow) * C;
            for (int kd = 0; kd < kernel[0]; kd++)
              for (int kh = 0; kh < kernel[1]; kh++)
                for (int kw = 0; kw < kernel[2]; kw++) {
                  int b = (((n * D + od * stride[0] + kd) * H + oh * stride[1] + kh) * W + ow * stride[2] + kw) * C;
                  for (int c = 0; c < C; c++) dx[b + c] += g[ob + c] * inv;
                }
          }
    float[] r = new float[dx.length];
    for (int i = 0; i < r.length; i++) r[i] = (float) dx[i];
    return Floats.of(r, savedInShape);
  }
}

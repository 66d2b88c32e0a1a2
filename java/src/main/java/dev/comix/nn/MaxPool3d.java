package dev.comix.nn;

import dev.comix.runtime.Tensor;
import java.util.stream.IntStream;

/**
 * pytorch-i3d's MaxPool3dSamePadding: TF-SAME padding with <b>zeros</b> (F.pad, constant 0), then
 * nn.MaxPool3d without padding (floor mode). The padded zeros take part in the max, so a window
 * of negatives hanging over the edge yields 0; that differs from oneDNN's pooling, which pads
 * max-pools with −∞, hence this implementation. Windows are scanned in (kT, kH, kW) order and the
 * first maximum wins (strict &gt;), as PyTorch's CPU kernel does; a gradient whose maximum is a
 * padded zero is dropped, as F.pad's backward drops it. NDHWC in and out.
 */
public final class MaxPool3d implements Layer {
  private final int[] kernel, stride;
  private int[] savedArg; // flat input index of each output's maximum, −1 for a padded zero
  private long[] savedInShape, savedOutShape;

  public MaxPool3d(int[] kernel, int[] stride) {
    this.kernel = kernel.clone();
    this.stride = stride.clone();
  }

  @Override
  public Tensor forward(Tensor x, boolean training) {
    int[] s = Floats.ndhwc(x, -1, "MaxPool3d");
    int N = s[0], D = s[1], H = s[2], W = s[3], C = s[4];
    int[] size = {D, H, W};
    int[] o = TfSame.out(size, kernel, stride), f = TfSame.front(size, kernel, stride);
    float[] xv = Floats.read(x);
    int outLen = N * o[0] * o[1] * o[2] * C;
    float[] y = new float[outLen];
    int[] arg = new int[outLen];
    IntStream.range(0, N * o[0] * o[1]).parallel().forEach(row -> {
      int oh = row % o[1], od = (row / o[1]) % o[0], n = row / (o[1] * o[0]);
      for (int ow = 0; ow < o[2]; ow++)
        for (int c = 0; c < C; c++) {
          float best = Float.NEGATIVE_INFINITY;
          int bi = -1;
          for (int kd = 0; kd < kernel[0]; kd++) {
            int id = od * stride[0] - f[0] + kd;
            for (int kh = 0; kh < kernel[1]; kh++) {
              int ih = oh * stride[1] - f[1] + kh;
              for (int kw = 0; kw < kernel[2]; kw++) {
                int iw = ow * stride[2] - f[2] + kw;
                boolean inside = id >= 0 && id < D && ih >= 0 && ih < H && iw >= 0 && iw < W;
                int idx = inside ? (((n * D + id) * H + ih) * W + iw) * C + c : -1;
                float v = inside ? xv[idx] : 0f;
                if (v > best || Float.isNaN(v)) {
                  best = v;
                  bi = idx;
                  if (Float.isNaN(v)) break;
                }
              }
            }
          }
          int oi = (((n * o[0] + od) * o[1] + oh) * o[2] + ow) * C + c;
          y[oi] = best;
          arg[oi] = bi;
        }
    });
    savedArg = arg;
    savedInShape = x.shape();
    savedOutShape = new long[] {N, o[0], o[1], o[2], C};
    return Floats.of(y, savedOutShape);
  }

  @Override
  public Tensor backward(Tensor gradOut) {
    if (savedArg == null) throw new IllegalStateException("MaxPool3d.backward before forward");
    Floats.requireF32(gradOut);
    Floats.sameShape(gradOut, savedOutShape, "MaxPool3d");
    float[] g = Floats.read(gradOut);
    float[] dx = new float[Math.toIntExact(Tensor.numel(savedInShape))];
    for (int i = 0; i < g.length; i++) if (savedArg[i] >= 0) dx[savedArg[i]] += g[i];
    return Floats.of(dx, savedInShape);
  }
}

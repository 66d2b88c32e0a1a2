package dev.comix.nn.gpu;

/**
 * Float64 direct 3-D convolution (cross-correlation, symmetric zero padding) and both gradients,
 * in logical NCDHW / [Cout, Cin, kT, kH, kW] order: the oracle of {@link CudnnConv3dTest}.
 */
final class ConvReference {
  final int n, cin, cout, d, h, w, od, oh, ow;
  final int[] k, s, p;

  ConvReference(int n, int cin, int cout, int d, int h, int w, int[] k, int[] s, int[] p) {
    this.n = n;
    this.cin = cin;
    this.cout = cout;
    this.d = d;
    this.h = h;
    this.w = w;
    this.k = k.clone();
    this.s = s.clone();
    this.p = p.clone();
    this.od = (d + 2 * p[0] - k[0]) / s[0] + 1;
    this.oh = (h + 2 * p[1] - k[1]) / s[1] + 1;
    this.ow = (w + 2 * p[2] - k[2]) / s[2] + 1;
  }

  int xSize() {
    return n * cin * d * h * w;
  }

  int ySize() {
    return n * cout * od * oh * ow;
  }

  int wSize() {
    return cout * cin * k[0] * k[1] * k[2];
  }

  /** y = conv(x, wt); dx = dL/dx and dw = dL/dw for upstream gradient dy (any of the outputs may be null). */
  void run(double[] x, double[] wt, double[] dy, double[] y, double[] dx, double[] dw) {
    for (int b = 0; b < n; b++)
      for (int co = 0; co < cout; co++)
        for (int z = 0; z < od; z++)
          for (int r = 0; r < oh; r++)
            for (int c = 0; c < ow; c++) {
              int yi = (((b * cout + co) * od + z) * oh + r) * ow + c;
              double acc = 0, g = dy == null ? 0 : dy[yi];
              for (int ci = 0; ci < cin; ci++)
                for (int kt = 0; kt < k[0]; kt++) {
                  int iz = z * s[0] - p[0] + kt;
                  if (iz < 0 || iz >= d) continue;
                  for (int kh = 0; kh < k[1]; kh++) {
                    int ir = r * s[1] - p[1] + kh;
                    if (ir < 0 || ir >= h) continue;
                    for (int kw = 0; kw < k[2]; kw++) {
                      int ic = c * s[2] - p[2] + kw;
                      if (ic < 0 || ic >= w) continue;
                      int xi = (((b * cin + ci) * d + iz) * h + ir) * w + ic;
                      int wi = (((co * cin + ci) * k[0] + kt) * k[1] + kh) * k[2] + kw;
                      acc += x[xi] * wt[wi];
                      if (dx != null) dx[xi] += g * wt[wi];
                      if (dw != null) dw[wi] += g * x[xi];
                    }
                  }
                }
              if (y != null) y[yi] = acc;
            }
  }
}

package dev.comix.nn;

/**
 * TensorFlow "SAME" padding as pytorch-i3d computes it (COMIX-SPEC §1.1): for a dimension of size
 * s, kernel k and stride t, pad = max(k − t, 0) when s % t == 0, else max(k − s % t, 0); the front
 * gets pad / 2 and the back the rest. The output size after padding is floor((s + pad − k) / t) + 1,
 * which equals ceil(s / t).
 */
public final class TfSame {
  private TfSame() {}

  public static int pad(int size, int kernel, int stride) {
    if (size <= 0 || kernel <= 0 || stride <= 0)
      throw new IllegalArgumentException("size, kernel and stride must be positive: " + size + ", " + kernel + ", " + stride);
    return size % stride == 0 ? Math.max(kernel - stride, 0) : Math.max(kernel - size % stride, 0);
  }

  public static int front(int size, int kernel, int stride) {
    return pad(size, kernel, stride) / 2;
  }

  public static int back(int size, int kernel, int stride) {
    int p = pad(size, kernel, stride);
    return p - p / 2;
  }

  /** Output size of a conv or max-pool after TF-SAME padding (floor mode, as nn.Conv3d / nn.MaxPool3d). */
  public static int out(int size, int kernel, int stride) {
    return Math.floorDiv(size + pad(size, kernel, stride) - kernel, stride) + 1;
  }

  /** Front pads for (D, H, W). */
  public static int[] front(int[] size, int[] kernel, int[] stride) {
    int[] r = new int[3];
    for (int i = 0; i < 3; i++) r[i] = front(size[i], kernel[i], stride[i]);
    return r;
  }

  /** Back pads for (D, H, W). */
  public static int[] back(int[] size, int[] kernel, int[] stride) {
    int[] r = new int[3];
    for (int i = 0; i < 3; i++) r[i] = back(size[i], kernel[i], stride[i]);
    return r;
  }

  /** Output sizes for (D, H, W). */
  public static int[] out(int[] size, int[] kernel, int[] stride) {
    int[] r = new int[3];
    for (int i = 0; i < 3; i++) r[i] = out(size[i], kernel[i], stride[i]);
    return r;
  }
}

package dev.comix.nn;

/**
 * nn.AvgPool3d(kernel, stride) without padding (I3D's final pool is (1, 7, 7), stride 1): output
 * size floor((s − k) / t) + 1 per dimension. oneDNN average pooling; NDHWC in and out.
 */
public final class AvgPool3d extends Pool3d {
  public AvgPool3d(int[] kernel, int[] stride) {
    super("AvgPool3d", false, kernel, stride);
  }

  @Override
  protected long[][] geometry(int[] size) {
    long[] o = new long[3];
    for (int i = 0; i < 3; i++) {
      if (size[i] < kernel[i])
        throw new IllegalArgumentException("AvgPool3d: input " + size[i] + " smaller than kernel " + kernel[i]);
      o[i] = (size[i] - kernel[i]) / stride[i] + 1;
    }
    return new long[][] {{0, 0, 0}, {0, 0, 0}, o};
  }
}

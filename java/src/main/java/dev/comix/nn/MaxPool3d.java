package dev.comix.nn;

import dev.comix.nn.cpu.DnnlPool3d;

/**
 * pytorch-i3d's MaxPool3dSamePadding: TF-SAME padding with <b>zeros</b> (F.pad, constant 0), then
 * nn.MaxPool3d without padding (floor mode). The padded zeros take part in the max, so a window
 * of negatives hanging over the edge yields 0 (oneDNN's own padding would give the largest
 * negative): {@link DnnlPool3d} pads explicitly and pools unpadded. A gradient whose maximum is a
 * padded zero is dropped, as F.pad's backward drops it. Between exactly equal values the maximum
 * oneDNN picks may differ from PyTorch's first-in-window; after a ReLU such ties are zeros whose
 * gradient the ReLU discards anyway. NDHWC in and out.
 */
public final class MaxPool3d extends Pool3d {
  public MaxPool3d(int[] kernel, int[] stride) {
    super("MaxPool3d", true, kernel, stride);
  }

  @Override
  protected long[][] geometry(int[] size) {
    int[] o = TfSame.out(size, kernel, stride), f = TfSame.front(size, kernel, stride), b = TfSame.back(size, kernel, stride);
    return new long[][] {{f[0], f[1], f[2]}, {b[0], b[1], b[2]}, {o[0], o[1], o[2]}};
  }
}

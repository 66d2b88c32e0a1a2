package dev.comix.nn;

import dev.comix.runtime.DType;
import dev.comix.runtime.Tensor;
import java.util.Arrays;
import java.util.List;

/**
 * Concatenation and split along channels, the last dimension of NDHWC (any rank works: the last
 * dimension is the channel). They are each other's backward: the gradient of {@link #concat} is
 * {@link #split} of the upstream gradient with the same sizes, and vice versa.
 */
public final class Channels {
  private Channels() {}

  public static Tensor concat(List<Tensor> parts) {
    if (parts.isEmpty()) throw new IllegalArgumentException("concat of nothing");
    long[] shape = parts.get(0).shape();
    int r = shape.length;
    int total = 0;
    for (Tensor t : parts) {
      Floats.requireF32(t);
      long[] s = t.shape();
      if (s.length != r || !Arrays.equals(Arrays.copyOf(s, r - 1), Arrays.copyOf(shape, r - 1)))
        throw new IllegalArgumentException("concat: " + Arrays.toString(s) + " does not match " + Arrays.toString(shape));
      total += (int) s[r - 1];
    }
    long rows = Tensor.numel(Arrays.copyOf(shape, r - 1));
    float[] out = new float[Math.toIntExact(rows * total)];
    int off = 0;
    for (Tensor t : parts) {
      int c = (int) t.dim(-1);
      float[] v = Floats.read(t);
      for (int i = 0; i < rows; i++) System.arraycopy(v, i * c, out, i * total + off, c);
      off += c;
    }
    long[] os = shape.clone();
    os[r - 1] = total;
    return Floats.of(out, os);
  }

  public static List<Tensor> split(Tensor x, int... sizes) {
    Floats.requireF32(x);
    long[] shape = x.shape();
    int r = shape.length;
    int total = (int) shape[r - 1];
    if (Arrays.stream(sizes).sum() != total || Arrays.stream(sizes).anyMatch(s -> s <= 0))
      throw new IllegalArgumentException("split " + Arrays.toString(sizes) + " of " + total + " channels");
    long rows = Tensor.numel(Arrays.copyOf(shape, r - 1));
    float[] v = Floats.read(x);
    Tensor[] out = new Tensor[sizes.length];
    int off = 0;
    for (int k = 0; k < sizes.length; k++) {
      int c = sizes[k];
      float[] p = new float[Math.toIntExact(rows * c)];
      for (int i = 0; i < rows; i++) System.arraycopy(v, i * total + off, p, i * c, c);
      long[] s = shape.clone();
      s[r - 1] = c;
      out[k] = Tensor.host(DType.F32, s);
      Floats.write(out[k], p);
      off += c;
    }
    return List.of(out);
  }
}

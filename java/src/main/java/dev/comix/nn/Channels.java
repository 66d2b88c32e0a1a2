package dev.comix.nn;

import dev.comix.nn.gpu.GpuContext;
import dev.comix.runtime.DType;
import dev.comix.runtime.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.bytedeco.javacpp.BytePointer;

/**
 * Concatenation and split along channels, the last dimension of NDHWC (any rank works: the last
 * dimension is the channel). They are each other's backward: the gradient of {@link #concat} is
 * {@link #split} of the upstream gradient with the same sizes, and vice versa. On a CUDA device
 * they are pitched 2-D device copies (F32 or BF16).
 */
public final class Channels {
  private Channels() {}

  public static Tensor concat(List<Tensor> parts) {
    if (parts.isEmpty()) throw new IllegalArgumentException("concat of nothing");
    if (parts.get(0).device().isCuda()) return gpuConcat(parts);
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

  private static BytePointer at(Tensor t, long byteOffset) {
    BytePointer p = t.data();
    return new BytePointer(p).position(p.position() + byteOffset);
  }

  private static Tensor gpuConcat(List<Tensor> parts) {
    Tensor first = parts.get(0);
    GpuContext g = GpuContext.of(first);
    long[] shape = first.shape();
    int r = shape.length;
    long total = 0;
    for (Tensor t : parts) {
      long[] s = t.shape();
      if (t.dtype() != first.dtype() || !t.device().equals(first.device()) || s.length != r
          || !Arrays.equals(Arrays.copyOf(s, r - 1), Arrays.copyOf(shape, r - 1)))
        throw new IllegalArgumentException("concat: " + t + " does not match " + first);
      total += s[r - 1];
    }
    long rows = Tensor.numel(Arrays.copyOf(shape, r - 1));
    long es = first.dtype().size();
    long[] os = shape.clone();
    os[r - 1] = total;
    Tensor out = g.alloc(first.dtype(), os);
    long off = 0;
    try (var sp = g.span("concat")) {
      for (Tensor t : parts) {
        long c = t.dim(-1);
        g.copy2d(at(out, off * es), total * es, t.data(), c * es, c * es, rows);
        off += c;
      }
    }
    return out;
  }

  private static List<Tensor> gpuSplit(Tensor x, int... sizes) {
    GpuContext g = GpuContext.of(x);
    long[] shape = x.shape();
    int r = shape.length;
    long total = shape[r - 1];
    if (Arrays.stream(sizes).asLongStream().sum() != total || Arrays.stream(sizes).anyMatch(s -> s <= 0))
      throw new IllegalArgumentException("split " + Arrays.toString(sizes) + " of " + total + " channels");
    long rows = Tensor.numel(Arrays.copyOf(shape, r - 1));
    long es = x.dtype().size();
    List<Tensor> out = new ArrayList<>(sizes.length);
    long off = 0;
    try (var sp = g.span("split")) {
      for (int c : sizes) {
        long[] s = shape.clone();
        s[r - 1] = c;
        Tensor p = g.alloc(x.dtype(), s);
        out.add(p);
        g.copy2d(p.data(), c * es, at(x, off * es), total * es, c * es, rows);
        off += c;
      }
    }
    return List.copyOf(out);
  }

  public static List<Tensor> split(Tensor x, int... sizes) {
    if (x.device().isCuda()) return gpuSplit(x, sizes);
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

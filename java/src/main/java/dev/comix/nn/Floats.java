package dev.comix.nn;

import dev.comix.runtime.DType;
import dev.comix.runtime.Tensor;
import java.util.Arrays;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;

/** Host F32 tensor helpers for the Java-side layers. */
public final class Floats {
  private Floats() {}

  /** A FloatPointer at the tensor's first element (honours a byte offset of a view). */
  public static FloatPointer ptr(Tensor t) {
    requireF32(t);
    BytePointer b = t.data();
    long off = b.position();
    FloatPointer f = new FloatPointer(b);
    f.position(0);
    if (off % 4 != 0) throw new IllegalStateException("misaligned F32 view");
    return f.position(off / 4);
  }

  public static float[] read(Tensor t) {
    float[] a = new float[Math.toIntExact(t.numel())];
    ptr(t).get(a);
    return a;
  }

  public static void write(Tensor t, float[] a) {
    if (a.length != t.numel()) throw new IllegalArgumentException("length " + a.length + " vs " + Arrays.toString(t.shape()));
    ptr(t).put(a);
  }

  public static Tensor of(float[] a, long... shape) {
    Tensor t = Tensor.host(DType.F32, shape);
    write(t, a);
    return t;
  }

  public static void fill(Tensor t, float v) {
    if (v == 0f && Float.floatToRawIntBits(v) == 0) { // +0.0: a memset, no Java array
      t.data().fill(0);
      return;
    }
    float[] a = new float[Math.toIntExact(t.numel())];
    Arrays.fill(a, v);
    write(t, a);
  }

  /** grad += delta, element-wise. */
  public static void addInto(Tensor grad, float[] delta) {
    float[] g = read(grad);
    for (int i = 0; i < g.length; i++) g[i] += delta[i];
    write(grad, g);
  }

  static void requireF32(Tensor t) {
    if (t.dtype() != DType.F32) throw new IllegalArgumentException("expected F32, got " + t.dtype());
    if (t.device().isCuda()) throw new IllegalArgumentException("expected a host tensor, got " + t.device());
  }

  /** Checks a 5-D NDHWC tensor and returns its shape as ints. */
  static int[] ndhwc(Tensor t, int channels, String who) {
    requireF32(t);
    if (t.rank() != 5) throw new IllegalArgumentException(who + ": expected [N, D, H, W, C], got " + Arrays.toString(t.shape()));
    int[] s = new int[5];
    for (int i = 0; i < 5; i++) s[i] = Math.toIntExact(t.dim(i));
    if (channels >= 0 && s[4] != channels)
      throw new IllegalArgumentException(who + ": expected " + channels + " channels (last dim), got " + Arrays.toString(t.shape()));
    return s;
  }

  /**
   * Checks a 5-D NDHWC activation on a CUDA device (F32 or BF16, the context's activation type)
   * and returns its shape as ints.
   */
  static int[] ndhwcGpu(Tensor t, int channels, String who, dev.comix.nn.gpu.GpuContext g) {
    if (t.rank() != 5) throw new IllegalArgumentException(who + ": expected [N, D, H, W, C], got " + Arrays.toString(t.shape()));
    if (t.dtype() != g.activationType())
      throw new IllegalArgumentException(who + ": input is " + t.dtype() + " but GPU precision " + g.precision()
          + " takes " + g.activationType() + " activations (GpuContext.upload converts)");
    int[] s = new int[5];
    for (int i = 0; i < 5; i++) s[i] = Math.toIntExact(t.dim(i));
    if (channels >= 0 && s[4] != channels)
      throw new IllegalArgumentException(who + ": expected " + channels + " channels (last dim), got " + Arrays.toString(t.shape()));
    return s;
  }

  static void sameShapeAndType(Tensor a, long[] shape, Tensor like, String who) {
    sameShape(a, shape, who);
    if (a.dtype() != like.dtype() || !a.device().equals(like.device()))
      throw new IllegalArgumentException(who + ": gradient is " + a.dtype() + " on " + a.device() + ", expected "
          + like.dtype() + " on " + like.device());
  }

  static void sameShape(Tensor a, long[] shape, String who) {
    if (!Arrays.equals(a.shape(), shape))
      throw new IllegalArgumentException(who + ": gradient shape " + Arrays.toString(a.shape()) + " != output " + Arrays.toString(shape));
  }
}

package dev.comix.loss;

import dev.comix.runtime.DType;
import dev.comix.runtime.Tensor;
import org.bytedeco.javacpp.BytePointer;

/** Host tensor helpers for the tests. */
final class TensorsForTests {
  private TensorsForTests() {}

  static Tensor f32(double[] v, long... shape) {
    Tensor t = Tensor.host(DType.F32, shape);
    BytePointer p = t.data();
    for (int i = 0; i < v.length; i++) p.putFloat(4L * i, (float) v[i]);
    return t;
  }

  static Tensor f64(double[] v, long... shape) {
    Tensor t = Tensor.host(DType.F64, shape);
    BytePointer p = t.data();
    for (int i = 0; i < v.length; i++) p.putDouble(8L * i, v[i]);
    return t;
  }

  static Tensor i64(long[] v) {
    Tensor t = Tensor.host(DType.I64, v.length);
    for (int i = 0; i < v.length; i++) t.data().putLong(8L * i, v[i]);
    return t;
  }

  static Tensor u8(boolean[] v) {
    Tensor t = Tensor.host(DType.U8, v.length);
    for (int i = 0; i < v.length; i++) t.data().put(i, (byte) (v[i] ? 1 : 0));
    return t;
  }

  /** Values of a host F32 or F64 tensor as doubles. */
  static double[] values(Tensor t) {
    double[] out = new double[Math.toIntExact(t.numel())];
    BytePointer p = t.data();
    for (int i = 0; i < out.length; i++) out[i] = t.dtype() == DType.F64 ? p.getDouble(8L * i) : p.getFloat(4L * i);
    return out;
  }

  /** float32-rounded copy (the inputs the float32 path actually sees). */
  static double[] roundF32(double[] v) {
    double[] r = new double[v.length];
    for (int i = 0; i < v.length; i++) r[i] = (float) v[i];
    return r;
  }
}

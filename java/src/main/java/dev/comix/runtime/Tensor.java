package dev.comix.runtime;

import java.util.Arrays;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;

/**
 * A dense, row-major block of elements on one device: shape, dtype, device and a JavaCPP
 * pointer (host memory or a CUDA device address). Close it to give the memory back; views
 * ({@link #view}, {@link #slice0}) share the storage and own nothing.
 */
public final class Tensor implements AutoCloseable {
  private final long[] shape;
  private final DType dtype;
  private final Device device;
  private final BytePointer data;
  private final Runnable release;
  private boolean closed;

  Tensor(DType dtype, Device device, BytePointer data, Runnable release, long... shape) {
    this.shape = shape.clone();
    this.dtype = dtype;
    this.device = device;
    this.data = data;
    this.release = release;
    long n = numel(this.shape);
    if (n < 0) throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
  }

  /** Host tensor in freshly allocated (uninitialised) native memory. */
  public static Tensor host(DType dtype, long... shape) {
    long bytes = numel(shape) * dtype.size();
    if (numel(shape) < 0) throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
    BytePointer p;
    try {
      p = new BytePointer(Math.max(1, bytes));
    } catch (OutOfMemoryError e) {
      throw new ComixException("out of host memory allocating " + bytes + " bytes", e);
    }
    return new Tensor(dtype, Device.CPU, p, p::deallocate, shape);
  }

  /** Host tensor holding a copy of {@code bytes} (U8). */
  public static Tensor hostOf(byte[] bytes, long... shape) {
    if (numel(shape) != bytes.length)
      throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " does not hold " + bytes.length + " bytes");
    Tensor t = host(DType.U8, shape);
    t.data.put(bytes, 0, bytes.length);
    return t;
  }

  public static long numel(long[] shape) {
    long n = 1;
    for (long d : shape) {
      if (d < 0) return -1;
      n = Math.multiplyExact(n, d);
    }
    return n;
  }

  public long[] shape() {
    return shape.clone();
  }

  public long dim(int i) {
    return shape[i < 0 ? shape.length + i : i];
  }

  public int rank() {
    return shape.length;
  }

  public DType dtype() {
    return dtype;
  }

  public Device device() {
    return device;
  }

  public long numel() {
    return numel(shape);
  }

  public long byteSize() {
    return numel() * dtype.size();
  }

  /** The pointer to the first element (host or device address). */
  public BytePointer data() {
    if (closed) throw new IllegalStateException("tensor is closed");
    return data;
  }

  public boolean isClosed() {
    return closed;
  }

  /** Same storage, another shape with the same element count. */
  public Tensor view(long... newShape) {
    if (numel(newShape) != numel())
      throw new IllegalArgumentException("cannot view " + Arrays.toString(shape) + " as " + Arrays.toString(newShape));
    return new Tensor(dtype, device, data(), null, newShape);
  }

  /** Rows [from, to) along the first dimension, sharing storage. */
  public Tensor slice0(long from, long to) {
    if (rank() == 0 || from < 0 || to > shape[0] || from > to)
      throw new IndexOutOfBoundsException("slice [" + from + ", " + to + ") of " + Arrays.toString(shape));
    long[] s = shape.clone();
    s[0] = to - from;
    long rowBytes = shape[0] == 0 ? 0 : byteSize() / shape[0];
    BytePointer p = new BytePointer(data()).position(data.position() + from * rowBytes);
    return new Tensor(dtype, device, p, null, s);
  }

  /** Copies a host tensor's bytes out (for small tensors, tests and I/O). */
  public byte[] toBytes() {
    requireHost();
    byte[] b = new byte[Math.toIntExact(byteSize())];
    data().get(b, 0, b.length);
    return b;
  }

  public float[] toFloats() {
    requireHost();
    if (dtype != DType.F32) throw new IllegalStateException("toFloats on " + dtype);
    float[] f = new float[Math.toIntExact(numel())];
    new org.bytedeco.javacpp.FloatPointer(data()).get(f);
    return f;
  }

  private void requireHost() {
    if (device.isCuda()) throw new IllegalStateException("tensor is on " + device + "; copy it to the host first");
  }

  /** Raw pointer for native calls; positioned at the first element. */
  Pointer pointer() {
    return data();
  }

  @Override
  public void close() {
    if (closed) return;
    closed = true;
    if (release != null) release.run();
  }

  @Override
  public String toString() {
    return "Tensor" + Arrays.toString(shape) + " " + dtype + " on " + device;
  }
}

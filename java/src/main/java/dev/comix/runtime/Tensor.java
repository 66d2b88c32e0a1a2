package dev.comix.runtime;

import java.util.Arrays;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;

/**
 * A dense, row-major block of elements on one device: shape, dtype, device and a JavaCPP
 * pointer (host memory or a CUDA device address). Close it to give the memory back; views
 * ({@link #view}, {@link #slice0}) share the storage and own nothing.
 *
 * <p>Ownership is reference counted: a new tensor holds one reference; {@link #retain} adds one
 * (a layer that saves its input for the backward retains it and closes it when done), and
 * {@link #close} drops one, giving the memory back when the last is dropped. Retaining a view
 * retains the tensor that owns the storage. On the GPU this is what keeps memory bounded: nothing
 * waits for the garbage collector.
 */
public final class Tensor implements AutoCloseable {
  private final long[] shape;
  private final DType dtype;
  private final Device device;
  private final BytePointer data;
  private final Runnable release;
  /** The tensor that owns the storage (this, for an owning tensor). */
  private final Tensor base;
  /** References to the storage (meaningful on the base only). */
  private int refs = 1;
  /** References this view holds on its base through {@link #retain}. */
  private int held;
  private boolean closed;

  Tensor(DType dtype, Device device, BytePointer data, Runnable release, long... shape) {
    this(dtype, device, data, release, null, shape);
  }

  private Tensor(DType dtype, Device device, BytePointer data, Runnable release, Tensor base, long... shape) {
    this.base = base == null ? this : base;
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
    if (isClosed()) throw new IllegalStateException("tensor is closed");
    return data;
  }

  public synchronized boolean isClosed() {
    return closed || (base != this && base.isClosed());
  }

  /**
   * Adds a reference to the storage (to the owning tensor for a view) and returns this tensor;
   * each retain is matched by one {@link #close}.
   */
  public Tensor retain() {
    if (isClosed()) throw new IllegalStateException("retain of a closed tensor");
    if (base == this) {
      synchronized (this) {
        refs++;
      }
    } else {
      base.retain();
      synchronized (this) {
        held++;
      }
    }
    return this;
  }

  /** References held on the storage (1 for a tensor nobody retained). */
  public int refCount() {
    synchronized (base) {
      return base.refs;
    }
  }

  /** Same storage, another shape with the same element count. */
  public Tensor view(long... newShape) {
    if (numel(newShape) != numel())
      throw new IllegalArgumentException("cannot view " + Arrays.toString(shape) + " as " + Arrays.toString(newShape));
    return new Tensor(dtype, device, data(), null, base, newShape);
  }

  /** Rows [from, to) along the first dimension, sharing storage. */
  public Tensor slice0(long from, long to) {
    if (rank() == 0 || from < 0 || to > shape[0] || from > to)
      throw new IndexOutOfBoundsException("slice [" + from + ", " + to + ") of " + Arrays.toString(shape));
    long[] s = shape.clone();
    s[0] = to - from;
    long rowBytes = shape[0] == 0 ? 0 : byteSize() / shape[0];
    BytePointer p = new BytePointer(data()).position(data.position() + from * rowBytes);
    return new Tensor(dtype, device, p, null, base, s);
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

  /** Drops one reference; the last one gives the storage back. Closing a closed tensor does nothing. */
  @Override
  public void close() {
    if (base != this) {
      boolean drop;
      synchronized (this) {
        if (closed) return;
        drop = held > 0;
        if (drop) held--;
        else closed = true;
      }
      if (drop) base.close();
      return;
    }
    synchronized (this) {
      if (closed) return;
      if (--refs > 0) return;
      closed = true;
    }
    if (release != null) release.run();
  }

  @Override
  public String toString() {
    return "Tensor" + Arrays.toString(shape) + " " + dtype + " on " + device;
  }
}

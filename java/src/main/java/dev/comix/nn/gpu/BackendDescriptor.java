package dev.comix.nn.gpu;

import static org.bytedeco.cuda.global.cudnn.*;

import dev.comix.runtime.ComixException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.HashMap;
import java.util.Map;
import org.bytedeco.cuda.cudnn.cudnnBackendDescriptor_t;
import org.bytedeco.cuda.cudnn.cudnnContext;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * One cuDNN backend descriptor ({@code cudnnBackendDescriptor_t}) with typed attribute setters and
 * getters. Every call is checked; a failure throws a {@link ComixException} naming the call, the
 * descriptor type, the attribute and the caller's context ({@code where}: the conv and the shape).
 * Only code that already holds a loaded cuDNN ({@link Cudnn#of}) creates these.
 */
final class BackendDescriptor implements AutoCloseable {
  private static Map<Integer, String> attrNames, typeNames;

  final cudnnBackendDescriptor_t d;
  final String kind;
  final String where;
  private boolean closed;

  private BackendDescriptor(cudnnBackendDescriptor_t d, String kind, String where) {
    this.d = d;
    this.kind = kind;
    this.where = where;
  }

  /** cudnnBackendCreateDescriptor of {@code type}; {@code where} goes into every error message. */
  static BackendDescriptor create(int type, String where) {
    cudnnBackendDescriptor_t d = new cudnnBackendDescriptor_t();
    String kind = typeName(type);
    Cudnn.check(cudnnBackendCreateDescriptor(type, d), "cudnnBackendCreateDescriptor(" + kind + ")" + where);
    return new BackendDescriptor(d, kind, where);
  }

  private String what(String call, int attr) {
    return call + "(" + kind + ", " + attrName(attr) + ")" + where;
  }

  BackendDescriptor set(int attr, int type, long count, Pointer values) {
    Cudnn.check(cudnnBackendSetAttribute(d, attr, type, count, values), what("cudnnBackendSetAttribute", attr));
    return this;
  }

  BackendDescriptor setInt64(int attr, long... v) {
    try (LongPointer p = new LongPointer(v)) {
      return set(attr, CUDNN_TYPE_INT64, v.length, p);
    }
  }

  /** One value of an enum-typed attribute (data type, convolution mode, heuristics mode, …): a C enum is an int. */
  BackendDescriptor setEnum(int attr, int type, int value) {
    try (IntPointer p = new IntPointer(new int[] {value})) {
      return set(attr, type, 1, p);
    }
  }

  BackendDescriptor setFloat(int attr, float value) {
    try (FloatPointer p = new FloatPointer(new float[] {value})) {
      return set(attr, CUDNN_TYPE_FLOAT, 1, p);
    }
  }

  /**
   * The address a JavaCPP pointer stands for (its address plus its position, in elements). Arrays
   * of pointers (descriptors, handles, device pointers) are passed to cuDNN as arrays of these
   * 64-bit values, so no JavaCPP conversion decides whether a position counts.
   */
  static long effectiveAddress(Pointer p) {
    return p == null ? 0 : p.address() + p.position() * p.sizeof();
  }

  private BackendDescriptor setAddresses(int attr, int type, long[] addresses) {
    try (LongPointer p = new LongPointer(addresses)) {
      return set(attr, type, addresses.length, p);
    }
  }

  /** An array of descriptors (cuDNN takes an array of cudnnBackendDescriptor_t values). */
  BackendDescriptor setDescriptors(int attr, BackendDescriptor... ds) {
    long[] a = new long[ds.length];
    for (int i = 0; i < ds.length; i++) a[i] = ds[i].d.address();
    return setAddresses(attr, CUDNN_TYPE_BACKEND_DESCRIPTOR, a);
  }

  BackendDescriptor setHandle(int attr, cudnnContext handle) {
    return setAddresses(attr, CUDNN_TYPE_HANDLE, new long[] {handle.address()});
  }

  /** An array of device pointers (void*), JavaCPP positions applied (a null or 0-address pointer passes NULL). */
  BackendDescriptor setPointers(int attr, Pointer... ptrs) {
    long[] a = new long[ptrs.length];
    for (int i = 0; i < ptrs.length; i++) a[i] = effectiveAddress(ptrs[i]);
    return setAddresses(attr, CUDNN_TYPE_VOID_PTR, a);
  }

  BackendDescriptor finish() {
    Cudnn.check(cudnnBackendFinalize(d), "cudnnBackendFinalize(" + kind + ")" + where);
    return this;
  }

  /** cudnnBackendFinalize's status, unchecked (a candidate engine config may simply not be finalizable). */
  int tryFinish() {
    return cudnnBackendFinalize(d);
  }

  long getInt64(int attr) {
    try (LongPointer count = new LongPointer(1); LongPointer v = new LongPointer(1)) {
      Cudnn.check(cudnnBackendGetAttribute(d, attr, CUDNN_TYPE_INT64, 1, count, v), what("cudnnBackendGetAttribute", attr));
      return v.get();
    }
  }

  /** Up to {@code max} values of an enum-typed attribute (numerical notes, behavior notes, knob types). */
  int[] getEnums(int attr, int type, int max) {
    try (LongPointer count = new LongPointer(1); IntPointer v = new IntPointer(Math.max(1, max))) {
      count.put(0);
      Cudnn.check(cudnnBackendGetAttribute(d, attr, type, max, count, v), what("cudnnBackendGetAttribute", attr));
      int n = (int) Math.min(max, Math.max(0, count.get()));
      int[] out = new int[n];
      v.get(out);
      return out;
    }
  }

  /** The element count of a descriptor-array attribute (requested count 0, no array). */
  long countDescriptors(int attr) {
    try (LongPointer count = new LongPointer(1)) {
      count.put(0);
      Cudnn.check(cudnnBackendGetAttribute(d, attr, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, count, (Pointer) null),
          what("cudnnBackendGetAttribute(count)", attr));
      return count.get();
    }
  }

  /**
   * Fills the pre-created descriptors {@code into} with a descriptor-array attribute (cuDNN copies
   * into descriptors the caller created) and returns how many it filled.
   */
  int getDescriptors(int attr, BackendDescriptor... into) {
    long[] a = new long[Math.max(1, into.length)];
    for (int i = 0; i < into.length; i++) a[i] = into[i].d.address();
    try (LongPointer count = new LongPointer(1); LongPointer p = new LongPointer(a)) {
      count.put(0);
      Cudnn.check(cudnnBackendGetAttribute(d, attr, CUDNN_TYPE_BACKEND_DESCRIPTOR, into.length, count, p),
          what("cudnnBackendGetAttribute", attr));
      return (int) Math.min(into.length, Math.max(0, count.get()));
    }
  }

  @Override
  public void close() {
    if (closed) return;
    closed = true;
    cudnnBackendDestroyDescriptor(d);
  }

  /** Destroys descriptors in the reverse of their order in {@code ds} (plans before what they were built from). */
  static void closeAll(java.util.List<BackendDescriptor> ds) {
    for (int i = ds.size() - 1; i >= 0; i--) if (ds.get(i) != null) ds.get(i).close();
  }

  // ---- names for messages -----------------------------------------------------------------------------

  static synchronized String attrName(int attr) {
    if (attrNames == null) attrNames = names("CUDNN_ATTR_", "");
    return attrNames.getOrDefault(attr, "attribute " + attr);
  }

  static synchronized String typeName(int type) {
    if (typeNames == null) typeNames = names("CUDNN_BACKEND_", "_DESCRIPTOR");
    String n = typeNames.get(type);
    return n == null ? "descriptor type " + type : n.substring("CUDNN_BACKEND_".length(), n.length() - "_DESCRIPTOR".length());
  }

  /** The int constants of the cuDNN bindings named prefix…suffix, by value (first name wins). */
  private static Map<Integer, String> names(String prefix, String suffix) {
    Map<Integer, String> m = new HashMap<>();
    try {
      for (Field f : org.bytedeco.cuda.global.cudnn.class.getFields())
        if (f.getType() == int.class && Modifier.isStatic(f.getModifiers()) && f.getName().startsWith(prefix)
            && f.getName().endsWith(suffix))
          m.putIfAbsent(f.getInt(null), f.getName());
    } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
      // names are for messages only
    }
    return m;
  }
}

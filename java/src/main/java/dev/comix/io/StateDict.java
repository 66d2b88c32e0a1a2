package dev.comix.io;

import dev.comix.runtime.ComixException;
import dev.comix.runtime.Tensor;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Named host tensors in file order, as read from a safetensors file or a PyTorch checkpoint.
 * The dict owns its tensors: {@link #close()} frees them all (a tensor you need longer, copy it
 * or {@link #remove} it, which hands ownership to you).
 *
 * <pre>{@code
 * try (StateDict sd = TorchCheckpoint.read(Path.of("rgb_imagenet.pt"))) {
 *   StateDicts.check(expectedShapes, sd);
 *   Tensor w = sd.get("Conv3d_1a_7x7.conv3d.weight");
 *   SafeTensors.write(Path.of("rgb_imagenet.safetensors"), sd);
 * }
 * }</pre>
 */
public final class StateDict implements AutoCloseable {
  /** One named tensor and the dtype it was stored with. */
  public record Entry(String name, WeightDType dtype, Tensor tensor) {
    public long[] shape() {
      return tensor.shape();
    }
  }

  private final LinkedHashMap<String, Entry> entries = new LinkedHashMap<>();
  private final LinkedHashMap<String, String> metadata = new LinkedHashMap<>();
  private boolean closed;

  /** Adds a tensor, taking ownership of it. Its dtype must hold {@code dtype}'s elements. */
  public void put(String name, WeightDType dtype, Tensor t) {
    if (closed) throw new IllegalStateException("state dict is closed");
    if (t.device().isCuda()) throw new ComixException("weights: tensor " + name + " is on " + t.device() + "; copy it to the host first");
    if (t.dtype() != dtype.storage())
      throw new IllegalArgumentException(name + ": a " + dtype + " weight is held in a " + dtype.storage() + " tensor, not " + t.dtype());
    Entry old = entries.put(name, new Entry(name, dtype, t));
    if (old != null && old.tensor() != t) old.tensor().close();
  }

  /** Adds a tensor with the weight dtype of its tensor dtype, taking ownership of it. */
  public void put(String name, Tensor t) {
    put(name, WeightDType.of(t.dtype()), t);
  }

  /** The tensor called {@code name}; a clear error naming close matches if there is none. */
  public Tensor get(String name) {
    return entry(name).tensor();
  }

  public Entry entry(String name) {
    Entry e = entries.get(name);
    if (e == null) {
      List<String> near = new ArrayList<>();
      for (String n : entries.keySet())
        if (n.endsWith(name) || name.endsWith(n) || n.endsWith("." + lastPart(name))) near.add(n);
      throw new ComixException("weights: no tensor named '" + name + "' (" + entries.size() + " tensors"
          + (near.isEmpty() ? "" : "; similar: " + String.join(", ", near.subList(0, Math.min(3, near.size())))) + ")");
    }
    return e;
  }

  private static String lastPart(String n) {
    int i = n.lastIndexOf('.');
    return i < 0 ? n : n.substring(i + 1);
  }

  public boolean contains(String name) {
    return entries.containsKey(name);
  }

  public WeightDType dtype(String name) {
    return entry(name).dtype();
  }

  public long[] shape(String name) {
    return entry(name).shape();
  }

  /** Names in file order. */
  public List<String> names() {
    return List.copyOf(entries.keySet());
  }

  public List<Entry> entries() {
    return List.copyOf(entries.values());
  }

  public int size() {
    return entries.size();
  }

  /** Removes a tensor and hands it (and its ownership) to the caller. */
  public Tensor remove(String name) {
    Tensor t = entry(name).tensor();
    entries.remove(name);
    return t;
  }

  /** Free-form string metadata (safetensors {@code __metadata__}); modifiable. */
  public Map<String, String> metadata() {
    return metadata;
  }

  /** Total number of elements over all tensors. */
  public long parameterCount() {
    long n = 0;
    for (Entry e : entries.values()) n += e.tensor().numel();
    return n;
  }

  /** True when there is at least one tensor and every name starts with {@code prefix}. */
  public boolean allNamesStartWith(String prefix) {
    if (entries.isEmpty()) return false;
    for (String n : entries.keySet()) if (!n.startsWith(prefix)) return false;
    return true;
  }

  /**
   * Removes {@code prefix} from every name that has it, keeping the order. Fails (changing
   * nothing) if two names would become the same. Returns how many names changed.
   */
  public int stripPrefix(String prefix) {
    LinkedHashMap<String, Entry> renamed = new LinkedHashMap<>();
    int changed = 0;
    for (Entry e : entries.values()) {
      String n = e.name();
      if (n.startsWith(prefix)) {
        n = n.substring(prefix.length());
        changed++;
      }
      if (renamed.put(n, new Entry(n, e.dtype(), e.tensor())) != null)
        throw new ComixException("weights: stripping '" + prefix + "' would give two tensors named '" + n + "'");
    }
    entries.clear();
    entries.putAll(renamed);
    return changed;
  }

  /** Strips a DataParallel {@code module.} prefix if every name has it; returns whether it did. */
  public boolean stripModulePrefixIfAll() {
    if (!allNamesStartWith("module.")) return false;
    stripPrefix("module.");
    return true;
  }

  /** The values of a floating-point tensor (F32, F64, F16 or BF16) as floats, in row-major order. */
  public float[] floats(String name) {
    Entry e = entry(name);
    Tensor t = e.tensor();
    int n = Math.toIntExact(t.numel());
    float[] out = new float[n];
    if (n == 0) return out;
    ByteBuffer b = WeightBytes.buffer(t, 0, t.byteSize());
    switch (e.dtype()) {
      case F32 -> b.asFloatBuffer().get(out);
      case F64 -> {
        for (int i = 0; i < n; i++) out[i] = (float) b.getDouble(8 * i);
      }
      case F16 -> {
        for (int i = 0; i < n; i++) out[i] = halfToFloat(b.getShort(2 * i));
      }
      case BF16 -> {
        for (int i = 0; i < n; i++) out[i] = Float.intBitsToFloat((b.getShort(2 * i) & 0xffff) << 16);
      }
      default -> throw new ComixException("weights: " + name + " is " + e.dtype() + ", not a floating-point tensor");
    }
    return out;
  }

  /** IEEE 754 binary16 bits to float (exact; Java 17 has no Float.float16ToFloat). */
  static float halfToFloat(short h) {
    int bits = h & 0xffff, sign = (bits & 0x8000) << 16, exp = (bits >>> 10) & 0x1f, mant = bits & 0x3ff;
    if (exp == 0x1f) return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13)); // inf, nan
    if (exp == 0) { // zero or subnormal: mant * 2^-24
      float v = mant * 0x1p-24f;
      return sign != 0 ? -v : v;
    }
    return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
  }

  /** The values of an integer or bool tensor (I64, I32, U16, U8, BOOL) as longs. */
  public long[] longs(String name) {
    Entry e = entry(name);
    Tensor t = e.tensor();
    int n = Math.toIntExact(t.numel());
    long[] out = new long[n];
    if (n == 0) return out;
    ByteBuffer b = WeightBytes.buffer(t, 0, t.byteSize());
    for (int i = 0; i < n; i++) {
      out[i] = switch (e.dtype()) {
        case I64 -> b.getLong(8 * i);
        case I32 -> b.getInt(4 * i);
        case U16 -> b.getShort(2 * i) & 0xffff;
        case U8, BOOL -> b.get(i) & 0xff;
        default -> throw new ComixException("weights: " + name + " is " + e.dtype() + ", not an integer tensor");
      };
    }
    return out;
  }

  /** A one-line summary of a tensor: name, dtype, shape. */
  public String describe(String name) {
    Entry e = entry(name);
    return name + " " + e.dtype() + " " + Arrays.toString(e.shape());
  }

  /** Map view name -> tensor (read-only, file order). */
  public Map<String, Tensor> tensors() {
    LinkedHashMap<String, Tensor> m = new LinkedHashMap<>();
    for (Entry e : entries.values()) m.put(e.name(), e.tensor());
    return Collections.unmodifiableMap(m);
  }

  @Override
  public void close() {
    if (closed) return;
    closed = true;
    for (Entry e : entries.values()) e.tensor().close();
    entries.clear();
  }

  @Override
  public String toString() {
    return "StateDict(" + entries.size() + " tensors, " + parameterCount() + " elements)";
  }
}

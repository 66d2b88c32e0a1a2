package dev.comix.io;

import dev.comix.runtime.ComixException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A restricted pickle reader for PyTorch state dicts. It implements only the opcodes
 * {@code torch.save} emits for a dict of tensors and never executes anything: GLOBAL may name
 * only {@code collections.OrderedDict}, {@code torch._utils._rebuild_tensor_v2} (and the older
 * {@code _rebuild_tensor}),
 * {@code torch._utils._rebuild_parameter} and the typed storage classes
 * ({@code torch.FloatStorage}, ..., and their {@code torch.cuda} twins, read to the host), and REDUCE on those builds plain Java values
 * ({@link TensorRef}, {@link StorageRef}, {@link java.util.LinkedHashMap}). Any other name, opcode
 * or call is refused with a {@link ComixException} that says what the pickle asked for, before
 * anything of it is acted on.
 */
public final class TorchPickle {
  /** The globals a state-dict pickle may name. */
  public static final Set<String> ALLOWED_GLOBALS;

  static {
    List<String> g = new ArrayList<>(List.of("collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_tensor", "torch._utils._rebuild_parameter"));
    for (String s : List.of("Float", "Half", "BFloat16", "Double", "Long", "Int", "Byte", "Bool")) {
      g.add("torch." + s + "Storage");
      g.add("torch.cuda." + s + "Storage"); // saved from a GPU (as old checkpoints often were); read to the host
    }
    ALLOWED_GLOBALS = Set.copyOf(g);
  }

  /** A name from GLOBAL / STACK_GLOBAL that is on the allow-list. */
  record Global(String module, String name) {
    String qualified() {
      return module + "." + name;
    }

    @Override
    public String toString() {
      return qualified();
    }
  }

  /** An immutable pickle tuple. */
  record Tuple(List<Object> items) {
    int size() {
      return items.size();
    }

    Object get(int i) {
      return items.get(i);
    }
  }

  /** The pickle's None. */
  static final Object NONE = new Object() {
    @Override
    public String toString() {
      return "None";
    }
  };

  /** A dict made by {@code collections.OrderedDict()} or EMPTY_DICT. */
  static final class PDict extends LinkedHashMap<Object, Object> {}

  /** A storage named by a persistent id: ('storage', torch.XStorage, key, location, numel[, view]). */
  public record StorageRef(WeightDType dtype, String key, String location, long numel) {}

  /** A tensor view of a storage, as {@code _rebuild_tensor_v2} describes it. */
  public record TensorRef(StorageRef storage, long offset, long[] shape, long[] stride, boolean parameter) {
    @Override
    public String toString() {
      return "tensor " + storage.dtype() + Arrays.toString(shape) + " of storage " + storage.key();
    }
  }

  /** The unpickled value and where its STOP was (the next byte is the next pickle, if any). */
  record Result(Object value, int end) {}

  private static final Object MARK = new Object();

  private final byte[] b;
  private final String what;
  private int pos;
  private final ArrayList<Object> stack = new ArrayList<>();
  private final ArrayList<Integer> marks = new ArrayList<>();
  private final HashMap<Long, Object> memo = new HashMap<>();
  private final Map<String, StorageRef> storages;

  private TorchPickle(byte[] b, int start, String what, Map<String, StorageRef> storages) {
    this.b = b;
    this.pos = start;
    this.what = what;
    this.storages = storages;
  }

  /** Unpickles one pickle that starts at {@code start}; storages met are added to {@code storages} by key. */
  static Result load(byte[] data, int start, String what, Map<String, StorageRef> storages) {
    TorchPickle p = new TorchPickle(data, start, what, storages);
    Object v = p.run();
    return new Result(v, p.pos);
  }

  private ComixException refuse(String msg) {
    return new ComixException(what + ": refuses to load: " + msg
        + " (only tensors, storages and OrderedDicts are allowed; nothing was executed)");
  }

  private ComixException corrupt(String msg) {
    return new ComixException(what + ": corrupt or unsupported pickle: " + msg + " (at byte " + pos + ")");
  }

  private int u8() {
    if (pos >= b.length) throw corrupt("truncated");
    return b[pos++] & 0xff;
  }

  private long le(int n) {
    need(n);
    long v = 0;
    for (int k = 0; k < n; k++) v |= (long) (b[pos + k] & 0xff) << (8 * k);
    pos += n;
    return v;
  }

  private void need(long n) {
    if (n < 0 || n > b.length - pos) throw corrupt("truncated (an item of " + n + " bytes runs past the end)");
  }

  private String utf8(long n) {
    need(n);
    String s = new String(b, pos, (int) n, StandardCharsets.UTF_8);
    pos += (int) n;
    return s;
  }

  private String line() {
    int start = pos;
    while (pos < b.length && b[pos] != '\n') pos++;
    if (pos >= b.length) throw corrupt("truncated GLOBAL");
    String s = new String(b, start, pos - start, StandardCharsets.UTF_8);
    pos++;
    return s;
  }

  private void push(Object o) {
    stack.add(o);
  }

  private Object pop() {
    if (stack.isEmpty() || (!marks.isEmpty() && marks.get(marks.size() - 1) == stack.size()))
      throw corrupt("stack underflow");
    return stack.remove(stack.size() - 1);
  }

  private Object top() {
    if (stack.isEmpty()) throw corrupt("stack underflow");
    return stack.get(stack.size() - 1);
  }

  private List<Object> popMark() {
    if (marks.isEmpty()) throw corrupt("no MARK");
    int m = marks.remove(marks.size() - 1);
    List<Object> items = new ArrayList<>(stack.subList(m, stack.size()));
    stack.subList(m, stack.size()).clear();
    return items;
  }

  private Global global(String module, String name) {
    String q = module + "." + name;
    if (!ALLOWED_GLOBALS.contains(q)) throw refuse("pickle names " + q);
    return new Global(module, name);
  }

  private Object run() {
    while (true) {
      int at = pos;
      int op = u8();
      switch (op) {
        case 0x80 -> { // PROTO
          int v = u8();
          if (v > 5) throw corrupt("pickle protocol " + v);
        }
        case 0x95 -> le(8); // FRAME: a length hint only
        case '.' -> { // STOP
          Object v = pop();
          if (!stack.isEmpty()) throw corrupt("values left on the stack at STOP");
          return v;
        }
        case '(' -> marks.add(stack.size()); // MARK
        case '0' -> pop(); // POP
        case '1' -> popMark(); // POP_MARK
        case '2' -> push(top()); // DUP
        case '}' -> push(new PDict()); // EMPTY_DICT
        case ']' -> push(new ArrayList<>()); // EMPTY_LIST
        case ')' -> push(new Tuple(List.of())); // EMPTY_TUPLE
        case 't' -> push(new Tuple(List.copyOf(popMark()))); // TUPLE
        case 0x85, 0x86, 0x87 -> { // TUPLE1-3
          int n = op - 0x84;
          Object[] items = new Object[n];
          for (int k = n - 1; k >= 0; k--) items[k] = pop();
          push(new Tuple(List.of(items)));
        }
        case 'l' -> push(new ArrayList<>(popMark())); // LIST
        case 'd' -> { // DICT
          List<Object> items = popMark();
          if (items.size() % 2 != 0) throw corrupt("DICT with an odd number of items");
          PDict d = new PDict();
          for (int k = 0; k < items.size(); k += 2) d.put(key(items.get(k)), items.get(k + 1));
          push(d);
        }
        case 'X' -> push(utf8(le(4))); // BINUNICODE
        case 0x8c -> push(utf8(u8())); // SHORT_BINUNICODE
        case 0x8d -> push(utf8(le(8))); // BINUNICODE8
        case 'U', 'T' -> { // SHORT_BINSTRING, BINSTRING (Python 2 str)
          long n = op == 'U' ? u8() : (int) le(4);
          need(n);
          push(new String(b, pos, (int) n, StandardCharsets.ISO_8859_1));
          pos += (int) n;
        }
        case 'J' -> push((long) (int) le(4)); // BININT
        case 'K' -> push((long) u8()); // BININT1
        case 'M' -> push(le(2)); // BININT2
        case 0x8a, 0x8b -> { // LONG1, LONG4
          long n = op == 0x8a ? u8() : le(4);
          if (n > 64) throw corrupt("integer of " + n + " bytes");
          need(n);
          byte[] be = new byte[(int) n];
          for (int k = 0; k < n; k++) be[k] = b[pos + (int) n - 1 - k];
          pos += (int) n;
          BigInteger v = n == 0 ? BigInteger.ZERO : new BigInteger(be);
          push(v.bitLength() < 64 ? (Object) v.longValue() : v);
        }
        case 'G' -> { // BINFLOAT, big-endian
          need(8);
          long bits = 0;
          for (int k = 0; k < 8; k++) bits = (bits << 8) | (b[pos + k] & 0xff);
          pos += 8;
          push(Double.longBitsToDouble(bits));
        }
        case 0x88 -> push(Boolean.TRUE); // NEWTRUE
        case 0x89 -> push(Boolean.FALSE); // NEWFALSE
        case 'N' -> push(NONE); // NONE
        case 'q' -> memo.put((long) u8(), top()); // BINPUT
        case 'r' -> memo.put(le(4), top()); // LONG_BINPUT
        case 0x94 -> memo.put((long) memo.size(), top()); // MEMOIZE
        case 'h', 'j' -> { // BINGET, LONG_BINGET
          long k = op == 'h' ? u8() : le(4);
          Object v = memo.get(k);
          if (v == null) throw corrupt("memo " + k + " is empty");
          push(v);
        }
        case 's' -> { // SETITEM
          Object v = pop(), k = pop();
          dict(top(), "SETITEM").put(key(k), v);
        }
        case 'u' -> { // SETITEMS
          List<Object> items = popMark();
          if (items.size() % 2 != 0) throw corrupt("SETITEMS with an odd number of items");
          PDict d = dict(top(), "SETITEMS");
          for (int k = 0; k < items.size(); k += 2) d.put(key(items.get(k)), items.get(k + 1));
        }
        case 'a' -> { // APPEND
          Object v = pop();
          list(top(), "APPEND").add(v);
        }
        case 'e' -> { // APPENDS
          List<Object> items = popMark();
          list(top(), "APPENDS").addAll(items);
        }
        case 'c' -> { // GLOBAL "module\nname\n"
          String module = line(), name = line();
          push(global(module, name));
        }
        case 0x93 -> { // STACK_GLOBAL
          Object name = pop(), module = pop();
          if (!(module instanceof String m) || !(name instanceof String n)) throw corrupt("STACK_GLOBAL of non-strings");
          push(global(m, n));
        }
        case 'R' -> { // REDUCE
          Object args = pop(), fn = pop();
          if (!(fn instanceof Global g)) throw refuse("REDUCE calls a " + typeName(fn) + ", not an allowed function");
          if (!(args instanceof Tuple t)) throw corrupt("REDUCE arguments are not a tuple");
          push(call(g, t));
        }
        case 'b' -> { // BUILD: the only use is a state dict's _metadata attribute
          Object state = pop();
          Object obj = top();
          if (!(obj instanceof PDict) || !(state instanceof PDict))
            throw refuse("BUILD sets the state of a " + typeName(obj));
        }
        case 'Q' -> { // BINPERSID
          push(persistent(pop()));
        }
        default -> {
          pos = at;
          throw refuse("pickle uses opcode 0x" + Integer.toHexString(op) + " ('" + (op >= 0x20 && op < 0x7f ? (char) op : '?')
              + "'), which state dicts never contain");
        }
      }
    }
  }

  private Object key(Object k) {
    if (k instanceof String || k instanceof Long || k instanceof BigInteger) return k;
    throw corrupt("dict key of type " + typeName(k));
  }

  private PDict dict(Object o, String op) {
    if (o instanceof PDict d) return d;
    throw refuse(op + " on a " + typeName(o));
  }

  @SuppressWarnings("unchecked")
  private List<Object> list(Object o, String op) {
    if (o instanceof ArrayList<?> l) return (List<Object>) l;
    throw refuse(op + " on a " + typeName(o));
  }

  static String typeName(Object o) {
    if (o == NONE) return "None";
    if (o instanceof Global g) return g.qualified();
    if (o instanceof String) return "str";
    if (o instanceof Long || o instanceof BigInteger) return "int";
    if (o instanceof Double) return "float";
    if (o instanceof Boolean) return "bool";
    if (o instanceof Tuple) return "tuple";
    if (o instanceof PDict) return "dict";
    if (o instanceof List) return "list";
    if (o instanceof TensorRef) return "tensor";
    if (o instanceof StorageRef) return "storage";
    return o == null ? "null" : o.getClass().getSimpleName();
  }

  private Object call(Global g, Tuple a) {
    switch (g.qualified()) {
      case "collections.OrderedDict": {
        PDict d = new PDict();
        if (a.size() == 0) return d;
        // OrderedDict([(k, v), ...]); Python 2 pickles OrderedDict as OrderedDict([[k, v], ...])
        if (a.size() == 1 && a.get(0) instanceof List<?> pairs) {
          for (Object p : pairs) {
            List<?> kv = p instanceof Tuple t ? t.items() : p instanceof List<?> l ? l : null;
            if (kv == null || kv.size() != 2) throw corrupt("OrderedDict item is not a pair");
            d.put(key(kv.get(0)), kv.get(1));
          }
          return d;
        }
        throw refuse("OrderedDict called with " + a.size() + " unexpected arguments");
      }
      case "torch._utils._rebuild_tensor_v2": {
        // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
        if (a.size() != 6 && a.size() != 7) throw corrupt("_rebuild_tensor_v2 with " + a.size() + " arguments");
        if (!(a.get(0) instanceof StorageRef s)) throw corrupt("_rebuild_tensor_v2 of a " + typeName(a.get(0)));
        long offset = nonNegative(a.get(1), "storage offset");
        long[] shape = longs(a.get(2), "size");
        long[] stride = longs(a.get(3), "stride");
        if (shape.length != stride.length) throw corrupt("size and stride of different lengths");
        if (!(a.get(4) instanceof Boolean)) throw corrupt("requires_grad is not a bool");
        if (!(a.get(5) instanceof PDict)) throw corrupt("backward_hooks is not a dict");
        if (a.size() == 7 && !(a.get(6) == NONE || a.get(6) instanceof PDict)) throw corrupt("tensor metadata is a " + typeName(a.get(6)));
        return new TensorRef(s, offset, shape, stride, false);
      }
      case "torch._utils._rebuild_tensor": { // older torch: (storage, storage_offset, size, stride)
        if (a.size() != 4 || !(a.get(0) instanceof StorageRef s)) throw corrupt("_rebuild_tensor with unexpected arguments");
        long[] shape = longs(a.get(2), "size"), stride = longs(a.get(3), "stride");
        if (shape.length != stride.length) throw corrupt("size and stride of different lengths");
        return new TensorRef(s, nonNegative(a.get(1), "storage offset"), shape, stride, false);
      }
      case "torch._utils._rebuild_parameter": {
        // (data, requires_grad, backward_hooks)
        if (a.size() != 3 || !(a.get(0) instanceof TensorRef t)) throw corrupt("_rebuild_parameter with unexpected arguments");
        return new TensorRef(t.storage(), t.offset(), t.shape(), t.stride(), true);
      }
      default:
        throw refuse("REDUCE calls " + g.qualified());
    }
  }

  private long nonNegative(Object o, String what) {
    if (o instanceof Long l && l >= 0) return l;
    throw corrupt(what + " is " + o);
  }

  private long[] longs(Object o, String what) {
    if (!(o instanceof Tuple t)) throw corrupt(what + " is a " + typeName(o) + ", not a tuple");
    if (t.size() > 64) throw corrupt(what + " has " + t.size() + " dimensions");
    long[] r = new long[t.size()];
    for (int k = 0; k < r.length; k++) r[k] = nonNegative(t.get(k), what);
    return r;
  }

  private Object persistent(Object pid) {
    // zip format: ('storage', torch.FloatStorage, '0', 'cpu', numel)
    // legacy format: the same plus view_metadata (None for a whole storage)
    if (!(pid instanceof Tuple t) || t.size() < 5 || !"storage".equals(t.get(0)))
      throw refuse("persistent id " + describe(pid) + " is not a storage");
    if (!(t.get(1) instanceof Global g) || !(g.module().equals("torch") || g.module().equals("torch.cuda"))
        || WeightDType.ofTorchStorage(g.name()) == null)
      throw refuse("persistent id names storage type " + typeName(t.get(1)));
    if (!(t.get(2) instanceof String key) || !(t.get(3) instanceof String location))
      throw corrupt("storage key or location is not a string");
    long numel = nonNegative(t.get(4), "storage size");
    if (t.size() == 6 && t.get(5) != NONE)
      throw new ComixException(what + ": storage views (legacy view_metadata) are not supported");
    if (t.size() > 6) throw corrupt("persistent id with " + t.size() + " items");
    StorageRef s = new StorageRef(WeightDType.ofTorchStorage(g.name()), key, location, numel);
    StorageRef old = storages.putIfAbsent(key, s);
    if (old != null) {
      if (!old.equals(s)) throw corrupt("storage " + key + " described twice differently");
      return old;
    }
    return s;
  }

  private static String describe(Object o) {
    if (o instanceof Tuple t) {
      List<String> parts = new ArrayList<>();
      for (Object x : t.items()) parts.add(x instanceof String s ? "'" + s + "'" : typeName(x));
      return "(" + String.join(", ", parts) + ")";
    }
    return typeName(o);
  }
}

package dev.comix.io;

import dev.comix.runtime.ComixException;
import dev.comix.runtime.Tensor;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * Reads PyTorch state dicts saved with {@code torch.save(model.state_dict(), path)}: the zip
 * format ({@code <top>/data.pkl}, {@code <top>/data/<key>}, {@code <top>/byteorder}; any top
 * folder name) and the legacy format ({@code _use_new_zipfile_serialization=False}). The pickle
 * goes through {@link TorchPickle}, which builds tensors, storages and dicts only and refuses
 * everything else. Views are materialised: every tensor comes back contiguous, honouring the
 * storage offset and strides it was saved with.
 *
 * <pre>{@code
 * try (StateDict sd = TorchCheckpoint.read(Path.of("rgb_imagenet.pt"), true)) { ... }
 * }</pre>
 */
public final class TorchCheckpoint {
  /** The largest data.pkl read (the pickle holds names and shapes, not data). */
  static final long MAX_PICKLE = 1L << 30;
  private static final BigInteger LEGACY_MAGIC = new BigInteger("1950a86a20f9469cfc6c", 16);

  private TorchCheckpoint() {}

  /** Reads a checkpoint, keeping the names as saved. */
  public static StateDict read(Path file) {
    return read(file, false);
  }

  /**
   * Reads a checkpoint; with {@code stripModulePrefix}, removes a DataParallel {@code module.}
   * prefix when every name has it.
   */
  public static StateDict read(Path file, boolean stripModulePrefix) {
    String what = "torch checkpoint " + file;
    byte[] head = new byte[4];
    int got;
    try (InputStream in = Files.newInputStream(file)) {
      got = in.readNBytes(head, 0, 4);
    } catch (NoSuchFileException e) {
      throw new ComixException(what + ": no such file");
    } catch (IOException e) {
      throw new ComixException(what + ": cannot read: " + e.getMessage(), e);
    }
    StateDict sd;
    if (got == 4 && head[0] == 'P' && head[1] == 'K' && (head[2] == 3 || head[2] == 5 || head[2] == 7)) {
      sd = readZip(file, what);
    } else if (got == 4 && (head[0] & 0xff) == 0x80 && head[1] == 2 && (head[2] & 0xff) == 0x8a) {
      sd = readLegacy(file, what);
    } else {
      throw new ComixException(what + ": not a PyTorch checkpoint (neither the zip format nor the legacy pickle format"
          + (got < 4 ? "; the file has " + got + " bytes" : "") + ")");
    }
    if (stripModulePrefix) sd.stripModulePrefixIfAll();
    return sd;
  }

  // ---- zip format

  /** The most bytes an entry can expand to: stored entries are copies, deflate expands at most ~1032x. */
  private static long maxEntryBytes(ZipEntry e, long fileLen) {
    long c = e.getCompressedSize() >= 0 ? Math.min(e.getCompressedSize(), fileLen) : fileLen;
    return e.getMethod() == ZipEntry.STORED ? c : c * 1032 + 1024;
  }

  private static StateDict readZip(Path file, String what) {
    final long fileLen;
    try {
      fileLen = Files.size(file);
    } catch (IOException e) {
      throw new ComixException(what + ": cannot read: " + e.getMessage(), e);
    }
    try (ZipFile zip = new ZipFile(file.toFile())) {
      String prefix = null;
      List<String> pkls = new ArrayList<>();
      for (var en = zip.entries(); en.hasMoreElements(); ) {
        String n = en.nextElement().getName();
        if (n.endsWith("/data.pkl") && n.indexOf('/') == n.length() - "/data.pkl".length()) pkls.add(n);
      }
      if (pkls.size() != 1)
        throw new ComixException(what + ": expected one <folder>/data.pkl in the zip, found " + pkls.size() + " " + pkls);
      prefix = pkls.get(0).substring(0, pkls.get(0).length() - "data.pkl".length());
      ZipEntry bo = zip.getEntry(prefix + "byteorder");
      if (bo != null) {
        String order = new String(readEntry(zip, bo, 16, what), java.nio.charset.StandardCharsets.US_ASCII).trim();
        if (!order.equals("little"))
          throw new ComixException(what + ": saved with byte order '" + order + "'; only little-endian checkpoints are supported");
      }
      byte[] pkl = readEntry(zip, zip.getEntry(pkls.get(0)), MAX_PICKLE, what);
      Map<String, TorchPickle.StorageRef> storages = new HashMap<>();
      TorchPickle.Result r = TorchPickle.load(pkl, 0, what, storages);
      if (r.end() != pkl.length) throw new ComixException(what + ": " + (pkl.length - r.end()) + " bytes after the pickle's STOP");
      Map<String, TorchPickle.TensorRef> refs = tensors(r.value(), what);
      final String pre = prefix;
      return build(refs, what, (s, shape) -> {
        ZipEntry e = zip.getEntry(pre + "data/" + s.key());
        if (e == null) throw new ComixException(what + ": storage " + s.key() + " is missing (no " + pre + "data/" + s.key() + ")");
        long bytes = storageBytes(s, what);
        if (e.getSize() >= 0 && e.getSize() != bytes)
          throw new ComixException(what + ": storage " + s.key() + " has " + e.getSize() + " bytes, the pickle says "
              + s.numel() + " x " + s.dtype() + " = " + bytes);
        if (bytes > maxEntryBytes(e, fileLen))
          throw new ComixException(what + ": storage " + s.key() + " claims " + bytes + " bytes, more than the " + fileLen
              + "-byte file can hold");
        Tensor t = Tensor.host(s.dtype().storage(), shape);
        try (InputStream in = zip.getInputStream(e)) {
          byte[] buf = new byte[(int) Math.min(WeightBytes.CHUNK, Math.max(1, bytes))];
          long done = 0;
          while (done < bytes) {
            int n = in.readNBytes(buf, 0, (int) Math.min(buf.length, bytes - done));
            if (n <= 0) throw new ComixException(what + ": storage " + s.key() + " is truncated");
            WeightBytes.buffer(t, done, n).put(buf, 0, n);
            done += n;
          }
          if (in.read() >= 0) throw new ComixException(what + ": storage " + s.key() + " is longer than the pickle says");
        } catch (IOException | RuntimeException ex) {
          t.close();
          if (ex instanceof ComixException c) throw c;
          throw new ComixException(what + ": cannot read storage " + s.key() + ": " + ex.getMessage(), ex);
        }
        return t;
      });
    } catch (NoSuchFileException e) {
      throw new ComixException(what + ": no such file");
    } catch (ZipException e) {
      throw new ComixException(what + ": truncated or corrupt zip (" + e.getMessage() + ")");
    } catch (EOFException e) {
      throw new ComixException(what + ": truncated (" + e.getMessage() + ")");
    } catch (IOException e) {
      throw new ComixException(what + ": cannot read: " + e.getMessage(), e);
    }
  }

  private static byte[] readEntry(ZipFile zip, ZipEntry e, long cap, String what) throws IOException {
    if (e.getSize() > cap) throw new ComixException(what + ": " + e.getName() + " is " + e.getSize() + " bytes, over " + cap);
    try (InputStream in = zip.getInputStream(e)) {
      byte[] all = in.readNBytes((int) Math.min(cap, Integer.MAX_VALUE - 8) + 1);
      if (all.length > cap) throw new ComixException(what + ": " + e.getName() + " is over " + cap + " bytes");
      if (e.getSize() >= 0 && all.length != e.getSize())
        throw new ComixException(what + ": " + e.getName() + " is truncated (" + all.length + " of " + e.getSize() + " bytes)");
      return all;
    }
  }

  // ---- legacy format: pickles (magic, protocol, sys_info, the object, storage keys), then storages

  private static StateDict readLegacy(Path file, String what) {
    byte[] b;
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      if (ch.size() > Integer.MAX_VALUE - 8)
        throw new ComixException(what + ": legacy-format checkpoints over 2 GiB are not supported; re-save with torch.save");
      b = new byte[(int) ch.size()];
      ByteBuffer bb = ByteBuffer.wrap(b);
      while (bb.hasRemaining()) if (ch.read(bb) < 0) break;
    } catch (IOException e) {
      throw new ComixException(what + ": cannot read: " + e.getMessage(), e);
    }
    Map<String, TorchPickle.StorageRef> storages = new HashMap<>();
    TorchPickle.Result magic = TorchPickle.load(b, 0, what, storages);
    if (!LEGACY_MAGIC.equals(magic.value()))
      throw new ComixException(what + ": unsupported legacy format (bad magic number " + magic.value() + ")");
    TorchPickle.Result proto = TorchPickle.load(b, magic.end(), what, storages);
    if (!Long.valueOf(1001).equals(proto.value()))
      throw new ComixException(what + ": unsupported legacy format (protocol " + proto.value() + ", expected 1001)");
    TorchPickle.Result sys = TorchPickle.load(b, proto.end(), what, storages);
    if (sys.value() instanceof Map<?, ?> info && Boolean.FALSE.equals(info.get("little_endian")))
      throw new ComixException(what + ": saved on a big-endian machine; only little-endian checkpoints are supported");
    TorchPickle.Result main = TorchPickle.load(b, sys.end(), what, storages);
    Map<String, TorchPickle.TensorRef> refs = tensors(main.value(), what);
    TorchPickle.Result keys = TorchPickle.load(b, main.end(), what, storages);
    if (!(keys.value() instanceof List<?> keyList))
      throw new ComixException(what + ": unsupported legacy format (no storage key list)");
    Map<String, long[]> where = new HashMap<>(); // key -> {file offset of data, bytes}
    long pos = keys.end();
    for (Object k : keyList) {
      if (!(k instanceof String key) || !storages.containsKey(key))
        throw new ComixException(what + ": unsupported legacy format (unknown storage key " + k + ")");
      TorchPickle.StorageRef s = storages.get(key);
      if (pos + 8 > b.length) throw new ComixException(what + ": truncated (storage " + key + " is missing)");
      long numel = ByteBuffer.wrap(b, (int) pos, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
      if (numel != s.numel())
        throw new ComixException(what + ": storage " + key + " holds " + numel + " elements, the pickle says " + s.numel());
      long bytes = storageBytes(s, what);
      pos += 8;
      if (bytes > b.length - pos) throw new ComixException(what + ": truncated (storage " + key + " runs past the end)");
      where.put(key, new long[] {pos, bytes});
      pos += bytes;
    }
    if (pos != b.length) throw new ComixException(what + ": " + (b.length - pos) + " unexpected bytes after the last storage");
    final byte[] all = b;
    return build(refs, what, (s, shape) -> {
      long[] w = where.get(s.key());
      if (w == null) throw new ComixException(what + ": storage " + s.key() + " is missing");
      Tensor t = Tensor.host(s.dtype().storage(), shape);
      if (w[1] > 0) WeightBytes.buffer(t, 0, w[1]).put(all, (int) w[0], (int) w[1]);
      return t;
    });
  }

  // ---- shared

  private static long storageBytes(TorchPickle.StorageRef s, String what) {
    try {
      return Math.multiplyExact(s.numel(), (long) s.dtype().size());
    } catch (ArithmeticException e) {
      throw new ComixException(what + ": storage " + s.key() + " size " + s.numel() + " is too large");
    }
  }

  /** The unpickled object must be a dict of name -> tensor. */
  private static Map<String, TorchPickle.TensorRef> tensors(Object top, String what) {
    if (!(top instanceof TorchPickle.PDict d))
      throw new ComixException(what + ": holds a " + TorchPickle.typeName(top) + ", not a state dict (a dict of tensors)");
    Map<String, TorchPickle.TensorRef> out = new LinkedHashMap<>();
    List<String> bad = new ArrayList<>();
    for (Map.Entry<Object, Object> e : d.entrySet()) {
      if (e.getKey() instanceof String k && e.getValue() instanceof TorchPickle.TensorRef t) out.put(k, t);
      else bad.add(e.getKey() + " (" + TorchPickle.typeName(e.getValue()) + ")");
    }
    if (!bad.isEmpty())
      throw new ComixException(what + ": not a plain state dict: " + bad.size() + " entries are not tensors, e.g. "
          + String.join(", ", bad.subList(0, Math.min(5, bad.size())))
          + (d.containsKey("state_dict") ? "; save checkpoint['state_dict'] on its own" : ""));
    return out;
  }

  private interface StorageLoader {
    /** Loads a storage into a new host tensor of {@code shape} (whose element count is the storage's). */
    Tensor load(TorchPickle.StorageRef s, long[] shape) throws IOException;
  }

  /**
   * Cuts every tensor out of its storage. A storage that holds exactly one whole contiguous tensor
   * is read straight into that tensor; others are read once, gathered from, then freed.
   */
  private static StateDict build(Map<String, TorchPickle.TensorRef> refs, String what, StorageLoader loader) {
    Map<String, Integer> uses = new HashMap<>();
    for (TorchPickle.TensorRef t : refs.values()) uses.merge(t.storage().key(), 1, Integer::sum);
    Map<String, Tensor> loaded = new HashMap<>();
    StateDict sd = new StateDict();
    try {
      for (Map.Entry<String, TorchPickle.TensorRef> e : refs.entrySet()) {
        String name = e.getKey();
        TorchPickle.TensorRef ref = e.getValue();
        TorchPickle.StorageRef s = ref.storage();
        checkBounds(name, ref, what);
        if (uses.get(s.key()) == 1 && ref.offset() == 0 && Tensor.numel(ref.shape()) == s.numel() && isContiguous(ref)) {
          sd.put(name, s.dtype(), load(loader, s, ref.shape(), what));
          continue;
        }
        Tensor storage = loaded.get(s.key());
        if (storage == null) {
          storage = load(loader, s, new long[] {s.numel()}, what);
          loaded.put(s.key(), storage);
        }
        Tensor t = Tensor.host(s.dtype().storage(), ref.shape());
        sd.put(name, s.dtype(), t);
        gather(storage, ref, t);
      }
      return sd;
    } catch (RuntimeException e) {
      sd.close();
      throw e;
    } finally {
      for (Tensor t : loaded.values()) t.close();
    }
  }

  private static Tensor load(StorageLoader loader, TorchPickle.StorageRef s, long[] shape, String what) {
    try {
      return loader.load(s, shape);
    } catch (IOException x) {
      throw new ComixException(what + ": cannot read storage " + s.key() + ": " + x.getMessage(), x);
    }
  }

  private static boolean isContiguous(TorchPickle.TensorRef r) {
    long expect = 1;
    for (int d = r.shape().length - 1; d >= 0; d--) {
      if (r.shape()[d] != 1 && r.stride()[d] != expect) return false;
      expect *= r.shape()[d];
    }
    return true;
  }

  private static void checkBounds(String name, TorchPickle.TensorRef r, String what) {
    long numel;
    try {
      numel = Tensor.numel(r.shape());
    } catch (ArithmeticException e) {
      throw new ComixException(what + ": tensor '" + name + "' shape " + Arrays.toString(r.shape()) + " is too large");
    }
    if (numel == 0) return;
    long last = r.offset();
    try {
      for (int d = 0; d < r.shape().length; d++) last = Math.addExact(last, Math.multiplyExact(r.shape()[d] - 1, r.stride()[d]));
    } catch (ArithmeticException e) {
      last = Long.MAX_VALUE;
    }
    if (last >= r.storage().numel())
      throw new ComixException(what + ": tensor '" + name + "' (offset " + r.offset() + ", shape " + Arrays.toString(r.shape())
          + ", stride " + Arrays.toString(r.stride()) + ") reaches element " + last + " of a storage of " + r.storage().numel());
  }

  /** Copies the strided view {@code r} of {@code storage} into the contiguous {@code out}. */
  private static void gather(Tensor storage, TorchPickle.TensorRef r, Tensor out) {
    long numel = out.numel();
    if (numel == 0) return;
    int es = r.storage().dtype().size();
    if (isContiguous(r)) {
      WeightBytes.copy(storage, r.offset() * es, out, 0, numel * es);
      return;
    }
    int rank = r.shape().length;
    long[] shape = r.shape(), stride = r.stride(), idx = new long[rank];
    // copy runs along the last dimension one element at a time; views are rare and small in state dicts
    ByteBuffer src = null, dst = null;
    boolean small = storage.byteSize() <= Integer.MAX_VALUE && out.byteSize() <= Integer.MAX_VALUE;
    if (small) {
      src = WeightBytes.buffer(storage, 0, storage.byteSize());
      dst = WeightBytes.buffer(out, 0, out.byteSize());
    }
    long srcElem = r.offset();
    for (long k = 0; k < numel; k++) {
      if (small) {
        for (int q = 0; q < es; q++) dst.put((int) (k * es + q), src.get((int) (srcElem * es + q)));
      } else {
        WeightBytes.copy(storage, srcElem * es, out, k * es, es);
      }
      for (int d = rank - 1; d >= 0; d--) {
        if (++idx[d] < shape[d]) {
          srcElem += stride[d];
          break;
        }
        srcElem -= (shape[d] - 1) * stride[d];
        idx[d] = 0;
      }
    }
  }
}

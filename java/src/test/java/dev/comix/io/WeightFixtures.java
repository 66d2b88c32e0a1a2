package dev.comix.io;

import dev.comix.runtime.DType;
import dev.comix.runtime.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/** Test helpers: the Python-made fixtures, hand-made pickles and zip checkpoints. */
final class WeightFixtures {
  private WeightFixtures() {}

  /** Copies a fixture of src/test/resources/weights into {@code dir}. */
  static Path copy(Path dir, String name) {
    Path p = dir.resolve(name);
    try (InputStream in = WeightFixtures.class.getResourceAsStream("/weights/" + name)) {
      if (in == null) throw new IllegalStateException("missing test resource /weights/" + name);
      Files.copy(in, p);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return p;
  }

  static Tensor tensor(DType t, byte[] bytes, long... shape) {
    Tensor x = Tensor.host(t, shape);
    if (bytes.length > 0) x.data().put(bytes, 0, bytes.length);
    return x;
  }

  /** Writes a torch-style zip checkpoint: {@code top/data.pkl} (stored), {@code top/data/<key>}, byteorder. */
  static Path zip(Path file, String top, byte[] pickle, Map<String, byte[]> storages) {
    try (OutputStream os = Files.newOutputStream(file); ZipOutputStream z = new ZipOutputStream(os)) {
      put(z, top + "/data.pkl", pickle);
      put(z, top + "/byteorder", "little".getBytes(StandardCharsets.US_ASCII));
      for (Map.Entry<String, byte[]> e : storages.entrySet()) put(z, top + "/data/" + e.getKey(), e.getValue());
      put(z, top + "/version", "3\n".getBytes(StandardCharsets.US_ASCII));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return file;
  }

  private static void put(ZipOutputStream z, String name, byte[] data) throws IOException {
    ZipEntry e = new ZipEntry(name);
    e.setMethod(ZipEntry.STORED);
    e.setSize(data.length);
    CRC32 crc = new CRC32();
    crc.update(data);
    e.setCrc(crc.getValue());
    z.putNextEntry(e);
    z.write(data);
    z.closeEntry();
  }

  /** A tiny pickle assembler for protocol-2 opcodes. */
  static final class Pickle {
    private final ByteArrayOutputStream b = new ByteArrayOutputStream();

    Pickle() {
      b.write(0x80);
      b.write(2);
    }

    Pickle op(int... bytes) {
      for (int x : bytes) b.write(x);
      return this;
    }

    Pickle global(String module, String name) {
      b.write('c');
      b.writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.UTF_8));
      return this;
    }

    Pickle str(String s) {
      byte[] u = s.getBytes(StandardCharsets.UTF_8);
      b.write('X');
      for (int k = 0; k < 4; k++) b.write(u.length >>> (8 * k));
      b.writeBytes(u);
      return this;
    }

    Pickle integer(int v) {
      if (v >= 0 && v < 256) return op('K', v);
      b.write('J');
      for (int k = 0; k < 4; k++) b.write(v >>> (8 * k));
      return this;
    }

    /** LONG1 with 8 bytes. */
    Pickle longInt(long v) {
      b.write(0x8a);
      b.write(8);
      for (int k = 0; k < 8; k++) b.write((int) (v >>> (8 * k)));
      return this;
    }

    Pickle mark() {
      return op('(');
    }

    Pickle tuple() {
      return op('t');
    }

    /** Pushes tensor(storage key, FloatStorage of numel, offset, shape, stride) built by _rebuild_tensor_v2. */
    Pickle floatTensor(String key, long numel, int offset, int[] shape, int[] stride) {
      global("torch._utils", "_rebuild_tensor_v2").mark();
      mark().str("storage").global("torch", "FloatStorage").str(key).str("cpu").longInt(numel).tuple().op('Q');
      integer(offset);
      mark();
      for (int s : shape) integer(s);
      tuple().mark();
      for (int s : stride) integer(s);
      tuple();
      op(0x89); // NEWFALSE
      global("collections", "OrderedDict").op(')', 'R');
      return tuple().op('R');
    }

    byte[] stop() {
      b.write('.');
      return b.toByteArray();
    }
  }

  static byte[] floats(float... v) {
    java.nio.ByteBuffer bb = java.nio.ByteBuffer.allocate(4 * v.length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    for (float f : v) bb.putFloat(f);
    return bb.array();
  }
}

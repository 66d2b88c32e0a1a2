package dev.comix.io;

import dev.comix.runtime.ComixException;
import dev.comix.runtime.Tensor;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Reader and writer of <a href="https://github.com/huggingface/safetensors">safetensors</a> files:
 * an 8-byte little-endian header length N, N bytes of UTF-8 JSON
 * ({@code {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}}}),
 * then the tensor bytes, little-endian and row-major. PyTorch reads what {@link #write} writes
 * with {@code safetensors.torch.load_file} as is.
 *
 * <p>Reading is strict and checks everything against the file length before allocating: the
 * header is at most {@value #MAX_HEADER} bytes, every tensor's byte range matches its dtype and
 * shape, the ranges tile the data area exactly (no gaps, overlaps or trailing bytes).
 *
 * <pre>{@code
 * try (StateDict sd = SafeTensors.read(Path.of("i3d.safetensors"))) { ... }
 * SafeTensors.write(Path.of("out.safetensors"), sd);
 * }</pre>
 */
public final class SafeTensors {
  /** The same cap as the reference implementation (100 MB). */
  public static final int MAX_HEADER = 100_000_000;

  private SafeTensors() {}

  /** Reads every tensor of a safetensors file into host memory, in header order. */
  public static StateDict read(Path file) {
    String what = "safetensors: " + file;
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long[] dataStart = new long[1];
      Header h = header(ch, what, dataStart);
      StateDict sd = new StateDict();
      sd.metadata().putAll(h.metadata());
      try {
        for (Spec s : h.tensors()) {
          Tensor t = Tensor.host(s.dtype.storage(), s.shape);
          sd.put(s.name, s.dtype, t);
          WeightBytes.readFully(ch, dataStart[0] + s.begin, t, s.end - s.begin, what);
        }
      } catch (RuntimeException | IOException e) {
        sd.close();
        throw e;
      }
      return sd;
    } catch (NoSuchFileException e) {
      throw new ComixException(what + ": no such file");
    } catch (IOException e) {
      throw new ComixException(what + ": cannot read: " + e.getMessage(), e);
    }
  }

  /** A file's header: its tensors in header order and its {@code __metadata__}. */
  public record Header(List<Spec> tensors, Map<String, String> metadata) {}

  /** Reads and validates the header only (names, dtypes, shapes, offsets); the tensors stay on disk. */
  public static Header readHeader(Path file) {
    String what = "safetensors: " + file;
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      return header(ch, what, new long[1]);
    } catch (NoSuchFileException e) {
      throw new ComixException(what + ": no such file");
    } catch (IOException e) {
      throw new ComixException(what + ": cannot read: " + e.getMessage(), e);
    }
  }

  /** Reads and validates the header against the file length; {@code dataStart[0]} receives 8 + N. */
  private static Header header(FileChannel ch, String what, long[] dataStart) throws IOException {
    long fileLen = ch.size();
    if (fileLen < 8) throw new ComixException(what + ": truncated (" + fileLen + " bytes; not a safetensors file)");
    ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
    readFully(ch, lenBuf, 0, what);
    long n = lenBuf.getLong(0);
    if (n < 2 || n > MAX_HEADER)
      throw new ComixException(what + ": header length " + Long.toUnsignedString(n)
          + " is not plausible (not a safetensors file, or a corrupt one)");
    if (8 + n > fileLen)
      throw new ComixException(what + ": truncated: header says " + n + " bytes but the file has " + (fileLen - 8)
          + " after the length");
    ByteBuffer hb = ByteBuffer.allocate((int) n);
    readFully(ch, hb, 8, what);
    String text;
    try {
      text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT).decode(hb.flip()).toString();
    } catch (CharacterCodingException e) {
      throw new ComixException(what + ": header is not UTF-8");
    }
    List<Spec> specs = new ArrayList<>();
    Map<String, String> metadata = new LinkedHashMap<>();
    parseHeader(text, specs, metadata, what);
    validate(specs, fileLen - 8 - n, what);
    dataStart[0] = 8 + n;
    return new Header(List.copyOf(specs), metadata);
  }

  /** One header entry; offsets are relative to the start of the data area. */
  public record Spec(String name, WeightDType dtype, long[] shape, long begin, long end) {
    @Override
    public String toString() {
      return name + " " + dtype + " " + Arrays.toString(shape) + " [" + begin + ", " + end + ")";
    }
  }

  private static void readFully(FileChannel ch, ByteBuffer b, long pos, String what) throws IOException {
    while (b.hasRemaining()) {
      int r = ch.read(b, pos + b.position());
      if (r < 0) throw new ComixException(what + ": truncated");
    }
  }

  private static void parseHeader(String header, List<Spec> specs, Map<String, String> metadata, String what) {
    Object root;
    try {
      root = Json.parse(header);
    } catch (Json.SyntaxError e) {
      throw new ComixException(what + ": header is not valid JSON: " + e.getMessage());
    }
    if (!(root instanceof Map<?, ?> m)) throw new ComixException(what + ": header is not a JSON object");
    for (Map.Entry<?, ?> e : m.entrySet()) {
      String name = (String) e.getKey();
      if (name.equals("__metadata__")) {
        if (!(e.getValue() instanceof Map<?, ?> md))
          throw new ComixException(what + ": __metadata__ is not an object of strings");
        for (Map.Entry<?, ?> kv : md.entrySet()) {
          if (!(kv.getValue() instanceof String v))
            throw new ComixException(what + ": __metadata__ value for '" + kv.getKey() + "' is not a string");
          metadata.put((String) kv.getKey(), v);
        }
        continue;
      }
      String where = what + ": tensor '" + name + "'";
      if (!(e.getValue() instanceof Map<?, ?> info)) throw new ComixException(where + ": entry is not an object");
      for (Object k : info.keySet())
        if (!k.equals("dtype") && !k.equals("shape") && !k.equals("data_offsets"))
          throw new ComixException(where + ": unknown field '" + k + "'");
      if (!(info.get("dtype") instanceof String dts)) throw new ComixException(where + ": missing dtype");
      WeightDType dtype = WeightDType.ofSafetensors(dts);
      if (dtype == null)
        throw new ComixException(where + ": unsupported dtype " + dts + " (supported: F64, F32, F16, BF16, I64, I32, U16, U8, BOOL)");
      if (!(info.get("shape") instanceof List<?> sl)) throw new ComixException(where + ": missing shape");
      if (sl.size() > 64) throw new ComixException(where + ": shape has " + sl.size() + " dimensions");
      long[] shape = new long[sl.size()];
      for (int k = 0; k < shape.length; k++) shape[k] = nonNegative(sl.get(k), where + ": shape");
      if (!(info.get("data_offsets") instanceof List<?> ol) || ol.size() != 2)
        throw new ComixException(where + ": data_offsets must be [begin, end]");
      long begin = nonNegative(ol.get(0), where + ": data_offsets"), end = nonNegative(ol.get(1), where + ": data_offsets");
      if (end < begin) throw new ComixException(where + ": data_offsets [" + begin + ", " + end + "] end before begin");
      long expected;
      try {
        expected = Math.multiplyExact(Tensor.numel(shape), (long) dtype.size());
      } catch (ArithmeticException x) {
        throw new ComixException(where + ": shape " + Arrays.toString(shape) + " is too large");
      }
      if (end - begin != expected)
        throw new ComixException(where + ": " + dts + " " + Arrays.toString(shape) + " needs " + expected
            + " bytes but data_offsets [" + begin + ", " + end + "] hold " + (end - begin));
      specs.add(new Spec(name, dtype, shape, begin, end));
    }
  }

  private static long nonNegative(Object o, String where) {
    if (!(o instanceof BigInteger b) || b.signum() < 0 || b.bitLength() > 62)
      throw new ComixException(where + " has " + o + ", not a non-negative integer");
    return b.longValue();
  }

  /** Byte ranges must tile [0, dataLen) exactly, as the reference implementation requires. */
  private static void validate(List<Spec> specs, long dataLen, String what) {
    List<Spec> sorted = new ArrayList<>(specs);
    sorted.sort(Comparator.comparingLong(Spec::begin).thenComparingLong(Spec::end));
    long pos = 0;
    for (Spec s : sorted) {
      if (s.begin < pos) throw new ComixException(what + ": tensor '" + s.name + "' overlaps the one before it (offset " + s.begin + ")");
      if (s.begin > pos) throw new ComixException(what + ": " + (s.begin - pos) + " unused bytes before tensor '" + s.name + "'");
      if (s.end > dataLen)
        throw new ComixException(what + ": truncated: tensor '" + s.name + "' ends at byte " + s.end + " of the data but the file has "
            + dataLen + " data bytes");
      pos = s.end;
    }
    if (pos != dataLen)
      throw new ComixException(what + ": " + (dataLen - pos) + " trailing bytes after the last tensor");
  }

  /** Writes all tensors of {@code sd} (and its metadata), sorted by name, atomically. */
  public static void write(Path file, StateDict sd) {
    write(file, sd.entries(), sd.metadata());
  }

  /** Writes named host tensors with their natural dtypes (F32, F64, BF16, I64, I32, U16, U8), sorted by name. */
  public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) {
    List<StateDict.Entry> entries = new ArrayList<>();
    for (Map.Entry<String, Tensor> e : tensors.entrySet())
      entries.add(new StateDict.Entry(e.getKey(), WeightDType.of(e.getValue().dtype()), e.getValue()));
    write(file, entries, metadata);
  }

  private static void write(Path file, List<StateDict.Entry> entries, Map<String, String> metadata) {
    String what = "safetensors";
    List<StateDict.Entry> sorted = new ArrayList<>(entries);
    sorted.sort(Comparator.comparing(StateDict.Entry::name));
    StringBuilder h = new StringBuilder("{");
    if (metadata != null && !metadata.isEmpty()) {
      h.append("\"__metadata__\":{");
      boolean first = true;
      for (Map.Entry<String, String> kv : new TreeMap<>(metadata).entrySet()) {
        if (!first) h.append(',');
        first = false;
        h.append(Json.quote(kv.getKey())).append(':').append(Json.quote(kv.getValue()));
      }
      h.append('}');
      if (!sorted.isEmpty()) h.append(',');
    }
    long offset = 0;
    String prev = null;
    for (StateDict.Entry e : sorted) {
      if (e.name().equals(prev)) throw new ComixException(what + ": two tensors named '" + e.name() + "'");
      if (e.name().equals("__metadata__")) throw new ComixException(what + ": a tensor may not be called __metadata__");
      prev = e.name();
      Tensor t = e.tensor();
      if (t.device().isCuda()) throw new ComixException(what + ": tensor '" + e.name() + "' is on " + t.device() + "; copy it to the host first");
      if (t.dtype() != e.dtype().storage())
        throw new ComixException(what + ": tensor '" + e.name() + "' is a " + t.dtype() + " tensor, not " + e.dtype());
      if (h.length() > 1 && h.charAt(h.length() - 1) != ',') h.append(',');
      h.append(Json.quote(e.name())).append(":{\"dtype\":\"").append(e.dtype().safetensorsName()).append("\",\"shape\":[");
      long[] shape = t.shape();
      for (int k = 0; k < shape.length; k++) h.append(k == 0 ? "" : ",").append(shape[k]);
      long size = t.byteSize();
      h.append("],\"data_offsets\":[").append(offset).append(',').append(offset + size).append("]}");
      offset += size;
    }
    h.append('}');
    byte[] json = h.toString().getBytes(StandardCharsets.UTF_8);
    int padded = (json.length + 7) / 8 * 8;
    if (padded > MAX_HEADER) throw new ComixException(what + ": header would be " + padded + " bytes, over the format's limit");
    ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
    head.putLong(padded).put(json);
    while (head.hasRemaining()) head.put((byte) ' ');
    head.flip();
    WeightBytes.writeAtomic(file, what, ch -> {
      WeightBytes.writeAll(ch, head);
      for (StateDict.Entry e : sorted) WeightBytes.writeTensor(ch, e.tensor());
    });
  }
}

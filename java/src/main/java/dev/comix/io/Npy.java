package dev.comix.io;

import dev.comix.runtime.ComixException;
import dev.comix.runtime.DType;
import dev.comix.runtime.Tensor;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Minimal NumPy {@code .npy} reader and writer (format versions 1.0, 2.0 and 3.0; C order,
 * little-endian): float32, float64, int32, int64, bool and uint8. Bool and uint8 arrays become
 * {@link DType#U8} tensors. Anything else (Fortran order, big-endian, other dtypes, a truncated
 * file) is a {@link ComixException} naming the file and the reason.
 *
 * <pre>{@code
 * try (Tensor x = Npy.read(Path.of("features.npy"))) { ... }
 * Npy.write(Path.of("grad.npy"), grad);
 * }</pre>
 */
public final class Npy {
  private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
  private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([^']*)'");
  private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
  private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");

  private Npy() {}

  /** The dtype string numpy would write for a tensor dtype. */
  public static String descr(DType t) {
    return switch (t) {
      case F32 -> "<f4";
      case F64 -> "<f8";
      case I32 -> "<i4";
      case I64 -> "<i8";
      case U8 -> "|u1";
      default -> throw new ComixException("npy: cannot write " + t + " tensors");
    };
  }

  private static DType dtypeOf(String d, Path file) {
    return switch (d) {
      case "<f4", "=f4", "f4" -> DType.F32;
      case "<f8", "=f8", "f8" -> DType.F64;
      case "<i4", "=i4", "i4" -> DType.I32;
      case "<i8", "=i8", "i8" -> DType.I64;
      case "|b1", "b1", "?", "|u1", "u1", "<u1" -> DType.U8;
      default -> throw new ComixException("npy: " + file + ": unsupported dtype '" + d
          + "' (supported: float32, float64, int32, int64, bool, uint8, little-endian)");
    };
  }

  /** Reads a .npy file into a host tensor. */
  public static Tensor read(Path file) {
    byte[] all;
    try {
      all = Files.readAllBytes(file);
    } catch (IOException e) {
      throw new ComixException("npy: cannot read " + file + ": " + e.getMessage(), e);
    }
    if (all.length < 10 || !Arrays.equals(Arrays.copyOf(all, 6), MAGIC))
      throw new ComixException("npy: " + file + " is not a .npy file (bad magic)");
    int major = all[6] & 0xff;
    int headerLen, start;
    ByteBuffer bb = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
    if (major == 1) {
      headerLen = bb.getShort(8) & 0xffff;
      start = 10;
    } else if (major == 2 || major == 3) {
      if (all.length < 12) throw new ComixException("npy: " + file + ": truncated header");
      long hl = bb.getInt(8) & 0xffffffffL;
      if (hl > Integer.MAX_VALUE - 12) throw new ComixException("npy: " + file + ": header too large");
      headerLen = (int) hl;
      start = 12;
    } else {
      throw new ComixException("npy: " + file + ": unsupported format version " + major);
    }
    if (start + headerLen > all.length) throw new ComixException("npy: " + file + ": truncated header");
    String header = new String(all, start, headerLen, major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
    Matcher md = DESCR.matcher(header), mf = FORTRAN.matcher(header), ms = SHAPE.matcher(header);
    if (!md.find() || !mf.find() || !ms.find())
      throw new ComixException("npy: " + file + ": malformed header " + header.trim());
    if (mf.group(1).equals("True"))
      throw new ComixException("npy: " + file + ": Fortran-order arrays are not supported (save with np.ascontiguousarray)");
    String d = md.group(1);
    if (d.startsWith(">")) throw new ComixException("npy: " + file + ": big-endian dtype '" + d + "' is not supported");
    DType dtype = dtypeOf(d, file);
    List<Long> dims = new ArrayList<>();
    for (String part : ms.group(1).split(",")) {
      String p = part.trim();
      if (p.isEmpty()) continue;
      try {
        long v = Long.parseLong(p.endsWith("L") ? p.substring(0, p.length() - 1) : p);
        if (v < 0) throw new NumberFormatException();
        dims.add(v);
      } catch (NumberFormatException e) {
        throw new ComixException("npy: " + file + ": bad shape (" + ms.group(1) + ")");
      }
    }
    long[] shape = dims.stream().mapToLong(Long::longValue).toArray();
    long numel;
    try {
      numel = Tensor.numel(shape);
    } catch (ArithmeticException e) {
      throw new ComixException("npy: " + file + ": shape too large " + Arrays.toString(shape));
    }
    long bytes = numel * dtype.size();
    long dataStart = start + (long) headerLen;
    if (all.length - dataStart < bytes)
      throw new ComixException("npy: " + file + ": truncated data (" + (all.length - dataStart) + " bytes for shape "
          + Arrays.toString(shape) + " of " + d + ", need " + bytes + ")");
    Tensor t = Tensor.host(dtype, shape);
    if (bytes > 0) t.data().put(all, (int) dataStart, (int) bytes);
    return t;
  }

  /** Writes a host tensor as .npy (version 1.0), atomically (temp file + rename). */
  public static void write(Path file, Tensor t) {
    if (t.device().isCuda()) throw new ComixException("npy: tensor is on " + t.device() + "; copy it to the host first");
    String shape = t.rank() == 1 ? "(" + t.dim(0) + ",)"
        : "(" + String.join(", ", Arrays.stream(t.shape()).mapToObj(Long::toString).toArray(String[]::new)) + ")";
    String dict = String.format(Locale.ROOT, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr(t.dtype()),
        shape);
    int total = 10 + dict.length() + 1;
    int pad = (64 - total % 64) % 64;
    String header = dict + " ".repeat(pad) + "\n";
    if (header.length() > 65535) throw new ComixException("npy: header too long for " + t);
    byte[] data = t.toBytes();
    Path dir = file.toAbsolutePath().getParent();
    try {
      if (dir != null) Files.createDirectories(dir);
      Path tmp = Files.createTempFile(dir, ".npy-", ".tmp");
      try (OutputStream out = Files.newOutputStream(tmp)) {
        out.write(MAGIC);
        out.write(new byte[] {1, 0, (byte) (header.length() & 0xff), (byte) (header.length() >>> 8)});
        out.write(header.getBytes(StandardCharsets.ISO_8859_1));
        out.write(data);
      } catch (IOException e) {
        Files.deleteIfExists(tmp);
        throw e;
      }
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new ComixException("npy: cannot write " + file + ": " + e.getMessage(), e);
    }
  }

  /** Reads from a stream (for resources in tests). */
  public static Tensor read(InputStream in, String name) {
    try {
      Path tmp = Files.createTempFile("comix-", ".npy");
      try {
        Files.write(tmp, in.readAllBytes());
        return read(tmp);
      } finally {
        Files.deleteIfExists(tmp);
      }
    } catch (IOException e) {
      throw new ComixException("npy: cannot read " + name + ": " + e.getMessage(), e);
    }
  }
}

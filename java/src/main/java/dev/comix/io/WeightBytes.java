package dev.comix.io;

import dev.comix.runtime.ComixException;
import dev.comix.runtime.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;
import org.bytedeco.javacpp.BytePointer;

/** Byte-level helpers shared by the weight readers and writers (package-private). */
final class WeightBytes {
  /** Largest piece moved through one ByteBuffer. */
  static final int CHUNK = 1 << 26;

  private WeightBytes() {}

  /** A little-endian buffer over bytes [from, from + length) of a host tensor (length < 2 GiB). */
  static ByteBuffer buffer(Tensor t, long from, long length) {
    if (from < 0 || length < 0 || from + length > t.byteSize() || length > Integer.MAX_VALUE)
      throw new IndexOutOfBoundsException("bytes [" + from + ", " + (from + length) + ") of " + t);
    BytePointer p = new BytePointer(t.data());
    long base = p.position();
    p.position(base + from).limit(base + from + length);
    if (length == 0) return ByteBuffer.allocate(0).order(ByteOrder.LITTLE_ENDIAN);
    return p.asByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
  }

  /** Reads exactly {@code length} bytes at {@code filePos} of {@code ch} into the tensor from byte 0. */
  static void readFully(FileChannel ch, long filePos, Tensor t, long length, String what) throws IOException {
    long done = 0;
    while (done < length) {
      int n = (int) Math.min(CHUNK, length - done);
      ByteBuffer b = buffer(t, done, n);
      while (b.hasRemaining()) {
        int r = ch.read(b, filePos + done + b.position());
        if (r < 0) throw new ComixException(what + ": file ends inside the data");
      }
      done += n;
    }
  }

  /** Writer of a file that appears at its final name only when complete (temp + fsync + rename). */
  interface Body {
    void write(FileChannel ch) throws IOException;
  }

  static void writeAtomic(Path file, String what, Body body) {
    Path dir = file.toAbsolutePath().getParent();
    if (dir == null || !Files.isDirectory(dir))
      throw new ComixException(what + ": cannot write " + file + ": folder " + dir + " does not exist");
    Path tmp = dir.resolve("." + file.getFileName() + "." + Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 1)
        + ".comix-tmp");
    try {
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
        body.write(ch);
        ch.force(true);
      }
      try {
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        throw new ComixException(what + ": cannot write " + file + ": the file system cannot rename atomically");
      }
    } catch (IOException e) {
      deleteQuietly(tmp);
      throw new ComixException(what + ": cannot write " + file + ": " + e.getMessage(), e);
    } catch (RuntimeException e) {
      deleteQuietly(tmp);
      throw e;
    }
    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
      d.force(true);
    } catch (IOException | UnsupportedOperationException ignored) {
      // not every file system lets a folder be opened for fsync; the rename is still atomic
    }
  }

  private static void deleteQuietly(Path p) {
    try {
      Files.deleteIfExists(p);
    } catch (IOException ignored) {
      // best effort: the temp file has a hidden name
    }
  }

  /** Copies {@code n} bytes between host tensors (byte offsets from each tensor's first element). */
  static void copy(Tensor src, long srcOff, Tensor dst, long dstOff, long n) {
    if (n == 0) return;
    if (srcOff < 0 || dstOff < 0 || n < 0 || srcOff + n > src.byteSize() || dstOff + n > dst.byteSize())
      throw new IndexOutOfBoundsException("copy of " + n + " bytes from " + src + " to " + dst);
    BytePointer s = new BytePointer(src.data()), d = new BytePointer(dst.data());
    s.position(s.position() + srcOff);
    d.position(d.position() + dstOff);
    org.bytedeco.javacpp.Pointer.memcpy(d, s, n);
  }

  static void writeAll(FileChannel ch, ByteBuffer b) throws IOException {
    while (b.hasRemaining()) ch.write(b);
  }

  static void writeTensor(FileChannel ch, Tensor t) throws IOException {
    long total = t.byteSize();
    for (long done = 0; done < total; ) {
      int n = (int) Math.min(CHUNK, total - done);
      writeAll(ch, buffer(t, done, n));
      done += n;
    }
  }
}

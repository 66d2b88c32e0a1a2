package dev.comix.video;

import static org.bytedeco.opencv.global.opencv_core.CV_8UC1;
import static org.bytedeco.opencv.global.opencv_imgcodecs.IMREAD_COLOR;
import static org.bytedeco.opencv.global.opencv_imgcodecs.IMREAD_IGNORE_ORIENTATION;
import static org.bytedeco.opencv.global.opencv_imgcodecs.IMWRITE_JPEG_QUALITY;
import static org.bytedeco.opencv.global.opencv_imgcodecs.IMWRITE_PNG_COMPRESSION;
import static org.bytedeco.opencv.global.opencv_imgproc.COLOR_BGR2RGB;
import static org.bytedeco.opencv.global.opencv_imgproc.COLOR_RGB2BGR;

import dev.comix.runtime.ComixException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Locale;
import java.util.concurrent.ThreadLocalRandom;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.opencv.global.opencv_imgcodecs;
import org.bytedeco.opencv.global.opencv_imgproc;
import org.bytedeco.opencv.opencv_core.Mat;

/**
 * Reading and writing RGB images through OpenCV, with atomic writes: the bytes go to a hidden
 * temporary file in the target's folder, are flushed to disk (fsync), and are then renamed over
 * the target in one step, and the folder is synced too. A reader therefore sees either no file
 * or a complete one, even after a kill or a power cut; an interrupted write leaves at most a
 * hidden {@code .<name>.<random>.tmp} file, which {@link #deleteStaleTemps} removes.
 *
 * <p>JPEG is written at quality 75 with 4:2:0 chroma subsampling, PIL's defaults (the original
 * saved its backgrounds with PIL). Encoding is deterministic: the same pixels give the same bytes.
 *
 * <pre>{@code
 * ImageFiles.writeAtomic(Path.of("out/video/0.JPEG"), rgb, 224, 224);
 * int[] wh = new int[2];
 * byte[] back = ImageFiles.readRgb(Path.of("out/video/0.JPEG"), wh);  // wh = {224, 224}
 * }</pre>
 */
public final class ImageFiles {
  /** PIL's default JPEG quality. */
  public static final int JPEG_QUALITY = 75;
  /** zlib level for PNG (OpenCV's default is 1; 3 is a good size/speed trade-off, still fast). */
  public static final int PNG_COMPRESSION = 3;

  private static final String TEMP_SUFFIX = ".tmp";

  /** Image formats we write. */
  public enum Format {
    JPEG(".jpg", "0.JPEG"),
    PNG(".png", "0.png");

    final String cvExt;
    /** The background file name the CoMix loader reads for this format. */
    public final String backgroundName;

    Format(String cvExt, String backgroundName) {
      this.cvExt = cvExt;
      this.backgroundName = backgroundName;
    }

    /** From a file name's extension: .jpg/.jpeg/.JPEG (any case) or .png. */
    public static Format ofFile(Path file) {
      String n = file.getFileName() == null ? "" : file.getFileName().toString().toLowerCase(Locale.ROOT);
      if (n.endsWith(".jpg") || n.endsWith(".jpeg")) return JPEG;
      if (n.endsWith(".png")) return PNG;
      throw new ComixException("cannot tell the image format of " + file + " (use .JPEG, .jpg or .png)");
    }

    /** From a user's word: jpeg, jpg or png. */
    public static Format parse(String s) {
      switch (s.toLowerCase(Locale.ROOT)) {
        case "jpeg":
        case "jpg":
          return JPEG;
        case "png":
          return PNG;
        default:
          throw new ComixException("unknown image format '" + s + "' (use jpeg or png)");
      }
    }
  }

  private ImageFiles() {}

  /** Encodes packed RGB to JPEG or PNG bytes (deterministic). */
  public static byte[] encode(byte[] rgb, int width, int height, Format format) {
    checkImage(rgb, width, height, "image");
    if (format == Format.JPEG && (width > 65500 || height > 65500))
      throw new ComixException("JPEG cannot hold a " + width + "x" + height + " image");
    try (BytePointer src = new BytePointer(rgb.length);
         BytePointer encoded = new BytePointer();
         IntPointer params = format == Format.JPEG
             ? new IntPointer(IMWRITE_JPEG_QUALITY, JPEG_QUALITY)
             : new IntPointer(IMWRITE_PNG_COMPRESSION, PNG_COMPRESSION);
         Mat rgbMat = Cv.wrapRgb(src.put(rgb, 0, rgb.length), width, height);
         Mat bgr = new Mat()) {
      opencv_imgproc.cvtColor(rgbMat, bgr, COLOR_RGB2BGR);
      if (!opencv_imgcodecs.imencode(format.cvExt, bgr, encoded, params))
        throw new ComixException("OpenCV could not encode a " + width + "x" + height + " " + format + " image");
      byte[] out = new byte[Math.toIntExact(encoded.limit())];
      encoded.get(out, 0, out.length);
      return out;
    } catch (ComixException e) {
      throw e;
    } catch (RuntimeException e) {
      throw new ComixException("cannot encode " + format + " image: " + Cv.firstLine(e));
    }
  }

  /**
   * Writes packed RGB ({@code width*height*3} bytes) to {@code file} atomically; the format comes
   * from the extension (.JPEG, .jpg, .jpeg or .png, any case). The folder must exist.
   */
  public static void writeAtomic(Path file, byte[] rgb, int width, int height) {
    Format format = Format.ofFile(file);
    writeBytesAtomic(file, encode(rgb, width, height, format));
  }

  /**
   * Writes bytes to {@code file} atomically: temp file in the same folder, fsync, rename over
   * the target, fsync of the folder. On failure nothing is left behind and the target is as it was.
   */
  public static void writeBytesAtomic(Path file, byte[] data) {
    Path dir = file.toAbsolutePath().getParent();
    if (dir == null || !Files.isDirectory(dir))
      throw new ComixException("cannot write " + file + ": folder " + dir + " does not exist");
    String name = file.getFileName().toString();
    Path tmp = dir.resolve("." + name + "." + Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 1) + TEMP_SUFFIX);
    try {
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
        ByteBuffer b = ByteBuffer.wrap(data);
        while (b.hasRemaining()) ch.write(b);
        ch.force(true);
      }
      try {
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        throw new ComixException("cannot write " + file + ": the file system cannot rename atomically");
      }
    } catch (IOException e) {
      deleteQuietly(tmp);
      throw new ComixException("cannot write " + file + ": " + ioReason(e));
    } catch (RuntimeException e) {
      deleteQuietly(tmp);
      throw e;
    }
    fsyncDir(dir);
  }

  /** Reads an image file as packed RGB; {@code widthHeightOut} (if not null) receives {width, height}. */
  public static byte[] readRgb(Path file, int[] widthHeightOut) {
    byte[] data = readFile(file, "image");
    try (Mat bgr = decodeBgr(data, file.toString())) {
      byte[] rgb = new byte[Math.multiplyExact(Math.multiplyExact(bgr.rows(), bgr.cols()), 3)];
      try (Mat rgbMat = new Mat()) {
        opencv_imgproc.cvtColor(bgr, rgbMat, COLOR_BGR2RGB);
        Cv.copyOut(rgbMat, rgb);
      }
      if (widthHeightOut != null) {
        widthHeightOut[0] = bgr.cols();
        widthHeightOut[1] = bgr.rows();
      }
      return rgb;
    } catch (ComixException e) {
      throw e;
    } catch (RuntimeException e) {
      throw new ComixException("cannot decode image " + file + ": " + Cv.firstLine(e));
    }
  }

  /** Whole file into memory, with a one-line error naming it ({@code what}: "image", "frame"...). */
  static byte[] readFile(Path file, String what) {
    try {
      return Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      throw new ComixException(what + " " + file + " does not exist");
    } catch (IOException | OutOfMemoryError e) {
      throw new ComixException("cannot read " + what + " " + file + ": " + ioReason(e));
    }
  }

  /**
   * Decodes JPEG/PNG/... bytes to an 8-bit 3-channel BGR Mat (caller closes it). Checks first that
   * the data is a complete image: OpenCV's JPEG reader returns a grey-filled picture for a
   * truncated file (libjpeg only warns), which would silently poison a median. EXIF orientation
   * is ignored, as PIL's Image.open does.
   */
  static Mat decodeBgr(byte[] data, String name) {
    checkComplete(data, name);
    Mat out;
    try (BytePointer p = new BytePointer(data.length);
         Mat buf = new Mat(1, data.length, CV_8UC1, p.put(data, 0, data.length))) {
      out = opencv_imgcodecs.imdecode(buf, IMREAD_COLOR | IMREAD_IGNORE_ORIENTATION);
    } catch (RuntimeException e) {
      throw new ComixException("corrupt image " + name + ": " + Cv.firstLine(e));
    }
    if (out == null || out.isNull() || out.empty()) {
      if (out != null) out.close();
      throw new ComixException("corrupt or unsupported image " + name);
    }
    if (out.cols() > Cv.MAX_SIDE || out.rows() > Cv.MAX_SIDE) {
      int w = out.cols(), h = out.rows();
      out.close();
      throw new ComixException("image " + name + " is " + w + "x" + h + ", larger than " + Cv.MAX_SIDE + " on a side");
    }
    return out;
  }

  /**
   * Cheap structural checks before any native decoder sees the bytes: not empty, a known
   * signature, and for JPEG an end-of-image marker, for PNG an IEND chunk at the end (trailing
   * padding of zero bytes is tolerated).
   */
  static void checkComplete(byte[] d, String name) {
    if (d.length == 0) throw new ComixException("empty image file " + name + " (0 bytes)");
    if (d.length >= 3 && (d[0] & 0xff) == 0xFF && (d[1] & 0xff) == 0xD8 && (d[2] & 0xff) == 0xFF) {
      int end = d.length;
      while (end > 2 && d[end - 1] == 0) end--;
      // The EOI marker FF D9 must end the data. Some writers append a trailer after it, so look in
      // the last 4 KiB (FF D9 cannot occur inside entropy-coded data, where FF is byte-stuffed).
      for (int i = end - 2; i >= Math.max(2, end - 4096); i--) {
        if ((d[i] & 0xff) == 0xFF && (d[i + 1] & 0xff) == 0xD9) return;
      }
      throw new ComixException("truncated or corrupt JPEG " + name + " (no end-of-image marker)");
    }
    if (d.length >= 8 && (d[0] & 0xff) == 0x89 && d[1] == 'P' && d[2] == 'N' && d[3] == 'G') {
      int end = d.length;
      while (end > 8 && d[end - 1] == 0) end--;
      if (end < 20 || !(d[end - 8] == 'I' && d[end - 7] == 'E' && d[end - 6] == 'N' && d[end - 5] == 'D'))
        throw new ComixException("truncated or corrupt PNG " + name + " (no IEND chunk at the end)");
      return;
    }
    if (d.length < 16) throw new ComixException("corrupt image " + name + " (" + d.length + " bytes)");
    // Other formats (BMP, WEBP, TIFF): left to OpenCV's decoder.
  }

  /**
   * A cheap check that an existing JPEG/PNG file is whole: its signature and its end marker
   * (reads at most 4 KiB from each end, so it is fast on many files).
   */
  public static boolean looksComplete(Path file) {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = ch.size();
      if (size < 16) return false;
      int head = (int) Math.min(size, 4096);
      ByteBuffer h = ByteBuffer.allocate(head);
      while (h.hasRemaining() && ch.read(h, h.position()) > 0) {}
      if (size <= 8192) {
        byte[] all = new byte[(int) size];
        ByteBuffer a = ByteBuffer.wrap(all);
        while (a.hasRemaining() && ch.read(a, a.position()) > 0) {}
        checkComplete(all, file.toString());
        return true;
      }
      ByteBuffer t = ByteBuffer.allocate(4096);
      long from = size - 4096;
      while (t.hasRemaining() && ch.read(t, from + t.position()) > 0) {}
      // Signature from the head, end marker from the tail: glue them and check as one small file.
      byte[] glued = new byte[16 + 4096];
      System.arraycopy(h.array(), 0, glued, 0, 16);
      System.arraycopy(t.array(), 0, glued, 16, 4096);
      checkComplete(glued, file.toString());
      return true;
    } catch (IOException | ComixException e) {
      return false;
    }
  }

  static void checkImage(byte[] rgb, int width, int height, String what) {
    if (rgb == null) throw new ComixException(what + ": no pixels");
    if (width < 1 || height < 1 || width > Cv.MAX_SIDE || height > Cv.MAX_SIDE)
      throw new ComixException(what + ": bad size " + width + "x" + height);
    if ((long) width * height * 3 != rgb.length)
      throw new ComixException(what + ": " + rgb.length + " bytes do not make a " + width + "x" + height + " RGB image ("
          + (long) width * height * 3 + " bytes)");
  }

  /** True for the hidden temporary files {@link #writeBytesAtomic} makes. */
  public static boolean isTempFile(Path p) {
    String n = p.getFileName().toString();
    return n.startsWith(".") && n.endsWith(TEMP_SUFFIX);
  }

  /** Removes temp files an interrupted write of {@code target} left in its folder. */
  public static void deleteStaleTemps(Path target) {
    Path dir = target.toAbsolutePath().getParent();
    if (dir == null || !Files.isDirectory(dir)) return;
    String prefix = "." + target.getFileName() + ".";
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, p -> {
      String n = p.getFileName().toString();
      return n.startsWith(prefix) && n.endsWith(TEMP_SUFFIX);
    })) {
      for (Path p : ds) deleteQuietly(p);
    } catch (IOException e) {
      // A folder we cannot list will fail the write with a clear message; nothing to do here.
    }
  }

  static void fsyncDir(Path dir) {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException e) {
      // Some file systems cannot sync a folder; the rename is still atomic there.
    }
  }

  static void deleteQuietly(Path p) {
    try {
      Files.deleteIfExists(p);
    } catch (IOException e) {
      // best effort
    }
  }

  /** The short reason of an I/O error ("permission denied", "no space left on device"...). */
  static String ioReason(Throwable e) {
    if (e instanceof AccessDeniedException) return "permission denied";
    if (e instanceof NoSuchFileException) return "no such file or folder";
    if (e instanceof FileSystemException) {
      String r = ((FileSystemException) e).getReason();
      if (r != null) return r.toLowerCase(Locale.ROOT);
    }
    if (e instanceof OutOfMemoryError) return "not enough memory";
    return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
  }
}

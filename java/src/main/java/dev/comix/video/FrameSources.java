package dev.comix.video;

import dev.comix.runtime.ComixException;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Opens the frames of a video: a folder of frame images or a video file.
 *
 * <ul>
 *   <li><b>Frame folders</b>: every JPEG/PNG/BMP/WEBP/TIFF file in the folder (hidden files and
 *       other files are ignored), sorted by name in code-point order, which is Python's
 *       {@code sorted(os.listdir(...))}, as the original reads them; so names must be zero-padded.
 *       Decoded by OpenCV (libjpeg-turbo, libpng), EXIF orientation ignored as in PIL.
 *   <li><b>Video files</b>: decoded by FFmpeg (libavcodec 62: DivX/XVID/MPEG-4, H.264, HEVC, VP8/9,
 *       MJPEG, Cinepak, ...) and converted to RGB24 at the native size by swscale with
 *       {@code SWS_BICUBIC}, exactly as OpenCV's {@code cv2.VideoCapture} does; for vtest.avi
 *       the frames are bit-identical with Debian's cv2 (libavcodec 59). Only decoded frames are
 *       delivered, as cv2 does: AVI files may hold zero-size "repeat the previous frame" chunks,
 *       which FFmpeg's demuxer drops, so a video can deliver fewer frames than its header counts,
 *       and no frame is duplicated from timestamps.
 * </ul>
 *
 * Frames are resized to size x size ({@code size > 0}, aspect ratio not kept, like the
 * original's PIL resize to (224, 224)) with OpenCV: INTER_AREA when shrinking, INTER_CUBIC when
 * growing; this is close to PIL's bicubic, not bit-identical (vtest frame 0, 768x576 to 224x224:
 * mean absolute difference 0.85, max 23 at sharp edges; 160x120 to 224x224: 0.44, max 10).
 * {@code size == 0} keeps the native size (then all frames of a folder must have one size).
 */
public final class FrameSources {
  /** Image extensions read from frame folders (lower case, no dot). */
  public static final Set<String> IMAGE_EXTENSIONS = Set.of("jpg", "jpeg", "png", "bmp", "webp", "tif", "tiff");

  /** Extensions taken for video files when a folder of videos is scanned (lower case, no dot). */
  public static final Set<String> VIDEO_EXTENSIONS = Set.of(
      "avi", "mp4", "m4v", "mov", "mkv", "webm", "mpg", "mpeg", "flv", "wmv", "asf", "3gp", "ogv", "ts", "mts", "m2ts");

  private static volatile int decodeThreads = 1;

  private FrameSources() {}

  /** Opens all frames of a folder of frames or a video file, resized to size x size (0: native size). */
  public static FrameSource open(Path video, int size) {
    return open(video, size, 0, -1);
  }

  /**
   * Opens frames {@code [from, to)} (0-based, in order; {@code to < 0}: to the end) of a folder of
   * frames or a video file; for a folder these are {@code sorted(files)[from:to]}, as the Epic
   * script slices them. A range past the end is clipped, like a Python slice.
   */
  public static FrameSource open(Path video, int size, long from, long to) {
    checkSize(size);
    if (from < 0) throw new ComixException("bad frame range [" + from + ", " + to + ") for " + video);
    if (Files.isDirectory(video)) {
      List<Path> frames = listFrames(video);
      int n = frames.size();
      int a = (int) Math.min(from, n);
      int b = to < 0 ? n : (int) Math.min(to, n);
      if (b <= a)
        throw new ComixException("no frames in range [" + from + ", " + to + ") of " + video + " (it has " + n + " frames)");
      return new FrameFolderSource(video, frames.subList(a, b), size);
    }
    if (Files.isRegularFile(video)) return new VideoFileSource(video, size, from, to, decodeThreads);
    if (Files.exists(video)) throw new ComixException(video + " is neither a folder of frames nor a video file");
    throw new ComixException("no such folder or video file: " + video);
  }

  /**
   * The frame images of a folder, sorted as Python sorts the names (code-point order).
   *
   * @throws ComixException if the folder is missing, unreadable or holds no images
   */
  public static List<Path> listFrames(Path folder) {
    List<Path> frames = new ArrayList<>();
    int others = 0;
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(folder)) {
      for (Path p : ds) {
        String n = p.getFileName().toString();
        if (n.startsWith(".")) continue;
        if (isImageFile(p) && !Files.isDirectory(p)) frames.add(p);
        else others++;
      }
    } catch (NoSuchFileException e) {
      throw new ComixException("no such folder: " + folder);
    } catch (NotDirectoryException e) {
      throw new ComixException(folder + " is not a folder");
    } catch (IOException e) {
      throw new ComixException("cannot list folder " + folder + ": " + ImageFiles.ioReason(e));
    }
    if (frames.isEmpty())
      throw new ComixException("no frames in folder " + folder + (others > 0 ? " (" + others
          + " entries, none of them a JPEG/PNG image)" : " (it is empty)"));
    frames.sort((x, y) -> compareCodePoints(x.getFileName().toString(), y.getFileName().toString()));
    return frames;
  }

  /** Python's str ordering (by code point; Java's compareTo orders UTF-16 units). */
  static int compareCodePoints(String a, String b) {
    int i = 0, j = 0;
    while (i < a.length() && j < b.length()) {
      int ca = a.codePointAt(i), cb = b.codePointAt(j);
      if (ca != cb) return Integer.compare(ca, cb);
      i += Character.charCount(ca);
      j += Character.charCount(cb);
    }
    return Integer.compare(a.length() - i, b.length() - j);
  }

  public static boolean isImageFile(Path p) {
    return IMAGE_EXTENSIONS.contains(extension(p));
  }

  public static boolean isVideoFile(Path p) {
    return VIDEO_EXTENSIONS.contains(extension(p));
  }

  static String extension(Path p) {
    String n = p.getFileName() == null ? "" : p.getFileName().toString();
    int dot = n.lastIndexOf('.');
    return dot < 0 ? "" : n.substring(dot + 1).toLowerCase(Locale.ROOT);
  }

  static void checkSize(int size) {
    if (size < 0 || size > Cv.MAX_SIDE)
      throw new ComixException("frame size must be 0 (native) or 1.." + Cv.MAX_SIDE + ", got " + size);
  }

  /**
   * Threads FFmpeg may use to decode one video (default 1: extraction decodes many videos in
   * parallel; raise it when a single long video is decoded). Output does not depend on it.
   */
  public static void setDecodeThreads(int threads) {
    decodeThreads = Math.max(1, threads);
  }

  /** FFmpeg's own log lines: off by default (errors reach the caller as exceptions); on for --verbose. */
  public static void setNativeLogging(boolean on) {
    VideoFileSource.setLogging(on);
  }
}

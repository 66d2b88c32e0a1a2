package dev.comix.video;

/**
 * The frames of one video, in order, as packed RGB bytes of one fixed size: a folder of frame
 * images or a video file (see {@link FrameSources#open}). Not thread-safe: one reader at a time.
 *
 * <pre>{@code
 * try (FrameSource src = FrameSources.open(Path.of("videos/v_Archery_g01_c01"), 224)) {
 *   byte[] rgb = new byte[src.width() * src.height() * 3];
 *   while (src.next(rgb)) { ... }
 * }
 * }</pre>
 */
public interface FrameSource extends AutoCloseable {
  /** Width of the delivered frames (after resizing). */
  int width();

  /** Height of the delivered frames (after resizing). */
  int height();

  /**
   * How many frames {@link #next} will probably deliver, or -1 if unknown. Exact for frame
   * folders; for video files the container's count, which can exceed what decodes (see
   * {@link FrameSources}).
   */
  long frameCountHint();

  /**
   * Fills {@code rgb} ({@code width()*height()*3} bytes, row-major, R G B) with the next frame.
   *
   * @return false at the end of the video
   * @throws dev.comix.runtime.ComixException on corrupt or unreadable data, naming the file and frame
   */
  boolean next(byte[] rgb);

  /** Problems the source worked around (for example concealed decoding errors), one line each. */
  default java.util.List<String> warnings() {
    return java.util.List.of();
  }

  @Override
  void close();
}

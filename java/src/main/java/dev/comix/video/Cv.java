package dev.comix.video;

import static org.bytedeco.opencv.global.opencv_core.CV_8UC3;
import static org.bytedeco.opencv.global.opencv_imgproc.INTER_AREA;
import static org.bytedeco.opencv.global.opencv_imgproc.INTER_CUBIC;

import dev.comix.runtime.ComixException;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.opencv.global.opencv_imgproc;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.Size;

/**
 * The few OpenCV calls frame I/O needs, with their errors turned into {@link ComixException}.
 * OpenCV reports failures as a Java RuntimeException carrying the cv::Exception text; callers
 * get one line naming what they were doing instead.
 */
final class Cv {
  /** Largest side we accept for a frame or an output (a guard against absurd sizes). */
  static final int MAX_SIDE = 16384;

  private Cv() {}

  /** A Mat header over {@code h*w*3} bytes at {@code data} (no copy; data must outlive it). */
  static Mat wrapRgb(BytePointer data, int width, int height) {
    if (width < 1 || height < 1 || data.limit() - data.position() < (long) width * height * 3)
      throw new ComixException("internal: " + width + "x" + height + " image does not fit its buffer");
    return new Mat(height, width, CV_8UC3, data);
  }

  /**
   * Resizes to size x size, ignoring the aspect ratio as the original does (PIL resize to
   * (224, 224)). Downscaling uses INTER_AREA (antialiased, like PIL's bicubic with its support
   * widened when reducing), upscaling INTER_CUBIC; when one side shrinks and the other grows the
   * two axes are resized one after the other, each with its own filter. The result is close to
   * PIL's bicubic but not bit-identical with it.
   */
  static Mat resizeSquare(Mat src, int size, String what) {
    int w = src.cols(), h = src.rows();
    try (Size square = new Size(size, size)) {
      Mat out = new Mat();
      if (w == size && h == size) {
        src.copyTo(out);
      } else if (w >= size && h >= size) {
        opencv_imgproc.resize(src, out, square, 0, 0, INTER_AREA);
      } else if (w <= size && h <= size) {
        opencv_imgproc.resize(src, out, square, 0, 0, INTER_CUBIC);
      } else {
        // One axis shrinks, the other grows: shrink first (area), then grow (cubic).
        try (Mat tmp = new Mat(); Size half = w > size ? new Size(size, h) : new Size(w, size)) {
          opencv_imgproc.resize(src, tmp, half, 0, 0, INTER_AREA);
          opencv_imgproc.resize(tmp, out, square, 0, 0, INTER_CUBIC);
        }
      }
      return out;
    } catch (RuntimeException e) {
      throw new ComixException("cannot resize " + what + " from " + w + "x" + h + " to " + size + "x" + size + ": "
          + firstLine(e));
    }
  }

  /** Copies a continuous 8UC3 Mat into {@code out} (exactly rows*cols*3 bytes). */
  static void copyOut(Mat m, byte[] out) {
    long n = (long) m.rows() * m.cols() * 3;
    if (m.type() != CV_8UC3 || n != out.length)
      throw new ComixException("internal: image of " + m.cols() + "x" + m.rows() + " type " + m.type()
          + " does not fit a buffer of " + out.length + " bytes");
    if (m.isContinuous()) {
      m.data().get(out, 0, out.length);
    } else {
      Mat c = m.clone();
      try {
        c.data().get(out, 0, out.length);
      } finally {
        c.close();
      }
    }
  }

  static String firstLine(Throwable t) {
    String m = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage().strip();
    int nl = m.indexOf('\n');
    return nl < 0 ? m : m.substring(0, nl);
  }
}

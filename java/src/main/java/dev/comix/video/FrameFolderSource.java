package dev.comix.video;

import static org.bytedeco.opencv.global.opencv_imgproc.COLOR_BGR2RGB;

import dev.comix.runtime.ComixException;
import java.nio.file.Path;
import java.util.List;
import org.bytedeco.opencv.global.opencv_imgproc;
import org.bytedeco.opencv.opencv_core.Mat;

/** Frames from a folder of images (already listed and sorted by {@link FrameSources}). */
final class FrameFolderSource implements FrameSource {
  private final Path folder;
  private final List<Path> frames;
  private final int size;
  private final int width;
  private final int height;
  private final Path first;
  private int index;
  private Mat pending; // the first frame, decoded at open to learn its size

  FrameFolderSource(Path folder, List<Path> frames, int size) {
    this.folder = folder;
    this.frames = List.copyOf(frames);
    this.size = size;
    this.first = frames.get(0);
    this.pending = ImageFiles.decodeBgr(ImageFiles.readFile(first, "frame"), first.toString());
    this.width = size > 0 ? size : pending.cols();
    this.height = size > 0 ? size : pending.rows();
  }

  @Override
  public int width() {
    return width;
  }

  @Override
  public int height() {
    return height;
  }

  @Override
  public long frameCountHint() {
    return frames.size();
  }

  @Override
  public boolean next(byte[] rgb) {
    if ((long) width * height * 3 != rgb.length)
      throw new ComixException("frame buffer has " + rgb.length + " bytes, expected " + (long) width * height * 3);
    if (index >= frames.size()) return false;
    Path file = frames.get(index);
    Mat bgr = pending != null ? pending : ImageFiles.decodeBgr(ImageFiles.readFile(file, "frame"), file.toString());
    pending = null;
    try {
      if (size == 0 && (bgr.cols() != width || bgr.rows() != height))
        throw new ComixException("frame " + file + " is " + bgr.cols() + "x" + bgr.rows() + " but the first frame " + first
            + " is " + width + "x" + height + " (resize with -r to mix sizes)");
      // Colour conversion and resizing commute (both per channel): do the conversion on the
      // smaller of the two images.
      boolean convertFirst = size == 0 || (long) bgr.cols() * bgr.rows() <= (long) size * size;
      try (Mat converted = new Mat()) {
        if (convertFirst) {
          opencv_imgproc.cvtColor(bgr, converted, COLOR_BGR2RGB);
          if (size == 0) {
            Cv.copyOut(converted, rgb);
          } else {
            try (Mat sized = Cv.resizeSquare(converted, size, file.toString())) {
              Cv.copyOut(sized, rgb);
            }
          }
        } else {
          try (Mat sized = Cv.resizeSquare(bgr, size, file.toString())) {
            opencv_imgproc.cvtColor(sized, converted, COLOR_BGR2RGB);
            Cv.copyOut(converted, rgb);
          }
        }
      } catch (ComixException e) {
        throw e;
      } catch (RuntimeException e) {
        throw new ComixException("cannot convert frame " + file + ": " + Cv.firstLine(e));
      }
    } finally {
      bgr.close();
    }
    index++;
    return true;
  }

  @Override
  public void close() {
    if (pending != null) pending.close();
    pending = null;
    index = frames.size();
  }

  @Override
  public String toString() {
    return "frames of " + folder;
  }
}

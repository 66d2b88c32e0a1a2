package dev.comix.video;

import static org.bytedeco.opencv.global.opencv_imgproc.COLOR_RGB2BGR;

import dev.comix.runtime.ComixException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.opencv.global.opencv_imgproc;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.Size;
import org.bytedeco.opencv.opencv_videoio.VideoWriter;

/**
 * A small synthetic domain-shift video set, generated from a seed with nothing downloaded: each
 * video is a static textured background (the "domain": smooth warm stripes for the source,
 * cool noisy tiles for the target) with two shapes moving across it in a direction that is the
 * class (0: left to right, 1: right to left, 2: top to bottom), plus a little sensor noise.
 * The same seed gives the same bytes.
 *
 * <p>Layout under the output folder:
 * <pre>
 * videos/src_00/00001.jpg ...     source videos as JPEG frame folders
 * videos/tgt_01/00001.png ...     target videos as PNG frame folders
 * videos/tgt_05.avi               the last video as an MJPG AVI (OpenCV's VideoWriter), if available
 * splits/source_train.csv         "name,label" lines with CRLF ends, as the original split files
 * splits/target_train.csv
 * </pre>
 * so that {@code comix extract-backgrounds --input <out>/videos --output <out>/backgrounds}
 * (or {@code --input <out>/splits/source_train.csv --base_dir <out>/videos}) runs on it.
 */
public final class SyntheticSample {
  public static final int CLASSES = 3;

  /** What was written. */
  public record Video(String name, int domain, int label, Path path, boolean aviFile) {}

  public record Sample(Path root, List<Video> videos, Path videosDir, Path sourceSplit, Path targetSplit, boolean aviWritten) {}

  private SyntheticSample() {}

  /**
   * Generates {@code videos} videos of {@code frames} frames of {@code width x height}.
   * Existing videos of the same names are replaced; other files in {@code root} are left alone.
   */
  public static Sample generate(Path root, int videos, int frames, int width, int height, long seed, boolean withAvi) {
    if (videos < 1 || videos > 10000) throw new ComixException("--videos must be in 1..10000, got " + videos);
    if (frames < 1 || frames > 10000) throw new ComixException("--frames must be in 1..10000, got " + frames);
    if (width < 16 || height < 16 || width > 4096 || height > 4096)
      throw new ComixException("sample frame size must be 16..4096 on a side, got " + width + "x" + height);
    Path videosDir = root.resolve("videos");
    Path splits = root.resolve("splits");
    try {
      Files.createDirectories(videosDir);
      Files.createDirectories(splits);
    } catch (IOException e) {
      throw new ComixException("cannot create " + root + ": " + ImageFiles.ioReason(e));
    }
    List<Video> out = new ArrayList<>();
    boolean aviOk = false;
    StringBuilder src = new StringBuilder(), tgt = new StringBuilder();
    for (int i = 0; i < videos; i++) {
      int domain = i % 2;
      int label = (i / 2) % CLASSES;
      String name = (domain == 0 ? "src_" : "tgt_") + String.format("%02d", i);
      SplittableRandom rng = new SplittableRandom(seed * 1_000_003L + i);
      byte[] bg = background(domain, width, height, rng);
      Shape[] shapes = {Shape.random(rng, width, height, label, frames, true), Shape.random(rng, width, height, label, frames, false)};
      boolean avi = withAvi && i == videos - 1 && videos > 1;
      Path written = null;
      if (avi) {
        written = writeAvi(videosDir.resolve(name + ".avi"), bg, shapes, frames, width, height, rng);
        aviOk = written != null;
      }
      if (written == null) {
        written = writeFolder(videosDir.resolve(name), bg, shapes, frames, width, height, rng,
            domain == 0 ? ImageFiles.Format.JPEG : ImageFiles.Format.PNG);
      }
      out.add(new Video(name, domain, label, written, written.toString().endsWith(".avi")));
      (domain == 0 ? src : tgt).append(name).append(',').append(label).append("\r\n");
    }
    Path s = splits.resolve("source_train.csv"), t = splits.resolve("target_train.csv");
    ImageFiles.writeBytesAtomic(s, src.toString().getBytes(StandardCharsets.UTF_8));
    ImageFiles.writeBytesAtomic(t, tgt.toString().getBytes(StandardCharsets.UTF_8));
    return new Sample(root, List.copyOf(out), videosDir, s, t, aviOk);
  }

  /** The clean background of a video (no shapes, no noise), for tests. */
  public static byte[] background(long seed, int index, int width, int height) {
    return background(index % 2, width, height, new SplittableRandom(seed * 1_000_003L + index));
  }

  private static byte[] background(int domain, int w, int h, SplittableRandom rng) {
    byte[] bg = new byte[w * h * 3];
    if (domain == 0) {
      // Source: smooth warm stripes, a sum of three sinusoids per channel.
      double[][] f = new double[3][4];
      for (double[] c : f) {
        c[0] = rng.nextDouble(0.02, 0.15);
        c[1] = rng.nextDouble(0.02, 0.15);
        c[2] = rng.nextDouble(0, Math.PI * 2);
        c[3] = rng.nextDouble(30, 60);
      }
      int[] base = {170, 120, 70};
      for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
          for (int ch = 0; ch < 3; ch++) {
            double v = base[ch];
            for (double[] c : f) v += c[3] / 3 * Math.sin(c[0] * x + c[1] * y + c[2] + ch);
            bg[(y * w + x) * 3 + ch] = (byte) clamp((int) Math.round(v));
          }
        }
      }
    } else {
      // Target: cool tiles of random shades with fixed per-pixel grain.
      int tile = 8 + rng.nextInt(9);
      int tw = (w + tile - 1) / tile, th = (h + tile - 1) / tile;
      int[][] col = new int[tw * th][3];
      for (int[] c : col) {
        int g = rng.nextInt(40, 140);
        c[0] = g / 2;
        c[1] = g;
        c[2] = Math.min(255, g + 60);
      }
      for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
          int[] c = col[(y / tile) * tw + x / tile];
          int grain = rng.nextInt(-12, 13);
          for (int ch = 0; ch < 3; ch++) bg[(y * w + x) * 3 + ch] = (byte) clamp(c[ch] + grain);
        }
      }
    }
    return bg;
  }

  private static final class Shape {
    final boolean disc;
    final int r;
    final int[] rgb = new int[3];
    final double x0, y0, dx, dy;

    private Shape(boolean disc, int r, double x0, double y0, double dx, double dy) {
      this.disc = disc;
      this.r = r;
      this.x0 = x0;
      this.y0 = y0;
      this.dx = dx;
      this.dy = dy;
    }

    static Shape random(SplittableRandom rng, int w, int h, int label, int frames, boolean disc) {
      int r = Math.max(3, Math.min(w, h) / 10 + rng.nextInt(0, Math.max(1, Math.min(w, h) / 12)));
      double span = (label == 2 ? h : w) + 2.0 * r;
      double speed = span / Math.max(1, frames - 1) * rng.nextDouble(0.8, 1.0);
      double across = label == 2 ? rng.nextDouble(r, w - r) : rng.nextDouble(r, h - r);
      Shape s;
      switch (label) {
        case 0:
          s = new Shape(disc, r, -r + rng.nextDouble(0, r), across, speed, 0);
          break;
        case 1:
          s = new Shape(disc, r, w + r - rng.nextDouble(0, r), across, -speed, 0);
          break;
        default:
          s = new Shape(disc, r, across, -r + rng.nextDouble(0, r), 0, speed);
          break;
      }
      for (int c = 0; c < 3; c++) s.rgb[c] = rng.nextInt(0, 256);
      return s;
    }

    void draw(byte[] img, int w, int h, int t) {
      double cx = x0 + dx * t, cy = y0 + dy * t;
      int xa = Math.max(0, (int) Math.floor(cx - r)), xb = Math.min(w - 1, (int) Math.ceil(cx + r));
      int ya = Math.max(0, (int) Math.floor(cy - r)), yb = Math.min(h - 1, (int) Math.ceil(cy + r));
      for (int y = ya; y <= yb; y++) {
        for (int x = xa; x <= xb; x++) {
          double ddx = x - cx, ddy = y - cy;
          if (disc && ddx * ddx + ddy * ddy > (double) r * r) continue;
          int o = (y * w + x) * 3;
          img[o] = (byte) rgb[0];
          img[o + 1] = (byte) rgb[1];
          img[o + 2] = (byte) rgb[2];
        }
      }
    }
  }

  private static byte[] frame(byte[] bg, Shape[] shapes, int t, int w, int h, SplittableRandom rng) {
    byte[] img = bg.clone();
    for (Shape s : shapes) s.draw(img, w, h, t);
    for (int i = 0; i < img.length; i++) img[i] = (byte) clamp((img[i] & 0xff) + rng.nextInt(-3, 4));
    return img;
  }

  private static Path writeFolder(Path dir, byte[] bg, Shape[] shapes, int frames, int w, int h, SplittableRandom rng,
                                  ImageFiles.Format format) {
    Path tmp = dir.resolveSibling("." + dir.getFileName() + ".tmp");
    try {
      deleteTree(tmp);
      Files.createDirectories(tmp);
      String ext = format == ImageFiles.Format.JPEG ? ".jpg" : ".png";
      for (int t = 0; t < frames; t++) {
        byte[] img = frame(bg, shapes, t, w, h, rng);
        Files.write(tmp.resolve(String.format("%05d", t + 1) + ext), ImageFiles.encode(img, w, h, format));
      }
      deleteTree(dir);
      Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
      return dir;
    } catch (IOException e) {
      throw new ComixException("cannot write sample video " + dir + ": " + ImageFiles.ioReason(e));
    }
  }

  /** MJPG in AVI through OpenCV's own writer; null if the preset cannot write it. */
  private static Path writeAvi(Path file, byte[] bg, Shape[] shapes, int frames, int w, int h, SplittableRandom rng) {
    Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp.avi");
    SplittableRandom probe = rng.split(); // keep rng's sequence the same whether or not the AVI works
    VideoWriter vw;
    try {
      vw = new VideoWriter(tmp.toString(), VideoWriter.fourcc((byte) 'M', (byte) 'J', (byte) 'P', (byte) 'G'), 10.0,
          new Size(w, h), true);
    } catch (RuntimeException e) {
      return null;
    }
    try (BytePointer buf = new BytePointer((long) w * h * 3); Mat rgbMat = Cv.wrapRgb(buf, w, h); Mat bgr = new Mat()) {
      if (!vw.isOpened()) return null;
      for (int t = 0; t < frames; t++) {
        byte[] img = frame(bg, shapes, t, w, h, probe);
        buf.position(0).put(img, 0, img.length);
        opencv_imgproc.cvtColor(rgbMat, bgr, COLOR_RGB2BGR);
        vw.write(bgr);
      }
      vw.release();
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      return file;
    } catch (IOException | RuntimeException e) {
      ImageFiles.deleteQuietly(tmp);
      return null;
    } finally {
      vw.close();
    }
  }

  private static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p)) return;
    try (Stream<Path> s = Files.walk(p)) {
      for (Path q : (Iterable<Path>) s.sorted(Comparator.reverseOrder())::iterator) Files.delete(q);
    }
  }

  private static int clamp(int v) {
    return v < 0 ? 0 : Math.min(255, v);
  }
}

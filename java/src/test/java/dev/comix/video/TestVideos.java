package dev.comix.video;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** Test data: the small committed videos, the shared data folder, frame patterns, hashing. */
public final class TestVideos {
  public static final int W = 64, H = 48, FRAMES = 24;

  private TestVideos() {}

  /** A committed test video (see src/test/resources/video/make-test-videos.sh). */
  public static Path resource(String name) {
    try {
      return Path.of(TestVideos.class.getResource("/video/" + name).toURI());
    } catch (URISyntaxException | NullPointerException e) {
      throw new IllegalStateException("test resource /video/" + name + " is missing", e);
    }
  }

  /** The frame formula the committed videos were encoded from (RGB, 64x48). */
  public static byte[] pattern(int t) {
    byte[] f = new byte[W * H * 3];
    for (int y = 0; y < H; y++) {
      for (int x = 0; x < W; x++) {
        int o = (y * W + x) * 3;
        boolean sq = y >= 18 && y < 30 && x >= 2 * t && x < 2 * t + 12;
        f[o] = (byte) (sq ? 255 : 4 * x);
        f[o + 1] = (byte) (sq ? 255 : 5 * y);
        f[o + 2] = (byte) (sq ? 255 : 128);
      }
    }
    return f;
  }

  public static double meanAbsDiff(byte[] a, byte[] b) {
    long s = 0;
    for (int i = 0; i < a.length; i++) s += Math.abs((a[i] & 0xff) - (b[i] & 0xff));
    return (double) s / a.length;
  }

  /** {@code ../shared/data} (surefire sets comix.shared.dir); skips the test when it is absent. */
  public static Path sharedData() {
    String dir = System.getProperty("comix.shared.dir");
    assumeTrue(dir != null, "comix.shared.dir is not set (run through Maven): shared test data unavailable");
    Path p = Path.of(dir, "data");
    assumeTrue(Files.isDirectory(p), "shared data folder " + p + " is absent: test skipped");
    return p;
  }

  public static Path vtest() {
    Path p = sharedData().resolve("vtest.avi");
    assumeTrue(Files.isRegularFile(p), p + " is absent: test skipped");
    return p;
  }

  public static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
  }

  public static String hex(byte[] digest) {
    return HexFormat.of().formatHex(digest);
  }

  /** Writes frames as PNG (lossless) files 00001.png ... into a new folder. */
  public static Path pngFolder(Path dir, byte[][] frames, int w, int h) throws IOException {
    Files.createDirectories(dir);
    for (int i = 0; i < frames.length; i++)
      Files.write(dir.resolve(String.format("%05d.png", i + 1)), ImageFiles.encode(frames[i], w, h, ImageFiles.Format.PNG));
    return dir;
  }

  public static Path jpegFolder(Path dir, byte[][] frames, int w, int h) throws IOException {
    Files.createDirectories(dir);
    for (int i = 0; i < frames.length; i++)
      Files.write(dir.resolve(String.format("%05d.jpg", i + 1)), ImageFiles.encode(frames[i], w, h, ImageFiles.Format.JPEG));
    return dir;
  }

  /** Random RGB frames from a seed. */
  public static byte[][] randomFrames(long seed, int n, int w, int h) {
    java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
    byte[][] f = new byte[n][w * h * 3];
    for (byte[] a : f) for (int i = 0; i < a.length; i++) a[i] = (byte) r.nextInt(256);
    return f;
  }

  /** numpy.median over axis 0 of uint8 frames, truncated to uint8 (the reference). */
  public static byte[] numpyMedian(byte[][] frames) {
    int n = frames[0].length, t = frames.length;
    byte[] out = new byte[n];
    int[] v = new int[t];
    for (int i = 0; i < n; i++) {
      for (int k = 0; k < t; k++) v[k] = frames[k][i] & 0xff;
      java.util.Arrays.sort(v);
      out[i] = (byte) (t % 2 == 1 ? v[t / 2] : (v[t / 2 - 1] + v[t / 2]) / 2);
    }
    return out;
  }

  public static Path copy(Path src, Path dir) throws IOException {
    Files.createDirectories(dir);
    return Files.copy(src, dir.resolve(src.getFileName()));
  }

  /** A copy of {@code src} cut to {@code fraction} of its bytes. */
  public static Path truncated(Path src, Path dest, double fraction) throws IOException {
    byte[] b = Files.readAllBytes(src);
    Files.createDirectories(dest.getParent());
    Files.write(dest, java.util.Arrays.copyOf(b, (int) (b.length * fraction)));
    return dest;
  }
}

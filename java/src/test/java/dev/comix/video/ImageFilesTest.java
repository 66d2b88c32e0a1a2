package dev.comix.video;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.comix.runtime.ComixException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageFilesTest {
  @TempDir Path tmp;

  private List<Path> files() throws IOException {
    try (Stream<Path> s = Files.list(tmp)) {
      return s.toList();
    }
  }

  @Test
  void pngRoundTripIsExact() {
    byte[] rgb = TestVideos.randomFrames(1, 1, 31, 17)[0];
    Path f = tmp.resolve("0.png");
    ImageFiles.writeAtomic(f, rgb, 31, 17);
    int[] wh = new int[2];
    assertArrayEquals(rgb, ImageFiles.readRgb(f, wh));
    assertArrayEquals(new int[] {31, 17}, wh);
  }

  @Test
  void jpegRoundTripIsCloseAndRgbOrdered() {
    byte[] rgb = TestVideos.pattern(3);
    Path f = tmp.resolve("0.JPEG");
    ImageFiles.writeAtomic(f, rgb, TestVideos.W, TestVideos.H);
    int[] wh = new int[2];
    byte[] back = ImageFiles.readRgb(f, wh);
    assertArrayEquals(new int[] {TestVideos.W, TestVideos.H}, wh);
    assertTrue(TestVideos.meanAbsDiff(rgb, back) < 4, "mean abs diff " + TestVideos.meanAbsDiff(rgb, back));
    // A pure red image stays red (not blue): channel order is right.
    byte[] red = new byte[8 * 8 * 3];
    for (int i = 0; i < red.length; i += 3) red[i] = (byte) 250;
    ImageFiles.writeAtomic(f, red, 8, 8);
    byte[] r = ImageFiles.readRgb(f, null);
    assertTrue((r[0] & 0xff) > 200 && (r[2] & 0xff) < 40, "R " + (r[0] & 0xff) + " B " + (r[2] & 0xff));
  }

  @Test
  void encodingIsDeterministic() {
    byte[] rgb = TestVideos.randomFrames(2, 1, 64, 40)[0];
    for (ImageFiles.Format fmt : ImageFiles.Format.values())
      assertArrayEquals(ImageFiles.encode(rgb, 64, 40, fmt), ImageFiles.encode(rgb.clone(), 64, 40, fmt));
  }

  @Test
  void jpegIsQuality75LikePil() {
    // Quality 75's luminance table starts with 8 (quality 95: 2): read the first DQT value.
    byte[] jpg = ImageFiles.encode(TestVideos.pattern(0), TestVideos.W, TestVideos.H, ImageFiles.Format.JPEG);
    int i = 2;
    while ((jpg[i] & 0xff) != 0xFF || (jpg[i + 1] & 0xff) != 0xDB) i++;
    assertEquals(8, jpg[i + 5] & 0xff);
  }

  @Test
  void atomicWriteLeavesNoTempAndReplaces() throws IOException {
    Path f = tmp.resolve("0.JPEG");
    ImageFiles.writeAtomic(f, TestVideos.pattern(0), TestVideos.W, TestVideos.H);
    byte[] first = Files.readAllBytes(f);
    ImageFiles.writeAtomic(f, TestVideos.pattern(9), TestVideos.W, TestVideos.H);
    assertFalse(java.util.Arrays.equals(first, Files.readAllBytes(f)));
    assertEquals(List.of(f), files());
  }

  @Test
  void staleTempsAreRemoved() throws IOException {
    Path f = tmp.resolve("0.JPEG");
    Path stale = Files.writeString(tmp.resolve(".0.JPEG.3f2a.tmp"), "half");
    Path other = Files.writeString(tmp.resolve("keep.txt"), "x");
    assertTrue(ImageFiles.isTempFile(stale));
    ImageFiles.deleteStaleTemps(f);
    assertFalse(Files.exists(stale));
    assertTrue(Files.exists(other));
  }

  @Test
  void badArgumentsAreClearErrors() {
    assertThrows(ComixException.class, () -> ImageFiles.writeAtomic(tmp.resolve("0.gif"), new byte[12], 2, 2));
    assertThrows(ComixException.class, () -> ImageFiles.writeAtomic(tmp.resolve("0.png"), new byte[11], 2, 2));
    assertThrows(ComixException.class, () -> ImageFiles.writeAtomic(tmp.resolve("0.png"), new byte[0], 0, 0));
    ComixException e = assertThrows(ComixException.class,
        () -> ImageFiles.writeAtomic(tmp.resolve("missing/0.png"), new byte[12], 2, 2));
    assertTrue(e.getMessage().contains("missing"), e.getMessage());
  }

  @Test
  void writeIntoAFileFails() throws IOException {
    Path notDir = Files.writeString(tmp.resolve("file"), "x");
    assertThrows(ComixException.class, () -> ImageFiles.writeAtomic(notDir.resolve("0.png"), new byte[12], 2, 2));
  }

  @Test
  void readingCorruptFilesIsAClearError() throws IOException {
    Path empty = Files.createFile(tmp.resolve("e.jpg"));
    assertTrue(assertThrows(ComixException.class, () -> ImageFiles.readRgb(empty, null)).getMessage().contains("e.jpg"));
    Path junk = Files.writeString(tmp.resolve("j.png"), "definitely not an image, but long enough");
    assertTrue(assertThrows(ComixException.class, () -> ImageFiles.readRgb(junk, null)).getMessage().contains("j.png"));
    Path missing = tmp.resolve("m.png");
    assertTrue(assertThrows(ComixException.class, () -> ImageFiles.readRgb(missing, null)).getMessage().contains("m.png"));
    byte[] png = ImageFiles.encode(TestVideos.pattern(1), TestVideos.W, TestVideos.H, ImageFiles.Format.PNG);
    Path cut = Files.write(tmp.resolve("cut.png"), java.util.Arrays.copyOf(png, png.length - 10));
    assertTrue(assertThrows(ComixException.class, () -> ImageFiles.readRgb(cut, null)).getMessage().contains("cut.png"));
  }

  @Test
  void formatNames() {
    assertEquals(ImageFiles.Format.JPEG, ImageFiles.Format.ofFile(Path.of("a/0.JPEG")));
    assertEquals(ImageFiles.Format.JPEG, ImageFiles.Format.ofFile(Path.of("x.jpeg")));
    assertEquals(ImageFiles.Format.PNG, ImageFiles.Format.ofFile(Path.of("x.PNG")));
    assertEquals(ImageFiles.Format.PNG, ImageFiles.Format.parse("png"));
    assertEquals("0.JPEG", ImageFiles.Format.parse("jpg").backgroundName);
    assertThrows(ComixException.class, () -> ImageFiles.Format.parse("gif"));
  }
}

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
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class FrameSourcesTest {
  @TempDir Path tmp;

  private static List<byte[]> readAll(FrameSource s) {
    List<byte[]> out = new ArrayList<>();
    byte[] buf = new byte[s.width() * s.height() * 3];
    while (s.next(buf)) out.add(buf.clone());
    return out;
  }

  private static byte[] solid(int w, int h, int r, int g, int b) {
    byte[] f = new byte[w * h * 3];
    for (int i = 0; i < f.length; i += 3) {
      f[i] = (byte) r;
      f[i + 1] = (byte) g;
      f[i + 2] = (byte) b;
    }
    return f;
  }

  // ---- video files --------------------------------------------------------------------------

  /**
   * Our FFmpeg 8 decode + swscale(SWS_BICUBIC) to RGB24 against Debian's cv2 (libavcodec 59,
   * cv2.VideoCapture + cvtColor BGR2RGB): SHA-256 over all frames, computed once with
   * /usr/bin/python3 when the videos were made.
   */
  @ParameterizedTest
  @CsvSource({
      "xvid.avi, 24, 947d0685186b178a3120e3e94988f8abed67888cc99305d4a06643c268f587b5",
      "divx3.avi, 24, 3f56706612cc8f96e8fa2c3557607d6fe417ca72bdd7036873a121b631c61e56",
      "cinepak.avi, 24, 21e873d1495320230f2a65181cf43f42ee0c63822b0b05bdd513e80d60353770",
      "mjpg.avi, 24, ea7920cec55047b23b15bdca098c3686946caddade353500a2fe2a254111833e",
      "h264.mp4, 24, 9362944fcb00a5a502923ca5abf77cc95ff755ef13669d97fcf2a72f89c747cb",
      "gaps.avi, 8, 3b2ccef2c127a450ff3707d586a6346ff003b3b8447e263d3987752d0e563c7d"})
  void videoFilesDecodeLikeCv2(String name, int frames, String cv2Sha256) {
    try (FrameSource s = FrameSources.open(TestVideos.resource(name), 0)) {
      assertEquals(TestVideos.W, s.width());
      assertEquals(TestVideos.H, s.height());
      MessageDigest md = TestVideos.sha256();
      byte[] buf = new byte[s.width() * s.height() * 3];
      int n = 0;
      double worst = 0;
      while (s.next(buf)) {
        md.update(buf);
        if (!name.equals("gaps.avi")) worst = Math.max(worst, TestVideos.meanAbsDiff(buf, TestVideos.pattern(n)));
        n++;
      }
      assertEquals(frames, n, name + ": decoded frames");
      assertTrue(worst < 12, name + ": frames far from what was encoded (mean abs diff " + worst + ")");
      assertEquals(cv2Sha256, TestVideos.hex(md.digest()), name + ": frames differ from Debian cv2's");
      assertTrue(s.warnings().isEmpty(), s.warnings().toString());
    }
  }

  /** Zero-size "repeat previous frame" chunks: like cv2, only decoded frames are delivered. */
  @Test
  void zeroSizeAviChunksAreNotFrames() {
    try (FrameSource s = FrameSources.open(TestVideos.resource("gaps.avi"), 0)) {
      assertEquals(22, s.frameCountHint()); // the header counts the empty chunks
      assertEquals(8, readAll(s).size());
    }
  }

  @Test
  void resizeVideoToSquare() {
    try (FrameSource s = FrameSources.open(TestVideos.resource("xvid.avi"), 32)) {
      assertEquals(32, s.width());
      assertEquals(32, s.height());
      assertEquals(24, s.frameCountHint());
      assertEquals(24, readAll(s).size());
    }
  }

  @Test
  void videoFrameRange() {
    List<byte[]> all;
    try (FrameSource s = FrameSources.open(TestVideos.resource("mjpg.avi"), 0)) {
      all = readAll(s);
    }
    try (FrameSource s = FrameSources.open(TestVideos.resource("mjpg.avi"), 0, 5, 9)) {
      assertEquals(4, s.frameCountHint());
      List<byte[]> part = readAll(s);
      assertEquals(4, part.size());
      for (int i = 0; i < 4; i++) assertArrayEquals(all.get(5 + i), part.get(i));
    }
  }

  @Test
  void vtestDecodesTo795FramesBitIdenticalWithCv2() {
    Path v = TestVideos.vtest();
    try (FrameSource s = FrameSources.open(v, 0)) {
      assertEquals(768, s.width());
      assertEquals(576, s.height());
      assertEquals(795, s.frameCountHint());
      MessageDigest md = TestVideos.sha256();
      byte[] buf = new byte[768 * 576 * 3];
      int n = 0;
      while (s.next(buf)) {
        md.update(buf);
        n++;
      }
      assertEquals(795, n);
      // SHA-256 of all 795 frames as Debian's cv2 decodes them (BGR2RGB), see STACK-NOTES.
      assertEquals("6842c08a2457f8338d717e62d4410387da74c68e9d52437850b37542038fb9b7", TestVideos.hex(md.digest()));
    }
  }

  @Test
  void zeroLengthVideoIsOneClearError() throws IOException {
    Path f = Files.createFile(tmp.resolve("empty.avi"));
    ComixException e = assertThrows(ComixException.class, () -> FrameSources.open(f, 224));
    assertTrue(e.getMessage().contains("empty.avi") && e.getMessage().contains("0 bytes"), e.getMessage());
  }

  @ParameterizedTest
  @CsvSource({"xvid.avi, 0.6", "xvid.avi, 0.1", "divx3.avi, 0.5", "mjpg.avi, 0.7", "cinepak.avi, 0.4", "h264.mp4, 0.6",
      "h264.mp4, 0.95", "xvid.avi, 0.02"})
  void truncatedVideoIsAnError(String name, double fraction) throws IOException {
    Path f = TestVideos.truncated(TestVideos.resource(name), tmp.resolve("cut-" + name), fraction);
    ComixException e = assertThrows(ComixException.class, () -> {
      try (FrameSource s = FrameSources.open(f, 64)) {
        readAll(s);
      }
    });
    assertTrue(e.getMessage().contains(f.toString()), e.getMessage());
  }

  @Test
  void aviCutAtAChunkBoundaryIsStillCaught() throws IOException {
    // Cut right after the 10th frame chunk: every packet read is whole, only the RIFF size tells.
    byte[] b = Files.readAllBytes(TestVideos.resource("xvid.avi"));
    int chunks = 0, cut = -1;
    for (int i = 0; i + 8 <= b.length; i++) {
      if (b[i] == '0' && b[i + 1] == '0' && b[i + 2] == 'd' && b[i + 3] == 'c') {
        int size = (b[i + 4] & 0xff) | (b[i + 5] & 0xff) << 8 | (b[i + 6] & 0xff) << 16 | (b[i + 7] & 0xff) << 24;
        if (size > 0 && i + 8 + size <= b.length && ++chunks == 10) {
          cut = i + 8 + size + (size & 1);
          break;
        }
      }
    }
    assertTrue(cut > 0);
    Path f = tmp.resolve("boundary.avi");
    Files.write(f, java.util.Arrays.copyOf(b, cut));
    ComixException e = assertThrows(ComixException.class, () -> FrameSources.open(f, 0));
    assertTrue(e.getMessage().contains("truncated"), e.getMessage());
  }

  @Test
  void truncatedAviWithARewrittenRiffSizeIsCaught() throws IOException {
    // A RIFF size that agrees with the cut file: the 'LIST movi' size still tells.
    byte[] b = Files.readAllBytes(TestVideos.resource("xvid.avi"));
    b = java.util.Arrays.copyOf(b, (int) (b.length * 0.8));
    int riff = b.length - 8;
    b[4] = (byte) riff;
    b[5] = (byte) (riff >> 8);
    b[6] = (byte) (riff >> 16);
    b[7] = (byte) (riff >> 24);
    Path f = Files.write(tmp.resolve("nosize.avi"), b);
    ComixException e = assertThrows(ComixException.class, () -> {
      try (FrameSource s = FrameSources.open(f, 0)) {
        readAll(s);
      }
    });
    assertTrue(e.getMessage().contains("truncated") && e.getMessage().contains("LIST"), e.getMessage());
  }

  @Test
  void garbageFileIsAnErrorNotACrash() throws IOException {
    Path f = tmp.resolve("noise.avi");
    byte[] b = new byte[50_000];
    new java.util.Random(7).nextBytes(b);
    Files.write(f, b);
    ComixException e = assertThrows(ComixException.class, () -> {
      try (FrameSource s = FrameSources.open(f, 32)) {
        readAll(s);
      }
    });
    assertTrue(e.getMessage().contains("noise.avi"), e.getMessage());
    Path txt = Files.writeString(tmp.resolve("notes.mp4"), "not a video at all\n");
    assertThrows(ComixException.class, () -> FrameSources.open(txt, 0));
  }

  @Test
  void missingPathIsAnError() {
    ComixException e = assertThrows(ComixException.class, () -> FrameSources.open(tmp.resolve("nope"), 0));
    assertTrue(e.getMessage().contains("nope"), e.getMessage());
  }

  @Test
  void badSizeIsRejected() {
    assertThrows(ComixException.class, () -> FrameSources.open(TestVideos.resource("xvid.avi"), -1));
    assertThrows(ComixException.class, () -> FrameSources.open(TestVideos.resource("xvid.avi"), 1 << 20));
  }

  @Test
  void wrongBufferSizeIsRejected() {
    try (FrameSource s = FrameSources.open(TestVideos.resource("xvid.avi"), 0)) {
      assertThrows(ComixException.class, () -> s.next(new byte[10]));
    }
  }

  // ---- frame folders ------------------------------------------------------------------------

  @Test
  void folderFramesAreSortedLikePython() throws IOException {
    Path d = Files.createDirectories(tmp.resolve("v"));
    // Lexicographic, not numeric: 1, 10, 2 (zero-padded names sort naturally).
    String[] names = {"2.png", "10.png", "1.png"};
    int[] red = {20, 100, 10};
    for (int i = 0; i < names.length; i++)
      Files.write(d.resolve(names[i]), ImageFiles.encode(solid(8, 6, red[i], 0, 0), 8, 6, ImageFiles.Format.PNG));
    Files.writeString(d.resolve("notes.txt"), "ignored");
    Files.writeString(d.resolve(".hidden.png"), "ignored");
    Files.createDirectories(d.resolve("sub.png")); // a folder, not a frame
    try (FrameSource s = FrameSources.open(d, 0)) {
      assertEquals(3, s.frameCountHint());
      List<byte[]> f = readAll(s);
      assertEquals(3, f.size());
      assertEquals(10, f.get(0)[0] & 0xff);
      assertEquals(100, f.get(1)[0] & 0xff);
      assertEquals(20, f.get(2)[0] & 0xff);
    }
  }

  @Test
  void folderPngFramesAreExactAndRgbOrdered() throws IOException {
    byte[][] frames = TestVideos.randomFrames(3, 5, 17, 9);
    Path d = TestVideos.pngFolder(tmp.resolve("v"), frames, 17, 9);
    try (FrameSource s = FrameSources.open(d, 0)) {
      assertEquals(17, s.width());
      assertEquals(9, s.height());
      List<byte[]> got = readAll(s);
      for (int i = 0; i < frames.length; i++) assertArrayEquals(frames[i], got.get(i));
    }
  }

  @Test
  void folderRangeIsAPythonSlice() throws IOException {
    byte[][] frames = TestVideos.randomFrames(4, 10, 4, 4);
    Path d = TestVideos.pngFolder(tmp.resolve("v"), frames, 4, 4);
    try (FrameSource s = FrameSources.open(d, 0, 3, 7)) {
      List<byte[]> got = readAll(s);
      assertEquals(4, got.size());
      assertArrayEquals(frames[3], got.get(0));
      assertArrayEquals(frames[6], got.get(3));
    }
    try (FrameSource s = FrameSources.open(d, 0, 8, 1000)) { // clipped like frames[8:1000]
      assertEquals(2, readAll(s).size());
    }
    assertThrows(ComixException.class, () -> FrameSources.open(d, 0, 10, 12));
  }

  @Test
  void emptyAndMissingFoldersAreClearErrors() throws IOException {
    Path empty = Files.createDirectories(tmp.resolve("empty"));
    ComixException e = assertThrows(ComixException.class, () -> FrameSources.open(empty, 224));
    assertTrue(e.getMessage().contains("empty") && e.getMessage().contains("no frames"), e.getMessage());
    Files.writeString(empty.resolve("readme.txt"), "x");
    e = assertThrows(ComixException.class, () -> FrameSources.open(empty, 224));
    assertTrue(e.getMessage().contains("none of them"), e.getMessage());
  }

  @Test
  void corruptJpegAmongGoodFramesNamesTheFile() throws IOException {
    byte[][] frames = TestVideos.randomFrames(5, 6, 16, 16);
    Path d = TestVideos.jpegFolder(tmp.resolve("v"), frames, 16, 16);
    Path bad = d.resolve("00004.jpg");
    byte[] good = Files.readAllBytes(bad);
    for (byte[] corrupt : List.of(
        java.util.Arrays.copyOf(good, good.length / 2), // truncated: libjpeg would only warn
        "this is not a jpeg".getBytes(), // garbage
        new byte[0], // zero length
        java.util.Arrays.copyOf(good, 20))) { // header only
      Files.write(bad, corrupt);
      ComixException e = assertThrows(ComixException.class, () -> {
        try (FrameSource s = FrameSources.open(d, 8)) {
          readAll(s);
        }
      });
      assertTrue(e.getMessage().contains("00004.jpg"), e.getMessage());
    }
  }

  @Test
  void mixedFrameSizesNeedResizing() throws IOException {
    Path d = Files.createDirectories(tmp.resolve("v"));
    Files.write(d.resolve("1.png"), ImageFiles.encode(solid(8, 6, 1, 2, 3), 8, 6, ImageFiles.Format.PNG));
    Files.write(d.resolve("2.png"), ImageFiles.encode(solid(6, 8, 1, 2, 3), 6, 8, ImageFiles.Format.PNG));
    ComixException e = assertThrows(ComixException.class, () -> {
      try (FrameSource s = FrameSources.open(d, 0)) {
        readAll(s);
      }
    });
    assertTrue(e.getMessage().contains("2.png"), e.getMessage());
    try (FrameSource s = FrameSources.open(d, 5)) {
      assertEquals(2, readAll(s).size());
    }
  }

  @Test
  void greyscaleImagesBecomeRgb() throws IOException {
    Path d = Files.createDirectories(tmp.resolve("v"));
    // A grey PNG written by hand through OpenCV: encode a 1-channel Mat.
    try (org.bytedeco.javacpp.BytePointer p = new org.bytedeco.javacpp.BytePointer(new byte[] {10, 20, 30, 40, 50, 60});
         org.bytedeco.opencv.opencv_core.Mat m = new org.bytedeco.opencv.opencv_core.Mat(2, 3,
             org.bytedeco.opencv.global.opencv_core.CV_8UC1, p)) {
      org.bytedeco.opencv.global.opencv_imgcodecs.imwrite(d.resolve("1.png").toString(), m);
    }
    try (FrameSource s = FrameSources.open(d, 0)) {
      byte[] f = readAll(s).get(0);
      assertArrayEquals(new byte[] {10, 10, 10, 20, 20, 20, 30, 30, 30, 40, 40, 40, 50, 50, 50, 60, 60, 60}, f);
    }
  }

  // ---- resizing -----------------------------------------------------------------------------

  @Test
  void downscaleIsAreaAveraging() throws IOException {
    // 4x4 -> 2x2 with INTER_AREA: each output pixel is the mean of a 2x2 block.
    int w = 4, h = 4;
    byte[] f = new byte[w * h * 3];
    for (int i = 0; i < f.length; i++) f[i] = (byte) (i * 7 % 251);
    Path d = TestVideos.pngFolder(tmp.resolve("v"), new byte[][] {f}, w, h);
    try (FrameSource s = FrameSources.open(d, 2)) {
      byte[] out = readAll(s).get(0);
      for (int y = 0; y < 2; y++) {
        for (int x = 0; x < 2; x++) {
          for (int c = 0; c < 3; c++) {
            int sum = 0;
            for (int dy = 0; dy < 2; dy++)
              for (int dx = 0; dx < 2; dx++) sum += f[((2 * y + dy) * w + 2 * x + dx) * 3 + c] & 0xff;
            assertEquals(Math.round(sum / 4.0f), out[(y * 2 + x) * 3 + c] & 0xff, 1, "pixel " + x + "," + y + " ch " + c);
          }
        }
      }
    }
  }

  @Test
  void upscaleAndMixedScalesKeepFlatImagesFlat() throws IOException {
    Path d = Files.createDirectories(tmp.resolve("v"));
    Files.write(d.resolve("1.png"), ImageFiles.encode(solid(40, 3, 12, 200, 99), 40, 3, ImageFiles.Format.PNG));
    for (int size : new int[] {8, 2, 64}) { // mixed (shrink x, grow y), shrink both, grow both
      try (FrameSource s = FrameSources.open(d, size)) {
        assertArrayEquals(solid(size, size, 12, 200, 99), readAll(s).get(0), "size " + size);
      }
    }
  }
}

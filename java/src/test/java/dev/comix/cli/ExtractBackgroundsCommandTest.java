package dev.comix.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.comix.video.ImageFiles;
import dev.comix.video.TestVideos;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ExtractBackgroundsCommandTest {
  @TempDir Path tmp;

  /** Every file under a folder, relative, sorted. */
  static List<String> tree(Path root) throws IOException {
    if (!Files.exists(root)) return List.of();
    try (Stream<Path> s = Files.walk(root)) {
      return s.filter(Files::isRegularFile).map(p -> root.relativize(p).toString()).sorted().toList();
    }
  }

  /** A folder with good videos and every kind of bad one. */
  private Path badInputs() throws IOException {
    Path in = tmp.resolve("in");
    TestVideos.jpegFolder(in.resolve("good_frames"), TestVideos.randomFrames(1, 6, 40, 30), 40, 30);
    TestVideos.copy(TestVideos.resource("xvid.avi"), in.resolve("tmpcopy"));
    Files.move(in.resolve("tmpcopy/xvid.avi"), in.resolve("good_video.avi"));
    Files.delete(in.resolve("tmpcopy"));
    Files.createDirectories(in.resolve("empty_folder"));
    Path corrupt = TestVideos.jpegFolder(in.resolve("corrupt_frames"), TestVideos.randomFrames(2, 6, 40, 30), 40, 30);
    byte[] f3 = Files.readAllBytes(corrupt.resolve("00003.jpg"));
    Files.write(corrupt.resolve("00003.jpg"), java.util.Arrays.copyOf(f3, f3.length / 2));
    Files.createFile(in.resolve("zero_length.avi"));
    TestVideos.truncated(TestVideos.resource("divx3.avi"), in.resolve("truncated.avi"), 0.5);
    return in;
  }

  @Test
  void badInputsGiveOneLineEachAndTheRunGoesOn() throws IOException {
    Path in = badInputs();
    Path out = tmp.resolve("out");
    Cli.Run r = Cli.run("extract-backgrounds", "--input", in.toString(), "--output", out.toString(), "-r", "32",
        "--device", "cpu", "--threads", "2", "--progress", "none");
    assertEquals(1, r.code(), r.toString());
    assertFalse(r.hasStackTrace(), r.toString());
    List<String> errors = r.errorLines();
    assertEquals(4, errors.size(), r.toString());
    assertTrue(errors.stream().anyMatch(l -> l.contains("empty_folder") && l.contains("no frames")), r.toString());
    assertTrue(errors.stream().anyMatch(l -> l.contains("corrupt_frames") && l.contains("00003.jpg")), r.toString());
    assertTrue(errors.stream().anyMatch(l -> l.contains("zero_length") && l.contains("0 bytes")), r.toString());
    assertTrue(errors.stream().anyMatch(l -> l.contains("truncated.avi") && l.contains("truncated")), r.toString());
    assertEquals(List.of("good_frames/0.JPEG", "good_video/0.JPEG"), tree(out), r.toString());
    assertTrue(r.out().contains("6 videos: 2 done, 0 skipped (already done), 4 failed"), r.toString());
    assertTrue(r.err().contains("comix: backend cpu"), r.toString());

    // The same again with --verbose: stack traces appear; the done videos are skipped.
    Cli.Run v = Cli.run("extract-backgrounds", "--input", in.toString(), "--output", out.toString(), "-r", "32",
        "--device", "cpu", "--progress", "none", "--verbose");
    assertEquals(1, v.code(), v.toString());
    assertTrue(v.hasStackTrace(), v.toString());
    assertTrue(v.out().contains("6 videos: 0 done, 2 skipped (already done), 4 failed"), v.toString());
  }

  @Test
  void missingFolderInASplitIsOneLine() throws IOException {
    Path base = tmp.resolve("base");
    TestVideos.pngFolder(base.resolve("v_a"), TestVideos.randomFrames(3, 4, 8, 8), 8, 8);
    Path csv = Files.writeString(tmp.resolve("split.csv"), "v_a,0\r\nv_missing,1\r\n");
    Path out = tmp.resolve("out");
    Cli.Run r = Cli.run("extract-backgrounds", "--input", csv.toString(), "--base_dir", base.toString(), "--output",
        out.toString(), "--device", "cpu", "--progress", "none");
    assertEquals(1, r.code(), r.toString());
    assertEquals(1, r.errorLines().size(), r.toString());
    assertTrue(r.errorLines().get(0).contains("v_missing"), r.toString());
    assertFalse(r.hasStackTrace(), r.toString());
    assertEquals(List.of("v_a/0.JPEG"), tree(out));
  }

  @Test
  void brokenSplitLineIsOneLineNamingFileAndLine() throws IOException {
    Path csv = Files.writeString(tmp.resolve("split.csv"), "a,0\r\nb;1\r\n");
    Cli.Run r = Cli.run("extract-backgrounds", "--input", csv.toString(), "--base_dir", tmp.toString(), "--output",
        tmp.resolve("out").toString(), "--device", "cpu");
    assertEquals(2, r.code(), r.toString());
    assertEquals(1, r.errLines().size(), r.toString());
    assertTrue(r.err().contains("split.csv, line 2:"), r.toString());
    assertFalse(Files.exists(tmp.resolve("out")), "nothing should be written for a broken split");
  }

  @Test
  void splitWithoutBaseDirIsAUsageError() throws IOException {
    Path csv = Files.writeString(tmp.resolve("split.csv"), "a,0\n");
    Cli.Run r = Cli.run("extract-backgrounds", "--input", csv.toString(), "--output", tmp.resolve("o").toString());
    assertEquals(2, r.code(), r.toString());
    assertTrue(r.err().contains("--base_dir"), r.toString());
  }

  @Test
  void unwritableOutputFolderIsOneLine() throws IOException {
    Path in = TestVideos.pngFolder(tmp.resolve("in/v"), TestVideos.randomFrames(3, 3, 8, 8), 8, 8);
    Path blocker = Files.writeString(tmp.resolve("a_file"), "x");
    Cli.Run r = Cli.run("extract-backgrounds", "--input", in.getParent().toString(), "--output",
        blocker.resolve("out").toString(), "--device", "cpu");
    assertEquals(2, r.code(), r.toString());
    assertEquals(1, r.errLines().size(), r.toString());
    assertTrue(r.err().startsWith("comix: error: cannot create output folder " + blocker.resolve("out")), r.toString());
  }

  @Test
  void readOnlyOutputFolderIsOneLine() throws IOException {
    Path in = TestVideos.pngFolder(tmp.resolve("in/v"), TestVideos.randomFrames(3, 3, 8, 8), 8, 8);
    Path ro = Files.createDirectories(tmp.resolve("ro"));
    Files.setPosixFilePermissions(ro, PosixFilePermissions.fromString("r-xr-xr-x"));
    try {
      assumeTrue(!Files.isWritable(ro), "running as root: permissions are not enforced, test skipped");
      Cli.Run r = Cli.run("extract-backgrounds", "--input", in.getParent().toString(), "--output", ro.toString(),
          "--device", "cpu");
      assertEquals(2, r.code(), r.toString());
      assertEquals(1, r.errLines().size(), r.toString());
      assertTrue(r.err().contains("not writable"), r.toString());
    } finally {
      Files.setPosixFilePermissions(ro, PosixFilePermissions.fromString("rwxr-xr-x"));
    }
  }

  @Test
  void outputBlockedForOneVideoFailsOnlyThatVideo() throws IOException {
    Path in = tmp.resolve("in");
    TestVideos.pngFolder(in.resolve("a"), TestVideos.randomFrames(3, 3, 8, 8), 8, 8);
    TestVideos.pngFolder(in.resolve("b"), TestVideos.randomFrames(4, 3, 8, 8), 8, 8);
    Path out = Files.createDirectories(tmp.resolve("out"));
    Files.writeString(out.resolve("a"), "not a folder");
    Cli.Run r = Cli.run("extract-backgrounds", "--input", in.toString(), "--output", out.toString(), "--device", "cpu",
        "--progress", "none");
    assertEquals(1, r.code(), r.toString());
    assertEquals(1, r.errorLines().size(), r.toString());
    assertTrue(r.errorLines().get(0).startsWith("comix: error: a: "), r.toString());
    assertTrue(Files.isRegularFile(out.resolve("b/0.JPEG")));
  }

  @ParameterizedTest
  @CsvSource({"-r, -1", "--threads, 0", "--frame_limit, 0", "--format, gif", "--progress, fancy", "--device, tpu"})
  void badOptionValuesAreOneLine(String opt, String value) throws IOException {
    Path in = TestVideos.pngFolder(tmp.resolve("in/v"), TestVideos.randomFrames(3, 3, 8, 8), 8, 8);
    Cli.Run r = Cli.run("extract-backgrounds", "--input", in.getParent().toString(), "--output",
        tmp.resolve("out").toString(), opt, value);
    assertEquals(2, r.code(), r.toString());
    assertEquals(1, r.errLines().size(), r.toString());
    assertFalse(r.hasStackTrace(), r.toString());
  }

  @Test
  void outputInsideTheInputFolderIsNotAVideo() throws IOException {
    Path in = tmp.resolve("in");
    TestVideos.pngFolder(in.resolve("v"), TestVideos.randomFrames(3, 3, 8, 8), 8, 8);
    for (int i = 0; i < 2; i++) {
      Cli.Run r = Cli.run("extract-backgrounds", "--input", in.toString(), "--output", in.resolve("bg").toString(),
          "--device", "cpu", "--progress", "none");
      assertEquals(0, r.code(), r.toString());
      assertTrue(r.out().contains("1 videos: "), r.toString());
    }
  }

  @Test
  void missingInputIsOneLine() {
    Cli.Run r = Cli.run("extract-backgrounds", "--input", tmp.resolve("nothing").toString(), "--output",
        tmp.resolve("out").toString());
    assertEquals(2, r.code(), r.toString());
    assertEquals(List.of("comix: error: no such file or folder: " + tmp.resolve("nothing")), r.errLines());
  }

  @Test
  void emptyInputFolderIsOneLine() throws IOException {
    Path in = Files.createDirectories(tmp.resolve("in"));
    Cli.Run r = Cli.run("extract-backgrounds", "--input", in.toString(), "--output", tmp.resolve("out").toString());
    assertEquals(2, r.code(), r.toString());
    assertEquals(1, r.errLines().size(), r.toString());
    assertTrue(r.err().contains("no videos in " + in), r.toString());
  }

  @Test
  void singleVideoFileAndSingleFrameFolder() throws IOException {
    Path out = tmp.resolve("out");
    Cli.Run r = Cli.run("extract-backgrounds", "--input", TestVideos.resource("cinepak.avi").toString(), "--output",
        out.toString(), "-r", "0", "--format", "png", "--device", "cpu", "--progress", "none");
    assertEquals(0, r.code(), r.toString());
    int[] wh = new int[2];
    ImageFiles.readRgb(out.resolve("cinepak/0.png"), wh);
    assertArrayEquals(new int[] {TestVideos.W, TestVideos.H}, wh);

    Path frames = TestVideos.pngFolder(tmp.resolve("clip7"), TestVideos.randomFrames(5, 3, 8, 8), 8, 8);
    r = Cli.run("extract-backgrounds", "--input", frames.toString(), "--output", out.toString(), "--device", "cpu",
        "--progress", "lines");
    assertEquals(0, r.code(), r.toString());
    assertTrue(Files.isRegularFile(out.resolve("clip7/0.JPEG")));
    assertTrue(r.out().contains("1 videos: 1 done"), r.toString());
  }

  @Test
  void epicSplitWritesVideoIdUidFolders() throws IOException {
    Path base = tmp.resolve("D1");
    byte[][] frames = TestVideos.randomFrames(8, 30, 12, 10);
    Path vid = Files.createDirectories(base.resolve("P08_01"));
    for (int i = 0; i < frames.length; i++)
      Files.write(vid.resolve(String.format("frame_%010d.jpg", i + 1)),
          ImageFiles.encode(frames[i], 12, 10, ImageFiles.Format.PNG)); // PNG bytes, .jpg name: decoders sniff
    Path csv = Files.writeString(tmp.resolve("D1_train.csv"),
        "uid,participant_id,video_id,narration,start_timestamp,stop_timestamp,start_frame,stop_frame,verb,verb_class\n"
            + "12915,P08,P08_01,open fridge,00:00:04.09,00:00:05.84,2,9,open,2\n"
            + "12916,P08,P08_01,get milk,00:00:05.94,00:00:07.23,10,25,get,0\n");
    Path out = tmp.resolve("bg");
    Cli.Run r = Cli.run("extract-backgrounds", "--input", csv.toString(), "--base_dir", base.toString(), "--output",
        out.toString(), "-r", "0", "--format", "png", "--device", "cpu", "--progress", "none");
    assertEquals(0, r.code(), r.toString());
    assertEquals(List.of("P08_01_12915/0.png", "P08_01_12916/0.png"), tree(out));
    assertArrayEquals(TestVideos.numpyMedian(java.util.Arrays.copyOfRange(frames, 2, 9)),
        ImageFiles.readRgb(out.resolve("P08_01_12915/0.png"), null));
    assertArrayEquals(TestVideos.numpyMedian(java.util.Arrays.copyOfRange(frames, 10, 25)),
        ImageFiles.readRgb(out.resolve("P08_01_12916/0.png"), null));
  }

  @Test
  void makeSampleThenExtract() throws IOException {
    Path a = tmp.resolve("a"), b = tmp.resolve("b");
    long t0 = System.nanoTime();
    Cli.Run r = Cli.run("make-sample", "--output", a.toString());
    double secs = (System.nanoTime() - t0) / 1e9;
    assertEquals(0, r.code(), r.toString());
    assertTrue(secs < 5, "make-sample took " + secs + " s");
    assertEquals(0, Cli.run("make-sample", "--output", b.toString()).code());
    List<String> files = tree(a);
    assertEquals(files, tree(b));
    for (String f : files) assertArrayEquals(Files.readAllBytes(a.resolve(f)), Files.readAllBytes(b.resolve(f)), f);
    assertTrue(files.contains("videos/tgt_05.avi"), files.toString());
    assertTrue(files.contains("videos/src_00/00001.jpg"), files.toString());
    assertTrue(files.contains("videos/tgt_01/00032.png"), files.toString());
    assertEquals("src_00,0\r\nsrc_02,1\r\nsrc_04,2\r\n", Files.readString(a.resolve("splits/source_train.csv")));
    // Rerunning make-sample over an existing sample gives the same bytes.
    assertEquals(0, Cli.run("make-sample", "--output", a.toString()).code());
    for (String f : files) assertArrayEquals(Files.readAllBytes(a.resolve(f)), Files.readAllBytes(b.resolve(f)), f);

    Cli.Run x = Cli.run("extract-backgrounds", "--input", a.resolve("videos").toString(), "--output",
        a.resolve("backgrounds").toString(), "--device", "cpu", "--progress", "none");
    assertEquals(0, x.code(), x.toString());
    assertEquals(Set.of("src_00", "tgt_01", "src_02", "tgt_03", "src_04", "tgt_05"),
        tree(a.resolve("backgrounds")).stream().map(p -> p.substring(0, p.indexOf('/'))).collect(Collectors.toSet()));
    // Through the split file too (tgt_05 is an AVI: the name resolves to tgt_05.avi).
    Cli.Run y = Cli.run("extract-backgrounds", "--input", a.resolve("splits/target_train.csv").toString(), "--base_dir",
        a.resolve("videos").toString(), "--output", a.resolve("bg2").toString(), "--device", "cpu", "--progress", "none");
    assertEquals(0, y.code(), y.toString());
    for (String v : List.of("tgt_01", "tgt_03", "tgt_05"))
      assertArrayEquals(Files.readAllBytes(a.resolve("backgrounds/" + v + "/0.JPEG")),
          Files.readAllBytes(a.resolve("bg2/" + v + "/0.JPEG")), v);
  }

  @Test
  void sampleBackgroundsRecoverTheCleanBackground() throws IOException {
    Path s = tmp.resolve("s");
    assertEquals(0, Cli.run("make-sample", "--output", s.toString(), "--no-avi").code());
    Path out = tmp.resolve("bg");
    assertEquals(0, Cli.run("extract-backgrounds", "--input", s.resolve("videos").toString(), "--output", out.toString(),
        "-r", "0", "--format", "png", "--device", "cpu", "--progress", "none").code());
    for (int i = 0; i < 6; i++) {
      String name = (i % 2 == 0 ? "src_" : "tgt_") + String.format("%02d", i);
      byte[] clean = dev.comix.video.SyntheticSample.background(0, i, 160, 120);
      byte[] got = ImageFiles.readRgb(out.resolve(name + "/0.png"), null);
      double d = TestVideos.meanAbsDiff(clean, got);
      assertTrue(d < 3, name + ": median far from the clean background: " + d);
    }
  }
}

package dev.comix.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.comix.features.ClipSampling;
import dev.comix.io.Npy;
import dev.comix.nn.Floats;
import dev.comix.nn.InceptionI3d;
import dev.comix.runtime.Tensor;
import dev.comix.video.FrameSource;
import dev.comix.video.FrameSources;
import dev.comix.video.TestVideos;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ExtractFeaturesCommandTest {
  @TempDir Path tmp;

  private Path weights() throws IOException {
    Path p = tmp.resolve("i3d_w32.pt");
    try (InputStream in = getClass().getResourceAsStream("/weights/i3d_w32.pt")) {
      Files.copy(in, p);
    }
    return p;
  }

  @Test
  void writesSixteenClipFeaturesPerVideoAndResumes() throws IOException {
    Path w = weights();
    Path in = tmp.resolve("in");
    Path short10 = TestVideos.jpegFolder(in.resolve("short10"), TestVideos.randomFrames(1, 10, 40, 30), 40, 30);
    TestVideos.jpegFolder(in.resolve("long80"), TestVideos.randomFrames(2, 80, 24, 20), 24, 20);
    Path out = tmp.resolve("out");
    String[] args = {"extract-features", "--weights", w.toString(), "--input", in.toString(), "--output", out.toString(),
        "--width", "0.03125", "--batch", "3"};
    Cli.Run r = Cli.run(args);
    assertEquals(0, r.code(), r.toString());
    assertTrue(r.out().contains("2 done, 0 skipped"), r.toString());
    try (Tensor f = Npy.read(out.resolve("short10.npy"))) {
      assertArrayEquals(new long[] {16, 32}, f.shape());
      // clip 15 of a 10-frame video, recomputed directly: frames repeated 8x, M = 18
      InceptionI3d m = new InceptionI3d(1.0 / 32);
      m.loadWeights(w);
      byte[][] frames = new byte[10][];
      try (FrameSource src = FrameSources.open(short10, 224)) {
        for (int i = 0; i < 10; i++) {
          frames[i] = new byte[224 * 224 * 3];
          assertTrue(src.next(frames[i]));
        }
      }
      int[] idx = ClipSampling.testFrameIndices(10)[15];
      float[] x = new float[8 * 224 * 224 * 3];
      for (int j = 0; j < 8; j++)
        for (int k = 0; k < 224 * 224 * 3; k++) x[j * 224 * 224 * 3 + k] = (frames[idx[j]][k] & 0xff) * 2f / 255f - 1f;
      try (Tensor xt = Floats.of(x, 1, 8, 224, 224, 3); Tensor y = m.forward(xt, false)) {
        float[] all = Floats.read(f), want = Floats.read(y);
        float[] row = java.util.Arrays.copyOfRange(all, 15 * 32, 16 * 32);
        for (int k = 0; k < 32; k++) assertEquals(want[k], row[k], 1e-5f * (1 + Math.abs(want[k])), "feature " + k);
      }
    }
    try (Tensor f = Npy.read(out.resolve("long80.npy"))) {
      assertArrayEquals(new long[] {16, 32}, f.shape());
    }
    Cli.Run again = Cli.run(args);
    assertEquals(0, again.code(), again.toString());
    assertTrue(again.out().contains("0 done, 2 skipped"), again.toString());
    // a truncated output is redone
    Files.write(out.resolve("long80.npy"), new byte[] {1, 2, 3});
    Cli.Run third = Cli.run(args);
    assertTrue(third.out().contains("1 done, 1 skipped"), third.toString());
  }

  @Test
  void wrongWidthIsOneClearError() throws IOException {
    Path w = weights();
    Path in = TestVideos.jpegFolder(tmp.resolve("v"), TestVideos.randomFrames(1, 3, 16, 16), 16, 16);
    Cli.Run r = Cli.run("extract-features", "--weights", w.toString(), "--input", in.toString(), "--output",
        tmp.resolve("o").toString());
    assertEquals(2, r.code(), r.toString());
    assertEquals(1, r.errorLines().size(), r.toString());
    assertTrue(r.errorLines().get(0).contains("do not match the model"), r.toString());
  }

  @Test
  void forwardsSpanVideosAndABadVideoFailsAlone() throws IOException {
    Path w = weights();
    Path in = tmp.resolve("in");
    TestVideos.jpegFolder(in.resolve("a"), TestVideos.randomFrames(3, 12, 20, 20), 20, 20);
    Files.createDirectories(in.resolve("b_empty"));
    TestVideos.jpegFolder(in.resolve("c"), TestVideos.randomFrames(4, 30, 20, 20), 20, 20);
    Path out = tmp.resolve("out"), ref = tmp.resolve("ref");
    // 5 clips per forward: video c's clips share forwards with a's; the features must not change
    Cli.Run r = Cli.run("extract-features", "--weights", w.toString(), "--input", in.toString(), "--output",
        out.toString(), "--width", "0.03125", "--batch", "5");
    assertEquals(1, r.code(), r.toString());
    assertTrue(r.out().contains("3 videos: 2 done, 0 skipped (already done), 1 failed"), r.toString());
    assertTrue(r.err().contains("b_empty"), r.toString());
    assertTrue(Files.notExists(out.resolve("b_empty.npy")));
    Cli.Run one = Cli.run("extract-features", "--weights", w.toString(), "--input", in.resolve("c").toString(),
        "--output", ref.toString(), "--width", "0.03125", "--batch", "1");
    assertEquals(0, one.code(), one.toString());
    try (Tensor a = Npy.read(out.resolve("c.npy")); Tensor b = Npy.read(ref.resolve("c.npy"))) {
      float[] x = Floats.read(a), y = Floats.read(b);
      for (int i = 0; i < x.length; i++) assertEquals(y[i], x[i], 1e-5f * (1 + Math.abs(y[i])), "feature " + i);
    }
  }
}

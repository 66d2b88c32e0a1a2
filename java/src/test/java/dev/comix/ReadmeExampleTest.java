package dev.comix;

import static org.junit.jupiter.api.Assertions.*;

import dev.comix.runtime.*;
import dev.comix.video.*;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's Java example, verbatim apart from the paths, on a generated clip. */
class ReadmeExampleTest {
  @Test
  void readmeExampleRuns(@TempDir Path dir) throws Exception {
    SyntheticSample.Sample sample = SyntheticSample.generate(dir.resolve("s"), 2, 12, 64, 48, 1, true);
    Path clip = sample.videos().stream().filter(SyntheticSample.Video::aviFile).findFirst()
        .orElse(sample.videos().get(0)).path();
    Path bgFile = dir.resolve("bg.png");
    float first;
    // ---- README ----
    try (Ops ops = Backends.open("auto", 0);
         TemporalMedian median = new TemporalMedian(ops, 224, 224, 3);
         FrameSource video = FrameSources.open(clip, 224)) {
      byte[] rgb = new byte[224 * 224 * 3];
      while (video.next(rgb)) median.add(rgb);
      byte[] background = median.resultBytes();
      ImageFiles.writeAtomic(bgFile, background, 224, 224);

      byte[] frames = new byte[2 * 16 * 224 * 224 * 3];
      byte[] backgrounds = new byte[2 * 224 * 224 * 3];
      try (Tensor hx = Tensor.hostOf(frames, 2, 16, 224, 224, 3);
           Tensor hb = Tensor.hostOf(backgrounds, 2, 224, 224, 3);
           Tensor x = ops.toDevice(hx);
           Tensor bg = ops.toDevice(hb);
           Tensor mixed = BackgroundMix.apply(ops, x, bg, 0.3f, DType.F32);
           Tensor out = ops.toHost(mixed)) {
        float[] values = out.toFloats();
        first = values[0];
      }
      assertEquals(12, median.frames());
    }
    // ---- end ----
    assertTrue(Files.size(bgFile) > 0);
    assertEquals(-1f, first, 1e-6f);
  }
}

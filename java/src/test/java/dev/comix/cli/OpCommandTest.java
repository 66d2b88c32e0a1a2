package dev.comix.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.comix.io.Npy;
import dev.comix.runtime.DType;
import dev.comix.runtime.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `comix op supcon` on .npy files against the PyTorch fixture (float64 in, float64 out). */
class OpCommandTest {
  @TempDir Path dir;

  private Path copy(String name) throws IOException {
    Path p = dir.resolve(name);
    try (InputStream in = getClass().getResourceAsStream("/dev/comix/loss/supcon-fixture/" + name)) {
      Files.copy(in, p);
    }
    return p;
  }

  private static String run(String... args) {
    PrintStream old = System.out;
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
    try {
      int rc = Main.run(args);
      assertEquals(0, rc, "exit code of comix " + String.join(" ", args));
    } finally {
      System.setOut(old);
    }
    return buf.toString(StandardCharsets.UTF_8);
  }

  @Test
  void supconMatchesPyTorchOnNpyInputs() throws Exception {
    Path f = copy("tpl_masked_features.npy"), l = copy("tpl_masked_labels.npy"), m = copy("tpl_masked_mask.npy");
    Path ref = copy("tpl_masked_grad.npy"), g = dir.resolve("g.npy");
    String out = run("op", "supcon", "--features", f.toString(), "--labels", l.toString(), "--mask", m.toString(),
        "--temperature", "0.5", "--base_temperature", "0.07", "--grad", g.toString(), "--device", "cpu");
    Matcher mm = Pattern.compile("loss (\\S+)").matcher(out);
    assertTrue(mm.find(), out);
    String json = new String(getClass().getResourceAsStream("/dev/comix/loss/supcon-fixture/tpl_masked.json")
        .readAllBytes(), StandardCharsets.UTF_8);
    Matcher jm = Pattern.compile("\"loss\":\\s*([-0-9.eE+]+)").matcher(json);
    assertTrue(jm.find());
    double want = Double.parseDouble(jm.group(1)), got = Double.parseDouble(mm.group(1));
    assertEquals(want, got, 1e-11 * Math.abs(want));
    try (Tensor a = Npy.read(g); Tensor b = Npy.read(ref)) {
      assertEquals(DType.F64, a.dtype());
      assertArrayEquals(b.shape(), a.shape());
      double worst = 0, mag = 0;
      for (long i = 0; i < a.numel(); i++) {
        worst = Math.max(worst, Math.abs(a.data().getDouble(8 * i) - b.data().getDouble(8 * i)));
        mag = Math.max(mag, Math.abs(b.data().getDouble(8 * i)));
      }
      assertTrue(worst <= 1e-11 * mag, "gradient differs by " + worst);
    }
  }

  @Test
  void badInputExitsNonZeroWithOneLine() throws Exception {
    Path f = copy("comix_bgm_features.npy"), l = copy("tpl_masked_labels.npy");
    assertEquals(2, Main.run("op", "supcon", "--features", f.toString(), "--labels", l.toString(), "--device", "cpu"));
    assertEquals(2, Main.run("op", "supcon", "--features", f.toString(), "--temperature", "-1", "--device", "cpu"));
    assertEquals(2, Main.run("op", "supcon", "--features", dir.resolve("missing.npy").toString(), "--device", "cpu"));
  }
}

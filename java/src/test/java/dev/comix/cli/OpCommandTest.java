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

  /** float32 .npy in, float32 gradient out, against the float64 oracle (1e-5 relative). */
  @Test
  void supconFloat32NpyMatchesFloat64Reference() throws Exception {
    java.util.Random r = new java.util.Random(System.nanoTime());
    int n = 37, v = 3, d = 21;
    double[] x = new double[n * v * d];
    long[] labels = new long[n];
    boolean[] keep = new boolean[n];
    Path f = dir.resolve("f32.npy"), l = dir.resolve("l.npy"), m = dir.resolve("m.npy"), g = dir.resolve("g32.npy");
    try (Tensor t = Tensor.host(DType.F32, n, v, d); Tensor lt = Tensor.host(DType.I32, n); Tensor mt = Tensor.host(DType.U8, n)) {
      for (int i = 0; i < x.length; i++) {
        x[i] = (float) r.nextGaussian();
        t.data().putFloat(4L * i, (float) x[i]);
      }
      for (int i = 0; i < n; i++) {
        labels[i] = r.nextInt(5);
        keep[i] = i == 0 || r.nextDouble() < 0.7;
        lt.data().putInt(4L * i, (int) labels[i]);
        mt.data().put(i, (byte) (keep[i] ? 1 : 0));
      }
      Npy.write(f, t);
      Npy.write(l, lt);
      Npy.write(m, mt);
    }
    String out = run("op", "supcon", "--features", f.toString(), "--labels", l.toString(), "--mask", m.toString(),
        "--temperature", "0.2", "--base_temperature", "0.07", "--normalize", "--grad", g.toString(), "--device", "cpu");
    Matcher mm = Pattern.compile("loss (\\S+)").matcher(out);
    assertTrue(mm.find(), out);
    dev.comix.loss.SupConOracle ref = new dev.comix.loss.SupConOracle(x, n, v, d, labels, keep, 0.2f, 0.07f, true, false);
    assertEquals(ref.loss, Double.parseDouble(mm.group(1)), 1e-5 * Math.abs(ref.loss));
    try (Tensor a = Npy.read(g)) {
      assertEquals(DType.F32, a.dtype());
      double[] got = new double[x.length];
      for (int i = 0; i < got.length; i++) got[i] = a.data().getFloat(4L * i);
      double e = dev.comix.loss.SupConOracle.relErr(ref.grad, got);
      assertTrue(e <= 1e-5, "gradient rel err " + e);
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

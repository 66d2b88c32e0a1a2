package dev.comix.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.comix.io.SafeTensors;
import dev.comix.io.StateDict;
import dev.comix.io.TorchCheckpoint;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `comix weights convert` and `comix weights info` on the PyTorch-made fixtures. */
class WeightsCommandTest {
  @TempDir Path dir;

  private Path copy(String name) throws IOException {
    Path p = dir.resolve(name);
    try (InputStream in = getClass().getResourceAsStream("/weights/" + name)) {
      Files.copy(in, p);
    }
    return p;
  }

  @Test
  void convertsAndStripsModulePrefix() throws IOException {
    Path pt = copy("tiny_i3d_module.pt");
    Path out = dir.resolve("i3d.safetensors");
    Cli.Run r = Cli.run("weights", "convert", "--input", pt.toString(), "--output", out.toString(), "--strip-module-prefix");
    assertEquals(0, r.code(), r.toString());
    assertTrue(r.out().contains("('module.' prefix stripped)"), r.toString());
    try (StateDict a = TorchCheckpoint.read(pt, true); StateDict b = SafeTensors.read(out)) {
      assertEquals(a.names().stream().sorted().toList(), b.names());
      for (String n : a.names()) {
        assertEquals(a.dtype(n), b.dtype(n));
        assertArrayEquals(a.shape(n), b.shape(n));
        assertArrayEquals(a.get(n).toBytes(), b.get(n).toBytes(), n);
      }
      assertEquals("pt", b.metadata().get("format"));
    }
    Path kept = dir.resolve("kept.safetensors");
    r = Cli.run("weights", "convert", "--input", pt.toString(), "--output", kept.toString());
    assertEquals(0, r.code(), r.toString());
    try (StateDict b = SafeTensors.read(kept)) {
      assertTrue(b.allNamesStartWith("module."));
    }
  }

  @Test
  void infoListsKeysShapesDtypesAndTotals() throws IOException {
    for (String f : List.of("tiny_i3d.pt", "tiny_i3d_legacy.pt", "tiny_i3d.safetensors")) {
      Cli.Run r = Cli.run("weights", "info", copy(f).toString());
      assertEquals(0, r.code(), r.toString());
      assertTrue(r.out().matches("(?s).*Conv3d_1a_7x7\\.conv3d\\.weight +F32 +\\[4, 3, 7, 7, 7\\].*"), r.out());
      assertTrue(r.out().matches("(?s).*x\\.bf16 +BF16 +\\[4\\].*"), r.out());
      assertTrue(r.out().contains("69 tensors, 5201 parameters"), r.out());
    }
  }

  @Test
  void errorsAreOneLineAndLeaveNoOutput() throws IOException {
    Path evil = dir.resolve("evil.pt");
    try (ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(evil))) {
      z.putNextEntry(new ZipEntry("archive/data.pkl"));
      z.write("cos\nsystem\n(S'id'\ntR.".getBytes(StandardCharsets.ISO_8859_1));
      z.closeEntry();
    }
    Path out = dir.resolve("out.safetensors");
    Cli.Run r = Cli.run("weights", "convert", "--input", evil.toString(), "--output", out.toString());
    assertEquals(2, r.code(), r.toString());
    assertEquals(1, r.errorLines().size(), r.toString());
    assertTrue(r.errorLines().get(0).contains("refuses to load: pickle names os.system"), r.toString());
    assertFalse(r.hasStackTrace(), r.toString());
    r = Cli.run("weights", "info", dir.resolve("missing.pt").toString());
    assertEquals(2, r.code(), r.toString());
    assertTrue(r.errorLines().get(0).contains("no such file"), r.toString());
    try (Stream<Path> s = Files.list(dir)) {
      assertEquals(List.of(evil), s.toList(), "nothing written");
    }
  }
}

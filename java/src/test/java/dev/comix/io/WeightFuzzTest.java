package dev.comix.io;

import static org.junit.jupiter.api.Assertions.*;

import dev.comix.runtime.ComixException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Damaged files (random byte changes, cuts at every place in the pickle) either load or fail
 * with a {@link ComixException}: never another exception, a crash or a huge allocation.
 */
class WeightFuzzTest {
  @TempDir Path dir;

  private static void loadsOrComixError(Runnable r, String what) {
    try {
      r.run();
    } catch (ComixException e) {
      assertFalse(e.getMessage().isBlank(), what);
    } catch (Throwable t) {
      fail(what + ": " + t, t);
    }
  }

  @Test
  void damagedPicklesNeverEscapeAsOtherErrors() throws IOException {
    Path pt = WeightFixtures.copy(dir, "tiny_i3d.pt");
    byte[] pkl;
    Map<String, byte[]> storages = new LinkedHashMap<>();
    try (ZipFile z = new ZipFile(pt.toFile())) {
      try (InputStream in = z.getInputStream(z.getEntry("tiny_i3d/data.pkl"))) {
        pkl = in.readAllBytes();
      }
      for (var en = z.entries(); en.hasMoreElements(); ) {
        ZipEntry e = en.nextElement();
        if (e.getName().startsWith("tiny_i3d/data/"))
          try (InputStream in = z.getInputStream(e)) {
            storages.put(e.getName().substring("tiny_i3d/data/".length()), in.readAllBytes());
          }
      }
    }
    Random rnd = new Random(Long.getLong("comix.test.seed", System.nanoTime()));
    long seed = rnd.nextLong();
    rnd = new Random(seed);
    Path p = dir.resolve("fuzz.pt");
    for (int it = 0; it < 120; it++) {
      byte[] bad = pkl.clone();
      int changes = 1 + rnd.nextInt(4);
      for (int k = 0; k < changes; k++) bad[rnd.nextInt(bad.length)] = (byte) rnd.nextInt(256);
      WeightFixtures.zip(p, "archive", bad, storages);
      loadsOrComixError(() -> TorchCheckpoint.read(p).close(), "seed " + seed + " iteration " + it);
    }
    byte[] whole = pkl;
    for (int cut = 0; cut < pkl.length; cut++) { // a cut pickle never gets past the VM: test that alone, fast
      int c = cut;
      ComixException e = assertThrows(ComixException.class,
          () -> TorchPickle.load(Arrays.copyOf(whole, c), 0, "cut", new java.util.HashMap<>()), "pickle cut at " + c);
      assertTrue(e.getMessage().contains("truncated") || e.getMessage().contains("underflow"), e.getMessage());
    }
    byte[] legacy = Files.readAllBytes(WeightFixtures.copy(dir, "tiny_i3d_legacy.pt"));
    Path q = dir.resolve("fuzz_legacy.pt");
    for (int it = 0; it < 200; it++) {
      byte[] bad = legacy.clone();
      for (int k = 0; k < 1 + rnd.nextInt(4); k++) bad[rnd.nextInt(Math.min(bad.length, 8000))] = (byte) rnd.nextInt(256);
      Files.write(q, bad);
      int i = it;
      loadsOrComixError(() -> TorchCheckpoint.read(q).close(), "legacy, seed " + seed + " iteration " + i);
    }
  }

  @Test
  void damagedSafetensorsNeverEscapeAsOtherErrors() throws IOException {
    byte[] st = Files.readAllBytes(WeightFixtures.copy(dir, "tiny_i3d.safetensors"));
    long seed = new Random().nextLong();
    Random rnd = new Random(seed);
    Path p = dir.resolve("fuzz.safetensors");
    int headerEnd = 8 + (int) java.nio.ByteBuffer.wrap(st).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
    for (int it = 0; it < 400; it++) {
      byte[] bad = st.clone();
      for (int k = 0; k < 1 + rnd.nextInt(3); k++) bad[rnd.nextInt(headerEnd)] = (byte) rnd.nextInt(256);
      Files.write(p, bad);
      int i = it;
      loadsOrComixError(() -> SafeTensors.read(p).close(), "seed " + seed + " iteration " + i);
      loadsOrComixError(() -> SafeTensors.readHeader(p), "header, seed " + seed + " iteration " + i);
    }
    for (int cut = 0; cut < headerEnd + 64; cut += 5) {
      Files.write(p, Arrays.copyOf(st, cut));
      int c = cut;
      loadsOrComixError(() -> SafeTensors.read(p).close(), "cut at " + c);
    }
  }
}

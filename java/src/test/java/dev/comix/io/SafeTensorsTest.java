package dev.comix.io;

import static org.junit.jupiter.api.Assertions.*;

import dev.comix.runtime.ComixException;
import dev.comix.runtime.DType;
import dev.comix.runtime.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsTest {
  @TempDir Path dir;

  private static byte[] pattern(int n, int seed) {
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) b[i] = (byte) (i * 31 + seed);
    return b;
  }

  /** A dict with one tensor of every dtype, a scalar and an empty tensor, inserted unsorted. */
  private static StateDict sample() {
    StateDict sd = new StateDict();
    sd.put("z.f32", WeightFixtures.tensor(DType.F32, WeightFixtures.floats(1f, -2f, 3.5f, 0f, 1e-30f, -0f), 2, 3));
    sd.put("a.f64", WeightDType.F64, WeightFixtures.tensor(DType.F64, pattern(8 * 5, 1), 5));
    sd.put("m.bf16", WeightDType.BF16, WeightFixtures.tensor(DType.BF16, pattern(2 * 6, 2), 3, 2));
    sd.put("m.f16", WeightDType.F16, WeightFixtures.tensor(DType.U16, pattern(2 * 4, 3), 4));
    sd.put("b.i64", WeightDType.I64, WeightFixtures.tensor(DType.I64, pattern(8 * 3, 4), 3, 1));
    sd.put("b.i32", WeightDType.I32, WeightFixtures.tensor(DType.I32, pattern(4 * 2, 5), 2));
    sd.put("c.u8", WeightDType.U8, WeightFixtures.tensor(DType.U8, pattern(7, 6), 7));
    sd.put("c.bool", WeightDType.BOOL, WeightFixtures.tensor(DType.U8, new byte[] {1, 0, 1}, 3));
    sd.put("s.scalar", WeightFixtures.tensor(DType.F32, WeightFixtures.floats(42f)));
    sd.put("e.empty", WeightFixtures.tensor(DType.F32, new byte[0], 0, 3));
    sd.metadata().put("format", "pt");
    sd.metadata().put("note", "quotes \" and \\ and\nnewline");
    return sd;
  }

  @Test
  void roundTripsEveryDtypeSortedByName() throws IOException {
    Path p = dir.resolve("all.safetensors");
    try (StateDict sd = sample()) {
      SafeTensors.write(p, sd);
      try (StateDict back = SafeTensors.read(p)) {
        List<String> sorted = sd.names().stream().sorted().toList();
        assertEquals(sorted, back.names(), "written sorted by name, read in header order");
        for (String n : sd.names()) {
          assertEquals(sd.dtype(n), back.dtype(n), n);
          assertArrayEquals(sd.shape(n), back.shape(n), n);
          assertArrayEquals(sd.get(n).toBytes(), back.get(n).toBytes(), n);
        }
        assertEquals(sd.metadata(), back.metadata());
        assertArrayEquals(new float[] {1f, -2f, 3.5f, 0f, 1e-30f, -0f}, back.floats("z.f32"));
        assertArrayEquals(new long[] {1, 0, 1}, back.longs("c.bool"));
        assertEquals(sd.parameterCount(), back.parameterCount());
      }
    }
    // header: u64 length, a multiple of 8, JSON padded with spaces, data right after it
    byte[] all = Files.readAllBytes(p);
    long n = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN).getLong();
    assertEquals(0, n % 8);
    String header = new String(all, 8, (int) n, StandardCharsets.UTF_8);
    assertTrue(header.startsWith("{\"__metadata__\":{\"format\":\"pt\""), header);
    assertTrue(header.stripTrailing().endsWith("}"), header);
    try (Stream<Path> s = Files.list(dir)) {
      assertEquals(List.of(p), s.toList(), "no temp files left");
    }
  }

  @Test
  void readsPythonWrittenFixture() {
    Path p = WeightFixtures.copy(dir, "arange.safetensors");
    try (StateDict sd = SafeTensors.read(p)) {
      assertEquals(List.of("a", "b"), sd.names());
      assertEquals(WeightDType.F32, sd.dtype("a"));
      assertArrayEquals(new long[] {2, 3}, sd.shape("a"));
      assertArrayEquals(new float[] {0, 1, 2, 3, 4, 5}, sd.floats("a"));
      assertEquals(WeightDType.I64, sd.dtype("b"));
      assertArrayEquals(new long[] {0, 1, 2, 3}, sd.longs("b"));
      assertEquals(Map.of("format", "pt", "made_by", "make_fixtures.py"), sd.metadata());
    }
  }

  /** The independent Python reader of make_fixtures.py reads what comix writes (skipped without python3 + numpy). */
  @Test
  void pythonReaderReadsComixFile() throws Exception {
    Path python = Path.of("/usr/bin/python3");
    Assumptions.assumeTrue(Files.isExecutable(python), "no /usr/bin/python3");
    Path script = WeightFixtures.copy(dir, "make_fixtures.py");
    Path p = dir.resolve("comix.safetensors");
    try (StateDict sd = sample()) {
      SafeTensors.write(p, sd);
      Process pr = new ProcessBuilder(python.toString(), script.toString(), "--check", p.toString()).redirectErrorStream(true).start();
      String out = new String(pr.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(pr.waitFor(60, TimeUnit.SECONDS));
      Assumptions.assumeFalse(out.contains("No module named 'numpy'"), "python3 has no numpy");
      assertEquals(0, pr.exitValue(), out);
      assertTrue(out.contains("metadata {\"format\": \"pt\", \"note\": \"quotes \\\" and \\\\ and\\nnewline\"}"), out);
      assertTrue(out.contains("z.f32 F32 [2, 3] 2.5"), out);
      assertTrue(out.contains("c.bool BOOL [3] 2.0"), out);
      assertTrue(out.contains("s.scalar F32 [] 42.0"), out);
      assertTrue(out.contains("e.empty F32 [0, 3] 0.0"), out);
      assertTrue(out.contains("b.i32 I32 [2] "), out);
      assertTrue(out.contains("m.bf16 BF16 [3, 2] "), out);
    }
  }

  @Test
  void headerAloneListsTensorsAndMetadata() {
    Path p = WeightFixtures.copy(dir, "arange.safetensors");
    SafeTensors.Header h = SafeTensors.readHeader(p);
    assertEquals("[a F32 [2, 3] [0, 24), b I64 [4] [24, 56)]", h.tensors().toString());
    assertEquals("make_fixtures.py", h.metadata().get("made_by"));
  }

  @Test
  void mapFormWritesNaturalDtypes() {
    Path p = dir.resolve("m.safetensors");
    try (Tensor a = WeightFixtures.tensor(DType.F32, WeightFixtures.floats(1, 2), 2)) {
      SafeTensors.write(p, Map.of("w", a), null);
    }
    try (StateDict sd = SafeTensors.read(p)) {
      assertArrayEquals(new float[] {1, 2}, sd.floats("w"));
      assertTrue(sd.metadata().isEmpty());
    }
  }

  private Path file(String header, int dataBytes) throws IOException {
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(h.length).put(h);
    Path p = Files.createTempFile(dir, "bad", ".safetensors");
    Files.write(p, b.array());
    return p;
  }

  private static String error(Path p) {
    ComixException e = assertThrows(ComixException.class, () -> SafeTensors.read(p).close());
    assertTrue(e.getMessage().startsWith("safetensors: " + p), e.getMessage());
    assertFalse(e.getMessage().contains("\n"), e.getMessage());
    return e.getMessage();
  }

  @Test
  void headersThatLieAreRefusedBeforeAllocating() throws IOException {
    String ok = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    try (StateDict sd = SafeTensors.read(file(ok, 8))) {
      assertEquals(1, sd.size()); // the control case reads
    }
    assertTrue(error(file(ok, 4)).contains("truncated"));
    assertTrue(error(file(ok, 12)).contains("4 trailing bytes"));
    assertTrue(error(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1000000000000],\"data_offsets\":[0,4000000000000]}}", 8))
        .contains("truncated"));
    assertTrue(error(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8)).contains("needs 12 bytes"));
    assertTrue(error(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2305843009213693952,4],\"data_offsets\":[0,8]}}", 8))
        .contains("too large"));
    assertTrue(error(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8)).contains("non-negative"));
    assertTrue(error(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8)).contains("overlaps"));
    assertTrue(error(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8)).contains("unused bytes"));
    assertTrue(error(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8)).contains("end before begin"));
    assertTrue(error(file("{\"w\":{\"dtype\":\"C64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8)).contains("unsupported dtype C64"));
    assertTrue(error(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"w\":{}}", 8)).contains("duplicate key"));
    assertTrue(error(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]", 8)).contains("not valid JSON"));
    assertTrue(error(file("[1,2]", 0)).contains("not a JSON object"));
    assertTrue(error(file("{\"__metadata__\":{\"k\":1}}", 0)).contains("not a string"));
    assertTrue(error(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"extra\":1}}", 8)).contains("unknown field"));
  }

  @Test
  void truncatedFilesAndAbsurdHeaderLengths() throws IOException {
    Path good = dir.resolve("good.safetensors");
    try (StateDict sd = sample()) {
      SafeTensors.write(good, sd);
    }
    byte[] all = Files.readAllBytes(good);
    for (int cut : new int[] {0, 3, 8, 20, all.length / 2, all.length - 1}) {
      Path p = dir.resolve("cut" + cut + ".safetensors");
      Files.write(p, Arrays.copyOf(all, cut));
      String msg = error(p);
      assertTrue(msg.contains("truncated") || msg.contains("not valid JSON"), msg);
    }
    for (long len : new long[] {-1L, 1L << 62, SafeTensors.MAX_HEADER + 1L, 0}) {
      ByteBuffer b = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
      b.putLong(len);
      Path p = dir.resolve("len.safetensors");
      Files.write(p, b.array());
      assertTrue(error(p).contains("not plausible"), Long.toString(len));
    }
    Path missing = dir.resolve("nope.safetensors");
    assertTrue(error(missing).contains("no such file"));
  }

  @Test
  void writeIsAtomicAndReplacesOldFile() throws IOException {
    Path p = dir.resolve("w.safetensors");
    Files.writeString(p, "old");
    try (StateDict sd = sample()) {
      SafeTensors.write(p, sd);
      ComixException e = assertThrows(ComixException.class, () -> SafeTensors.write(dir.resolve("no/such/dir/x.safetensors"), sd));
      assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
    }
    try (StateDict back = SafeTensors.read(p)) {
      assertEquals(10, back.size());
    }
    try (Stream<Path> s = Files.list(dir)) {
      assertEquals(List.of(p), s.toList());
    }
  }

  @Test
  void halfAndBfloat16Decode() {
    assertEquals(1.0f, StateDict.halfToFloat((short) 0x3c00));
    assertEquals(-2.5f, StateDict.halfToFloat((short) 0xc100));
    assertEquals(65504f, StateDict.halfToFloat((short) 0x7bff));
    assertEquals(0x1p-24f, StateDict.halfToFloat((short) 0x0001));
    assertEquals(Float.NEGATIVE_INFINITY, StateDict.halfToFloat((short) 0xfc00));
    assertTrue(Float.isNaN(StateDict.halfToFloat((short) 0x7e00)));
    // every half value against a widening through double arithmetic
    for (int h = 0; h < 0x10000; h++) {
      int e = (h >>> 10) & 0x1f, m = h & 0x3ff;
      if (e == 0x1f) continue;
      double v = e == 0 ? m * Math.pow(2, -24) : (1 + m / 1024.0) * Math.pow(2, e - 15);
      if ((h & 0x8000) != 0) v = -v;
      assertEquals((float) v, StateDict.halfToFloat((short) h), "half 0x" + Integer.toHexString(h));
    }
  }
}

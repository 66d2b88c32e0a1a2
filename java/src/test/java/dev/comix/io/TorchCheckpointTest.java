package dev.comix.io;

import static org.junit.jupiter.api.Assertions.*;

import dev.comix.runtime.ComixException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** PyTorch checkpoints made by make_fixtures.py, and hand-made hostile ones. */
class TorchCheckpointTest {
  @TempDir Path dir;

  /** Every tensor equals the contiguous copy Python wrote to tiny_i3d.safetensors: dtype, shape, bytes. */
  private void assertSameAsReference(StateDict sd) {
    try (StateDict ref = SafeTensors.read(WeightFixtures.copy(dir, "tiny_i3d.safetensors"))) {
      assertEquals(ref.names().stream().sorted().toList(), sd.names().stream().sorted().toList());
      for (String n : ref.names()) {
        assertEquals(ref.dtype(n), sd.dtype(n), n);
        assertArrayEquals(ref.shape(n), sd.shape(n), n);
        assertArrayEquals(ref.get(n).toBytes(), sd.get(n).toBytes(), n);
      }
    }
  }

  private static void assertReaderCases(StateDict sd) {
    float[] offset = new float[12];
    for (int i = 0; i < 12; i++) offset[i] = 10 + i;
    assertArrayEquals(new long[] {3, 4}, sd.shape("x.offset"));
    assertArrayEquals(offset, sd.floats("x.offset"));
    assertArrayEquals(new float[] {50, 51, 52}, sd.floats("x.shared"));
    assertArrayEquals(new long[] {4, 3}, sd.shape("x.transposed"));
    assertArrayEquals(new float[] {0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}, sd.floats("x.transposed"));
    // arange(30).view(2,3,5)[:, ::2, 1:4]
    assertArrayEquals(new long[] {2, 2, 3}, sd.shape("x.strided"));
    assertEquals(WeightDType.F64, sd.dtype("x.strided"));
    assertArrayEquals(new float[] {1, 2, 3, 11, 12, 13, 16, 17, 18, 26, 27, 28}, sd.floats("x.strided"));
    assertArrayEquals(new long[0], sd.shape("x.scalar"));
    assertArrayEquals(new float[] {3.5f}, sd.floats("x.scalar"));
    assertArrayEquals(new long[] {0, 3}, sd.shape("x.empty"));
    assertEquals(WeightDType.F16, sd.dtype("x.f16"));
    assertArrayEquals(new float[] {1f, -2.5f, 65504f, StateDict.halfToFloat((short) 0x068e)}, sd.floats("x.f16"));
    assertEquals(WeightDType.BF16, sd.dtype("x.bf16"));
    float[] bf = sd.floats("x.bf16");
    assertEquals(1f, bf[0]);
    assertEquals(-2.5f, bf[1]);
    assertEquals(3.0e38f, bf[2], 3.0e38f / 128);
    assertArrayEquals(new long[] {-(1L << 40), 0, (1L << 40) + 3}, sd.longs("x.i64"));
    assertArrayEquals(new long[] {-7, 8, 9, Integer.MAX_VALUE}, sd.longs("x.i32"));
    assertArrayEquals(new long[] {0, 1, 255}, sd.longs("x.u8"));
    assertEquals(WeightDType.BOOL, sd.dtype("x.bool"));
    assertArrayEquals(new long[] {1, 0, 1}, sd.longs("x.bool"));
    assertArrayEquals(new float[] {0.25f, -0.5f}, sd.floats("x.param"));
    assertArrayEquals(new long[] {7}, sd.longs("Conv3d_1a_7x7.bn.num_batches_tracked"));
    assertArrayEquals(new long[] {4, 3, 7, 7, 7}, sd.shape("Conv3d_1a_7x7.conv3d.weight"));
    assertArrayEquals(new long[] {5, 8, 1, 1, 1}, sd.shape("logits.conv3d.weight"));
  }

  @Test
  void readsZipCheckpointWithIdenticalValues() {
    try (StateDict sd = TorchCheckpoint.read(WeightFixtures.copy(dir, "tiny_i3d.pt"))) {
      assertEquals("Conv3d_1a_7x7.conv3d.weight", sd.names().get(0), "file order kept");
      assertSameAsReference(sd);
      assertReaderCases(sd);
    }
  }

  @Test
  void readsModulePrefixedCheckpointWithAndWithoutStripping() {
    Path p = WeightFixtures.copy(dir, "tiny_i3d_module.pt");
    try (StateDict sd = TorchCheckpoint.read(p)) {
      assertTrue(sd.allNamesStartWith("module."));
      assertTrue(sd.contains("module.Mixed_3b.b1b.conv3d.weight"));
    }
    try (StateDict sd = TorchCheckpoint.read(p, true)) {
      assertFalse(sd.contains("module.Mixed_3b.b1b.conv3d.weight"));
      assertSameAsReference(sd);
      assertReaderCases(sd);
    }
  }

  @Test
  void readsLegacyFormatWithIdenticalValues() {
    try (StateDict sd = TorchCheckpoint.read(WeightFixtures.copy(dir, "tiny_i3d_legacy.pt"))) {
      assertSameAsReference(sd);
      assertReaderCases(sd);
    }
  }

  /** Checkpoints saved from a GPU name torch.cuda.FloatStorage: they load to the host all the same. */
  @Test
  void readsCudaStorageTypesToTheHost() throws IOException {
    byte[] legacy = Files.readAllBytes(WeightFixtures.copy(dir, "tiny_i3d_legacy.pt"));
    String s = new String(legacy, StandardCharsets.ISO_8859_1);
    assertTrue(s.contains("ctorch\nFloatStorage\n"));
    Path p = dir.resolve("cuda_legacy.pt");
    Files.write(p, s.replace("ctorch\nFloatStorage\n", "ctorch.cuda\nFloatStorage\n").getBytes(StandardCharsets.ISO_8859_1));
    try (StateDict sd = TorchCheckpoint.read(p)) {
      assertSameAsReference(sd);
    }
    // Python 2 pickles an OrderedDict as OrderedDict([[k, v], ...]), with str keys (BINSTRING)
    byte[] storage = WeightFixtures.floats(1, 2, 3, 4);
    byte[] py2dict = new WeightFixtures.Pickle().global("collections", "OrderedDict").op(']').op('(')
        .op('(', 'U', 1, 'w').floatTensor("0", 4, 0, new int[] {2, 2}, new int[] {2, 1}).op('l')
        .op('(', 'U', 1, 'v').floatTensor("0", 4, 2, new int[] {2}, new int[] {1}).op('l')
        .op('e').op(0x85, 'R').stop();
    try (StateDict sd = TorchCheckpoint.read(WeightFixtures.zip(dir.resolve("py2.pt"), "archive", py2dict, Map.of("0", storage)))) {
      assertEquals(List.of("w", "v"), sd.names());
      assertArrayEquals(new float[] {1, 2, 3, 4}, sd.floats("w"));
      assertArrayEquals(new float[] {3, 4}, sd.floats("v"));
    }
    // Python 2 str keys (BINSTRING) in an old checkpoint
    Map<String, TorchPickle.StorageRef> st = new HashMap<>();
    byte[] py2 = {(byte) 0x80, 2, 'T', 3, 0, 0, 0, 'a', 'b', 'c', 'U', 2, 'd', 'e', (byte) 0x86, '.'};
    assertEquals(new TorchPickle.Tuple(List.of("abc", "de")), TorchPickle.load(py2, 0, "t", st).value());
  }

  private static String error(Path p) {
    ComixException e = assertThrows(ComixException.class, () -> TorchCheckpoint.read(p).close());
    assertFalse(e.getMessage().contains("\n"), e.getMessage());
    assertTrue(e.getMessage().contains(p.toString()), e.getMessage());
    return e.getMessage();
  }

  private Path zipWith(byte[] pickle) {
    return WeightFixtures.zip(dir.resolve("evil" + System.nanoTime() + ".pt"), "archive", pickle, Map.of());
  }

  @Test
  void refusesPicklesNamingOtherGlobals() {
    // GLOBAL os.system with a text argument: the classic "pickle runs a shell command"
    byte[] osSystem = "cos\nsystem\n(S'touch /tmp/comix-pwned'\ntR.".getBytes(StandardCharsets.ISO_8859_1);
    String m = error(zipWith(osSystem));
    assertTrue(m.contains("refuses to load: pickle names os.system"), m);
    assertTrue(m.contains("nothing was executed"), m);
    assertFalse(Files.exists(Path.of("/tmp/comix-pwned")));

    m = error(zipWith(new WeightFixtures.Pickle().global("builtins", "eval").str("1+1").op(0x85, 'R').stop()));
    assertTrue(m.contains("pickle names builtins.eval"), m);
    m = error(zipWith(new WeightFixtures.Pickle().global("__builtin__", "getattr").stop()));
    assertTrue(m.contains("pickle names __builtin__.getattr"), m);
    m = error(zipWith(new WeightFixtures.Pickle().global("torch", "load").stop()));
    assertTrue(m.contains("pickle names torch.load"), m);
    m = error(zipWith(new WeightFixtures.Pickle().global("torch._utils", "_rebuild_device_tensor_from_numpy").stop()));
    assertTrue(m.contains("pickle names torch._utils._rebuild_device_tensor_from_numpy"), m);
    // STACK_GLOBAL takes module and name from the stack
    m = error(zipWith(new WeightFixtures.Pickle().str("subprocess").str("call").op(0x93).stop()));
    assertTrue(m.contains("pickle names subprocess.call"), m);
    // a refused name is refused where it appears, even after a valid state dict began
    m = error(zipWith(new WeightFixtures.Pickle().op('}').str("w").global("posix", "system").op('s').stop()));
    assertTrue(m.contains("pickle names posix.system"), m);
  }

  @Test
  void refusesCallsOfAnythingButTheTensorBuilders() {
    // REDUCE on an allowed name that is not a function (a storage class)
    String m = error(zipWith(new WeightFixtures.Pickle().global("torch", "FloatStorage").integer(4).op(0x85, 'R').stop()));
    assertTrue(m.contains("refuses to load: REDUCE calls torch.FloatStorage"), m);
    // REDUCE on a value that is not a name at all
    m = error(zipWith(new WeightFixtures.Pickle().str("os.system").op(')', 'R').stop()));
    assertTrue(m.contains("REDUCE calls a str"), m);
    // OrderedDict with strange arguments
    m = error(zipWith(new WeightFixtures.Pickle().global("collections", "OrderedDict").str("x").integer(1).op(0x86, 'R').stop()));
    assertTrue(m.contains("OrderedDict called with 2 unexpected arguments"), m);
    // BUILD (setstate) on anything but a dict
    m = error(zipWith(new WeightFixtures.Pickle().op(']').op('}').op('b').stop()));
    assertTrue(m.contains("BUILD sets the state of a list"), m);
    // opcodes state dicts never use: INST, OBJ, NEWOBJ, EXT1, PERSID (text)
    for (int op : new int[] {'i', 'o', 0x81, 0x92, 0x82, 'P', 'I', 'S'}) {
      m = error(zipWith(new WeightFixtures.Pickle().op(op, 'x', '\n', 'y', '\n').stop()));
      assertTrue(m.contains("refuses to load: pickle uses opcode 0x" + Integer.toHexString(op)), m);
    }
    // a persistent id that is not a storage
    m = error(zipWith(new WeightFixtures.Pickle().str("file").op(0x85, 'Q').stop()));
    assertTrue(m.contains("persistent id ('file') is not a storage"), m);
  }

  @Test
  void handMadeCheckpointLoadsAndBadViewsAreRefused() {
    byte[] storage = WeightFixtures.floats(1, 2, 3, 4);
    byte[] ok = new WeightFixtures.Pickle().op('}').str("w").floatTensor("0", 4, 1, new int[] {3}, new int[] {1}).op('s').stop();
    try (StateDict sd = TorchCheckpoint.read(WeightFixtures.zip(dir.resolve("ok.pt"), "any_name", ok, Map.of("0", storage)))) {
      assertEquals(List.of("w"), sd.names());
      assertArrayEquals(new float[] {2, 3, 4}, sd.floats("w"));
    }
    byte[] past = new WeightFixtures.Pickle().op('}').str("w").floatTensor("0", 4, 2, new int[] {3}, new int[] {1}).op('s').stop();
    String m = error(WeightFixtures.zip(dir.resolve("past.pt"), "archive", past, Map.of("0", storage)));
    assertTrue(m.contains("tensor 'w' (offset 2, shape [3], stride [1]) reaches element 4 of a storage of 4"), m);
    // storage file shorter than the pickle says
    m = error(WeightFixtures.zip(dir.resolve("short.pt"), "archive", ok, Map.of("0", Arrays.copyOf(storage, 12))));
    assertTrue(m.contains("storage 0 has 12 bytes, the pickle says 4 x F32 = 16"), m);
    // a pickle claiming a huge storage is refused before anything is allocated
    byte[] huge = new WeightFixtures.Pickle().op('}').str("w")
        .floatTensor("0", 1L << 40, 0, new int[] {1 << 20, 1 << 20}, new int[] {1 << 20, 1}).op('s').stop();
    m = error(WeightFixtures.zip(dir.resolve("huge.pt"), "archive", huge, Map.of("0", storage)));
    assertTrue(m.contains("storage 0 has 16 bytes, the pickle says 1099511627776 x F32 = 4398046511104"), m);
    byte[] overflow = new WeightFixtures.Pickle().op('}').str("w").floatTensor("0", 1L << 62, 0, new int[] {1}, new int[] {1})
        .op('s').stop();
    m = error(WeightFixtures.zip(dir.resolve("overflow.pt"), "archive", overflow, Map.of("0", storage)));
    assertTrue(m.contains("is too large"), m);
    // the older _rebuild_tensor(storage, offset, size, stride) form
    byte[] old = new WeightFixtures.Pickle().op('}').str("w").global("torch._utils", "_rebuild_tensor").mark().mark()
        .str("storage").global("torch", "FloatStorage").str("0").str("cpu").integer(4).tuple().op('Q')
        .integer(0).integer(2).integer(2).op(0x86).integer(1).integer(2).op(0x86).tuple().op('R', 's').stop();
    try (StateDict sd = TorchCheckpoint.read(WeightFixtures.zip(dir.resolve("old.pt"), "archive", old, Map.of("0", storage)))) {
      assertArrayEquals(new float[] {1, 3, 2, 4}, sd.floats("w"));
    }
    m = error(WeightFixtures.zip(dir.resolve("nostorage.pt"), "archive", ok, Map.of()));
    assertTrue(m.contains("storage 0 is missing"), m);
    // the top-level object is not a dict of tensors
    m = error(zipWith(new WeightFixtures.Pickle().op('}').str("epoch").integer(3).op('s').stop()));
    assertTrue(m.contains("not a plain state dict: 1 entries are not tensors, e.g. epoch (int)"), m);
    m = error(zipWith(new WeightFixtures.Pickle().op(']').stop()));
    assertTrue(m.contains("holds a list, not a state dict"), m);
    // truncated pickle
    m = error(zipWith(Arrays.copyOf(ok, ok.length - 5)));
    assertTrue(m.contains("truncated") || m.contains("stack underflow"), m);
  }

  @Test
  void truncatedAndForeignFilesGiveClearErrors() throws IOException {
    byte[] zip = Files.readAllBytes(WeightFixtures.copy(dir, "tiny_i3d.pt"));
    for (int cut : new int[] {4, 100, zip.length / 2, zip.length - 10}) {
      Path p = dir.resolve("cut" + cut + ".pt");
      Files.write(p, Arrays.copyOf(zip, cut));
      String m = error(p);
      assertTrue(m.contains("truncated or corrupt zip"), m);
    }
    byte[] legacy = Files.readAllBytes(WeightFixtures.copy(dir, "tiny_i3d_legacy.pt"));
    for (int cut : new int[] {4, 30, 200, legacy.length / 2, legacy.length - 1}) {
      Path p = dir.resolve("lcut" + cut + ".pt");
      Files.write(p, Arrays.copyOf(legacy, cut));
      String m = error(p);
      assertTrue(m.contains("truncated"), m);
    }
    Path text = dir.resolve("text.pt");
    Files.writeString(text, "hello, not a checkpoint");
    assertTrue(error(text).contains("not a PyTorch checkpoint"));
    Path empty = dir.resolve("empty.pt");
    Files.write(empty, new byte[0]);
    assertTrue(error(empty).contains("not a PyTorch checkpoint"));
    assertTrue(error(dir.resolve("missing.pt")).contains("no such file"));
  }

  @Test
  void pickleVmValuesDirectly() {
    Map<String, TorchPickle.StorageRef> st = new HashMap<>();
    // LONG1 of the legacy magic number, BININT negative, BINFLOAT, memo round trip
    byte[] magic = {(byte) 0x80, 2, (byte) 0x8a, 10, 0x6c, (byte) 0xfc, (byte) 0x9c, 0x46, (byte) 0xf9, 0x20, 0x6a, (byte) 0xa8, 0x50, 0x19, '.'};
    assertEquals(new java.math.BigInteger("1950a86a20f9469cfc6c", 16), TorchPickle.load(magic, 0, "t", st).value());
    byte[] ints = new WeightFixtures.Pickle().integer(-5).op('q', 1, 'h', 1, 0x86).stop();
    Object v = TorchPickle.load(ints, 0, "t", st).value();
    assertEquals(new TorchPickle.Tuple(List.of(-5L, -5L)), v);
    byte[] f = {(byte) 0x80, 2, 'G', 0x40, 0x09, 0x21, (byte) 0xfb, 0x54, 0x44, 0x2d, 0x18, '.'};
    assertEquals(Math.PI, TorchPickle.load(f, 0, "t", st).value());
    ComixException e = assertThrows(ComixException.class, () -> TorchPickle.load(new byte[] {(byte) 0x80, 2, 'h', 9, '.'}, 0, "t", st));
    assertTrue(e.getMessage().contains("memo 9 is empty"), e.getMessage());
    e = assertThrows(ComixException.class, () -> TorchPickle.load(new byte[] {(byte) 0x80, 2, 'X', -1, -1, -1, 127, '.'}, 0, "t", st));
    assertTrue(e.getMessage().contains("truncated"), e.getMessage());
  }
}

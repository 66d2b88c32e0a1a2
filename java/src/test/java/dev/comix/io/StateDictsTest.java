package dev.comix.io;

import static org.junit.jupiter.api.Assertions.*;

import dev.comix.runtime.ComixException;
import dev.comix.runtime.DType;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class StateDictsTest {
  private static StateDict dict(String prefix, int n) {
    StateDict sd = new StateDict();
    for (int i = 0; i < n; i++) sd.put(prefix + "layer" + i + ".weight", WeightFixtures.tensor(DType.F32, new byte[4 * 6], 2, 3));
    return sd;
  }

  private static Map<String, long[]> expected(int n) {
    Map<String, long[]> m = new LinkedHashMap<>();
    for (int i = 0; i < n; i++) m.put("layer" + i + ".weight", new long[] {2, 3});
    return m;
  }

  @Test
  void matchingDictPasses() {
    try (StateDict sd = dict("", 3)) {
      StateDicts.check(expected(3), sd);
      assertNull(StateDicts.problems(expected(3), sd));
    }
  }

  @Test
  void listsMissingUnexpectedAndMisshapenWithCounts() {
    try (StateDict sd = dict("", 9)) {
      sd.put("extra.bias", WeightFixtures.tensor(DType.F32, new byte[4], 1));
      Map<String, long[]> exp = expected(8);
      for (int i = 0; i < 7; i++) exp.put("missing" + i, new long[] {1});
      exp.put("layer0.weight", new long[] {3, 2});
      ComixException e = assertThrows(ComixException.class, () -> StateDicts.check(exp, sd));
      String m = e.getMessage();
      assertTrue(m.startsWith("weights do not match the model: 7 missing: missing0, missing1, missing2, missing3, missing4 and 2 more; "
          + "2 unexpected: layer8.weight, extra.bias; 1 of the wrong shape: layer0.weight is [2, 3], expected [3, 2]"), m);
      assertFalse(m.contains("\n"));
    }
  }

  @Test
  void hintsAtModulePrefixAndStripsIt() {
    try (StateDict sd = dict("module.", 2)) {
      String m = StateDicts.problems(expected(2), sd);
      assertTrue(m.contains("DataParallel 'module.' prefix"), m);
      assertTrue(sd.stripModulePrefixIfAll());
      StateDicts.check(expected(2), sd);
      assertFalse(sd.stripModulePrefixIfAll());
    }
  }

  @Test
  void readForDetectsTheFileKindStripsThePrefixAndChecks(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) {
    java.nio.file.Path pt = WeightFixtures.copy(dir, "tiny_i3d_module.pt");
    java.nio.file.Path st = WeightFixtures.copy(dir, "tiny_i3d.safetensors");
    Map<String, long[]> expected;
    try (StateDict ref = StateDicts.read(st, false)) {
      expected = StateDicts.shapes(ref);
    }
    try (StateDict sd = StateDicts.readFor(pt, expected)) {
      assertEquals(expected.size(), sd.size());
      assertFalse(sd.allNamesStartWith("module."));
    }
    Map<String, long[]> prefixed = new LinkedHashMap<>();
    expected.forEach((k, v) -> prefixed.put("module." + k, v));
    try (StateDict sd = StateDicts.readFor(pt, prefixed)) {
      assertTrue(sd.allNamesStartWith("module."));
    }
    expected.put("Conv3d_1a_7x7.conv3d.weight", new long[] {64, 3, 7, 7, 7});
    ComixException e = assertThrows(ComixException.class, () -> StateDicts.readFor(pt, expected));
    assertTrue(e.getMessage().contains("1 of the wrong shape: Conv3d_1a_7x7.conv3d.weight is [4, 3, 7, 7, 7], expected [64, 3, 7, 7, 7]"),
        e.getMessage());
    assertTrue(StateDicts.isSafetensors(st));
    assertFalse(StateDicts.isSafetensors(pt));
  }

  @Test
  void strippingThatWouldCollideChangesNothing() {
    try (StateDict sd = dict("", 1)) {
      sd.put("module.layer0.weight", WeightFixtures.tensor(DType.F32, new byte[4], 1));
      assertThrows(ComixException.class, () -> sd.stripPrefix("module."));
      assertEquals(2, sd.size());
      ComixException e = assertThrows(ComixException.class, () -> sd.get("layer1.weight"));
      assertTrue(e.getMessage().contains("no tensor named 'layer1.weight'"), e.getMessage());
    }
  }
}

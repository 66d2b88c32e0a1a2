package dev.comix.nn.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The persistent cuDNN algorithm cache's file format (no GPU needed). */
class AlgoCacheTest {
  @TempDir Path tmp;

  @AfterEach
  void forget() {
    AlgoCache.reset();
  }

  @Test
  void choicesSurviveAReloadAndTheLastLineOfAKeyWins() throws Exception {
    Path f = tmp.resolve("sub/algos.tsv");
    AlgoCache.useFile(f);
    assertNull(AlgoCache.get("H200 | conv a | FORWARD"));
    AlgoCache.put("H200 | conv a | FORWARD", 1, 2, 0.5f);
    AlgoCache.put("H200 | conv a | BACKWARD_DATA", 4, 1, 1.25f);
    AlgoCache.put("H200 | conv a | FORWARD", 6, 2, 0.25f);
    AlgoCache.put("bad\tkey", 1, 1, 1f); // refused: would break the format
    Files.writeString(f, "torn line without fields\nk\tx\t1\t2\n", java.nio.file.StandardOpenOption.APPEND);
    AlgoCache.useFile(f); // a new process, in effect
    assertEquals(new AlgoCache.Entry(6, 2, 0.25f), AlgoCache.get("H200 | conv a | FORWARD"));
    assertEquals(new AlgoCache.Entry(4, 1, 1.25f), AlgoCache.get("H200 | conv a | BACKWARD_DATA"));
    assertNull(AlgoCache.get("k"));
    assertNull(AlgoCache.get("bad\tkey"));
    assertEquals(3, Files.readAllLines(f).stream().filter(l -> l.startsWith("H200")).count());
  }

  @Test
  void graphChoicesSurviveAReloadEmptyKnobsIncluded() throws Exception {
    Path f = tmp.resolve("graph.tsv");
    AlgoCache.useGraphFile(f);
    assertNull(AlgoCache.getGraph("H200 | graph conv | forward"));
    AlgoCache.putGraph("H200 | graph conv | forward", new AlgoCache.GraphEntry(0, 28, "k2=3 k3=0", 0.5f));
    AlgoCache.putGraph("H200 | graph conv | backward-data", new AlgoCache.GraphEntry(2, 7, "", 1.5f));
    AlgoCache.putGraph("bad\tkey", new AlgoCache.GraphEntry(0, 1, "", 1f)); // refused
    Files.writeString(f, "torn\t0\n", java.nio.file.StandardOpenOption.APPEND);
    // a torn line of a known key (a field that does not parse) must not shadow its good line
    Files.writeString(f, "H200 | graph conv | forward\t0\tx\t-\t0.1\n", java.nio.file.StandardOpenOption.APPEND);
    AlgoCache.useGraphFile(f); // a new process, in effect
    assertEquals(new AlgoCache.GraphEntry(0, 28, "k2=3 k3=0", 0.5f), AlgoCache.getGraph("H200 | graph conv | forward"));
    assertEquals(new AlgoCache.GraphEntry(2, 7, "", 1.5f), AlgoCache.getGraph("H200 | graph conv | backward-data"));
    assertNull(AlgoCache.getGraph("torn"));
    // the legacy file is another one
    assertNull(AlgoCache.get("H200 | graph conv | forward"));
  }
}

package dev.comix.features;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** Against numpy: r = ceil(72/T) if T < 72, M = T·r//4 − 2, [g[0] for g in np.array_split(np.arange(M), 16)]. */
class ClipSamplingTest {
  @Test
  void matchesNumpyArraySplit() {
    assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, ClipSampling.testStarts(5));
    assertArrayEquals(new int[] {0, 2, 4, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}, ClipSampling.testStarts(30));
    assertArrayEquals(new int[] {0, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31}, ClipSampling.testStarts(71));
    assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, ClipSampling.testStarts(72));
    assertArrayEquals(new int[] {0, 2, 4, 6, 8, 10, 12, 14, 15, 16, 17, 18, 19, 20, 21, 22}, ClipSampling.testStarts(100));
    assertArrayEquals(new int[] {0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 49, 53, 57, 61, 65, 69}, ClipSampling.testStarts(301));
    assertEquals(15, ClipSampling.repeat(5));
    assertEquals(3, ClipSampling.repeat(30));
    assertEquals(2, ClipSampling.repeat(71));
    assertEquals(1, ClipSampling.repeat(72));
  }

  @Test
  void frameIndicesFollowRepeatInterleave() {
    int[][] a = ClipSampling.testFrameIndices(30);
    assertArrayEquals(new int[] {0, 0, 0, 1, 1, 1, 2, 2}, a[0]);
    assertArrayEquals(new int[] {25, 25, 26, 26, 26, 27, 27, 27}, a[15]);
    int[][] b = ClipSampling.testFrameIndices(301);
    assertArrayEquals(new int[] {276, 277, 278, 279, 280, 281, 282, 283}, b[15]);
    int[][] c = ClipSampling.testFrameIndices(5);
    assertArrayEquals(new int[] {0, 0, 0, 0, 0, 0, 0, 0}, c[0]);
    assertArrayEquals(new int[] {4, 4, 4, 4, 4, 4, 4, 4}, c[15]);
    for (int t = 1; t < 400; t++)
      for (int[] clip : ClipSampling.testFrameIndices(t))
        for (int i : clip) assertEquals(true, i >= 0 && i < t, "T=" + t);
  }
}

package dev.comix.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** TF-SAME against hand-computed I3D shapes for an 8×224×224 clip (COMIX-SPEC §1.1). */
class TfSameTest {
  static int[] out(int[] s, int[] k, int[] st) {
    return TfSame.out(s, k, st);
  }

  @Test
  void formula() {
    // s % t == 0: pad = max(k - t, 0)
    assertEquals(5, TfSame.pad(224, 7, 2));
    assertEquals(2, TfSame.front(224, 7, 2));
    assertEquals(3, TfSame.back(224, 7, 2));
    // s % t != 0: pad = max(k - s % t, 0)
    assertEquals(6, TfSame.pad(9, 7, 2));
    assertEquals(3, TfSame.front(9, 7, 2));
    assertEquals(3, TfSame.back(9, 7, 2));
    assertEquals(5, TfSame.out(9, 7, 2));
    assertEquals(0, TfSame.pad(5, 1, 1));
    assertEquals(2, TfSame.pad(1, 3, 1)); // T = 1 with a 3-deep kernel
    assertEquals(1, TfSame.out(1, 3, 1));
    assertEquals(0, TfSame.pad(4, 2, 2)); // MaxPool3d_5a 2x2x2 on even sizes
    assertEquals(1, TfSame.pad(7, 2, 2));
    assertEquals(0, TfSame.front(7, 2, 2));
    assertEquals(1, TfSame.back(7, 2, 2));
    assertEquals(4, TfSame.out(7, 2, 2));
  }

  @Test
  void i3dShapes() {
    int[] s = {8, 224, 224};
    s = out(s, new int[] {7, 7, 7}, new int[] {2, 2, 2}); // Conv3d_1a_7x7
    assertArrayEquals(new int[] {4, 112, 112}, s);
    s = out(s, new int[] {1, 3, 3}, new int[] {1, 2, 2}); // MaxPool3d_2a_3x3
    assertArrayEquals(new int[] {4, 56, 56}, s);
    assertArrayEquals(new int[] {0, 0, 0}, TfSame.front(s, new int[] {1, 1, 1}, new int[] {1, 1, 1})); // 2b 1x1
    assertArrayEquals(new int[] {1, 1, 1}, TfSame.front(s, new int[] {3, 3, 3}, new int[] {1, 1, 1})); // 2c 3x3
    assertArrayEquals(new int[] {1, 1, 1}, TfSame.back(s, new int[] {3, 3, 3}, new int[] {1, 1, 1}));
    s = out(s, new int[] {3, 3, 3}, new int[] {1, 1, 1});
    assertArrayEquals(new int[] {4, 56, 56}, s);
    s = out(s, new int[] {1, 3, 3}, new int[] {1, 2, 2}); // MaxPool3d_3a_3x3
    assertArrayEquals(new int[] {4, 28, 28}, s);
    s = out(s, new int[] {3, 3, 3}, new int[] {2, 2, 2}); // MaxPool3d_4a_3x3
    assertArrayEquals(new int[] {2, 14, 14}, s);
    assertArrayEquals(new int[] {0, 0, 0}, TfSame.front(new int[] {4, 28, 28}, new int[] {3, 3, 3}, new int[] {2, 2, 2}));
    assertArrayEquals(new int[] {1, 1, 1}, TfSame.back(new int[] {4, 28, 28}, new int[] {3, 3, 3}, new int[] {2, 2, 2}));
    s = out(s, new int[] {2, 2, 2}, new int[] {2, 2, 2}); // MaxPool3d_5a_2x2
    assertArrayEquals(new int[] {1, 7, 7}, s);
    // inception branch pool: 3x3x3 stride 1 keeps the size (pad 1 / 1)
    assertArrayEquals(new int[] {1, 7, 7}, out(s, new int[] {3, 3, 3}, new int[] {1, 1, 1}));
  }
}

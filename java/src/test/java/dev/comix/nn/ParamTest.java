package dev.comix.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import org.junit.jupiter.api.Test;

/** zeroGrad skips the host fill when nothing touched the host gradient, and still zeroes it when something did. */
class ParamTest {
  @Test
  void zeroGradZeroesWhateverWasAddedOrWritten() {
    Param p = new Param("w", 2, 3);
    assertArrayEquals(new float[6], Floats.read(p.grad()));
    Floats.addInto(p.grad(), new float[] {1, 2, 3, 4, 5, 6});
    p.zeroGrad();
    assertArrayEquals(new float[6], Floats.read(p.grad()));
    Floats.write(p.grad(), new float[] {-1, -1, -1, -1, -1, -1});
    p.zeroGrad();
    p.zeroGrad(); // twice in a row: the second has nothing to do
    assertArrayEquals(new float[6], Floats.read(p.grad()));
    Floats.fill(p.value(), 0.5f);
    assertArrayEquals(new float[] {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f}, Floats.read(p.value()));
    Floats.fill(p.value(), 0f);
    assertArrayEquals(new float[6], Floats.read(p.value()));
  }
}

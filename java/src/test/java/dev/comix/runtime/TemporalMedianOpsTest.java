package dev.comix.runtime;

import static org.junit.jupiter.api.Assertions.*;

import dev.comix.testing.Oracles;
import dev.comix.testing.TestBackends;
import dev.comix.video.TemporalMedian;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Temporal median on every backend against numpy semantics (sort-based oracle), fresh inputs each run. */
@Tag("gpu")
class TemporalMedianOpsTest {
  static byte[] randomFrames(Random r, int count, int levels) {
    byte[] b = new byte[count];
    for (int i = 0; i < count; i++) b[i] = (byte) r.nextInt(levels);
    return b;
  }

  static byte[] run(Ops ops, byte[] frames, long T, long... frameShape) {
    long n = Tensor.numel(frameShape);
    long[] shape = new long[frameShape.length + 1];
    shape[0] = T;
    System.arraycopy(frameShape, 0, shape, 1, frameShape.length);
    byte[] poison = new byte[(int) n];
    java.util.Arrays.fill(poison, (byte) 0x5A);
    try (Tensor hf = Tensor.hostOf(frames, shape);
         Tensor f = ops.toDevice(hf);
         Tensor hp = Tensor.hostOf(poison, frameShape);
         Tensor out = ops.toDevice(hp)) {
      ops.temporalMedian(f, out);
      try (Tensor back = ops.toHost(out)) {
        return back.toBytes();
      }
    }
  }

  @ParameterizedTest
  @MethodSource("dev.comix.testing.TestBackends#names")
  void matchesNumpyOnRandomFrames(String backend) {
    Random r = TestBackends.random("median/" + backend);
    try (Ops ops = TestBackends.open(backend)) {
      int[][] cases = {{1, 7, 5}, {2, 9, 13}, {3, 1, 1}, {4, 31, 17}, {16, 33, 29}, {17, 8, 8}, {72, 15, 11}, {255, 6, 7},
          {256, 5, 3}, {300, 13, 23}, {301, 4, 4}};
      for (int[] c : cases) {
        int T = c[0], h = c[1], w = c[2], n = h * w * 3;
        byte[] frames = randomFrames(r, T * n, (T + h) % 2 == 0 ? 4 : 256); // few levels: many ties
        byte[] got = run(ops, frames, T, h, w, 3);
        assertArrayEquals(Oracles.median(frames, T, n), got, "T=" + T + " " + h + "x" + w + " on " + backend);
      }
    }
  }

  @ParameterizedTest
  @MethodSource("dev.comix.testing.TestBackends#names")
  void streamingThroughHistogramEqualsDirect(String backend) {
    Random r = TestBackends.random("median-stream/" + backend);
    try (Ops ops = TestBackends.open(backend)) {
      for (int T : new int[] {1, 2, 5, 6, 37, 40}) {
        int h = 11, w = 7, n = h * w * 3;
        byte[] frames = randomFrames(r, T * n, 256);
        // a 4-frame buffer forces the histogram path for T > 4, with uneven chunks
        try (TemporalMedian m = TemporalMedian.withBuffer(ops, 4, h, w, 3)) {
          int t = 0;
          while (t < T) {
            int k = Math.min(T - t, 1 + r.nextInt(3));
            byte[] chunk = java.util.Arrays.copyOfRange(frames, t * n, (t + k) * n);
            if (k == 1) m.add(chunk);
            else try (Tensor c = Tensor.hostOf(chunk, k, h, w, 3)) { m.add(c); }
            t += k;
          }
          assertEquals(T, m.frames());
          assertArrayEquals(Oracles.median(frames, T, n), m.resultBytes(), "T=" + T + " on " + backend);
        }
      }
    }
  }

  @Test
  void rejectsBadArguments() {
    try (Ops ops = new CpuOps(1);
         Tensor frames = ops.zeros(DType.U8, 3, 4, 4, 3);
         Tensor out = ops.zeros(DType.U8, 4, 4, 3);
         Tensor wrongOut = ops.zeros(DType.U8, 4, 4, 2);
         Tensor f32 = ops.zeros(DType.F32, 3, 4)) {
      assertThrows(ComixException.class, () -> ops.temporalMedian(frames, wrongOut));
      assertThrows(ComixException.class, () -> ops.temporalMedian(f32, out));
      try (Tensor empty = ops.zeros(DType.U8, 0, 4, 4, 3)) {
        ComixException e = assertThrows(ComixException.class, () -> ops.temporalMedian(empty, out));
        assertTrue(e.getMessage().contains("at least one frame"), e.getMessage());
      }
      Tensor closed = ops.zeros(DType.U8, 4, 4, 3);
      closed.close();
      assertThrows(ComixException.class, () -> ops.temporalMedian(frames, closed));
    }
    try (Ops ops = new CpuOps(1); TemporalMedian m = TemporalMedian.withBuffer(ops, 2, 2)) {
      assertThrows(ComixException.class, m::result, "no frames");
      assertThrows(ComixException.class, () -> m.add(new byte[3]));
    }
  }

  @Test
  void reservedBufferGivesTheSameMedian() {
    Random r = TestBackends.random("median-reserve");
    byte[] frames = randomFrames(r, 21 * 12, 256);
    try (Ops ops = new CpuOps(1); TemporalMedian m = TemporalMedian.withBuffer(ops, 8, 4, 3)) {
      m.reserve(5);   // a short guess: grows, then overflows into the histogram
      for (int t = 0; t < 21; t++) m.add(java.util.Arrays.copyOfRange(frames, t * 12, (t + 1) * 12));
      m.reserve(100); // after the fact: no effect on the result
      assertArrayEquals(Oracles.median(frames, 21, 12), m.resultBytes());
    }
  }

  @Test
  void intArgumentsAreTheFrameShape() {
    try (Ops ops = new CpuOps(1); TemporalMedian m = new TemporalMedian(ops, 224, 224, 3)) {
      assertEquals(224L * 224 * 3, m.frameElements());
    }
  }

  @Test
  void refusesMoreFramesThanTheHistogramCounts() {
    try (Ops ops = new CpuOps(1); TemporalMedian m = TemporalMedian.withBuffer(ops, 64, 1)) {
      try (Tensor chunk = ops.zeros(DType.U8, 65535, 1)) {
        m.add(chunk);
      }
      ComixException e = assertThrows(ComixException.class, () -> m.add(new byte[1]));
      assertTrue(e.getMessage().contains("65535"), e.getMessage());
      assertEquals(0, m.resultBytes()[0]);
    }
  }
}

package dev.comix.runtime;

import static org.junit.jupiter.api.Assertions.*;

import dev.comix.testing.Oracles;
import dev.comix.testing.TestBackends;
import dev.comix.video.BackgroundMix;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Background mixing + normalisation on every backend against a float64 reference. */
@Tag("gpu")
class BackgroundMixOpsTest {
  @ParameterizedTest
  @MethodSource("dev.comix.testing.TestBackends#names")
  void matchesFloat64Reference(String backend) {
    Random r = TestBackends.random("mix/" + backend);
    try (Ops ops = TestBackends.open(backend)) {
      long[][] shapes = {{1, 1, 1, 1, 1}, {2, 3, 5, 7, 3}, {3, 8, 16, 16, 3}, {2, 2, 13, 11, 3}};
      for (long[] s : shapes) {
        for (DType dt : new DType[] {DType.F32, DType.BF16}) {
          long b = s[0], f = s[1], n = s[2] * s[3] * s[4];
          byte[] x = new byte[(int) (b * f * n)], bg = new byte[(int) (b * n)];
          r.nextBytes(x);
          r.nextBytes(bg);
          float gamma = r.nextFloat() * 0.5f;
          try (Tensor hx = Tensor.hostOf(x, s);
               Tensor hb = Tensor.hostOf(bg, s[0], s[2], s[3], s[4]);
               Tensor dx = ops.toDevice(hx);
               Tensor db = ops.toDevice(hb);
               Tensor out = BackgroundMix.apply(ops, dx, db, gamma, dt);
               Tensor host = ops.toHost(out)) {
            ByteBuffer buf = ByteBuffer.wrap(host.toBytes()).order(ByteOrder.nativeOrder());
            double worst = 0;
            for (long vi = 0; vi < b; vi++)
              for (long fi = 0; fi < f; fi++)
                for (long i = 0; i < n; i++) {
                  int k = (int) ((vi * f + fi) * n + i);
                  double ref = Oracles.mix(x[k] & 0xff, bg[(int) (vi * n + i)] & 0xff, gamma);
                  double got = dt == DType.F32 ? buf.getFloat(4 * k) : Oracles.bf16ToFloat(buf.getShort(2 * k));
                  worst = Math.max(worst, Double.isNaN(got) ? Double.POSITIVE_INFINITY : Math.abs(got - ref));
                }
            double tol = dt == DType.F32 ? 1e-6 : 1.0 / 256; // bf16 keeps 8 mantissa bits on |v| <= 1
            assertTrue(worst <= tol, backend + " " + dt + " " + java.util.Arrays.toString(s) + ": max error " + worst);
          }
        }
      }
    }
  }

  @Test
  void rejectsBadArguments() {
    try (Ops ops = new CpuOps(1);
         Tensor x = ops.zeros(DType.U8, 2, 3, 4, 4, 3);
         Tensor bg = ops.zeros(DType.U8, 2, 4, 4, 3);
         Tensor bgWrong = ops.zeros(DType.U8, 2, 4, 5, 3);
         Tensor bgBatch = ops.zeros(DType.U8, 3, 4, 4, 3)) {
      assertThrows(ComixException.class, () -> BackgroundMix.apply(ops, x, bgWrong, 0.2f, DType.F32));
      assertThrows(ComixException.class, () -> BackgroundMix.apply(ops, x, bgBatch, 0.2f, DType.F32));
      assertThrows(ComixException.class, () -> BackgroundMix.apply(ops, x, bg, -0.1f, DType.F32));
      assertThrows(ComixException.class, () -> BackgroundMix.apply(ops, x, bg, Float.NaN, DType.F32));
      assertThrows(ComixException.class, () -> BackgroundMix.apply(ops, x, bg, 0.2f, DType.U8));
      try (Tensor plain = BackgroundMix.apply(ops, x, bg, 0f, DType.F32)) {
        assertEquals(-1f, plain.toFloats()[0]); // gamma 0: plain normalisation of a zero byte
      }
    }
  }
}

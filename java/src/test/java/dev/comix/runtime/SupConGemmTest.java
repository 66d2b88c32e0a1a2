package dev.comix.runtime;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.comix.testing.TestBackends;
import java.util.Random;
import org.bytedeco.javacpp.BytePointer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * SupCon's GEMM path (cuBLAS products, fused statistics; CudaOps.SUPCON_GEMM) against the CPU
 * op, which is itself checked against float64 references. Runs only with
 * -Dcomix.test.gpu=true where a CUDA device (and libcublas.so.13) answers. Covers labels, masks,
 * L2 normalisation and CoMix's raw form, view-major layout, accumulation, V = 1, M not a multiple
 * of any block size, one stored S (symmetric W, and P + P^T on one block) and several row blocks
 * (the package-private knob forces small blocks), TF32 on and off, and the loss-only call.
 * Bounds as SupConCudaTest: 1e-5 relative (loss; gradient as max|err| / max|ref|) for M <= 2048,
 * 5e-5 for M = 8192; TF32 2e-3 / 2e-2.
 */
@Tag("gpu")
class SupConGemmTest {
  static CudaOps gpu;
  static CpuOps cpu;
  static final long SEED = Long.getLong("comix.test.seed", System.nanoTime());
  static String skipReason;

  @BeforeAll
  static void open() {
    gpu = TestBackends.cudaOrNull(); // fails (never skips) when asked for on a machine without a usable GPU
    if (gpu == null) {
      skipReason = TestBackends.GPU_OFF;
      return;
    }
    cpu = new CpuOps();
    String why = Cublas.unavailableReason();
    assertNull(why, "comix.test.gpu=true but cuBLAS is not usable");
    System.out.println("SupConGemmTest seed " + SEED + " on " + gpu.describe());
  }

  @BeforeEach
  void needGpu() {
    assumeTrue(gpu != null, skipReason);
  }

  @AfterEach
  void resetKnobs() {
    if (gpu == null) return;
    gpu.gemmBlockRows = 0;
    gpu.gemmSymmetric = true;
  }

  @AfterAll
  static void close() {
    if (gpu != null) gpu.close();
    if (cpu != null) cpu.close();
  }

  /** One problem; run() compares the GEMM path under the current knobs with the CPU op. */
  static final class Case {
    final String name;
    final int n, v, d, flags;
    final float tau, tauB, gradScale;
    final long[] shape;
    final Tensor hf, hl, hm, df, dl, dm;

    Case(String name, int n, int v, int d, int classes, boolean mask, boolean normalize, boolean viewMajor,
         boolean accumulate, float tau, float tauB, double scale) {
      this.name = name;
      this.n = n;
      this.v = v;
      this.d = d;
      this.tau = tau;
      this.tauB = tauB;
      this.gradScale = accumulate ? -1.5f : 1f;
      Random r = new Random(SEED ^ name.hashCode());
      shape = viewMajor ? new long[] {v, n, d} : new long[] {n, v, d};
      flags = (normalize ? Ops.SUPCON_NORMALIZE : 0) | (viewMajor ? Ops.SUPCON_VIEW_MAJOR : 0)
          | (accumulate ? Ops.SUPCON_ACCUMULATE : 0);
      hf = Tensor.host(DType.F32, shape);
      BytePointer p = hf.data();
      for (long i = 0; i < hf.numel(); i++) p.putFloat(4 * i, (float) (r.nextGaussian() * scale));
      if (classes > 0) {
        hl = Tensor.host(DType.I64, n);
        for (int i = 0; i < n; i++) hl.data().putLong(8L * i, r.nextInt(classes) - classes / 2);  // negatives too
      } else {
        hl = null;
      }
      if (mask) {
        hm = Tensor.host(DType.U8, n);
        for (int i = 0; i < n; i++) hm.data().put(i, (byte) (r.nextDouble() < 0.6 ? 1 : 0));
      } else {
        hm = null;
      }
      df = gpu.toDevice(hf);
      dl = hl == null ? null : gpu.toDevice(hl);
      dm = hm == null ? null : gpu.toDevice(hm);
    }

    void run(String variant, int extraFlags, double tol, boolean withGrad) {
      double gtol = (extraFlags & Ops.SUPCON_TF32) != 0 ? 2e-2 : tol;
      double ltol = (extraFlags & Ops.SUPCON_TF32) != 0 ? 2e-3 : tol;
      try (Tensor refLoss = Tensor.host(DType.F64, 1); Tensor refGrad = Tensor.host(DType.F32, shape);
           Tensor dloss = gpu.allocate(DType.F32, 1); Tensor dgrad = gpu.allocate(DType.F32, shape);
           Tensor init = Tensor.host(DType.F32, shape)) {
        boolean acc = (flags & Ops.SUPCON_ACCUMULATE) != 0;
        for (long i = 0; i < init.numel(); i++) {
          float x = acc ? 0.5f : Float.NaN;  // poison: every element must be written
          init.data().putFloat(4 * i, x);
          refGrad.data().putFloat(4 * i, acc ? 0.5f : 0f);
        }
        gpu.copy(init, dgrad);
        cpu.supCon(hf, hl, hm, tau, tauB, flags, gradScale, refLoss, withGrad ? refGrad : null);
        gpu.supConPath(df, dl, dm, tau, tauB, flags | extraFlags, gradScale, dloss, withGrad ? dgrad : null,
            CudaOps.SUPCON_GEMM);
        try (Tensor hl2 = gpu.toHost(dloss); Tensor hg = gpu.toHost(dgrad)) {
          double want = refLoss.data().getDouble(), got = hl2.data().getFloat();
          String what = name + " [" + variant + ", plan " + gpu.gemmPlan((long) n * v) + "]";
          System.out.printf("  %-60s loss %.8g (cpu %.8g)%n", what, got, want);
          assertEquals(want, got, ltol * Math.max(1e-30, Math.abs(want)), what + ": loss");
          if (!withGrad) return;
          double worst = 0, mag = 0;
          for (long i = 0; i < hg.numel(); i++) {
            double g = hg.data().getFloat(4 * i), ref = refGrad.data().getFloat(4 * i);
            assertTrue(Double.isFinite(g), what + ": gradient element " + i + " is " + g + " (unwritten?)");
            worst = Math.max(worst, Math.abs(g - ref));
            mag = Math.max(mag, Math.abs(ref));
          }
          double e = mag > 0 ? worst / mag : worst;
          assertTrue(e <= gtol, what + ": gradient rel err " + e);
        }
      }
    }

    /** Every plan: one stored S (symmetric W), one block with P + P^T, several blocks (last one partial). */
    void everyPlan(double tol, int blockRows) {
      gpu.gemmBlockRows = 0;
      gpu.gemmSymmetric = true;
      run("symmetric", 0, tol, true);
      gpu.gemmSymmetric = false;
      run("one block, P + P^T", 0, tol, true);
      gpu.gemmSymmetric = true;
      gpu.gemmBlockRows = blockRows;
      run("blocks of " + blockRows, 0, tol, true);
      gpu.gemmBlockRows = 0;
    }

    void close() {
      for (Tensor t : new Tensor[] {hf, hl, hm, df, dl, dm}) if (t != null) t.close();
    }
  }

  @Test
  void coMixFormWithLabels() {
    // CoMix: raw probabilities-like rows (no normalisation), tau 0.5, base 0.07, labels
    Case c = new Case("comix labels", 700, 2, 12, 8, false, false, false, false, 0.5f, 0.07f, 0.6);
    try {
      c.everyPlan(1e-5, 300);
      gpu.gemmBlockRows = 1;  // one row per block: the extreme
      c.run("blocks of 1", 0, 1e-5, true);
    } finally {
      c.close();
    }
  }

  @Test
  void infoNceNormalised() {
    Case c = new Case("infonce", 523, 2, 130, 0, false, true, false, false, 0.1f, 0.1f, 1.0);
    try {
      c.everyPlan(1e-5, 200);
    } finally {
      c.close();
    }
  }

  @Test
  void maskedViewMajorAccumulate() {
    Case c = new Case("masked V=3 view-major acc", 301, 3, 33, 5, true, false, true, true, 0.5f, 0.07f, 0.3);
    try {
      c.everyPlan(1e-5, 128);
    } finally {
      c.close();
    }
  }

  @Test
  void singleViewSomeAnchorsWithoutPositives() {
    Case c = new Case("V=1 labels", 611, 1, 17, 40, false, true, false, false, 0.3f, 0.07f, 0.5);
    try {
      c.everyPlan(1e-5, 97);
    } finally {
      c.close();
    }
  }

  @Test
  void largeShape() {
    Case c = new Case("4096x2x128", 4096, 2, 128, 0, false, true, false, false, 0.1f, 0.07f, 1.0);
    try {
      c.everyPlan(5e-5, 3000);
    } finally {
      c.close();
    }
  }

  @Test
  void tf32StaysClose() {
    Case c = new Case("tf32 1024x2x128", 1024, 2, 128, 0, false, true, false, false, 0.1f, 0.1f, 1.0);
    try {
      c.run("symmetric tf32", Ops.SUPCON_TF32, 1e-5, true);
      gpu.gemmBlockRows = 500;
      c.run("blocks of 500 tf32", Ops.SUPCON_TF32, 1e-5, true);
    } finally {
      c.close();
    }
  }

  @Test
  void lossOnly() {
    Case c = new Case("loss only", 999, 2, 40, 30, true, false, false, false, 0.5f, 0.07f, 0.5);
    try {
      c.run("symmetric", 0, 1e-5, false);
      gpu.gemmBlockRows = 256;
      c.run("blocks of 256", 0, 1e-5, false);
    } finally {
      c.close();
    }
  }

  @Test
  void allMaskedIsZero() {
    try (Tensor hf = Tensor.host(DType.F32, 700, 2, 8); Tensor hm = Tensor.host(DType.U8, 700);
         Tensor df = gpu.toDevice(hf); Tensor dm = gpu.toDevice(hm); Tensor loss = gpu.allocate(DType.F32, 1);
         Tensor grad = gpu.allocate(DType.F32, 700, 2, 8)) {
      for (long i = 0; i < hf.numel(); i++) hf.data().putFloat(4 * i, 1f);
      for (int i = 0; i < 700; i++) hm.data().put(i, (byte) 0);
      gpu.copy(hf, df);
      gpu.copy(hm, dm);
      gpu.supConPath(df, null, dm, 0.5f, 0.07f, 0, 1f, loss, grad, CudaOps.SUPCON_GEMM);
      try (Tensor hl = gpu.toHost(loss); Tensor hg = gpu.toHost(grad)) {
        assertEquals(0.0, hl.data().getFloat());
        for (long i = 0; i < hg.numel(); i++) assertEquals(0.0, hg.data().getFloat(4 * i));
      }
    }
  }

  @Test
  void automaticChoiceMatchesTheGemmPath() {
    // M = 2048 >= GEMM_MIN_ROWS: the automatic path is the GEMM path (bit-identical results)
    Case c = new Case("auto", 1024, 2, 64, 0, false, true, false, false, 0.1f, 0.1f, 1.0);
    try (Tensor l0 = gpu.allocate(DType.F32, 1); Tensor g0 = gpu.allocate(DType.F32, c.shape);
         Tensor l4 = gpu.allocate(DType.F32, 1); Tensor g4 = gpu.allocate(DType.F32, c.shape)) {
      gpu.supConPath(c.df, null, null, c.tau, c.tauB, c.flags, 1f, l0, g0, CudaOps.SUPCON_AUTO);
      gpu.supConPath(c.df, null, null, c.tau, c.tauB, c.flags, 1f, l4, g4, CudaOps.SUPCON_GEMM);
      try (Tensor a = gpu.toHost(g0); Tensor b = gpu.toHost(g4); Tensor la = gpu.toHost(l0); Tensor lb = gpu.toHost(l4)) {
        assumeTrue(System.getenv("COMIX_SUPCON_CUDA_PATH") == null, "COMIX_SUPCON_CUDA_PATH overrides the choice");
        assertEquals(lb.data().getFloat(), la.data().getFloat());
        for (long i = 0; i < a.numel(); i++) assertEquals(b.data().getFloat(4 * i), a.data().getFloat(4 * i));
      }
    } finally {
      c.close();
    }
  }

}

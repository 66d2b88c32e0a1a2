package dev.comix.loss;

import static dev.comix.loss.TensorsForTests.*;
import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.comix.runtime.ComixException;
import dev.comix.runtime.CpuOps;
import dev.comix.runtime.CudaOps;
import dev.comix.runtime.DType;
import dev.comix.runtime.Ops;
import dev.comix.runtime.Tensor;
import dev.comix.testing.TestBackends;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * SupCon, the CE family and CoMixLoss on CUDA against the CPU backend (itself checked against
 * float64 references). Runs only with -Dcomix.test.gpu=true where a CUDA device answers; every
 * kernel path (single block, tiled, generic) is compared. Bound: 1e-5 relative (loss; gradient
 * as max|err| / max|ref|) for M = N*V <= 2048, 5e-5 for M = 8192; TF32 tiles 2e-3 / 2e-2.
 */
@Tag("gpu")
class SupConCudaTest {
  static CudaOps gpu;
  static Ops cpu;
  static final long SEED = System.nanoTime();

  static String skipReason;

  @BeforeAll
  static void open() {
    gpu = TestBackends.cudaOrNull(); // fails (never skips) when asked for on a machine without a usable GPU
    if (gpu == null) {
      skipReason = TestBackends.GPU_OFF;
      return;
    }
    cpu = new CpuOps();
    System.out.println("SupConCudaTest seed " + SEED + " on " + gpu.describe());
  }

  @BeforeEach
  void needGpu() {
    assumeTrue(gpu != null, skipReason);
  }

  @AfterAll
  static void close() {
    if (gpu != null) gpu.close();
    if (cpu != null) cpu.close();
  }

  void parity(String name, int n, int v, int d, int classes, boolean mask, boolean normalize, boolean viewMajor,
              float tau, float tauB, double scale, double tol) {
    Random r = new Random(SEED ^ name.hashCode());
    double[] x = new double[n * v * d];
    for (int i = 0; i < x.length; i++) x[i] = r.nextGaussian() * scale;
    long[] labels = null;
    if (classes > 0) {
      labels = new long[n];
      for (int i = 0; i < n; i++) labels[i] = r.nextInt(classes);
    }
    boolean[] keep = null;
    if (mask) {
      keep = new boolean[n];
      for (int i = 0; i < n; i++) keep[i] = r.nextDouble() < 0.6;
    }
    long[] shape = viewMajor ? new long[] {v, n, d} : new long[] {n, v, d};
    int flags = (normalize ? Ops.SUPCON_NORMALIZE : 0) | (viewMajor ? Ops.SUPCON_VIEW_MAJOR : 0);
    try (Tensor hf = f32(x, shape); Tensor hl = labels == null ? null : i64(labels); Tensor hm = keep == null ? null : u8(keep);
         Tensor refLoss = Tensor.host(DType.F64, 1); Tensor refGrad = Tensor.host(DType.F32, shape);
         Tensor df = gpu.toDevice(hf); Tensor dl = hl == null ? null : gpu.toDevice(hl);
         Tensor dm = hm == null ? null : gpu.toDevice(hm)) {
      cpu.supCon(hf, hl, hm, tau, tauB, flags, 1f, refLoss, refGrad);
      double want = refLoss.data().getDouble();
      double[] wantG = values(refGrad);
      long m = (long) n * v;
      boolean tinyFits = (2 * m * d + m * (m + 1) + 7 * m + 2) * 4 <= 48 * 1024;
      for (int path = 0; path <= 3; path++) {
        if (path == 1 && !tinyFits) continue;
        try (Tensor dloss = gpu.allocate(DType.F32, 1); Tensor dgrad = gpu.allocate(DType.F32, shape)) {
          gpu.supConPath(df, dl, dm, tau, tauB, flags, 1f, dloss, dgrad, path);
          try (Tensor hloss = gpu.toHost(dloss); Tensor hgrad = gpu.toHost(dgrad)) {
            double got = hloss.data().getFloat();
            double e = SupConOracle.relErr(wantG, values(hgrad));
            String what = name + " path " + path;
            assertEquals(want, got, tol * Math.max(1e-30, Math.abs(want)), what + ": loss");
            assertTrue(e <= tol, what + ": gradient rel err " + e);
          }
        }
      }
    }
  }

  @Test
  void supConMatchesCpuOnEveryPath() {
    parity("comix shape", 16, 2, 12, 8, false, false, false, 0.5f, 0.07f, 0.6, 1e-5);
    parity("infonce", 37, 2, 19, 0, false, true, false, 0.1f, 0.1f, 1.0, 1e-5);
    parity("masked V=3 view-major", 45, 3, 21, 5, true, false, true, 0.5f, 0.07f, 0.3, 1e-5);
    parity("V=1", 61, 1, 17, 9, false, false, false, 0.5f, 0.07f, 0.3, 1e-5);
    parity("multi-tile", 301, 2, 130, 0, false, true, false, 0.1f, 0.07f, 1.0, 1e-5);
    parity("1024x2x128", 1024, 2, 128, 0, false, true, false, 0.1f, 0.07f, 1.0, 1e-5);
    parity("4096x2x128", 4096, 2, 128, 0, false, true, false, 0.1f, 0.07f, 1.0, 5e-5);
  }

  /** COMIX_SUPCON_TF32 (tiled path, D >= 64): TF32 tensor-core similarity tiles, looser bound. */
  @Test
  void tf32TilesStayCloseToFp32() {
    Random r = new Random(SEED + 7);
    int n = 1024, v = 2, d = 128;
    double[] x = new double[n * v * d];
    for (int i = 0; i < x.length; i++) x[i] = r.nextGaussian();
    int flags = Ops.SUPCON_NORMALIZE;
    try (Tensor hf = f32(x, n, v, d); Tensor refLoss = Tensor.host(DType.F64, 1);
         Tensor refGrad = Tensor.host(DType.F32, n, v, d); Tensor df = gpu.toDevice(hf);
         Tensor dloss = gpu.allocate(DType.F32, 1); Tensor dgrad = gpu.allocate(DType.F32, n, v, d)) {
      cpu.supCon(hf, null, null, 0.1f, 0.1f, flags, 1f, refLoss, refGrad);
      gpu.supConPath(df, null, null, 0.1f, 0.1f, flags | Ops.SUPCON_TF32, 1f, dloss, dgrad, 2);
      try (Tensor hl = gpu.toHost(dloss); Tensor hg = gpu.toHost(dgrad)) {
        double want = refLoss.data().getDouble(), got = hl.data().getFloat();
        assertEquals(want, got, 2e-3 * Math.abs(want), "TF32 loss");
        double e = SupConOracle.relErr(values(refGrad), values(hg));
        assertTrue(e <= 2e-2, "TF32 gradient rel err " + e);
      }
    }
  }

  @Test
  void allMaskedIsZeroOnTheGpu() {
    try (Tensor hf = f32(new double[5 * 2 * 7], 5, 2, 7); Tensor hm = u8(new boolean[5]);
         Tensor df = gpu.toDevice(hf); Tensor dm = gpu.toDevice(hm);
         SupConLoss.Result r = SupConLoss.comix().compute(gpu, df, null, dm); Tensor g = gpu.toHost(r.grad())) {
      assertEquals(0.0, r.loss());
      for (double v : values(g)) assertEquals(0.0, v);
    }
  }

  @Test
  void coMixLossMatchesCpu() {
    try (Tensor s64 = SupConFixtureTest.npy("comix_source_logits.npy"); Tensor t64 = SupConFixtureTest.npy("comix_target_logits.npy");
         Tensor y = SupConFixtureTest.npy("comix_source_labels.npy"); Tensor s = SupConFixtureTest.toF32(s64);
         Tensor t = SupConFixtureTest.toF32(t64); Tensor ds = gpu.toDevice(s); Tensor dt = gpu.toDevice(t);
         Tensor dy = gpu.toDevice(y); CoMixLoss.Result want = new CoMixLoss().compute(cpu, s, t, y);
         CoMixLoss.Result got = new CoMixLoss().compute(gpu, ds, dt, dy);
         Tensor gs = gpu.toHost(got.sourceGrad()); Tensor gt = gpu.toHost(got.targetGrad())) {
      assertEquals(want.total(), got.total(), 1e-5 * want.total());
      assertEquals(want.tpl(), got.tpl(), 1e-5 * Math.max(1, want.tpl()));
      assertEquals(want.confident(), got.confident());
      assertTrue(SupConOracle.relErr(values(want.sourceGrad()), values(gs)) <= 1e-5, "source gradient");
      assertTrue(SupConOracle.relErr(values(want.targetGrad()), values(gt)) <= 1e-5, "target gradient");
    }
  }

  @Test
  void badInputOnTheGpuIsAClearException() {
    try (Tensor hf = f32(new double[24], 3, 2, 4); Tensor loss = gpu.allocate(DType.F32, 1)) {
      ComixException e = assertThrows(ComixException.class, () -> gpu.supCon(hf, null, null, 0.5f, 0.07f, 0, 1f, loss, null));
      assertTrue(e.getMessage().contains("cpu"), e.getMessage());
    }
    double[] bad = new double[24];
    bad[5] = Double.NaN;
    try (Tensor hf = f32(bad, 3, 2, 4); Tensor df = gpu.toDevice(hf)) {
      assertThrows(ComixException.class, () -> SupConLoss.comix().compute(gpu, df, null, null));
    }
  }
}

package dev.comix.runtime;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

/** The GEMM path's memory plan (no GPU needed): S stays within its bound, blocks cover M. */
class SupConGemmPlanTest {
  @Test
  void wholeMatrixWhenItFitsElseBlocksOf128Rows() {
    CudaOps.GemmPlan p = CudaOps.gemmPlan(8192, 0, true, CudaOps.GEMM_S_BYTES_DEFAULT);
    assertTrue(p.symmetric(), p.toString());
    assertEquals(8192, p.rows());
    assertEquals(256L << 20, p.sBytes());
    // 16384 x 2 rows: S would be 4 GiB; 1 GiB blocks of 8192 rows
    p = CudaOps.gemmPlan(32768, 0, true, CudaOps.GEMM_S_BYTES_DEFAULT);
    assertFalse(p.symmetric(), p.toString());
    assertEquals(8192, p.rows());
    assertTrue(p.sBytes() <= CudaOps.GEMM_S_BYTES_DEFAULT);
    // odd M: rows of S padded to 32 floats, blocks a multiple of 128 rows
    p = CudaOps.gemmPlan(20001, 0, true, 100L << 20);
    assertEquals(20032, p.ld());
    assertEquals(0, p.rows() % 128);
    assertTrue(p.sBytes() <= 100L << 20 && p.rows() > 0 && !p.symmetric(), p.toString());
  }

  @Test
  void theDefaultBoundIsAnEighthOfTheCardAndSStaysInIntRange() {
    long gib = 1L << 30;
    assertEquals(gib, CudaOps.defaultGemmSBytes(0));          // memory unknown: the 1 GiB blocks
    assertEquals(gib, CudaOps.defaultGemmSBytes(4 * gib));
    assertEquals(10 * gib, CudaOps.defaultGemmSBytes(80 * gib)); // H100
    // 16384 x 2 rows (S = 4 GiB) on an 80 GB or 141 GB card: the whole S, the symmetric form
    for (long card : new long[] {80 * gib, 141 * gib}) {
      CudaOps.GemmPlan p = CudaOps.gemmPlan(32768, 0, true, CudaOps.defaultGemmSBytes(card));
      assertTrue(p.symmetric(), p.toString());
      assertEquals(32768, p.rows());
    }
    // on a 24 GB card it stays in blocks
    assertFalse(CudaOps.gemmPlan(32768, 0, true, CudaOps.defaultGemmSBytes(24 * gib)).symmetric());
    // however much memory: at most Integer.MAX_VALUE elements of S, rows padded to 32 (M = 46,336 fits whole, 50,000 not)
    assertTrue(CudaOps.gemmPlan(46336, 0, true, 1L << 40).symmetric());
    assertFalse(CudaOps.gemmPlan(46337, 0, true, 1L << 40).symmetric());
    CudaOps.GemmPlan big = CudaOps.gemmPlan(50000, 0, true, 1L << 40);
    assertFalse(big.symmetric(), big.toString());
    assertTrue(big.rows() * big.ld() <= Integer.MAX_VALUE, big.toString());
    assertEquals(0, big.rows() % 128);
  }

  @Test
  void knobsForceBlocksAndTheTwoProductForm() {
    assertEquals(300, CudaOps.gemmPlan(1400, 300, true, CudaOps.GEMM_S_BYTES_DEFAULT).rows());
    assertFalse(CudaOps.gemmPlan(1400, 300, true, CudaOps.GEMM_S_BYTES_DEFAULT).symmetric());
    assertFalse(CudaOps.gemmPlan(1400, 0, false, CudaOps.GEMM_S_BYTES_DEFAULT).symmetric());
    assertEquals(1400, CudaOps.gemmPlan(1400, 5000, true, CudaOps.GEMM_S_BYTES_DEFAULT).rows());
    assertEquals(1, CudaOps.gemmPlan(1400, 0, true, 16).rows());  // never zero rows
  }

  @Test
  void pathNames() {
    assertEquals(CudaOps.SUPCON_GEMM, CudaOps.supConPathNumber("cublas"));
    assertEquals(CudaOps.SUPCON_GEMM, CudaOps.supConPathNumber(" GEMM "));
    assertEquals(CudaOps.SUPCON_TILED, CudaOps.supConPathNumber("2"));
    ComixException e = assertThrows(ComixException.class, () -> CudaOps.supConPathNumber("fast"));
    assertTrue(e.getMessage().contains("auto, tiny, tiled, generic or gemm"), e.getMessage());
  }
}

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

package dev.comix.nn.gpu;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.comix.runtime.CudaOps;
import dev.comix.runtime.Tensor;
import dev.comix.testing.TestBackends;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@link GemmConv3d} (im2col + cuBLAS SGEMM forward and backward-filter, cuDNN backward-data)
 * against the float64 {@link ConvReference} on fresh random inputs, F32 NDHWC: Conv3d_1a's kernel
 * (7x7x7, stride 2, 3 channels) on a small padded input and a 3x3x3 one, with the im2col buffer
 * capped so that a chunk holds one clip (several chunks; the partial filters summed across them)
 * and uncapped; outputs filled with NaN first; backward-filter overwriting and accumulating.
 * Error = max|got - ref| / max|ref| <= 1e-4. Runs only with -Dcomix.test.gpu=true.
 */
@Tag("gpu")
class GemmConv3dTest {
  static CudaOps gpu;

  @BeforeAll
  static void open() {
    gpu = TestBackends.cudaOrNull();
  }

  @AfterAll
  static void close() {
    if (gpu != null) gpu.close();
  }

  /** A device F32 NDHWC tensor holding logical NCDHW values {@code v} of dims [N, C, D, H, W]. */
  static Tensor upload(double[] v, int[] dims) {
    return CudnnConv3dTest.upload(gpu, v, dims, ConvLayout.NDHWC, ConvPrecision.F32);
  }

  /** Logical NCDHW values of a device NDHWC tensor of logical dims [N, C, D, H, W]. */
  static double[] download(Tensor t, int[] dims) {
    return CudnnConv3dTest.download(gpu, t, dims, ConvLayout.NDHWC);
  }

  static double[] random(Random r, int n) {
    double[] a = new double[n];
    for (int i = 0; i < n; i++) a[i] = (float) (r.nextDouble() * 2 - 1);
    return a;
  }

  static double[] nan(int n) {
    double[] a = new double[n];
    Arrays.fill(a, Double.NaN);
    return a;
  }

  static double relErr(double[] got, double[] ref) {
    double maxRef = 0, maxErr = 0;
    for (int i = 0; i < ref.length; i++) {
      maxRef = Math.max(maxRef, Math.abs(ref[i]));
      double e = Double.isNaN(got[i]) ? Double.POSITIVE_INFINITY : Math.abs(got[i] - ref[i]);
      maxErr = Math.max(maxErr, e);
    }
    return maxErr / Math.max(maxRef, 1e-30);
  }

  @ParameterizedTest(name = "{0}: cols cap {10} B")
  @CsvSource({
      "1a 7x7x7/2 3->8, 3, 8, 7, 2, 3, 9, 13, 11, 0, 1",
      "1a 7x7x7/2 3->8, 3, 8, 7, 2, 3, 9, 13, 11, 0, 0",
      "3x3x3/1 2->5, 2, 5, 3, 1, 2, 4, 6, 5, 0, 1",
      "3x3x3/1 4->16, 4, 16, 3, 1, 4, 5, 9, 7, 0, 0"})
  void matchesFloat64Reference(String name, int cin, int cout, int k, int s, int n, int d, int h, int w, int pad,
                               long colsBytes) {
    assumeTrue(gpu != null, TestBackends.GPU_OFF);
    int[] kk = {k, k, k}, ss = {s, s, s}, pp = {pad, pad, pad};
    Random r = TestBackends.random("GemmConv3dTest " + name + " " + colsBytes);
    ConvReference ref = new ConvReference(n, cin, cout, d, h, w, kk, ss, pp);
    int[] xDims = {n, cin, d, h, w}, yDims = {n, cout, ref.od, ref.oh, ref.ow};
    double[] x = random(r, ref.xSize()), wt = random(r, ref.wSize()), dy = random(r, ref.ySize());
    double[] dw0 = random(r, ref.wSize());
    double[] y = new double[ref.ySize()], dx = new double[ref.xSize()], dw = new double[ref.wSize()];
    ref.run(x, wt, dy, y, dx, dw);
    int[] wDims = {cout, cin, k, k, k};  // NDHWC filter = [Cout, kd, kh, kw, Cin]: the same upload order
    try (Conv3dEngine conv = new GemmConv3d(Conv3dEngine.create(ConvApi.GRAPH, Cudnn.of(gpu), cin, cout, kk, ss, pp,
        ConvLayout.NDHWC, ConvPrecision.F32), gpu, colsBytes);
         Tensor dX = upload(x, xDims); Tensor dW = upload(wt, wDims); Tensor dDy = upload(dy, yDims);
         Tensor dY = upload(nan(ref.ySize()), yDims); Tensor dDx = upload(nan(ref.xSize()), xDims);
         Tensor dDw = upload(nan(ref.wSize()), wDims); Tensor acc = upload(dw0, wDims)) {
      Conv3dEngine.Plan p = conv.plan(n, d, h, w);
      if (colsBytes == 1) assertEquals(1, ((GemmConv3d) conv).chunkClips((AbstractConv3dEngine.PlanGeometry) p));
      conv.forward(p, dX.data(), dW.data(), dY.data());
      conv.backwardData(p, dDy.data(), dW.data(), dDx.data());
      conv.backwardFilter(p, dX.data(), dDy.data(), dDw.data(), false);
      conv.backwardFilter(p, dX.data(), dDy.data(), acc.data(), true);
      double ey = relErr(download(dY, yDims), y), ex = relErr(download(dDx, xDims), dx);
      double ew = relErr(download(dDw, wDims), dw);
      double[] want = new double[dw.length];
      for (int i = 0; i < want.length; i++) want[i] = dw0[i] + dw[i];
      double ea = relErr(download(acc, wDims), want);
      System.out.printf("GemmConv3d %s cap %d: fwd %.2e bwd-data %.2e bwd-filter %.2e accumulate %.2e [%s]%n", name,
          colsBytes, ey, ex, ew, ea, conv.describe(p));
      assertTrue(ey <= 1e-4, "forward error " + ey);
      assertTrue(ex <= 1e-4, "backward-data error " + ex);
      assertTrue(ew <= 1e-4, "backward-filter error " + ew);
      assertTrue(ea <= 1e-4, "backward-filter accumulate error " + ea);
    }
  }

  @Test
  void refusesWhatItDoesNotTake() {
    assumeTrue(gpu != null, TestBackends.GPU_OFF);
    try (Conv3dEngine c = Conv3dEngine.create(ConvApi.GRAPH, Cudnn.of(gpu), 3, 8, new int[] {7, 7, 7},
        new int[] {2, 2, 2}, new int[] {3, 3, 3}, ConvLayout.NDHWC, ConvPrecision.F32)) {
      assertThrows(IllegalArgumentException.class, () -> new GemmConv3d(c, gpu, 0));  // padded conv
    }
  }
}

package dev.comix.nn.gpu;

import static org.junit.jupiter.api.Assertions.*;
import static org.bytedeco.cuda.global.cudnn.CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS;
import static org.bytedeco.cuda.global.cudnn.CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC;
import static org.bytedeco.cuda.global.cudnn.CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION;
import static org.bytedeco.cuda.global.cudnn.CUDNN_NUMERICAL_NOTE_TENSOR_CORE;

import dev.comix.runtime.ComixException;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;

/**
 * The parts of {@link CudnnGraphConv3d} that need no GPU (runs everywhere; the cuDNN constants are
 * compile-time values, so the cuDNN bindings are never loaded): layouts' strides, output sizes,
 * declared alignment, which engines each precision rejects, and the API switch.
 */
class CudnnGraphConv3dHelpersTest {
  @Test
  void stridesFollowTheLayout() {
    // logical [N, C, D, H, W] = [2, 3, 4, 5, 6]
    assertArrayEquals(new long[] {360, 120, 30, 6, 1}, CudnnGraphConv3d.strides(ConvLayout.NCDHW, 3, 4, 5, 6));
    assertArrayEquals(new long[] {360, 1, 90, 18, 3}, CudnnGraphConv3d.strides(ConvLayout.NDHWC, 3, 4, 5, 6));
    // a [Cout, Cin, kD, kH, kW] filter stored [Cout, kD, kH, kW, Cin]
    assertArrayEquals(new long[] {27 * 16, 1, 9 * 16, 3 * 16, 16}, CudnnGraphConv3d.strides(ConvLayout.NDHWC, 16, 3, 3, 3));
  }

  @Test
  void outputSizes() {
    assertEquals(4, CudnnGraphConv3d.outSize(8, 2, 3, 7, 2)); // TF-SAME Conv3d_1a on 8 frames
    assertEquals(112, CudnnGraphConv3d.outSize(224, 2, 3, 7, 2));
    assertEquals(56, CudnnGraphConv3d.outSize(56, 1, 1, 3, 1));
    assertEquals(1, CudnnGraphConv3d.outSize(1, 1, 1, 3, 1));
    assertEquals(-1, CudnnGraphConv3d.outSize(2, 0, 0, 3, 1));
  }

  @Test
  void alignmentIsTheLargestPowerOfTwoUpTo16() {
    try (BytePointer base = new BytePointer(256)) {
      long a = base.address();
      long off = (16 - (a & 15)) & 15; // first 16-byte aligned byte inside
      BytePointer p16 = new BytePointer(base).position(off);
      BytePointer p4 = new BytePointer(base).position(off + 4);
      BytePointer p2 = new BytePointer(base).position(off + 2);
      BytePointer p8 = new BytePointer(base).position(off + 40);
      assertEquals(16, CudnnGraphConv3d.alignment(p16));
      assertEquals(16, CudnnGraphConv3d.alignment(new BytePointer(base).position(off + 32), p16));
      assertEquals(4, CudnnGraphConv3d.alignment(p16, p4));
      assertEquals(2, CudnnGraphConv3d.alignment(p4, p2, p16));
      assertEquals(8, CudnnGraphConv3d.alignment(p8, p16));
      // positions count in elements of the pointer's type
      FloatPointer f = new FloatPointer(p16).position(1);
      assertEquals(4, CudnnGraphConv3d.alignment(f));
      assertEquals(a + off + 4, BackendDescriptor.effectiveAddress(f));
      assertEquals(0, BackendDescriptor.effectiveAddress(new Pointer()));
    }
  }

  @Test
  void precisionsRejectTheRightEngines() {
    int[] none = {}, tensorCore = {CUDNN_NUMERICAL_NOTE_TENSOR_CORE},
        tcNondet = {CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC, CUDNN_NUMERICAL_NOTE_TENSOR_CORE},
        down = {CUDNN_NUMERICAL_NOTE_TENSOR_CORE, CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS},
        reduced = {CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION};
    for (ConvPrecision p : ConvPrecision.values()) {
      assertNull(CudnnGraphConv3d.rejection(p, none), p.toString());
      assertNull(CudnnGraphConv3d.rejection(p, new int[] {CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC}), p.toString());
      assertNotNull(CudnnGraphConv3d.rejection(p, down), p.toString());
      assertNotNull(CudnnGraphConv3d.rejection(p, reduced), p.toString());
    }
    assertNotNull(CudnnGraphConv3d.rejection(ConvPrecision.F32, tensorCore));
    assertNotNull(CudnnGraphConv3d.rejection(ConvPrecision.F32, tcNondet));
    assertNull(CudnnGraphConv3d.rejection(ConvPrecision.TF32, tensorCore));
    assertNull(CudnnGraphConv3d.rejection(ConvPrecision.BF16, tcNondet));
    assertEquals("tensor-core,nondeterministic", CudnnGraphConv3d.numericalNotes(new int[] {
        CUDNN_NUMERICAL_NOTE_TENSOR_CORE, CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC}));
  }

  @Test
  void fastestSkipsPlansThatDidNotRun() {
    assertEquals(1, CudnnGraphConv3d.fastest(new float[] {0.5f, 0.25f, 0.75f}));
    assertEquals(2, CudnnGraphConv3d.fastest(new float[] {-1f, 0.5f, 0.125f}));
    assertEquals(0, CudnnGraphConv3d.fastest(new float[] {0f, -1f}));
    // no plan of this heuristics mode ran: the search goes on to the next mode
    assertEquals(-1, CudnnGraphConv3d.fastest(new float[] {-1f, -1f}));
    assertEquals(-1, CudnnGraphConv3d.fastest(new float[0]));
  }

  @Test
  void apiSwitch() {
    assertEquals(ConvApi.GRAPH, ConvApi.parse("graph"));
    assertEquals(ConvApi.LEGACY, ConvApi.parse(" Legacy "));
    ComixException e = assertThrows(ComixException.class, () -> ConvApi.parse("v8"));
    assertTrue(e.getMessage().contains("legacy or graph"), e.getMessage());
    System.setProperty("comix.cudnn.api", "legacy");
    try {
      assertEquals(ConvApi.LEGACY, ConvApi.fromEnvironment());
    } finally {
      System.clearProperty("comix.cudnn.api");
    }
    if (System.getenv("COMIX_CUDNN_API") == null) assertEquals(ConvApi.GRAPH, ConvApi.fromEnvironment());
  }

  @Test
  void runtimeCompilationSwitch() {
    System.setProperty("comix.cudnn.graph.rtc", "0");
    try {
      assertFalse(CudnnGraphConv3d.runtimeCompilationAllowed());
      System.setProperty("comix.cudnn.graph.rtc", "true");
      assertTrue(CudnnGraphConv3d.runtimeCompilationAllowed());
    } finally {
      System.clearProperty("comix.cudnn.graph.rtc");
    }
  }

  @Test
  void candidateLimit() {
    System.setProperty("comix.cudnn.graph.candidates", "3");
    try {
      assertEquals(3, CudnnGraphConv3d.candidateLimit());
      System.setProperty("comix.cudnn.graph.candidates", "x");
      assertThrows(ComixException.class, CudnnGraphConv3d::candidateLimit);
    } finally {
      System.clearProperty("comix.cudnn.graph.candidates");
    }
  }

  @Test
  void searchKnobs() {
    // defaults (unless the environment sets them): TF32/BF16 the first heuristics mode that runs
    // and a 1 GiB cap, nothing added to cache keys; strict F32 every mode and an 8 GiB cap
    if (System.getenv("COMIX_CUDNN_GRAPH_MODES") == null) {
      assertFalse(CudnnGraphConv3d.allHeuristicModes(ConvPrecision.TF32));
      assertFalse(CudnnGraphConv3d.allHeuristicModes(ConvPrecision.BF16));
      assertTrue(CudnnGraphConv3d.allHeuristicModes(ConvPrecision.F32));
    }
    if (System.getenv("COMIX_CUDNN_WORKSPACE_MB") == null) {
      assertEquals(1L << 30, CudnnConv3d.workspaceCap(ConvPrecision.TF32));
      assertEquals("", CudnnConv3d.workspaceKey(ConvPrecision.BF16));
      assertEquals(8L << 30, CudnnConv3d.workspaceCap(ConvPrecision.F32));
      assertEquals(" | ws 8192 MiB", CudnnConv3d.workspaceKey(ConvPrecision.F32));
    }
    if (System.getenv("COMIX_CUDNN_GRAPH_MODES") == null && System.getenv("COMIX_CUDNN_WORKSPACE_MB") == null
        && System.getenv("COMIX_CUDNN_FIND") == null && System.getenv("COMIX_CUDNN_GRAPH_CANDIDATES") == null)
      assertEquals("timed, graph: 8 candidates from the first heuristics mode that runs, workspace cap 1024 MiB;"
          + " strict F32: timed, graph: 8 candidates from every heuristics mode, workspace cap 8192 MiB",
          CudnnConv3d.searchSettings());
    try {
      // the properties win over the environment, so the rest holds whatever the shell sets
      System.setProperty("comix.cudnn.find", "timed");
      System.setProperty("comix.cudnn.graph.candidates", "8");
      System.setProperty("comix.cudnn.workspace.mb", "1024");
      assertEquals("", CudnnConv3d.workspaceKey(ConvPrecision.F32));  // a setting wins for every precision
      System.setProperty("comix.cudnn.graph.modes", "ALL");
      System.setProperty("comix.cudnn.workspace.mb", "8192");
      assertTrue(CudnnGraphConv3d.allHeuristicModes(ConvPrecision.TF32));
      assertEquals(8192L << 20, CudnnConv3d.workspaceCap(ConvPrecision.BF16));
      assertEquals(" | ws 8192 MiB", CudnnConv3d.workspaceKey(ConvPrecision.TF32));
      assertEquals("timed, graph: 8 candidates from every heuristics mode, workspace cap 8192 MiB",
          CudnnConv3d.searchSettings());
      System.setProperty("comix.cudnn.graph.modes", "first");
      assertFalse(CudnnGraphConv3d.allHeuristicModes(ConvPrecision.F32));
      System.setProperty("comix.cudnn.graph.modes", "some");
      ComixException e = assertThrows(ComixException.class, () -> CudnnGraphConv3d.allHeuristicModes(ConvPrecision.F32));
      assertTrue(e.getMessage().contains("COMIX_CUDNN_GRAPH_MODES=some"), e.getMessage());
      for (String bad : new String[] {"0", "-5", "1.5", "lots", "99999999999"}) {
        System.setProperty("comix.cudnn.workspace.mb", bad);
        e = assertThrows(ComixException.class, () -> CudnnConv3d.workspaceCap(ConvPrecision.F32), bad);
        assertTrue(e.getMessage().startsWith("COMIX_CUDNN_WORKSPACE_MB=" + bad), e.getMessage());
      }
    } finally {
      System.clearProperty("comix.cudnn.graph.modes");
      System.clearProperty("comix.cudnn.workspace.mb");
      System.clearProperty("comix.cudnn.find");
      System.clearProperty("comix.cudnn.graph.candidates");
    }
  }
}

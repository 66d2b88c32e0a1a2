package dev.comix.nn.gpu;

import dev.comix.runtime.ComixException;
import java.util.Locale;

/**
 * Which cuDNN API runs a {@link Conv3dEngine}: {@link #LEGACY} ({@link CudnnConv3d}: the v7-style
 * descriptor calls, cudnnFind…AlgorithmEx and cudnnConvolution{Forward,BackwardData,BackwardFilter})
 * or {@link #GRAPH} ({@link CudnnGraphConv3d}: the backend/graph API, engine heuristics and
 * execution plans, what PyTorch 2 uses).
 */
public enum ConvApi {
  LEGACY,
  GRAPH;

  /** "legacy" or "graph" (any case). */
  public static ConvApi parse(String s) {
    if (s == null) throw new ComixException("cuDNN API: expected legacy or graph, got null");
    try {
      return valueOf(s.trim().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new ComixException("cuDNN API '" + s + "': expected legacy or graph");
    }
  }

  /**
   * The API named by the system property {@code comix.cudnn.api}, else the environment variable
   * {@code COMIX_CUDNN_API}, else {@link #GRAPH}: on an H200 (2026-11-26, cuDNN 9.14) the graph
   * engine ran the I3D training step at 729 clips/s in BF16 against 596 for the legacy one, and
   * queued a step in 9.6 ms of host time against 27–37 ms (benchmarks/RESULTS.md).
   */
  public static ConvApi fromEnvironment() {
    String v = System.getProperty("comix.cudnn.api");
    if (v == null || v.isBlank()) v = System.getenv("COMIX_CUDNN_API");
    return v == null || v.isBlank() ? GRAPH : parse(v);
  }
}

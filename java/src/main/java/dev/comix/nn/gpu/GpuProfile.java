package dev.comix.nn.gpu;

import static org.bytedeco.cuda.global.cudart.cudaEventCreate;
import static org.bytedeco.cuda.global.cudart.cudaEventDestroy;
import static org.bytedeco.cuda.global.cudart.cudaEventElapsedTime;
import static org.bytedeco.cuda.global.cudart.cudaEventRecord;
import static org.bytedeco.cuda.global.cudart.cudaStreamSynchronize;

import dev.comix.runtime.CudaOps;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.bytedeco.cuda.cudart.CUevent_st;
import org.bytedeco.cuda.cudart.CUstream_st;

/**
 * Per-op GPU time of the layers, measured with CUDA events on the context's stream (so it is
 * device time, not host time): each layer call is a span named "category|detail", e.g.
 * "conv fwd|3x3x3/1 64->192 @ 8x4x56x56". Off unless {@code COMIX_GPU_PROFILE=1} or {@link
 * GpuContext#setProfiling}; when off a span costs one volatile read. {@link #report} waits for
 * the stream, sums the spans by category and by detail, and forgets them.
 *
 * <p>The sum of the spans against the wall time of the same calls tells whether the GPU was busy
 * (spans ≈ wall) or waited for the host (spans ≪ wall: allocation, synchronisation, launches).
 * Each span also records the host time spent issuing it (open to close, System.nanoTime): where
 * that sum nears the wall time the step is host-bound. A span's device time includes any wait
 * for the host inside it (the start event fires before the host has queued the op).
 */
public final class GpuProfile {
  /** A span to close when the op has been queued. */
  public interface Span extends AutoCloseable {
    @Override
    void close();
  }

  private static final Span NONE = () -> {};

  /** hostNanos: the host time between opening and closing the span (issuing the op's calls). */
  private record Mark(String name, CUevent_st start, CUevent_st end, long hostNanos) {}

  private final CudaOps ops;
  private final List<Mark> marks = new ArrayList<>();
  private volatile boolean on;

  GpuProfile(CudaOps ops, boolean on) {
    this.ops = ops;
    this.on = on;
  }

  void setOn(boolean v) {
    on = v;
  }

  public boolean isOn() {
    return on;
  }

  private CUstream_st stream() {
    return new CUstream_st(ops.stream());
  }

  /**
   * Starts a span named "category|detail", the detail built only when profiling is on (no string
   * work on the hot path otherwise).
   */
  public Span span(String category, java.util.function.Supplier<String> detail) {
    return on ? span(category + "|" + detail.get()) : NONE;
  }

  /** Starts a span named "category|detail" (the detail may be empty). */
  public Span span(String name) {
    if (!on) return NONE;
    CUevent_st s = new CUevent_st(), e = new CUevent_st();
    CudaOps.check(cudaEventCreate(s), "cudaEventCreate");
    CudaOps.check(cudaEventCreate(e), "cudaEventCreate");
    CudaOps.check(cudaEventRecord(s, stream()), "cudaEventRecord");
    long t0 = System.nanoTime();
    return () -> {
      long host = System.nanoTime() - t0;
      CudaOps.check(cudaEventRecord(e, stream()), "cudaEventRecord");
      synchronized (marks) {
        marks.add(new Mark(name, s, e, host));
      }
    };
  }

  /** Aggregated lines (by category, then the {@code top} slowest details) since the last report; clears. */
  public List<String> report(int top) {
    List<Mark> ms;
    synchronized (marks) {
      ms = new ArrayList<>(marks);
      marks.clear();
    }
    CudaOps.check(cudaStreamSynchronize(stream()), "cudaStreamSynchronize");
    Map<String, double[]> byCat = new HashMap<>(), byName = new HashMap<>();
    double total = 0, hostTotal = 0;
    float[] ms1 = new float[1];
    for (Mark m : ms) {
      CudaOps.check(cudaEventElapsedTime(ms1, m.start(), m.end()), "cudaEventElapsedTime");
      cudaEventDestroy(m.start());
      cudaEventDestroy(m.end());
      int bar = m.name().indexOf('|');
      String cat = bar < 0 ? m.name() : m.name().substring(0, bar);
      double host = m.hostNanos() / 1e6;
      add(byCat, cat, ms1[0], host);
      add(byName, m.name(), ms1[0], host);
      total += ms1[0];
      hostTotal += host;
    }
    List<String> out = new ArrayList<>();
    out.add(String.format(Locale.ROOT, "GPU time in layer ops: %.3f ms over %d spans; host time issuing them: %.3f ms",
        total, ms.size(), hostTotal));
    final double t = total;
    byCat.entrySet().stream().sorted((a, b) -> Double.compare(b.getValue()[1], a.getValue()[1]))
        .forEach(e -> out.add(String.format(Locale.ROOT, "  %-22s %6d calls %10.3f ms %5.1f%%  host %9.3f ms",
            e.getKey(), (long) e.getValue()[0], e.getValue()[1], 100 * e.getValue()[1] / Math.max(t, 1e-9),
            e.getValue()[2])));
    out.add("  slowest ops:");
    byName.entrySet().stream().sorted((a, b) -> Double.compare(b.getValue()[1], a.getValue()[1])).limit(top)
        .forEach(e -> out.add(String.format(Locale.ROOT, "  %-60s %5d x %9.3f ms  host %8.3f ms", e.getKey(),
            (long) e.getValue()[0], e.getValue()[1], e.getValue()[2])));
    return out;
  }

  private static void add(Map<String, double[]> m, String k, double v, double host) {
    double[] a = m.computeIfAbsent(k, x -> new double[3]);
    a[0]++;
    a[1] += v;
    a[2] += host;
  }
}

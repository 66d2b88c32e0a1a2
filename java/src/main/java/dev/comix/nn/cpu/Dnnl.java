package dev.comix.nn.cpu;

import org.bytedeco.dnnl.engine;
import org.bytedeco.dnnl.stream;

/** One oneDNN CPU engine and stream for the process (oneDNN runs its own OpenMP threads). */
public final class Dnnl {
  private static volatile Dnnl instance;

  final engine eng;
  final stream strm;

  private Dnnl() {
    eng = new engine(engine.kind.cpu, 0);
    strm = new stream(eng);
  }

  public static Dnnl get() {
    Dnnl d = instance;
    if (d == null) {
      synchronized (Dnnl.class) {
        d = instance;
        if (d == null) instance = d = new Dnnl();
      }
    }
    return d;
  }
}

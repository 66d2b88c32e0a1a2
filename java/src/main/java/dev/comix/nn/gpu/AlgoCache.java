package dev.comix.nn.gpu;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;

/**
 * cuDNN choices kept across processes, so a new JVM (a JMH fork, the next training run, the next
 * {@code extract-features}) does not repeat the timed search for shapes it has seen: one line
 * per choice, "key TAB field TAB …", appended (a short O_APPEND write is atomic, so concurrent
 * processes at worst both add the same choice; the last line of a key wins). The key names the
 * GPU, cuDNN's version, the convolution, the input shape and the pass.
 *
 * <ul>
 *   <li>Legacy engine ({@link CudnnConv3d}): "algo, mathType, ms"; file {@code COMIX_CUDNN_CACHE}
 *       (a path, or {@code off}), default {@code ~/.cache/comix/cudnn-legacy-algos.tsv}.
 *   <li>Graph engine ({@link CudnnGraphConv3d}): "heuristics mode, engine global index, knob
 *       choices, ms" ({@link GraphEntry}); file {@code COMIX_CUDNN_GRAPH_CACHE} (a path, or
 *       {@code off}), default {@code ~/.cache/comix/cudnn-graph-plans.tsv}. The engine is found
 *       again by asking that heuristics mode and taking the configuration with the same engine
 *       and knobs, so only one plan is finalized and none is timed.
 * </ul>
 * {@code COMIX_CUDNN_CACHE=off} turns both off. A missing or unreadable file is an empty cache; a
 * line that does not parse is ignored; a failed write only costs the next process a search.
 */
final class AlgoCache {
  record Entry(int algo, int mathType, float ms) {}

  /** A graph-engine choice: the heuristics mode that listed it, the engine's global index, its knob choices ("k2=3 k3=0", maybe empty), the timed ms. */
  record GraphEntry(int heurMode, long engine, String knobs, float ms) {}

  private static final Store LEGACY = new Store("COMIX_CUDNN_CACHE", "cudnn-legacy-algos.tsv", 3,
      f -> parseLegacy(f) != null);
  private static final Store GRAPH = new Store("COMIX_CUDNN_GRAPH_CACHE", "cudnn-graph-plans.tsv", 4,
      f -> parseGraph(f) != null);

  private AlgoCache() {}

  static Entry get(String key) {
    String[] f = LEGACY.get(key);
    return f == null ? null : parseLegacy(f);
  }

  /** The entry of a line's fields, or null when they do not parse (a torn or foreign line). */
  private static Entry parseLegacy(String[] f) {
    try {
      return new Entry(Integer.parseInt(f[0]), Integer.parseInt(f[1]), Float.parseFloat(f[2]));
    } catch (NumberFormatException e) {
      return null;
    }
  }

  private static GraphEntry parseGraph(String[] f) {
    try {
      return new GraphEntry(Integer.parseInt(f[0]), Long.parseLong(f[1]), f[2].equals("-") ? "" : f[2],
          Float.parseFloat(f[3]));
    } catch (NumberFormatException e) {
      return null;
    }
  }

  static void put(String key, int algo, int mathType, float ms) {
    LEGACY.put(key, Integer.toString(algo), Integer.toString(mathType), Float.toString(ms));
  }

  static GraphEntry getGraph(String key) {
    String[] f = GRAPH.get(key);
    return f == null ? null : parseGraph(f);
  }

  static void putGraph(String key, GraphEntry e) {
    GRAPH.put(key, Integer.toString(e.heurMode()), Long.toString(e.engine()), e.knobs().isEmpty() ? "-" : e.knobs(),
        Float.toString(e.ms()));
  }

  /** For tests: forget what was loaded (the next use reads the environment and the default files again). */
  static void reset() {
    LEGACY.reset();
    GRAPH.reset();
  }

  /** For tests: the legacy engine's choices in {@code f} (loaded afresh). */
  static void useFile(Path f) {
    LEGACY.useFile(f);
  }

  /** For tests: the graph engine's choices in {@code f} (loaded afresh). */
  static void useGraphFile(Path f) {
    GRAPH.useFile(f);
  }

  /** One append-only file of "key TAB fields…" lines. */
  private static final class Store {
    private final String env, defaultName;
    private final int fields;
    /** Whether a line's fields parse: a torn line must not shadow an earlier good one of its key. */
    private final java.util.function.Predicate<String[]> valid;
    private Map<String, String[]> entries;
    private Path file;
    private boolean disabled;

    Store(String env, String defaultName, int fields, java.util.function.Predicate<String[]> valid) {
      this.env = env;
      this.defaultName = defaultName;
      this.fields = fields;
      this.valid = valid;
    }

    private synchronized void load() {
      if (entries != null) return;
      entries = new HashMap<>();
      String all = System.getenv("COMIX_CUDNN_CACHE");
      String v = System.getenv(env);
      if ((all != null && all.trim().equalsIgnoreCase("off")) || (v != null && v.trim().equalsIgnoreCase("off"))) {
        disabled = true;
        return;
      }
      file = v != null && !v.isBlank() ? Path.of(v.trim())
          : Path.of(System.getProperty("user.home"), ".cache", "comix", defaultName);
      read();
    }

    private void read() {
      try {
        if (!Files.isRegularFile(file)) return;
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
          String[] f = line.split("\t", -1);
          if (f.length != fields + 1) continue; // a torn or foreign line
          String[] values = new String[fields];
          System.arraycopy(f, 1, values, 0, fields);
          if (valid.test(values)) entries.put(f[0], values);
        }
      } catch (IOException | RuntimeException e) {
        entries.clear();
      }
    }

    synchronized String[] get(String key) {
      load();
      return disabled ? null : entries.get(key);
    }

    synchronized void put(String key, String... values) {
      load();
      if (disabled || values.length != fields || bad(key)) return;
      for (String x : values) if (x.isEmpty() || bad(x)) return;
      entries.put(key, values.clone());
      try {
        Files.createDirectories(file.getParent());
        Files.writeString(file, key + "\t" + String.join("\t", values) + "\n", StandardCharsets.UTF_8,
            StandardOpenOption.CREATE, StandardOpenOption.APPEND, StandardOpenOption.WRITE);
      } catch (IOException | RuntimeException e) {
        // a cache: the next process searches again
      }
    }

    private static boolean bad(String s) {
      return s.indexOf('\t') >= 0 || s.indexOf('\n') >= 0;
    }

    synchronized void reset() {
      entries = null;
      disabled = false;
      file = null;
    }

    synchronized void useFile(Path f) {
      entries = new HashMap<>();
      disabled = false;
      file = f;
      read();
    }
  }
}

package dev.comix.nn.gpu;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;

/**
 * Algorithm choices of the legacy cuDNN engine kept across processes, so a new JVM (a JMH fork, the
 * next training run) does not repeat the timed search for shapes it has seen: one line per
 * choice, "key TAB algo TAB mathType TAB ms", appended (a short O_APPEND write is atomic, so
 * concurrent processes at worst both add the same choice; the last line of a key wins). The key
 * names the GPU, cuDNN's version, the convolution, the input shape and the pass.
 *
 * <p>File: {@code COMIX_CUDNN_CACHE} (a path, or {@code off}), default
 * {@code ~/.cache/comix/cudnn-legacy-algos.tsv}. A missing or unreadable file is an empty cache; a
 * line that does not parse is ignored; a failed write only costs the next process a search.
 */
final class AlgoCache {
  record Entry(int algo, int mathType, float ms) {}

  private static Map<String, Entry> entries;
  private static Path file;
  private static boolean disabled;

  private AlgoCache() {}

  private static synchronized void load() {
    if (entries != null) return;
    entries = new HashMap<>();
    String v = System.getenv("COMIX_CUDNN_CACHE");
    if (v != null && v.trim().equalsIgnoreCase("off")) {
      disabled = true;
      return;
    }
    file = v != null && !v.isBlank() ? Path.of(v.trim())
        : Path.of(System.getProperty("user.home"), ".cache", "comix", "cudnn-legacy-algos.tsv");
    try {
      if (!Files.isRegularFile(file)) return;
      for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) parse(line);
    } catch (IOException | RuntimeException e) {
      entries.clear();
    }
  }

  static synchronized Entry get(String key) {
    load();
    return disabled ? null : entries.get(key);
  }

  static synchronized void put(String key, int algo, int mathType, float ms) {
    load();
    if (disabled || key.indexOf('\t') >= 0 || key.indexOf('\n') >= 0) return;
    entries.put(key, new Entry(algo, mathType, ms));
    try {
      Files.createDirectories(file.getParent());
      Files.writeString(file, key + "\t" + algo + "\t" + mathType + "\t" + ms + "\n", StandardCharsets.UTF_8,
          StandardOpenOption.CREATE, StandardOpenOption.APPEND, StandardOpenOption.WRITE);
    } catch (IOException | RuntimeException e) {
      // a cache: the next process searches again
    }
  }

  /** For tests: forget what was loaded (the next use reads COMIX_CUDNN_CACHE / the default file again). */
  static synchronized void reset() {
    entries = null;
    disabled = false;
    file = null;
  }

  /** For tests: use {@code f} (loaded afresh on next use). */
  static synchronized void useFile(Path f) {
    entries = new HashMap<>();
    disabled = false;
    file = f;
    try {
      if (Files.isRegularFile(f))
        for (String line : Files.readAllLines(f, StandardCharsets.UTF_8)) parse(line);
    } catch (IOException e) {
      entries.clear();
    }
  }

  private static void parse(String line) {
    String[] f = line.split("\t");
    if (f.length != 4) return;
    try {
      entries.put(f[0], new Entry(Integer.parseInt(f[1]), Integer.parseInt(f[2]), Float.parseFloat(f[3])));
    } catch (NumberFormatException e) {
      // a torn or foreign line: ignore it
    }
  }
}

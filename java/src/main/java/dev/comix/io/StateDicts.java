package dev.comix.io;

import dev.comix.runtime.ComixException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Reads weight files of either kind and checks them against the names and shapes a model expects. */
public final class StateDicts {
  /** How many of each kind of problem the message lists before "and N more". */
  static final int SHOWN = 5;

  private StateDicts() {}

  /**
   * Throws one {@link ComixException} listing the missing names, the unexpected names and the
   * shape mismatches (the first few of each, with counts) if {@code actual} does not hold exactly
   * the tensors of {@code expected}; returns quietly otherwise.
   *
   * <pre>{@code
   * StateDicts.check(Map.of("fc.weight", new long[] {10, 4}, "fc.bias", new long[] {10}), sd);
   * }</pre>
   */
  public static void check(Map<String, long[]> expected, StateDict actual) {
    String problems = problems(expected, actual);
    if (problems != null) throw new ComixException(problems);
  }

  /** The message {@link #check} would throw, or null if the dict matches. */
  public static String problems(Map<String, long[]> expected, StateDict actual) {
    List<String> missing = new ArrayList<>(), unexpected = new ArrayList<>(), shapes = new ArrayList<>();
    for (Map.Entry<String, long[]> e : expected.entrySet()) {
      if (!actual.contains(e.getKey())) missing.add(e.getKey());
      else if (!Arrays.equals(e.getValue(), actual.shape(e.getKey())))
        shapes.add(e.getKey() + " is " + Arrays.toString(actual.shape(e.getKey())) + ", expected " + Arrays.toString(e.getValue()));
    }
    for (String n : actual.names()) if (!expected.containsKey(n)) unexpected.add(n);
    if (missing.isEmpty() && unexpected.isEmpty() && shapes.isEmpty()) return null;
    List<String> parts = new ArrayList<>();
    if (!missing.isEmpty()) parts.add(list(missing.size() + " missing", missing));
    if (!unexpected.isEmpty()) parts.add(list(unexpected.size() + " unexpected", unexpected));
    if (!shapes.isEmpty()) parts.add(list(shapes.size() + " of the wrong shape", shapes));
    String hint = "";
    if (!missing.isEmpty() && !unexpected.isEmpty()) {
      if (unexpected.stream().allMatch(n -> n.startsWith("module."))) hint = " (the file has a DataParallel 'module.' prefix: strip it)";
      else if (missing.stream().allMatch(n -> n.startsWith("module."))) hint = " (the model expects a 'module.' prefix the file lacks)";
    }
    return "weights do not match the model: " + String.join("; ", parts) + hint;
  }

  /**
   * Reads a weight file of either kind, told apart by its first bytes: safetensors, or a PyTorch
   * checkpoint (zip or legacy format). With {@code stripModulePrefix}, a DataParallel
   * {@code module.} prefix is removed when every name has it.
   */
  public static StateDict read(Path file, boolean stripModulePrefix) {
    if (!Files.isRegularFile(file)) throw new ComixException("weights: " + file + ": no such file");
    if (isSafetensors(file)) {
      StateDict sd = SafeTensors.read(file);
      if (stripModulePrefix) sd.stripModulePrefixIfAll();
      return sd;
    }
    return TorchCheckpoint.read(file, stripModulePrefix);
  }

  /** True for a {@code .safetensors} name or a file that starts like one (a small length, then '{'). */
  public static boolean isSafetensors(Path file) {
    String n = file.getFileName().toString().toLowerCase(Locale.ROOT);
    if (n.endsWith(".safetensors")) return true;
    try (InputStream in = Files.newInputStream(file)) {
      byte[] h = in.readNBytes(9);
      return h.length == 9 && h[8] == '{' && h[7] == 0 && h[6] == 0 && h[5] == 0 && h[4] == 0;
    } catch (IOException e) {
      return false;
    }
  }

  /**
   * Reads the weights for a model that expects {@code expected} (name -> shape): either file kind,
   * a {@code module.} prefix stripped when the file has it on every name and the model does not
   * expect it, then {@link #check}ed. The caller owns (and closes) the result.
   *
   * <pre>{@code
   * try (StateDict sd = StateDicts.readFor(Path.of("rgb_imagenet.pt"), i3d.expectedShapes())) { ... }
   * }</pre>
   */
  public static StateDict readFor(Path file, Map<String, long[]> expected) {
    boolean modelWantsPrefix = !expected.isEmpty() && expected.keySet().stream().allMatch(k -> k.startsWith("module."));
    StateDict sd = read(file, !modelWantsPrefix);
    try {
      String problems = problems(expected, sd);
      if (problems != null) throw new ComixException(file + ": " + problems);
      return sd;
    } catch (RuntimeException e) {
      sd.close();
      throw e;
    }
  }

  /** Name -> shape of every tensor, in order (what {@link #check} compares). */
  public static Map<String, long[]> shapes(StateDict sd) {
    Map<String, long[]> m = new LinkedHashMap<>();
    for (StateDict.Entry e : sd.entries()) m.put(e.name(), e.shape());
    return m;
  }

  private static String list(String head, List<String> items) {
    String shown = String.join(", ", items.subList(0, Math.min(SHOWN, items.size())));
    return head + ": " + shown + (items.size() > SHOWN ? " and " + (items.size() - SHOWN) + " more" : "");
  }
}

package dev.comix.io;

import dev.comix.runtime.ComixException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/** Checks a loaded state dict against the names and shapes a model expects. */
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

  private static String list(String head, List<String> items) {
    String shown = String.join(", ", items.subList(0, Math.min(SHOWN, items.size())));
    return head + ": " + shown + (items.size() > SHOWN ? " and " + (items.size() - SHOWN) + " more" : "");
  }
}

package dev.comix.runtime;

import java.util.Locale;
import java.util.Objects;

/** Where a tensor lives and an op runs: the host CPU, or CUDA device n. */
public final class Device {
  public enum Kind { CPU, CUDA }

  public static final Device CPU = new Device(Kind.CPU, 0);

  private final Kind kind;
  private final int index;

  private Device(Kind kind, int index) {
    this.kind = kind;
    this.index = index;
  }

  public static Device cuda(int index) {
    if (index < 0) throw new IllegalArgumentException("CUDA device index must be >= 0, got " + index);
    return new Device(Kind.CUDA, index);
  }

  /** Parses "cpu", "cuda" (= cuda:0) or "cuda:N". */
  public static Device parse(String spec) {
    String s = spec.trim().toLowerCase(Locale.ROOT);
    if (s.equals("cpu")) return CPU;
    if (s.equals("cuda") || s.equals("gpu")) return cuda(0);
    if (s.startsWith("cuda:")) {
      try {
        return cuda(Integer.parseInt(s.substring(5)));
      } catch (NumberFormatException e) {
        // fall through
      }
    }
    throw new ComixException("unknown device '" + spec + "': expected cpu, cuda or cuda:N");
  }

  public Kind kind() {
    return kind;
  }

  public int index() {
    return index;
  }

  public boolean isCuda() {
    return kind == Kind.CUDA;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Device d && d.kind == kind && d.index == index;
  }

  @Override
  public int hashCode() {
    return Objects.hash(kind, index);
  }

  @Override
  public String toString() {
    return kind == Kind.CPU ? "cpu" : "cuda:" + index;
  }
}

package dev.comix.runtime;

/** Element types of {@link Tensor}. */
public enum DType {
  U8(1),
  U16(2),
  I32(4),
  I64(8),
  F32(4),
  BF16(2),
  F64(8);

  private final int size;

  DType(int size) {
    this.size = size;
  }

  /** Bytes per element. */
  public int size() {
    return size;
  }
}

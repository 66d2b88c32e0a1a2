package dev.comix.io;

import dev.comix.runtime.ComixException;
import dev.comix.runtime.DType;

/**
 * Element types of stored weights: the safetensors names and the PyTorch storage classes they
 * correspond to. Two have no {@link DType} of their own and are held as raw bits: {@link #F16}
 * in a {@link DType#U16} tensor and {@link #BOOL} in a {@link DType#U8} tensor (0 or 1).
 */
public enum WeightDType {
  F64("F64", DType.F64, "DoubleStorage"),
  F32("F32", DType.F32, "FloatStorage"),
  F16("F16", DType.U16, "HalfStorage"),
  BF16("BF16", DType.BF16, "BFloat16Storage"),
  I64("I64", DType.I64, "LongStorage"),
  I32("I32", DType.I32, "IntStorage"),
  U16("U16", DType.U16, null),
  U8("U8", DType.U8, "ByteStorage"),
  BOOL("BOOL", DType.U8, "BoolStorage");

  private final String safetensorsName;
  private final DType storage;
  private final String torchStorage;

  WeightDType(String safetensorsName, DType storage, String torchStorage) {
    this.safetensorsName = safetensorsName;
    this.storage = storage;
    this.torchStorage = torchStorage;
  }

  /** The dtype string of the safetensors header ("F32", "BF16", ...). */
  public String safetensorsName() {
    return safetensorsName;
  }

  /** The tensor dtype that holds the elements (raw bits for F16 and BOOL). */
  public DType storage() {
    return storage;
  }

  /** Bytes per element. */
  public int size() {
    return storage.size();
  }

  /** True for F64, F32, F16 and BF16. */
  public boolean isFloatingPoint() {
    return this == F64 || this == F32 || this == F16 || this == BF16;
  }

  /** The dtype for a safetensors header string, or null if comix does not read it. */
  public static WeightDType ofSafetensors(String name) {
    for (WeightDType t : values()) if (t.safetensorsName.equals(name)) return t;
    return null;
  }

  /** The dtype for a PyTorch storage class name such as "FloatStorage", or null. */
  public static WeightDType ofTorchStorage(String className) {
    for (WeightDType t : values()) if (className.equals(t.torchStorage)) return t;
    return null;
  }

  /** The natural weight dtype of a tensor dtype (U16 stays U16; use the explicit form for F16). */
  public static WeightDType of(DType d) {
    return switch (d) {
      case F64 -> F64;
      case F32 -> F32;
      case BF16 -> BF16;
      case I64 -> I64;
      case I32 -> I32;
      case U16 -> U16;
      case U8 -> U8;
      default -> throw new ComixException("weights: cannot store " + d + " tensors");
    };
  }
}

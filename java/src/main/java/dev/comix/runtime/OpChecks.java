package dev.comix.runtime;

import java.util.Arrays;

/** Argument checks shared by the backends; every failure is a one-line {@link ComixException}. */
final class OpChecks {
  private OpChecks() {}

  static void on(Device device, String op, Tensor... ts) {
    for (Tensor t : ts) {
      if (t == null) throw new ComixException(op + ": tensor argument is null");
      if (t.isClosed()) throw new ComixException(op + ": tensor argument is closed");
      if (!t.device().equals(device))
        throw new ComixException(op + ": tensor on " + t.device() + " but this backend runs on " + device);
    }
  }

  static void dtype(String op, String name, Tensor t, DType... allowed) {
    for (DType d : allowed) if (t.dtype() == d) return;
    throw new ComixException(op + ": " + name + " must be " + Arrays.toString(allowed) + ", got " + t.dtype());
  }

  static long frameElements(String op, Tensor frames, Tensor out) {
    if (frames.rank() < 1 || frames.dim(0) < 1)
      throw new ComixException(op + ": need at least one frame, got shape " + Arrays.toString(frames.shape()));
    long n = frames.numel() / frames.dim(0);
    if (n < 1) throw new ComixException(op + ": empty frames " + Arrays.toString(frames.shape()));
    if (out.numel() != n)
      throw new ComixException(op + ": output has " + out.numel() + " elements, frames have " + n + " per frame");
    return n;
  }

  static void mix(String op, Tensor x, Tensor bg, float gamma, Tensor out) {
    dtype(op, "x", x, DType.U8);
    dtype(op, "bg", bg, DType.U8);
    dtype(op, "out", out, DType.F32, DType.BF16);
    if (!(gamma >= 0f && gamma <= 1f)) throw new ComixException(op + ": gamma must be in [0, 1], got " + gamma);
    if (x.rank() < 2) throw new ComixException(op + ": x must be [B, F, ...], got " + Arrays.toString(x.shape()));
    long[] xs = x.shape(), bs = bg.shape();
    if (bs.length != xs.length - 1 || bs[0] != xs[0])
      throw new ComixException(op + ": bg must be [B, ...] matching x " + Arrays.toString(xs) + ", got " + Arrays.toString(bs));
    for (int i = 1; i < bs.length; i++)
      if (bs[i] != xs[i + 1])
        throw new ComixException(op + ": bg " + Arrays.toString(bs) + " does not match frames of x " + Arrays.toString(xs));
    if (out.numel() != x.numel())
      throw new ComixException(op + ": out has " + out.numel() + " elements, x has " + x.numel());
  }

  static int mixDtype(Tensor out) {
    return out.dtype() == DType.F32 ? 0 : 1;
  }

  static void copy(Tensor src, Tensor dst) {
    if (src.isClosed() || dst.isClosed()) throw new ComixException("copy: tensor is closed");
    if (src.dtype() != dst.dtype() || src.numel() != dst.numel())
      throw new ComixException("copy: " + src + " into " + dst + ": dtype or size differ");
  }
}

package dev.comix.video;

import dev.comix.runtime.ComixException;
import dev.comix.runtime.DType;
import dev.comix.runtime.Ops;
import dev.comix.runtime.Tensor;

/**
 * CoMix background mixing (spec section 3.2) fused with the uint8 to [-1, 1] normalisation, in
 * one pass: {@code out = (1 - gamma) * (x * 2/255 - 1) + gamma * (bg * 2/255 - 1)}, the
 * background of video b broadcast over its frames. {@code gamma = 0} is plain normalisation.
 *
 * <pre>{@code
 * // x: U8 [B, F, H, W, 3] (frames), bg: U8 [B, H, W, 3] (one background per video)
 * try (Tensor mixed = BackgroundMix.apply(ops, x, bg, 0.3f, DType.F32)) { ... }
 * }</pre>
 */
public final class BackgroundMix {
  private BackgroundMix() {}

  public static Tensor apply(Ops ops, Tensor x, Tensor bg, float gamma, DType outType) {
    if (outType != DType.F32 && outType != DType.BF16)
      throw new ComixException("background mix: output must be F32 or BF16, got " + outType);
    Tensor out = ops.allocate(outType, x.shape());
    try {
      ops.backgroundMix(x, bg, gamma, out);
    } catch (RuntimeException e) {
      out.close();
      throw e;
    }
    return out;
  }
}

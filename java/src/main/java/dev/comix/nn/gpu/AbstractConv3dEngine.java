package dev.comix.nn.gpu;

import dev.comix.runtime.ComixException;
import java.util.Arrays;

/** What both cuDNN engines hold and check: the convolution's geometry, layout and precision. */
abstract class AbstractConv3dEngine implements Conv3dEngine {
  protected final Cudnn cudnn;
  protected final int cin, cout;
  protected final int[] kernel, stride, prePad, postPad;
  protected final ConvLayout layout;
  protected final ConvPrecision precision;
  /** Choices made (one per plan and pass) by a search or from the persistent cache; of those, from the cache. */
  protected long searches, diskHits;
  protected boolean closed;

  AbstractConv3dEngine(Cudnn cudnn, int cin, int cout, int[] kernel, int[] stride, int[] prePad, int[] postPad,
                       ConvLayout layout, ConvPrecision precision) {
    if (cudnn == null || layout == null || precision == null)
      throw new IllegalArgumentException("cudnn, layout and precision are required");
    if (cin <= 0 || cout <= 0) throw new IllegalArgumentException("channels must be positive: " + cin + " -> " + cout);
    if (kernel == null || stride == null || prePad == null || postPad == null || kernel.length != 3
        || stride.length != 3 || prePad.length != 3 || postPad.length != 3)
      throw new IllegalArgumentException("kernel, stride and pad need 3 entries (D, H, W)");
    for (int i = 0; i < 3; i++)
      if (kernel[i] <= 0 || stride[i] <= 0 || prePad[i] < 0 || postPad[i] < 0)
        throw new IllegalArgumentException("bad kernel/stride/pad " + Arrays.toString(kernel) + " "
            + Arrays.toString(stride) + " " + Arrays.toString(prePad)
            + (Arrays.equals(prePad, postPad) ? "" : "/" + Arrays.toString(postPad)));
    this.cudnn = cudnn;
    this.cin = cin;
    this.cout = cout;
    this.kernel = kernel.clone();
    this.stride = stride.clone();
    this.prePad = prePad.clone();
    this.postPad = postPad.clone();
    this.layout = layout;
    this.precision = precision;
  }

  @Override
  public int inChannels() {
    return cin;
  }

  @Override
  public int outChannels() {
    return cout;
  }

  @Override
  public int[] kernel() {
    return kernel.clone();
  }

  @Override
  public int[] stride() {
    return stride.clone();
  }

  /** Padding before each of (D, H, W) (and after, unless built with asymmetric padding). */
  @Override
  public int[] pad() {
    return prePad.clone();
  }

  @Override
  public ConvLayout layout() {
    return layout;
  }

  @Override
  public ConvPrecision precision() {
    return precision;
  }

  /**
   * How many algorithm choices (one per plan and pass) this conv has made so far, by a search or
   * from the persistent cache ({@link #diskHits}).
   */
  @Override
  public synchronized long searches() {
    return searches;
  }

  /** Choices taken from the persistent cache (AlgoCache) instead of a timed search. */
  public synchronized long diskHits() {
    return diskHits;
  }

  protected void ensureOpen() {
    if (closed) throw new ComixException(getClass().getSimpleName() + " is closed");
  }

  /** A plan's input and output geometry (both engines): shapes reported in the conv's layout order. */
  abstract static class PlanGeometry implements Conv3dEngine.Plan {
    final long n, d, h, w, od, oh, ow;
    private final ConvLayout layout;
    private final int cin, cout;

    PlanGeometry(long n, long d, long h, long w, long od, long oh, long ow, ConvLayout layout, int cin, int cout) {
      this.n = n;
      this.d = d;
      this.h = h;
      this.w = w;
      this.od = od;
      this.oh = oh;
      this.ow = ow;
      this.layout = layout;
      this.cin = cin;
      this.cout = cout;
    }

    /** The input shape in the conv's layout order ([N,C,D,H,W] or [N,D,H,W,C]). */
    @Override
    public long[] inputShape() {
      return shape(n, cin, d, h, w);
    }

    /** The output shape in the conv's layout order. */
    @Override
    public long[] outputShape() {
      return shape(n, cout, od, oh, ow);
    }

    private long[] shape(long n, long c, long d, long h, long w) {
      return layout == ConvLayout.NCDHW ? new long[] {n, c, d, h, w} : new long[] {n, d, h, w, c};
    }
  }
}

package dev.comix.video;

import dev.comix.runtime.ComixException;
import dev.comix.runtime.DType;
import dev.comix.runtime.Ops;
import dev.comix.runtime.Tensor;
import java.util.Arrays;

/**
 * Streaming temporal median of uint8 frames with exact {@code numpy.median(axis=0)} semantics
 * (even count: mean of the two middle values, truncated), on any backend.
 *
 * <p>Frames are added one or a chunk at a time. Up to {@code bufferFrames} frames are kept as
 * they are (the buffer grows by doubling, so short videos cost only what they hold); when more
 * arrive, the buffer is folded into a per-element histogram of 256 uint16 bins and emptied.
 * Memory bound, for n = H*W*C elements per frame and T frames in all:
 * {@code n * min(T, bufferFrames)} bytes, plus {@code 512 * n} bytes once T exceeds the buffer,
 * whatever T is (T at most 65535). With the default 512-frame buffer: a 224x224 RGB video needs
 * at most 77 MB + 77 MB; a 1920x1080 one at most 3.2 GB + 3.2 GB.
 *
 * <pre>{@code
 * try (Ops ops = Backends.open("auto", 0);
 *      TemporalMedian median = new TemporalMedian(ops, 224, 224, 3)) {
 *   for (byte[] frame : frames) median.add(frame);   // H*W*3 bytes each
 *   byte[] background = median.resultBytes();
 * }
 * }</pre>
 */
public final class TemporalMedian implements AutoCloseable {
  public static final int DEFAULT_BUFFER_FRAMES = 512;
  private static final int FIRST_CAPACITY = 16;

  private final Ops ops;
  private final long[] frameShape;
  private final long n;
  private final int bufferFrames;
  private Tensor buffer; // [capacity, n] on ops' device
  private int buffered;
  private Tensor hist; // [n, 256] U16, once the buffer overflowed
  private long total;

  /** A median over frames of the given shape (e.g. H, W, 3), with the default buffer. */
  public TemporalMedian(Ops ops, long... frameShape) {
    this(DEFAULT_BUFFER_FRAMES, ops, frameShape);
  }

  /**
   * Same with a buffer of {@code bufferFrames} frames before the histogram takes over. (A factory,
   * not a constructor overload: {@code new TemporalMedian(ops, 224, 224, 3)} must never read 224
   * as a buffer size.)
   */
  public static TemporalMedian withBuffer(Ops ops, int bufferFrames, long... frameShape) {
    return new TemporalMedian(bufferFrames, ops, frameShape);
  }

  private TemporalMedian(int bufferFrames, Ops ops, long... frameShape) {
    if (frameShape.length == 0 || Tensor.numel(frameShape) < 1)
      throw new ComixException("temporal median: frame shape must be non-empty, got " + Arrays.toString(frameShape));
    if (bufferFrames < 1) throw new ComixException("temporal median: bufferFrames must be >= 1");
    this.ops = ops;
    this.frameShape = frameShape.clone();
    this.n = Tensor.numel(frameShape);
    this.bufferFrames = bufferFrames;
  }

  /** Elements per frame (H*W*C). */
  public long frameElements() {
    return n;
  }

  /** Frames added so far. */
  public long frames() {
    return total;
  }

  /**
   * Sizes the frame buffer for {@code expectedFrames} frames up front (at most the buffer size),
   * so a video whose length is known is held without the doubling growth and its transient copy.
   * A wrong guess costs nothing: more frames grow the buffer as usual.
   */
  public void reserve(long expectedFrames) {
    long want = Math.min(bufferFrames, expectedFrames);
    if (want <= capacity()) return;
    Tensor grown = ops.allocate(DType.U8, want, n);
    if (buffered > 0) ops.copy(buffer.slice0(0, buffered), grown.slice0(0, buffered));
    if (buffer != null) buffer.close();
    buffer = grown;
  }

  /** Adds one frame of {@link #frameElements()} bytes. */
  public void add(byte[] frame) {
    if (frame.length != n)
      throw new ComixException("temporal median: frame has " + frame.length + " bytes, expected " + n);
    if (ops.device().isCuda()) {
      try (Tensor t = Tensor.hostOf(frame, 1, n)) {
        add(t);
      }
      return;
    }
    // host buffer: copy the frame straight into its row (no staging tensor per frame)
    checkRoomFor(1);
    ensureRoom();
    buffer.slice0(buffered, buffered + 1).data().put(frame, 0, frame.length);
    buffered++;
    total++;
  }

  private void checkRoomFor(long k) {
    if (total + k > 65535) throw new ComixException("temporal median: more than 65535 frames (use a frame limit)");
  }

  /** Adds k frames: a U8 tensor [k, ...] whose trailing elements match the frame shape (host or this device). */
  public void add(Tensor frames) {
    if (frames.dtype() != DType.U8) throw new ComixException("temporal median: frames must be U8, got " + frames.dtype());
    if (frames.rank() < 1 || frames.dim(0) == 0) return;
    long k = frames.dim(0);
    if (frames.numel() != k * n)
      throw new ComixException("temporal median: frames " + Arrays.toString(frames.shape()) + " do not match frame shape "
          + Arrays.toString(frameShape));
    checkRoomFor(k);
    Tensor rows = frames.view(k, n);
    long done = 0;
    while (done < k) {
      ensureRoom();
      long take = Math.min(k - done, capacity() - buffered);
      ops.copy(rows.slice0(done, done + take), buffer.slice0(buffered, buffered + take));
      buffered += (int) take;
      done += take;
      total += take;
    }
  }

  private long capacity() {
    return buffer == null ? 0 : buffer.dim(0);
  }

  private void ensureRoom() {
    if (buffered < capacity()) return;
    if (capacity() < bufferFrames) {
      long cap = Math.min(bufferFrames, Math.max(FIRST_CAPACITY, capacity() * 2));
      Tensor grown = ops.allocate(DType.U8, cap, n);
      if (buffered > 0) ops.copy(buffer.slice0(0, buffered), grown.slice0(0, buffered));
      if (buffer != null) buffer.close();
      buffer = grown;
      return;
    }
    flushToHistogram();
  }

  private void flushToHistogram() {
    if (buffered == 0) return;
    if (hist == null) hist = ops.zeros(DType.U16, n, 256);
    ops.medianHistogramFold(buffer.slice0(0, buffered), hist);
    buffered = 0;
  }

  /** The median so far as a tensor on the backend's device, shaped like a frame. */
  public Tensor result() {
    if (total == 0) throw new ComixException("temporal median: no frames were added");
    Tensor out = ops.allocate(DType.U8, frameShape);
    try {
      if (hist == null) {
        ops.temporalMedian(buffer.slice0(0, buffered), out.view(n));
      } else {
        flushToHistogram();
        ops.medianFromHistogram(hist, total, out.view(n));
      }
    } catch (RuntimeException e) {
      out.close();
      throw e;
    }
    return out;
  }

  /** The median so far, copied to a byte array (H*W*C, row-major). */
  public byte[] resultBytes() {
    try (Tensor r = result(); Tensor h = ops.toHost(r)) {
      return h.toBytes();
    }
  }

  /** One-shot: median of a U8 tensor [T, ...] on the backend's device (or host). */
  public static Tensor of(Ops ops, Tensor frames) {
    if (frames.rank() < 2) throw new ComixException("temporal median: frames must be [T, ...]");
    long[] s = frames.shape();
    Tensor out = ops.allocate(DType.U8, Arrays.copyOfRange(s, 1, s.length));
    try {
      ops.temporalMedian(frames, out);
    } catch (RuntimeException e) {
      out.close();
      throw e;
    }
    return out;
  }

  @Override
  public void close() {
    if (buffer != null) buffer.close();
    if (hist != null) hist.close();
    buffer = null;
    hist = null;
  }
}

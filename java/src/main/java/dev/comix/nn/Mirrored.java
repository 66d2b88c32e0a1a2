package dev.comix.nn;

import dev.comix.nn.gpu.GpuContext;
import dev.comix.runtime.DType;
import dev.comix.runtime.Tensor;

/**
 * A host F32 tensor (the master copy: state dicts, the CPU path) with a device copy made on
 * first GPU use. It tracks which side is newer: handing out the host tensor first pulls device
 * changes and then assumes the caller may write it (so the next GPU use uploads again); handing
 * out the device tensor for writing (BN running statistics) marks the host stale. {@link
 * #version} changes whenever the device contents change, so layers can cache forms derived from
 * it (a conv weight in cuDNN's channels-last order, in bf16).
 */
final class Mirrored {
  private enum State { HOST_NEWER, SYNCED, DEVICE_NEWER }

  private final Tensor host;
  private Tensor dev;
  private GpuContext ctx;
  private State state = State.HOST_NEWER;
  private long version;

  Mirrored(Tensor host) {
    this.host = host;
  }

  /** The host tensor, current; the caller may write it. */
  Tensor host() {
    pull();
    state = State.HOST_NEWER;
    return host;
  }

  private void pull() {
    if (state == State.DEVICE_NEWER) {
      ctx.ops().copy(dev, host); // synchronises the stream
      state = State.SYNCED;
    }
  }

  /** The device copy on {@code g}'s device, current (uploads when the host side changed). */
  Tensor device(GpuContext g) {
    if (dev == null || ctx != g) {
      pull();
      if (dev != null) dev.close();
      ctx = g;
      dev = g.alloc(DType.F32, host.shape());
      state = State.HOST_NEWER;
    }
    if (state == State.HOST_NEWER) {
      g.ops().copy(host, dev);
      state = State.SYNCED;
      version++;
    }
    return dev;
  }

  /** The device copy, current, which the caller will now write on the device. */
  Tensor deviceForWrite(GpuContext g) {
    Tensor d = device(g);
    state = State.DEVICE_NEWER;
    version++;
    return d;
  }

  long version() {
    return version;
  }
}

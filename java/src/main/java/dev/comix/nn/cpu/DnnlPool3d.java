package dev.comix.nn.cpu;

import static org.bytedeco.dnnl.global.dnnl.*;

import java.util.HashMap;
import java.util.Map;
import org.bytedeco.dnnl.IntMemoryMap;
import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.pooling_backward;
import org.bytedeco.dnnl.pooling_forward;
import org.bytedeco.dnnl.reorder;
import org.bytedeco.javacpp.Pointer;

/**
 * oneDNN 3-D max or average pooling over NDHWC with <b>explicit zero padding</b>: oneDNN pads
 * max-pools with −∞, while pytorch-i3d pads with zeros (F.pad) before an unpadded nn.MaxPool3d.
 * So the input is copied (a reorder into a sub-memory view) into the interior of a zeroed padded
 * buffer, the pool runs with no padding, and the backward's gradient for the padded buffer is
 * copied back out of the interior (gradients that land on padded zeros are dropped, as F.pad's
 * backward drops them). Without padding the input is pooled in place. Plans cached per shape;
 * a plan holds the padded buffers; the max-pool workspace (argmax per output) belongs to each
 * forward call, so several forwards can be backpropagated later.
 */
public final class DnnlPool3d {
  private final boolean max;
  private final long[] kernel, stride;
  private final Map<String, Plan> plans = new HashMap<>();

  public DnnlPool3d(boolean max, int[] kernel, int[] stride) {
    this.max = max;
    this.kernel = new long[] {kernel[0], kernel[1], kernel[2]};
    this.stride = new long[] {stride[0], stride[1], stride[2]};
  }

  public final class Plan {
    final boolean padded;
    final memory.desc srcMd, poolSrcMd, interiorMd, dstMd;
    final memory padBuf, diffPadBuf; // null when unused
    final pooling_forward fwd;
    final pooling_backward bwd;
    final pooling_forward.primitive_desc fwdPd;
    reorder rIn, rOut;

    Plan(long n, long c, long d, long h, long w, long[] padL, long[] padR, long[] out) {
      Dnnl dn = Dnnl.get();
      memory.data_type f32 = memory.data_type.f32;
      padded = padL[0] + padL[1] + padL[2] + padR[0] + padR[1] + padR[2] > 0;
      srcMd = new memory.desc(new long[] {n, c, d, h, w}, f32, memory.format_tag.ndhwc);
      dstMd = new memory.desc(new long[] {n, c, out[0], out[1], out[2]}, f32, memory.format_tag.ndhwc);
      if (padded) {
        poolSrcMd = new memory.desc(new long[] {n, c, d + padL[0] + padR[0], h + padL[1] + padR[1], w + padL[2] + padR[2]},
            f32, memory.format_tag.ndhwc);
        interiorMd = poolSrcMd.submemory_desc(new long[] {n, c, d, h, w}, new long[] {0, 0, padL[0], padL[1], padL[2]});
        padBuf = new memory(poolSrcMd, dn.eng);
        Pointer.memset(padBuf.get_data_handle(), 0, poolSrcMd.get_size());
        diffPadBuf = new memory(poolSrcMd, dn.eng);
      } else {
        poolSrcMd = srcMd;
        interiorMd = null;
        padBuf = diffPadBuf = null;
      }
      long[] zero = {0, 0, 0};
      algorithm alg = max ? algorithm.pooling_max : algorithm.pooling_avg_exclude_padding;
      fwdPd = new pooling_forward.primitive_desc(dn.eng, prop_kind.forward_training, alg, poolSrcMd, dstMd,
          stride, kernel, zero, zero, zero);
      pooling_backward.primitive_desc bwdPd = new pooling_backward.primitive_desc(dn.eng, alg, poolSrcMd, dstMd,
          stride, kernel, zero, zero, zero, fwdPd);
      fwd = new pooling_forward(fwdPd);
      bwd = new pooling_backward(bwdPd);
    }

    public String implementation() {
      return fwdPd.impl_info_str().getString();
    }
  }

  /** padL / padR: explicit zero padding per (D, H, W); out: output (D, H, W). */
  public Plan plan(long n, long c, long d, long h, long w, long[] padL, long[] padR, long[] out) {
    String key = n + "x" + c + "x" + d + "x" + h + "x" + w;
    return plans.computeIfAbsent(key, k -> new Plan(n, c, d, h, w, padL, padR, out));
  }

  /** A fresh workspace for one max-pool forward (null for average pooling); the caller closes it. */
  public memory workspace(Plan p) {
    return max ? new memory(p.fwdPd.workspace_desc(), Dnnl.get().eng) : null;
  }

  public void forward(Plan p, Pointer src, Pointer dst, memory workspace) {
    Dnnl dn = Dnnl.get();
    try (memory s = new memory(p.srcMd, dn.eng, src); memory d = new memory(p.dstMd, dn.eng, dst);
        memory inner = p.padded ? new memory(p.interiorMd, dn.eng, p.padBuf.get_data_handle()) : null;
        IntMemoryMap args = new IntMemoryMap()) {
      memory poolSrc = s;
      if (p.padded) {
        if (p.rIn == null) p.rIn = new reorder(s, inner);
        p.rIn.execute(dn.strm, s, inner);
        poolSrc = p.padBuf;
      }
      args.put(DNNL_ARG_SRC, poolSrc).put(DNNL_ARG_DST, d);
      if (workspace != null) args.put(DNNL_ARG_WORKSPACE, workspace);
      p.fwd.execute(dn.strm, args);
      dn.strm._wait();
    }
  }

  /** Overwrites diffSrc (shape of the unpadded input). */
  public void backward(Plan p, Pointer diffDst, Pointer diffSrc, memory workspace) {
    Dnnl dn = Dnnl.get();
    try (memory dd = new memory(p.dstMd, dn.eng, diffDst); memory ds = new memory(p.srcMd, dn.eng, diffSrc);
        memory inner = p.padded ? new memory(p.interiorMd, dn.eng, p.diffPadBuf.get_data_handle()) : null;
        IntMemoryMap args = new IntMemoryMap()) {
      args.put(DNNL_ARG_DIFF_DST, dd).put(DNNL_ARG_DIFF_SRC, p.padded ? p.diffPadBuf : ds);
      if (workspace != null) args.put(DNNL_ARG_WORKSPACE, workspace);
      p.bwd.execute(dn.strm, args);
      if (p.padded) {
        if (p.rOut == null) p.rOut = new reorder(inner, ds);
        p.rOut.execute(dn.strm, inner, ds);
      }
      dn.strm._wait();
    }
  }
}

package dev.comix.nn.cpu;

import static org.bytedeco.dnnl.global.dnnl.*;

import java.util.HashMap;
import java.util.Map;
import org.bytedeco.dnnl.IntMemoryMap;
import org.bytedeco.dnnl.convolution_backward_data;
import org.bytedeco.dnnl.convolution_backward_weights;
import org.bytedeco.dnnl.convolution_forward;
import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.reorder;
import org.bytedeco.javacpp.Pointer;

/**
 * oneDNN glue for a 3-D convolution with explicit (asymmetric) padding. Activations are NDHWC
 * (channels-last) in the caller's buffers; the weights layout is left to oneDNN
 * ({@code format_tag.any}) and the PyTorch-order weights (oidhw) are reordered into it once per
 * forward and reused by the backward-data pass when that pass wants the same layout. Primitive
 * descriptors and primitives are cached per input shape.
 */
public final class DnnlConv3d {
  private final int cin, cout;
  private final long[] kernel, stride;
  private final boolean bias;
  private final Map<String, Plan> plans = new HashMap<>();

  public DnnlConv3d(int cin, int cout, int[] kernel, int[] stride, boolean bias) {
    this.cin = cin;
    this.cout = cout;
    this.kernel = new long[] {kernel[0], kernel[1], kernel[2]};
    this.stride = new long[] {stride[0], stride[1], stride[2]};
    this.bias = bias;
  }

  /** Everything for one input shape. */
  public final class Plan {
    final convolution_forward.primitive_desc fwdPd;
    final convolution_forward fwd;
    final convolution_backward_data.primitive_desc bwdDataPd;
    final convolution_backward_data bwdData;
    final convolution_backward_weights.primitive_desc bwdWPd;
    final convolution_backward_weights bwdW;
    final memory.desc srcMd, dstMd, userWMd, biasMd;
    final memory wFwd; // weights in the forward layout (null: user layout is used directly)
    final memory wBwd; // weights in the backward-data layout (null: same as wFwd or user)
    final boolean bwdSharesFwd;
    final memory dwInternal; // diff weights in oneDNN's layout (null: user layout)
    reorder rFwd, rBwd, rDw; // made on first use, reused with fresh memory objects of the same descs

    Plan(long n, long d, long h, long w, long od, long oh, long ow, long[] padL, long[] padR) {
      Dnnl dn = Dnnl.get();
      memory.data_type f32 = memory.data_type.f32;
      srcMd = new memory.desc(new long[] {n, cin, d, h, w}, f32, memory.format_tag.ndhwc);
      dstMd = new memory.desc(new long[] {n, cout, od, oh, ow}, f32, memory.format_tag.ndhwc);
      userWMd = new memory.desc(new long[] {cout, cin, kernel[0], kernel[1], kernel[2]}, f32, memory.format_tag.oidhw);
      memory.desc anyW = new memory.desc(new long[] {cout, cin, kernel[0], kernel[1], kernel[2]}, f32, memory.format_tag.any);
      biasMd = new memory.desc(new long[] {cout}, f32, memory.format_tag.x);
      if (bias) {
        fwdPd = new convolution_forward.primitive_desc(dn.eng, prop_kind.forward_training, algorithm.convolution_direct,
            srcMd, anyW, biasMd, dstMd, stride, padL, padR);
        bwdWPd = new convolution_backward_weights.primitive_desc(dn.eng, algorithm.convolution_direct,
            srcMd, anyW, biasMd, dstMd, stride, padL, padR, fwdPd);
      } else {
        fwdPd = new convolution_forward.primitive_desc(dn.eng, prop_kind.forward_training, algorithm.convolution_direct,
            srcMd, anyW, dstMd, stride, padL, padR);
        bwdWPd = new convolution_backward_weights.primitive_desc(dn.eng, algorithm.convolution_direct,
            srcMd, anyW, dstMd, stride, padL, padR, fwdPd);
      }
      bwdDataPd = new convolution_backward_data.primitive_desc(dn.eng, algorithm.convolution_direct,
          srcMd, anyW, dstMd, stride, padL, padR, fwdPd);
      fwd = new convolution_forward(fwdPd);
      bwdData = new convolution_backward_data(bwdDataPd);
      bwdW = new convolution_backward_weights(bwdWPd);
      memory.desc fw = fwdPd.weights_desc();
      wFwd = fw.equals(userWMd) ? null : new memory(fw, dn.eng);
      memory.desc bw = bwdDataPd.weights_desc();
      bwdSharesFwd = bw.equals(fw);
      wBwd = bwdSharesFwd || bw.equals(userWMd) ? null : new memory(bw, dn.eng);
      memory.desc dw = bwdWPd.diff_weights_desc();
      dwInternal = dw.equals(userWMd) ? null : new memory(dw, dn.eng);
    }

    /** The implementation names oneDNN chose (fwd, bwd-data, bwd-weights). */
    public String implementations() {
      return fwdPd.impl_info_str().getString() + ", " + bwdDataPd.impl_info_str().getString() + ", "
          + bwdWPd.impl_info_str().getString();
    }
  }

  public Plan plan(long n, long d, long h, long w, long od, long oh, long ow, long[] padL, long[] padR) {
    String key = n + "x" + d + "x" + h + "x" + w;
    return plans.computeIfAbsent(key, k -> new Plan(n, d, h, w, od, oh, ow, padL, padR));
  }

  /** dst = conv(src, weights) (+ bias). Pointers are host addresses of NDHWC / oidhw / [Cout] buffers. */
  public void forward(Plan p, Pointer src, Pointer userW, Pointer biasPtr, Pointer dst) {
    Dnnl dn = Dnnl.get();
    try (memory srcM = new memory(p.srcMd, dn.eng, src);
        memory uw = new memory(p.userWMd, dn.eng, userW);
        memory dstM = new memory(p.dstMd, dn.eng, dst);
        memory bM = bias ? new memory(p.biasMd, dn.eng, biasPtr) : null;
        IntMemoryMap args = new IntMemoryMap()) {
      memory wM = uw;
      if (p.wFwd != null) {
        if (p.rFwd == null) p.rFwd = new reorder(uw, p.wFwd);
        p.rFwd.execute(dn.strm, uw, p.wFwd);
        wM = p.wFwd;
      }
      args.put(DNNL_ARG_SRC, srcM).put(DNNL_ARG_WEIGHTS, wM).put(DNNL_ARG_DST, dstM);
      if (bias) args.put(DNNL_ARG_BIAS, bM);
      p.fwd.execute(dn.strm, args);
      dn.strm._wait();
    }
  }

  /** diffSrc = conv_backward_data(diffDst, weights); overwrites diffSrc. */
  public void backwardData(Plan p, Pointer diffDst, Pointer userW, Pointer diffSrc) {
    Dnnl dn = Dnnl.get();
    try (memory dd = new memory(p.dstMd, dn.eng, diffDst);
        memory uw = new memory(p.userWMd, dn.eng, userW);
        memory ds = new memory(p.srcMd, dn.eng, diffSrc);
        IntMemoryMap args = new IntMemoryMap()) {
      memory wM;
      if (p.bwdSharesFwd) {
        // the forward of this step already reordered these weights (or uses them as they are)
        wM = p.wFwd != null ? p.wFwd : uw;
      } else if (p.wBwd != null) {
        if (p.rBwd == null) p.rBwd = new reorder(uw, p.wBwd);
        p.rBwd.execute(dn.strm, uw, p.wBwd);
        wM = p.wBwd;
      } else {
        wM = uw;
      }
      args.put(DNNL_ARG_DIFF_DST, dd).put(DNNL_ARG_WEIGHTS, wM).put(DNNL_ARG_DIFF_SRC, ds);
      p.bwdData.execute(dn.strm, args);
      dn.strm._wait();
    }
  }

  /** Writes dW (oidhw) and dBias (when the conv has one) into the given buffers (overwrites). */
  public void backwardWeights(Plan p, Pointer src, Pointer diffDst, Pointer diffW, Pointer diffBias) {
    Dnnl dn = Dnnl.get();
    try (memory s = new memory(p.srcMd, dn.eng, src);
        memory dd = new memory(p.dstMd, dn.eng, diffDst);
        memory uw = new memory(p.userWMd, dn.eng, diffW);
        memory db = bias ? new memory(p.biasMd, dn.eng, diffBias) : null;
        IntMemoryMap args = new IntMemoryMap()) {
      memory dw = p.dwInternal != null ? p.dwInternal : uw;
      args.put(DNNL_ARG_SRC, s).put(DNNL_ARG_DIFF_DST, dd).put(DNNL_ARG_DIFF_WEIGHTS, dw);
      if (bias) args.put(DNNL_ARG_DIFF_BIAS, db);
      p.bwdW.execute(dn.strm, args);
      if (p.dwInternal != null) {
        if (p.rDw == null) p.rDw = new reorder(p.dwInternal, uw);
        p.rDw.execute(dn.strm, p.dwInternal, uw);
      }
      dn.strm._wait();
    }
  }
}

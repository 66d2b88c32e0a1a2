package dev.comix.nn.cpu;

import static org.bytedeco.dnnl.global.dnnl.*;

import java.util.HashMap;
import java.util.Map;
import org.bytedeco.dnnl.IntMemoryMap;
import org.bytedeco.dnnl.batch_normalization_backward;
import org.bytedeco.dnnl.batch_normalization_forward;
import org.bytedeco.dnnl.memory;
import org.bytedeco.javacpp.Pointer;

/**
 * oneDNN batch normalisation over NDHWC with scale and shift. Training: the forward writes the
 * batch mean and (biased) variance, which the backward takes back; eval: use_global_stats with the
 * running statistics. The running update is the caller's (PyTorch's momentum and unbiased
 * variance are not oneDNN's business). Primitives cached per (shape, training).
 */
public final class DnnlBatchNorm {
  private final int channels;
  private final float eps;
  private final Map<String, Plan> plans = new HashMap<>();

  public DnnlBatchNorm(int channels, double eps) {
    this.channels = channels;
    this.eps = (float) eps;
  }

  public final class Plan {
    final memory.desc dataMd, statMd;
    final batch_normalization_forward fwd;
    final batch_normalization_backward bwd;
    final batch_normalization_forward.primitive_desc fwdPd;

    Plan(long n, long d, long h, long w, boolean training) {
      Dnnl dn = Dnnl.get();
      dataMd = new memory.desc(new long[] {n, channels, d, h, w}, memory.data_type.f32, memory.format_tag.ndhwc);
      statMd = new memory.desc(new long[] {channels}, memory.data_type.f32, memory.format_tag.x);
      int flags = normalization_flags.use_scale.value | normalization_flags.use_shift.value;
      if (!training) flags |= normalization_flags.use_global_stats.value;
      int prop = training ? prop_kind.forward_training.value : prop_kind.forward_inference.value;
      fwdPd = new batch_normalization_forward.primitive_desc(dn.eng, prop, dataMd, dataMd, eps, flags);
      batch_normalization_backward.primitive_desc bwdPd = new batch_normalization_backward.primitive_desc(
          dn.eng, prop_kind.backward.value, dataMd, dataMd, dataMd, eps, flags, fwdPd);
      fwd = new batch_normalization_forward(fwdPd);
      bwd = new batch_normalization_backward(bwdPd);
    }

    public String implementation() {
      return fwdPd.impl_info_str().getString();
    }
  }

  public Plan plan(long n, long d, long h, long w, boolean training) {
    return plans.computeIfAbsent(n + "x" + d + "x" + h + "x" + w + (training ? "t" : "e"),
        k -> new Plan(n, d, h, w, training));
  }

  /** Training: writes mean and variance; eval: reads them (the running statistics). */
  public void forward(Plan p, Pointer src, Pointer dst, Pointer mean, Pointer variance, Pointer scale, Pointer shift) {
    Dnnl dn = Dnnl.get();
    try (memory s = new memory(p.dataMd, dn.eng, src);
        memory d = new memory(p.dataMd, dn.eng, dst);
        memory m = new memory(p.statMd, dn.eng, mean);
        memory v = new memory(p.statMd, dn.eng, variance);
        memory sc = new memory(p.statMd, dn.eng, scale);
        memory sh = new memory(p.statMd, dn.eng, shift);
        IntMemoryMap args = new IntMemoryMap()) {
      args.put(DNNL_ARG_SRC, s).put(DNNL_ARG_DST, d).put(DNNL_ARG_MEAN, m).put(DNNL_ARG_VARIANCE, v)
          .put(DNNL_ARG_SCALE, sc).put(DNNL_ARG_SHIFT, sh);
      p.fwd.execute(dn.strm, args);
      dn.strm._wait();
    }
  }

  /** Overwrites diffSrc, diffScale and diffShift. */
  public void backward(Plan p, Pointer src, Pointer diffDst, Pointer mean, Pointer variance, Pointer scale,
      Pointer diffSrc, Pointer diffScale, Pointer diffShift) {
    Dnnl dn = Dnnl.get();
    try (memory s = new memory(p.dataMd, dn.eng, src);
        memory dd = new memory(p.dataMd, dn.eng, diffDst);
        memory ds = new memory(p.dataMd, dn.eng, diffSrc);
        memory m = new memory(p.statMd, dn.eng, mean);
        memory v = new memory(p.statMd, dn.eng, variance);
        memory sc = new memory(p.statMd, dn.eng, scale);
        memory dsc = new memory(p.statMd, dn.eng, diffScale);
        memory dsh = new memory(p.statMd, dn.eng, diffShift);
        IntMemoryMap args = new IntMemoryMap()) {
      args.put(DNNL_ARG_SRC, s).put(DNNL_ARG_DIFF_DST, dd).put(DNNL_ARG_MEAN, m).put(DNNL_ARG_VARIANCE, v)
          .put(DNNL_ARG_SCALE, sc).put(DNNL_ARG_DIFF_SRC, ds).put(DNNL_ARG_DIFF_SCALE, dsc)
          .put(DNNL_ARG_DIFF_SHIFT, dsh);
      p.bwd.execute(dn.strm, args);
      dn.strm._wait();
    }
  }
}

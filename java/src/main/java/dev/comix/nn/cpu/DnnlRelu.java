package dev.comix.nn.cpu;

import static org.bytedeco.dnnl.global.dnnl.*;

import java.util.HashMap;
import java.util.Map;
import org.bytedeco.dnnl.IntMemoryMap;
import org.bytedeco.dnnl.eltwise_backward;
import org.bytedeco.dnnl.eltwise_forward;
import org.bytedeco.dnnl.memory;
import org.bytedeco.javacpp.Pointer;

/**
 * oneDNN ReLU over a flat buffer (element-wise, so the layout does not matter). The backward takes
 * the forward's input: gradient where x &gt; 0 (the same set as PyTorch's y &gt; 0).
 */
public final class DnnlRelu {
  private final Map<Long, Plan> plans = new HashMap<>();

  public static final class Plan {
    final memory.desc md;
    final eltwise_forward fwd;
    final eltwise_backward bwd;

    Plan(long n) {
      Dnnl dn = Dnnl.get();
      md = new memory.desc(new long[] {n}, memory.data_type.f32, memory.format_tag.a);
      eltwise_forward.primitive_desc f = new eltwise_forward.primitive_desc(dn.eng, prop_kind.forward_training,
          algorithm.eltwise_relu, md, md, 0f, 0f);
      eltwise_backward.primitive_desc b = new eltwise_backward.primitive_desc(dn.eng,
          algorithm.eltwise_relu, md, md, md, 0f, 0f, f);
      fwd = new eltwise_forward(f);
      bwd = new eltwise_backward(b);
    }
  }

  public Plan plan(long n) {
    return plans.computeIfAbsent(n, Plan::new);
  }

  public void forward(Plan p, Pointer src, Pointer dst) {
    Dnnl dn = Dnnl.get();
    try (memory s = new memory(p.md, dn.eng, src); memory d = new memory(p.md, dn.eng, dst);
        IntMemoryMap args = new IntMemoryMap()) {
      args.put(DNNL_ARG_SRC, s).put(DNNL_ARG_DST, d);
      p.fwd.execute(dn.strm, args);
      dn.strm._wait();
    }
  }

  /** diffSrc = src &gt; 0 ? diffDst : 0. */
  public void backward(Plan p, Pointer src, Pointer diffDst, Pointer diffSrc) {
    Dnnl dn = Dnnl.get();
    try (memory d = new memory(p.md, dn.eng, src); memory dd = new memory(p.md, dn.eng, diffDst);
        memory ds = new memory(p.md, dn.eng, diffSrc); IntMemoryMap args = new IntMemoryMap()) {
      args.put(DNNL_ARG_SRC, d).put(DNNL_ARG_DIFF_DST, dd).put(DNNL_ARG_DIFF_SRC, ds);
      p.bwd.execute(dn.strm, args);
      dn.strm._wait();
    }
  }
}

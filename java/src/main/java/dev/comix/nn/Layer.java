package dev.comix.nn;

import dev.comix.runtime.Tensor;
import java.util.List;

/**
 * A layer with an explicit forward and backward. {@link #forward} saves what {@link #backward}
 * needs; {@link #backward} takes dL/d(output) and returns a new
 * tensor dL/d(input), accumulating parameter gradients into {@link Param#grad}.
 *
 * <p>Saved state is a stack ({@code Saved}): each training forward pushes, each backward pops
 * the latest, so several forwards (CoMix's four I3D calls per iteration) can be backpropagated in
 * reverse order; an eval forward keeps only itself.
 *
 * <p>Layout: 5-D activations are host F32 tensors in <b>NDHWC</b> (channels-last: [N, D, H, W, C]),
 * the layout oneDNN's fast 3-D kernels want; 2-D activations (Linear) are [N, features]. Weights
 * keep PyTorch's order. Returned tensors are owned by the caller; a layer does not close its input.
 */
public interface Layer {
  Tensor forward(Tensor x, boolean training);

  Tensor backward(Tensor gradOut);

  default List<Param> params() {
    return List.of();
  }

  /** Drops every context saved by forwards that were not backpropagated (e.g. after an aborted step). */
  default void clearSaved() {}
}

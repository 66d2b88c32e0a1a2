package dev.comix.nn;

import dev.comix.runtime.Tensor;
import java.util.List;

/**
 * A layer with an explicit forward and backward. {@link #forward} saves what {@link #backward}
 * needs (the last call's activations only); {@link #backward} takes dL/d(output) and returns a new
 * tensor dL/d(input), accumulating parameter gradients into {@link Param#grad}.
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
}

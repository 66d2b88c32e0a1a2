package dev.comix.nn;

import dev.comix.runtime.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * Layers run in order. Intermediate activations and gradients are closed as soon as the next
 * layer has consumed them; a layer that needs its input for the backward retains it
 * ({@link dev.comix.runtime.Tensor#retain}) and closes it after the backward, so memory is given
 * back deterministically (this is what keeps GPU memory bounded).
 */
public class Sequential implements Layer {
  private final List<Layer> layers;

  public Sequential(List<Layer> layers) {
    this.layers = List.copyOf(layers);
  }

  public List<Layer> layers() {
    return layers;
  }

  @Override
  public Tensor forward(Tensor x, boolean training) {
    Tensor h = x;
    for (Layer l : layers) {
      Tensor next = l.forward(h, training);
      if (h != x) h.close(); // layers that need it for the backward retained it
      h = next;
    }
    return h;
  }

  @Override
  public Tensor backward(Tensor gradOut) {
    Tensor g = gradOut;
    for (int i = layers.size() - 1; i >= 0; i--) {
      Tensor next = layers.get(i).backward(g);
      if (g != gradOut) g.close();
      g = next;
    }
    return g;
  }

  @Override
  public void clearSaved() {
    for (Layer l : layers) l.clearSaved();
  }

  @Override
  public List<Param> params() {
    List<Param> all = new ArrayList<>();
    for (Layer l : layers) all.addAll(l.params());
    return all;
  }
}

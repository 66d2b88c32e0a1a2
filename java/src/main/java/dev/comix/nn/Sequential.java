package dev.comix.nn;

import dev.comix.runtime.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * Layers run in order; intermediate activations are kept by the layers that saved them and
 * released when the next forward replaces them (they are not closed explicitly).
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
    for (Layer l : layers) h = l.forward(h, training);
    return h;
  }

  @Override
  public Tensor backward(Tensor gradOut) {
    Tensor g = gradOut;
    for (int i = layers.size() - 1; i >= 0; i--) g = layers.get(i).backward(g);
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

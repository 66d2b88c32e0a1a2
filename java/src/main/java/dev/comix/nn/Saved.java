package dev.comix.nn;

import java.util.ArrayDeque;
import java.util.function.Consumer;

/**
 * What a layer's forwards saved for their backwards, as a stack: CoMix runs I3D four times per
 * iteration (source, target and their mixes, each with its own BN statistics) and backpropagates
 * once, so every training forward pushes a context and every backward pops the latest one (LIFO:
 * backpropagate the calls in reverse order). An eval-mode forward first drops all contexts and
 * keeps only its own, so inference loops do not grow memory.
 */
final class Saved<T> {
  private final ArrayDeque<T> stack = new ArrayDeque<>();
  private final Consumer<T> release;

  Saved(Consumer<T> release) {
    this.release = release;
  }

  Saved() {
    this(t -> {});
  }

  void push(T ctx, boolean training) {
    if (!training) clear();
    stack.push(ctx);
  }

  /** The latest context; the caller releases it (see {@link #release}). */
  T pop(String who) {
    T t = stack.poll();
    if (t == null) throw new IllegalStateException(who + ".backward without a saved forward");
    return t;
  }

  void release(T t) {
    release.accept(t);
  }

  int size() {
    return stack.size();
  }

  void clear() {
    while (!stack.isEmpty()) release.accept(stack.pop());
  }
}

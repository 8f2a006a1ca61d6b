package ai.bakery.model.recompute;

import ai.bakery.model.tensor.ScalarTypes;
import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Activation recompute ({@code gradient_checkpointing: true}) without custom autograd functions, which DJL
 * lacks. The forward runs each segment with autograd off in a scratch manager that is closed right after, so
 * only the segment inputs survive; the chain's output is handed on as a fresh leaf. After the ordinary
 * {@code backward(loss)} (which stops at that leaf), {@link #backward} walks the segments from the last:
 * re-run the segment with autograd on from its saved input (detached, requiring grad), backpropagate
 * {@code sum(output * gradOut)}, and pass the input's gradient to the segment before. Finally the gradient of
 * the chain's input is pushed into the graph that produced it. Parameter gradients accumulate as in one
 * backward pass; peak memory holds one segment's graph plus the saved inputs.
 *
 * <p>One instance serves one training step: run the forward through it (possibly several chains, e.g. ViT
 * then LLM), call {@code gc.backward(loss)}, then {@link #backward(GradientCollector)} inside the same
 * collector. Segments must be deterministic functions of their input and the parameters.
 *
 * <p>A {@link SegmentListener} hears each segment start and end, in the forward and in backward (a sharded run
 * gathers a segment's weights only around those).
 */
public final class SegmentedBackward implements SegmentRunner {
  private final List<Chain> chains = new ArrayList<>();
  private final SegmentListener listener;
  private int started;

  /** One checkpointed chain: its segments, each segment's saved input, and the leaf standing for its output. */
  private record Chain(int ordinal, List<UnaryOperator<NDArray>> segments, List<NDArray> inputs, NDArray output) {}

  public SegmentedBackward() {
    this(SegmentListener.NONE);
  }

  public SegmentedBackward(SegmentListener listener) {
    this.listener = java.util.Objects.requireNonNull(listener);
  }

  @Override
  public NDArray run(List<UnaryOperator<NDArray>> segments, NDArray x) {
    if (segments.isEmpty()) {
      return x;
    }
    int ordinal = started++;
    listener.chainStarted(ordinal, segments.size());
    if (!GradMode.is_enabled()) {
      return announced(ordinal, segments, x); // evaluation: nothing to recompute
    }
    NDManager outer = x.getManager();
    List<NDArray> inputs = new ArrayList<>(segments.size());
    NDArray h = x;
    try (NoGradGuard noGrad = new NoGradGuard()) {
      for (int i = 0; i < segments.size(); i++) {
        inputs.add(h);
        listener.beforeSegment(ordinal, i, false);
        try (NDManager scratch = outer.newSubManager()) {
          NDArray in = detached(h, scratch, false);
          NDArray out = segments.get(i).apply(in);
          out.attach(outer);
          h = out;
        }
        listener.afterSegment(ordinal, i, false);
      }
    }
    requireGrad(h);
    chains.add(new Chain(ordinal, List.copyOf(segments), inputs, h));
    return h;
  }

  /** Plain execution with each segment announced to the listener. */
  private NDArray announced(int ordinal, List<UnaryOperator<NDArray>> segments, NDArray x) {
    NDArray h = x;
    for (int i = 0; i < segments.size(); i++) {
      listener.beforeSegment(ordinal, i, false);
      h = segments.get(i).apply(h);
      listener.afterSegment(ordinal, i, false);
    }
    return h;
  }

  /** Backpropagates through every chain run since the last call, latest first. Call after backward(loss). */
  public void backward(GradientCollector gc) {
    try {
      for (int c = chains.size() - 1; c >= 0; c--) {
        backward(chains.get(c), gc);
      }
    } finally {
      chains.clear();
      started = 0;
    }
  }

  /**
   * Forgets the chains run since the last backward without back-propagating through them (a micro-batch whose
   * loss was empty: its managers are closed, so its saved inputs are gone with them).
   */
  public void discard() {
    chains.clear();
    started = 0;
  }

  /** How many chains wait for {@link #backward}. */
  public int pending() {
    return chains.size();
  }

  private void backward(Chain chain, GradientCollector gc) {
    NDManager outer = chain.output().getManager();
    NDArray grad = gradientOf(chain.output(), outer);
    if (grad == null) {
      return; // the loss does not depend on this chain
    }
    for (int i = chain.segments().size() - 1; i >= 0; i--) {
      NDArray saved = chain.inputs().get(i);
      listener.beforeSegment(chain.ordinal(), i, true);
      try (NDManager scratch = outer.newSubManager()) {
        NDArray in = detached(saved, scratch, true);
        NDArray out = chain.segments().get(i).apply(in);
        gc.backward(dot(out, grad));
        NDArray inGrad = gradientOf(in, outer);
        grad.close();
        grad = inGrad;
      }
      listener.afterSegment(chain.ordinal(), i, true);
      if (i > 0) {
        saved.close(); // saved inputs past the first are ours
      }
      if (grad == null) {
        return;
      }
    }
    NDArray first = chain.inputs().get(0);
    if (Torch.view(first).requires_grad()) { // a graph (or a leaf) before the chain wants the gradient
      gc.backward(dot(first, grad));
    }
    grad.close();
  }

  /**
   * x's data without its history, on {@code target}, optionally as a fresh leaf requiring grad. Through
   * libtorch rather than DJL, whose detach/requires-grad calls abort the JVM on bf16 arrays.
   */
  private static NDArray detached(NDArray x, NDManager target, boolean requiresGrad) {
    try (PointerScope scope = new PointerScope()) {
      Tensor d = Torch.view(x).detach();
      if (requiresGrad) {
        d.requires_grad_(true);
      }
      return Torch.adopt(d, target);
    }
  }

  /**
   * sum(x * grad) as an fp32 scalar on x's manager: its backward hands x exactly {@code grad}. Built in
   * libtorch because DJL's backward seeds with ones of the target's dtype, which it cannot make for bf16.
   */
  private static NDArray dot(NDArray x, NDArray grad) {
    try (PointerScope scope = new PointerScope()) {
      Tensor t = Torch.view(x);
      Tensor g = Torch.view(grad).to(ScalarTypes.of(t));
      return Torch.adopt(t.mul(g).sum(new ScalarTypeOptional(ScalarType.Float)), x.getManager());
    }
  }

  private static void requireGrad(NDArray x) {
    Torch.view(x).requires_grad_(true);
  }

  /** A copy of x's accumulated gradient on {@code target}, or null when none arrived. */
  private static NDArray gradientOf(NDArray x, NDManager target) {
    try (PointerScope scope = new PointerScope()) {
      Tensor g = Torch.view(x).grad();
      if (!g.defined()) {
        return null;
      }
      return Torch.adopt(g.detach().clone(), target);
    }
  }
}

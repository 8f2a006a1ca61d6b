package ai.bakery.model.recompute;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.bakery.model.nn.Init;
import ai.bakery.model.nn.Linear;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.bytedeco.pytorch.NoGradGuard;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The listener hears every segment in the forward and in backward, in the order a sharded run relies on. */
class SegmentListenerTest {
  @BeforeAll
  static void start() {
    Torch.init();
  }

  private static final class Recorder implements SegmentListener {
    final List<String> events = new ArrayList<>();

    @Override
    public void chainStarted(int chain, int segments) {
      events.add("chain " + chain + " of " + segments);
    }

    @Override
    public void beforeSegment(int chain, int index, boolean recompute) {
      events.add((recompute ? "back " : "fwd ") + chain + "." + index);
    }

    @Override
    public void afterSegment(int chain, int index, boolean recompute) {
      events.add((recompute ? "back-done " : "fwd-done ") + chain + "." + index);
    }
  }

  @Test
  void announcesForwardAndBackwardOfEverySegmentInOrder() {
    try (NDManager root = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(root)) {
      Init init = Init.seeded(4);
      List<Linear> a = List.of(new Linear(store, "a0", 6, 6, true, init), new Linear(store, "a1", 6, 6, true, init));
      Linear b = new Linear(store, "b0", 6, 6, true, init);
      Recorder rec = new Recorder();
      SegmentedBackward sb = new SegmentedBackward(rec);
      float[] gradPlain;
      float[] gradRecompute;
      try (NDManager step = root.newSubManager(); GradientCollector gc = Torch.init().newGradientCollector()) {
        NDArray x = input(step);
        NDArray h = SegmentRunner.PLAIN.run(segments(a), x);
        h = SegmentRunner.PLAIN.run(List.of(b::forward), h.tanh());
        gc.backward(h.square().sum());
        gradPlain = Torch.adopt(Torch.view(store.get("a0.weight").value()).grad().clone(), step).toFloatArray();
      }
      clearGrads(store);
      try (NDManager step = root.newSubManager(); GradientCollector gc = Torch.init().newGradientCollector()) {
        NDArray x = input(step);
        NDArray h = sb.run(segments(a), x);
        h = sb.run(List.of(b::forward), h.tanh());
        gc.backward(h.square().sum());
        sb.backward(gc);
        gradRecompute = Torch.adopt(Torch.view(store.get("a0.weight").value()).grad().clone(), step).toFloatArray();
      }
      assertEquals(List.of("chain 0 of 2", "fwd 0.0", "fwd-done 0.0", "fwd 0.1", "fwd-done 0.1",
          "chain 1 of 1", "fwd 1.0", "fwd-done 1.0",
          "back 1.0", "back-done 1.0", "back 0.1", "back-done 0.1", "back 0.0", "back-done 0.0"), rec.events);
      assertEquals(0, sb.pending());

      // evaluation: no autograd, segments still announced (a sharded run must gather for them), nothing pending
      rec.events.clear();
      try (NDManager step = root.newSubManager(); NoGradGuard noGrad = new NoGradGuard()) {
        sb.run(segments(a), step.randomNormal(new Shape(2, 6)));
      }
      assertEquals(List.of("chain 0 of 2", "fwd 0.0", "fwd-done 0.0", "fwd 0.1", "fwd-done 0.1"), rec.events);
      assertEquals(0, sb.pending());
      assertArrayEquals(gradPlain, gradRecompute, 1e-6f, "recompute with a listener gives the plain gradient");
    }
  }

  private static NDArray input(NDManager m) {
    float[] v = new float[18];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) Math.sin(i * 0.7);
    }
    return m.create(v, new Shape(3, 6));
  }

  private static List<UnaryOperator<NDArray>> segments(List<Linear> layers) {
    List<UnaryOperator<NDArray>> out = new ArrayList<>();
    for (Linear l : layers) {
      out.add(h -> l.forward(h).tanh());
    }
    return out;
  }

  private static void clearGrads(ParameterStore store) {
    try (org.bytedeco.javacpp.PointerScope scope = new org.bytedeco.javacpp.PointerScope()) {
      for (var p : store.all().values()) {
        Torch.view(p.value()).mutable_grad().put(new org.bytedeco.pytorch.Tensor());
      }
    }
  }
}

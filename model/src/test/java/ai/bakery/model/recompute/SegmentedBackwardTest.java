package ai.bakery.model.recompute;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.model.attention.AttnMode;
import ai.bakery.model.attention.PackLayout;
import ai.bakery.model.attention.SdpaAttention;
import ai.bakery.model.bench.PeakMemory;
import ai.bakery.model.config.LayerModule;
import ai.bakery.model.config.LlmConfig;
import ai.bakery.model.llm.DecoderLayer;
import ai.bakery.model.llm.PackContext;
import ai.bakery.model.llm.TokenRouting;
import ai.bakery.model.nn.Init;
import ai.bakery.model.nn.Linear;
import ai.bakery.model.nn.Rope;
import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class SegmentedBackwardTest {
  @BeforeAll
  static void start() {
    Torch.init();
  }

  /** A pre-projection, a stack of MoT decoder layers over a mixed pack, and a weighted-sum loss. */
  static final class Stack implements AutoCloseable {
    final NDManager root = NDManager.newBaseManager();
    final ParameterStore store = new ParameterStore(root);
    final Linear pre;
    final List<DecoderLayer> layers = new ArrayList<>();
    final int tokens;
    final int hidden;
    final PackLayout layout;

    Stack(int hidden, int inter, int nLayers, int tokens) {
      this.tokens = tokens;
      this.hidden = hidden;
      LlmConfig cfg = new LlmConfig(hidden, inter, nLayers, 4, 2, 1e-6, 10000.0, 64, 4096, false, "silu", 0.02, true,
          LayerModule.QWEN2_MOT, false);
      Init init = Init.seeded(3);
      pre = new Linear(store, "pre", hidden, hidden, true, init);
      for (int i = 0; i < nLayers; i++) {
        layers.add(DecoderLayer.create(store, "layers." + i, cfg, init, Precision.FP32));
      }
      int q = tokens / 4;
      // Sample 1: text, ViT, noised VAE; sample 2: text then noised VAE.
      layout = new PackLayout(new int[] {2 * q, tokens - 2 * q}, new int[] {q / 2, q / 2, q, q / 2, tokens - 2 * q - q / 2},
          new AttnMode[] {AttnMode.CAUSAL, AttnMode.FULL, AttnMode.NOISE, AttnMode.CAUSAL, AttnMode.NOISE});
    }

    /** Gradients of every parameter and of the input after one step run by {@code runner}. */
    Map<String, float[]> step(SegmentRunner runner) {
      for (Parameter p : store.all().values()) {
        org.bytedeco.pytorch.Tensor g = Torch.view(p.value()).grad();
        if (g.defined()) {
          g.zero_(); // parameter gradients accumulate across steps
        }
      }
      try (NDManager step = root.newSubManager()) {
        step.getEngine().setRandomSeed(9);
        NDArray input = step.randomNormal(new Shape(tokens, hidden));
        NDArray weights = step.randomNormal(new Shape(tokens, hidden));
        input.setRequiresGradient(true);
        int q = tokens / 4;
        int[] und = IntStream.range(0, q).toArray();
        int[] gen = IntStream.range(q, tokens).toArray();
        TokenRouting routing = TokenRouting.of(tokens, und, gen, step);
        NDArray positions = step.arange(0, tokens);
        PackContext ctx = new PackContext(routing, new Rope(hidden / 4, 10000.0).table(positions), layout,
            new SdpaAttention());
        List<UnaryOperator<NDArray>> segments = new ArrayList<>();
        for (DecoderLayer layer : layers) {
          segments.add(x -> layer.forward(x, ctx));
        }
        try (GradientCollector gc = Torch.init().newGradientCollector()) {
          NDArray out = runner.run(segments, pre.forward(input));
          gc.backward(out.mul(weights).sum());
          if (runner instanceof SegmentedBackward sb) {
            sb.backward(gc);
          }
        }
        Map<String, float[]> grads = new LinkedHashMap<>();
        grads.put("input", input.getGradient().toFloatArray());
        for (Parameter p : store.all().values()) {
          grads.put(p.name(), p.value().getGradient().toFloatArray());
        }
        return grads;
      }
    }

    @Override
    public void close() {
      store.close();
      root.close();
    }
  }

  @Test
  void recomputedGradientsEqualThePlainRun() {
    try (Stack s = new Stack(64, 128, 3, 64)) {
      Map<String, float[]> plain = s.step(SegmentRunner.PLAIN);
      Map<String, float[]> recomputed = s.step(new SegmentedBackward());
      assertEquals(plain.keySet(), recomputed.keySet());
      int nonZero = 0;
      for (String name : plain.keySet()) {
        float[] a = plain.get(name);
        float[] b = recomputed.get(name);
        double scale = 0;
        for (float v : a) {
          scale = Math.max(scale, Math.abs(v));
        }
        nonZero += scale > 0 ? 1 : 0;
        for (int i = 0; i < a.length; i++) {
          // Same ops in the same order; only the summation of per-segment contributions may round differently.
          assertEquals(a[i], b[i], 1e-6 * Math.max(1, scale), name + "[" + i + "]");
        }
      }
      assertTrue(nonZero >= plain.size() - 1, "gradients reached " + nonZero + " of " + plain.size() + " tensors");
    }
  }

  @Test
  void recomputeLowersPeakMemory() {
    try (Stack s = new Stack(128, 512, 3, 512)) {
      s.step(new SegmentedBackward()); // warm up libtorch's allocations
      long recompute = PeakMemory.measure(() -> s.step(new SegmentedBackward()));
      long plain = PeakMemory.measure(() -> s.step(SegmentRunner.PLAIN));
      // Recompute runs first so the allocator cannot hand it memory the plain run left behind.
      assertTrue(plain > recompute * 1.3, "peak growth plain " + (plain >> 20) + " MiB vs recompute "
          + (recompute >> 20) + " MiB");
      org.slf4j.LoggerFactory.getLogger(SegmentedBackwardTest.class).info(
          "peak memory growth of a 3-layer step over 512 tokens: plain {} MiB, recompute {} MiB",
          plain >> 20, recompute >> 20);
    }
  }
}

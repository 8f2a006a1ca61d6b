package ai.bakery.model.llm;

import static ai.bakery.model.attention.AttnMode.CAUSAL;
import static ai.bakery.model.attention.AttnMode.FULL;
import static ai.bakery.model.attention.AttnMode.NOISE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.model.attention.AttnMode;
import ai.bakery.model.attention.EagerAttention;
import ai.bakery.model.attention.NsaConfig;
import ai.bakery.model.attention.PackLayout;
import ai.bakery.model.attention.SdpaAttention;
import ai.bakery.model.io.Dtype;
import ai.bakery.model.io.LoadReport;
import ai.bakery.model.io.SafetensorsCheckpoint;
import ai.bakery.model.io.SafetensorsWriter;
import ai.bakery.model.io.StateDictLoader;
import ai.bakery.model.nn.Init;
import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** NSA inside the MoT decoder: names, checkpoint round trip, exactness at full coverage, gradients. */
class Qwen2NsaTest {
  /**
   * Sample 1: text 5, ViT image 6 (full), noised VAE image 5 (noise), text 4; sample 2: text 6, clean VAE
   * image 8 (full). VAE tokens take the generation weights.
   */
  static final PackLayout LAYOUT = new PackLayout(new int[] {20, 14}, new int[] {5, 6, 5, 4, 6, 8},
      new AttnMode[] {CAUSAL, FULL, NOISE, CAUSAL, CAUSAL, FULL});
  static final int T = 34;
  static final int[] UND = range(0, 11, 16, 26);
  static final int[] GEN = range(11, 16, 26, 34);

  @BeforeAll
  static void start() {
    Torch.init();
  }

  static NsaConfig cfg(int topk, int window) {
    return new NsaConfig(List.of("nsa"), 4, "weightedpool", 2, 1, topk, 1, 1, window);
  }

  @Test
  void registersPerLayerNamesThatSaveAndLoad(@TempDir Path dir) {
    Path file = dir.resolve("model.safetensors");
    float[] before;
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      Qwen2Model model = nsaModel(store, cfg(3, 4), 5);
      randomise(m, store);
      for (int i = 0; i < 2; i++) {
        String l = "language_model.model.layers." + i + ".self_attn.";
        for (String n : new String[] {"g_proj.weight", "compress_key", "compress_value", "intra_block_pe"}) {
          assertTrue(store.contains(l + n), l + n);
        }
      }
      assertEquals(new Shape(12, 16), store.get("language_model.model.layers.1.self_attn.g_proj.weight").value().getShape());
      assertThrows(IllegalStateException.class, () -> model.enableNsa(cfg(3, 4), Init.seeded(1)));
      new SafetensorsWriter().addAll(store, Dtype.F32).write(file);
      before = forward(m, model, new EagerAttention()).toFloatArray();
    }
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m);
        SafetensorsCheckpoint ck = SafetensorsCheckpoint.open(file)) {
      Qwen2Model model = new Qwen2Model(Qwen2ModelTest.MOT, store, "language_model", Init.forLoading(), Precision.FP32);
      model.enableNsa(cfg(3, 4), Init.forLoading());
      LoadReport report = StateDictLoader.strict().load(ck.tensors(), store);
      assertTrue(report.toString().length() > 0);
      assertArrayEquals(before, forward(m, model, new EagerAttention()).toFloatArray(), 1e-6f);
    }
  }

  @Test
  void fullCoverageNsaDecoderIsTheDenseDecoderUnderEverySplitMode() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore dense = new ParameterStore(m);
        ParameterStore sparse = new ParameterStore(m); ParameterStore narrow = new ParameterStore(m)) {
      Qwen2Model reference = new Qwen2Model(Qwen2ModelTest.MOT, dense, "language_model", Init.seeded(5), Precision.FP32);
      Qwen2Model full = nsaModel(sparse, cfg(100, 1000), 5);
      Qwen2Model small = nsaModel(narrow, cfg(2, 1), 5);
      // LMMS Engine's zero compress_value makes the compressed branch 0; zero g_proj makes every gate 1/2: the
      // layer is then (selected + sliding) / 2, which full coverage makes exact attention under BAGEL's masks.
      for (ParameterStore s : new ParameterStore[] {sparse, narrow}) {
        for (int i = 0; i < 2; i++) {
          Parameter g = s.get("language_model.model.layers." + i + ".self_attn.g_proj.weight");
          g.copyFrom(m.zeros(g.value().getShape()));
        }
      }
      float[] expected = forward(m, reference, new SdpaAttention()).toFloatArray();
      // the pack's kernel is unused once NSA is on: eager here, sdpa for the reference
      float[] got = forward(m, full, new EagerAttention()).toFloatArray();
      assertArrayEquals(expected, got, 2e-5f);
      float[] sparseOut = forward(m, small, new EagerAttention()).toFloatArray();
      for (int row : new int[] {19, 25, 33}) { // late text, late clean VAE image
        double d = 0;
        for (int j = row * 16; j < row * 16 + 16; j++) {
          d = Math.max(d, Math.abs(expected[j] - sparseOut[j]));
        }
        assertTrue(d > 1e-4, "row " + row + " should see a sparse key set, max diff " + d);
      }
    }
  }

  @Test
  void undAndGenTokensBothTrainTheSharedGatesAndCompression() {
    for (int[] lossRows : new int[][] {UND, GEN}) {
      try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
        Qwen2Model model = nsaModel(store, cfg(2, 2), 7);
        randomise(m, store);
        try (NDManager step = m.newSubManager(); GradientCollector gc = Torch.init().newGradientCollector()) {
          NDArray out = forward(step, model, new EagerAttention());
          NDArray rows = step.create(java.util.Arrays.stream(lossRows).asLongStream().toArray());
          gc.backward(ai.bakery.model.nn.Rows.select(out, rows, step).square().sum());
        }
        for (String n : new String[] {"g_proj.weight", "compress_key", "compress_value"}) {
          NDArray g = store.get("language_model.model.layers.0.self_attn." + n).value().getGradient();
          assertTrue(g.abs().sum().getFloat() > 0, n + " got no gradient from " + (lossRows == UND ? "und" : "gen"));
        }
      }
    }
  }

  static Qwen2Model nsaModel(ParameterStore store, NsaConfig nsa, long seed) {
    Qwen2Model model = new Qwen2Model(Qwen2ModelTest.MOT, store, "language_model", Init.seeded(seed), Precision.FP32);
    model.enableNsa(nsa, Init.seeded(seed + 100));
    return model;
  }

  /** Gives the zero-initialised compression weights values, so every NSA input matters. */
  static void randomise(NDManager m, ParameterStore store) {
    m.getEngine().setRandomSeed(13);
    for (Parameter p : store.all().values()) {
      if (p.name().contains("compress_") || p.name().contains("intra_block_pe")) {
        p.copyFrom(m.randomNormal(p.value().getShape()).mul(0.5));
      }
    }
  }

  static NDArray forward(NDManager m, Qwen2Model model, ai.bakery.model.attention.AttentionKernel kernel) {
    m.getEngine().setRandomSeed(21);
    NDArray x = m.randomNormal(new Shape(T, 16));
    long[] pos = new long[T];
    for (int i = 0; i < T; i++) {
      pos[i] = i < 5 ? i : i < 11 ? 5 : i < 16 ? 6 : i < 20 ? i - 9 : i < 26 ? i - 20 : 6; // images share an id
    }
    return model.forward(x, m.create(pos), TokenRouting.of(T, UND, GEN, m), LAYOUT, kernel);
  }

  /** The concatenation of the ranges [a0, a1), [b0, b1), ... */
  static int[] range(int... bounds) {
    return java.util.stream.IntStream.range(0, bounds.length / 2)
        .flatMap(i -> java.util.stream.IntStream.range(bounds[2 * i], bounds[2 * i + 1])).toArray();
  }
}

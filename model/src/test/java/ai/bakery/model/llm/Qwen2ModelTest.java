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
import ai.bakery.model.attention.PackLayout;
import ai.bakery.model.config.LayerModule;
import ai.bakery.model.config.LlmConfig;
import ai.bakery.model.nn.Init;
import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class Qwen2ModelTest {
  static final LlmConfig MOT = new LlmConfig(16, 32, 2, 4, 2, 1e-6, 10000.0, 50, 128, false, "silu", 0.2, true,
      LayerModule.QWEN2_MOT, false);

  @BeforeAll
  static void start() {
    Torch.init();
  }

  @Test
  void registersTheReferenceCheckpointNames() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      new Qwen2Model(MOT, store, "language_model", Init.seeded(1), Precision.FP32);
      String l = "language_model.model.layers.1.";
      for (String name : new String[] {"language_model.model.embed_tokens.weight", l + "self_attn.q_proj.weight",
          l + "self_attn.q_proj.bias", l + "self_attn.o_proj.weight", l + "self_attn.q_norm.weight",
          l + "self_attn.k_norm_moe_gen.weight", l + "self_attn.v_proj_moe_gen.bias", l + "mlp.gate_proj.weight",
          l + "mlp_moe_gen.down_proj.weight", l + "input_layernorm_moe_gen.weight",
          l + "post_attention_layernorm.weight", "language_model.model.norm.weight",
          "language_model.model.norm_moe_gen.weight", "language_model.lm_head.weight"}) {
        assertTrue(store.contains(name), name);
      }
      assertTrue(!store.contains(l + "self_attn.o_proj.bias") && !store.contains(l + "self_attn.o_proj_moe_gen.bias"));
      assertEquals(new Shape(8, 16), store.get(l + "self_attn.k_proj.weight").value().getShape()); // 2 kv heads x 4
    }
  }

  @Test
  void separateUndAndGenSamplesTouchOnlyTheirOwnWeights() {
    // sample A: 4 und tokens (causal text), sample B: 3 gen tokens (one full image split)
    PackLayout layout = new PackLayout(new int[] {4, 3}, new int[] {4, 3}, new AttnMode[] {CAUSAL, FULL});
    int[] und = {0, 1, 2, 3};
    int[] gen = {4, 5, 6};
    Map<String, Float> fromGen = gradients(layout, und, gen, gen);
    Map<String, Float> fromUnd = gradients(layout, und, gen, und);
    for (String name : fromGen.keySet()) {
      if (name.contains("embed_tokens") || name.contains("lm_head")) {
        continue;
      }
      boolean genWeight = name.contains("_moe_gen");
      assertEquals(0f, genWeight ? fromUnd.get(name) : fromGen.get(name), "gradient leaked into " + name);
      assertTrue((genWeight ? fromGen.get(name) : fromUnd.get(name)) > 0, "no gradient reached " + name);
    }
  }

  @Test
  void textBeforeNoisedImageNeverReachesGenerationWeights() {
    // one text-to-image sample: text (3, causal) then noised latents (4, noise)
    PackLayout layout = new PackLayout(new int[] {7}, new int[] {3, 4}, new AttnMode[] {CAUSAL, NOISE});
    int[] und = {0, 1, 2};
    int[] gen = {3, 4, 5, 6};
    Map<String, Float> fromText = gradients(layout, und, gen, und);
    Map<String, Float> fromImage = gradients(layout, und, gen, gen);
    for (Map.Entry<String, Float> e : fromText.entrySet()) {
      if (e.getKey().contains("_moe_gen")) {
        assertEquals(0f, e.getValue(), e.getKey());
      }
    }
    // Image tokens attend to the text, so earlier und weights do learn from them, but not the last layer's
    // und o_proj/MLP/post-norm nor the final und norm, which only und rows pass through.
    String last = "language_model.model.layers.1.";
    for (String name : new String[] {last + "self_attn.o_proj.weight", last + "mlp.up_proj.weight",
        last + "post_attention_layernorm.weight", "language_model.model.norm.weight"}) {
      assertEquals(0f, fromImage.get(name), name);
    }
    assertTrue(fromImage.get("language_model.model.layers.0.self_attn.v_proj.weight") > 0);
  }

  @Test
  void copiedExpertsMakeRoutingInvisible() {
    PackLayout layout = new PackLayout(new int[] {7}, new int[] {3, 4}, new AttnMode[] {CAUSAL, FULL});
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      Qwen2Model model = new Qwen2Model(MOT, store, "language_model", Init.seeded(5), Precision.FP32);
      assertEquals(2 * 14 + 1, model.copyInitMoe()); // 14 gen copies per layer + norm_moe_gen
      NDArray x = m.randomNormal(new Shape(7, 16));
      NDArray pos = m.create(new long[] {0, 1, 2, 3, 3, 3, 3});
      NDArray routed = model.forward(x, pos, TokenRouting.of(7, new int[] {0, 1, 2}, new int[] {3, 4, 5, 6}, m),
          layout, new EagerAttention());
      NDArray plain = model.forward(x, pos, TokenRouting.allUnd(7, m), layout, new EagerAttention());
      assertArrayEquals(plain.toFloatArray(), routed.toFloatArray(), 1e-5f);
      // and different weights do change the gen rows
      store.get("language_model.model.layers.0.mlp_moe_gen.up_proj.weight").copyFrom(m.randomNormal(new Shape(32, 16)));
      NDArray changed = model.forward(x, pos, TokenRouting.of(7, new int[] {0, 1, 2}, new int[] {3, 4, 5, 6}, m),
          layout, new EagerAttention());
      assertArrayEquals(plain.get("0:3").toFloatArray(), changed.get("0:3").toFloatArray(), 1e-5f);
      assertTrue(plain.get("3:").sub(changed.get("3:")).abs().max().getFloat() > 1e-3f);
    }
  }

  @Test
  void routingMustPartitionThePack() {
    try (NDManager m = NDManager.newBaseManager()) {
      assertThrows(IllegalArgumentException.class, () -> TokenRouting.of(4, new int[] {0, 1}, new int[] {3}, m));
      assertThrows(IllegalArgumentException.class, () -> TokenRouting.of(3, new int[] {0, 1}, new int[] {1, 2}, m));
      assertThrows(IllegalArgumentException.class, () -> TokenRouting.of(3, new int[] {0, 1, 2}, new int[] {3}, m));
    }
  }

  /** Sum of |grad| per parameter for loss = sum(out[rows]^2). */
  static Map<String, Float> gradients(PackLayout layout, int[] und, int[] gen, int[] lossRows) {
    int t = und.length + gen.length;
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      Qwen2Model model = new Qwen2Model(MOT, store, "language_model", Init.seeded(11), Precision.FP32);
      try (NDManager step = m.newSubManager(); GradientCollector gc = Torch.init().newGradientCollector()) {
        NDArray x = step.randomNormal(new Shape(t, 16));
        long[] pos = new long[t];
        for (int i = 0; i < t; i++) {
          pos[i] = i;
        }
        TokenRouting r = TokenRouting.of(t, und, gen, step);
        NDArray out = model.forward(x, step.create(pos), r, layout, new EagerAttention());
        long[] rows = java.util.Arrays.stream(lossRows).asLongStream().toArray();
        gc.backward(ai.bakery.model.nn.Rows.select(out, step.create(rows)).square().sum());
      }
      Map<String, Float> out = new java.util.TreeMap<>();
      for (Parameter p : store.all().values()) {
        out.put(p.name(), gradAbsSum(p));
      }
      return out;
    }
  }

  static float gradAbsSum(Parameter p) {
    try {
      return p.value().getGradient().abs().sum().getFloat();
    } catch (IllegalStateException e) {
      return 0f; // no gradient ever reached it
    }
  }
}

package ai.bakery.model.bagel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.model.config.BagelConfig;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class BagelTest {
  @BeforeAll
  static void start() {
    Torch.init();
  }

  @Test
  void registersReferenceNamesAndFixedTables() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      new Bagel(TinyBagel.config(1.0), store, 1L);
      for (String name : new String[] {"time_embedder.mlp.0.weight", "time_embedder.mlp.2.bias", "vae2llm.weight",
          "llm2vae.bias", "latent_pos_embed.pos_embed", "connector.fc1.weight", "connector.fc2.bias",
          "vit_pos_embed.pos_embed", "language_model.model.layers.0.self_attn.q_proj_moe_gen.weight"}) {
        assertTrue(store.contains(name), name);
      }
      assertEquals(new Shape(64, 32), store.get("latent_pos_embed.pos_embed").value().getShape()); // 8 x 8 cells
      assertTrue(!store.get("vit_pos_embed.pos_embed").trainable());
      assertTrue(PositionEmbedding.isFixedTable("latent_pos_embed.pos_embed"));
      assertTrue(!PositionEmbedding.isFixedTable("vit_model.vision_model.embeddings.position_embedding.weight"));
      assertEquals(0f, store.get("llm2vae.weight").value().abs().sum().getFloat());
      // copy_init_moe: gen experts start equal to und weights
      String l = "language_model.model.layers.1.";
      assertArrayEquals(store.get(l + "mlp.up_proj.weight").value().toFloatArray(),
          store.get(l + "mlp_moe_gen.up_proj.weight").value().toFloatArray());
    }
  }

  @Test
  void sinCosTableMatchesTheReferenceLayout() {
    float[] t = PositionEmbedding.sinCos2d(8, 3); // quarter 2: omega = 1, 1/100
    int row = 1 * 3 + 2; // i = 1, j = 2
    float[] want = {(float) Math.sin(2), (float) Math.sin(0.02), (float) Math.cos(2), (float) Math.cos(0.02),
        (float) Math.sin(1), (float) Math.sin(0.01), (float) Math.cos(1), (float) Math.cos(0.01)};
    assertArrayEquals(want, java.util.Arrays.copyOfRange(t, row * 8, row * 8 + 8), 1e-7f);
  }

  @Test
  void timestepShiftFollowsTheReferenceFormula() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      Bagel bagel = new Bagel(TinyBagel.config(3.0), store, 1L);
      float[] logits = {Float.NEGATIVE_INFINITY, -1f, 0f, 2f};
      float[] got = bagel.shiftedTimesteps(m.create(logits)).toFloatArray();
      for (int i = 0; i < logits.length; i++) {
        double t = 1 / (1 + Math.exp(-logits[i]));
        assertEquals(3 * t / (1 + 2 * t), got[i], 1e-6, "logit " + logits[i]);
      }
      assertEquals(0f, got[0]); // clean conditions stay exactly clean
      assertEquals(0.75f, got[2], 1e-7f); // t = 0.5 -> 1.5 / 2
    }
  }

  @Test
  void patchifyLaysOutTokensAsTheReferenceEinsum() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      Bagel bagel = new Bagel(TinyBagel.config(1.0), store, 1L);
      PackBuilder pack = TinyBagel.mixedPack(4);
      BagelInputs in = pack.build(m);
      float[][] want = pack.cleanTokens();
      NDArray got = bagel.patchify(in.paddedLatent(), in.patchifiedVaeLatentShapes());
      assertEquals(new Shape(want.length, 16), got.getShape());
      for (int i = 0; i < want.length; i++) {
        assertArrayEquals(want[i], got.get(i).toFloatArray(), "token " + i);
      }
    }
  }

  @Test
  void firstForwardScoresTheVelocityTargetAndEveryLabel() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m);
        NDManager step = m.newSubManager()) {
      Bagel bagel = new Bagel(TinyBagel.config(1.0), store, 2L);
      PackBuilder pack = TinyBagel.mixedPack(5);
      BagelInputs in = pack.build(step);
      BagelOutput out = bagel.forward(in, step, NoiseSource.fixed(9));
      assertEquals(5, out.ceTokens());
      assertEquals(8, out.mseTokens()); // two noised 2x2 images
      assertEquals(new Shape(5), out.ce().getShape());
      assertEquals(new Shape(8, 16), out.mse().getShape());
      // Fresh model: near-uniform logits over the 64-token vocabulary.
      for (float ce : out.ce().toFloatArray()) {
        assertEquals(Math.log(64), ce, 0.5);
      }
      // llm2vae starts at zero, so the squared error is exactly the target (noise - x0)^2 of noised tokens.
      float[][] clean = pack.cleanTokens();
      NDArray noise = NoiseSource.fixed(9).sample(step, new Shape(clean.length, 16));
      int[] noised = in.noisedVaeTokens();
      assertArrayEquals(new int[] {0, 1, 2, 3, 10, 11, 12, 13}, noised); // the 2x3 clean source sits between
      float[] mse = out.mse().toFloatArray();
      for (int r = 0; r < noised.length; r++) {
        float[] n = noise.get(noised[r]).toFloatArray();
        for (int c = 0; c < 16; c++) {
          float v = n[c] - clean[noised[r]][c];
          assertEquals(v * v, mse[r * 16 + c], 1e-5f);
        }
      }
    }
  }

  @Test
  void freezeUndStopsEveryUnderstandingGradient() {
    BagelConfig base = TinyBagel.config(1.0);
    BagelConfig frozen = base.withLlm(base.llm().withBagelOptions(base.llm().layerModule(), true, false, true));
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m);
        NDManager step = m.newSubManager()) {
      Bagel bagel = new Bagel(frozen, store, 4L);
      store.get("llm2vae.weight").copyFrom(step.randomNormal(new Shape(16, 32)).mul(0.1));
      BagelInputs in = TinyBagel.mixed(step, 2);
      try (ai.djl.training.GradientCollector gc = Torch.init().newGradientCollector()) {
        BagelOutput out = bagel.forward(in, step, NoiseSource.fixed(3));
        gc.backward(new BagelLoss(1, 1).compute(out, null, BagelLoss.GlobalCounts.local(out, null), 1).loss());
      }
      int genWithGradient = 0;
      for (ai.bakery.model.tensor.Parameter p : store.trainable()) {
        float g = gradAbsSum(p);
        String n = p.name();
        // As in the reference, the LM head is not detached: CE still trains it.
        boolean und = (n.startsWith("language_model.model.") && !n.contains("_moe_gen")) || n.startsWith("vit_model.")
            || n.startsWith("connector.");
        if (und) {
          assertEquals(0f, g, n);
        } else if (n.contains("_moe_gen") && g > 0) {
          genWithGradient++;
        }
      }
      assertTrue(genWithGradient > 20, "gen experts still learn: " + genWithGradient);
    }
  }

  @Test
  void everyLayerModuleRunsTheMixedPack() {
    BagelConfig base = TinyBagel.config(1.0);
    for (ai.bakery.model.config.LayerModule module : ai.bakery.model.config.LayerModule.values()) {
      BagelConfig cfg = base.withLlm(base.llm().withBagelOptions(module, true, module == ai.bakery.model.config.LayerModule.QWEN2, false));
      try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
        BagelOutput out = new Bagel(cfg, store, 6L).forward(TinyBagel.mixed(m, 1), m, NoiseSource.fixed(1));
        assertEquals(new Shape(5), out.ce().getShape(), module.toString());
        assertTrue(Float.isFinite(out.ce().sum().getFloat()) && Float.isFinite(out.mse().sum().getFloat()));
      }
    }
  }

  static float gradAbsSum(ai.bakery.model.tensor.Parameter p) {
    try {
      return p.value().getGradient().abs().sum().getFloat();
    } catch (IllegalStateException none) {
      return 0f;
    }
  }

  @Test
  void branchesOffRejectPacksThatNeedThem() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      BagelConfig genOnly = TinyBagel.config(1.0).withBranches(true, false);
      Bagel bagel = new Bagel(genOnly, store, 1L);
      assertTrue(!store.contains("connector.fc1.weight") && !store.contains("vit_pos_embed.pos_embed"));
      assertNull(bagel.vitModel());
      BagelInputs in = TinyBagel.mixed(m, 1);
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> bagel.forward(in, m, NoiseSource.fixed(1)));
      assertTrue(e.getMessage().contains("visual_und"), e.getMessage());
    }
  }

  @Test
  void idsPastTheModelsTablesAreNamed() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      Bagel bagel = new Bagel(TinyBagel.config(1.0), store, 1L);
      BagelInputs big = TinyBagel.builder(1).sample().text(true, 1, 64).build(m); // vocab is 64
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> bagel.forward(big, m, NoiseSource.fixed(1)));
      assertTrue(e.getMessage().contains("vocab_size 64"), e.getMessage());
      BagelInputs wide = TinyBagel.builder(1).sample().text(false, 1).vae(9, 2, 0f).build(m); // 9 rows > max_latent_size 8
      e = assertThrows(IllegalArgumentException.class, () -> bagel.forward(wide, m, NoiseSource.fixed(1)));
      assertTrue(e.getMessage().contains("max_latent_size"), e.getMessage());
    }
  }

  @Test
  void inputsAreCheckedAgainstEachOther() {
    try (NDManager m = NDManager.newBaseManager()) {
      PackBuilder ok = TinyBagel.builder(1).sample().text(true, 1, 2);
      ok.build(m); // fine
      // a token that is neither text, ViT nor VAE
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BagelInputs.of(m, 5,
          new int[] {5}, new int[] {5}, new String[] {"causal"}, new int[] {1, 2, 3, 4}, new int[] {0, 1, 2, 3},
          new int[] {0, 1, 2, 3, 4}, null, null, null, null, null, null, null, 0, null, null, null, new int[] {2},
          new int[] {0}, null));
      assertTrue(e.getMessage() == null || !e.getMessage().isEmpty());
      // labels and CE positions disagree
      e = assertThrows(IllegalArgumentException.class, () -> BagelInputs.of(m, 4, new int[] {4}, new int[] {4},
          new String[] {"causal"}, new int[] {1, 2, 3, 4}, new int[] {0, 1, 2, 3}, new int[] {0, 1, 2, 3}, null,
          null, null, null, null, null, null, 0, null, null, null, new int[] {2, 3}, new int[] {0}, null));
      assertTrue(e.getMessage().contains("packed_label_ids"), e.getMessage());
    }
  }
}

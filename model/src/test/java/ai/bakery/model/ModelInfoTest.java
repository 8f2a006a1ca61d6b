package ai.bakery.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.model.bagel.Bagel;
import ai.bakery.model.config.BagelConfig;
import ai.bakery.model.config.LayerModule;
import ai.bakery.model.config.LlmConfig;
import ai.bakery.model.nn.Init;
import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.bakery.model.tensor.Torch;
import ai.bakery.model.vae.FluxAutoencoder;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.function.Predicate;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class ModelInfoTest {
  static final Path PRESETS = Path.of("..", "configs", "model");

  @BeforeAll
  static void start() {
    Torch.init();
  }

  @Test
  void countsMatchARealTinyModelComponentByComponent() {
    BagelConfig tiny = BagelConfig.readModelDir(PRESETS.resolve("tiny"));
    for (LayerModule module : LayerModule.values()) {
      for (boolean tied : new boolean[] {false, true}) {
        LlmConfig llm = tiny.llm().withBagelOptions(module, module != LayerModule.QWEN2, tied, false);
        BagelConfig cfg = tiny.withLlm(llm);
        ModelInfo info = ModelInfo.of(cfg);
        try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
          new Bagel(cfg, store, Init.forLoading(), Precision.FP32);
          String what = module + (tied ? " tied" : "");
          assertEquals(count(store, n -> n.startsWith("language_model.") && !n.contains("_moe_gen")),
              info.languageModelUnd(), what);
          assertEquals(count(store, n -> n.contains("_moe_gen")), info.genExperts(), what);
          assertEquals(count(store, n -> n.startsWith("vit_model.")), info.vit(), what);
          assertEquals(count(store, n -> n.startsWith("connector.")), info.connector(), what);
          assertEquals(count(store, n -> n.startsWith("time_embedder.") || n.startsWith("vae2llm.")
              || n.startsWith("llm2vae.")), info.other(), what);
          assertEquals(count(store, n -> n.endsWith("pos_embed.pos_embed")), info.fixedTables(), what);
          assertEquals(store.numel(), info.total(), what);
        }
      }
    }
  }

  @Test
  void vaeCountMatchesTheAutoencoderModule() {
    BagelConfig tiny = BagelConfig.readModelDir(PRESETS.resolve("tiny"));
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m)) {
      new FluxAutoencoder(tiny.vae(), store, "vae");
      assertEquals(store.numel(), ModelInfo.of(tiny).vae());
    }
  }

  @Test
  void sevenBillionPresetIsFourteenTotalSevenActive() throws Exception {
    ModelInfo info = ModelInfo.of(BagelConfig.readModelDir(PRESETS.resolve("bagel-7b-mot")));
    assertTrue(info.total() > 14.0e9 && info.total() < 15.0e9, info.summary());
    assertTrue(info.activePerToken() > 7.0e9 && info.activePerToken() < 8.0e9, info.summary());
    // MoT doubles every layer weight: the gen experts equal the und layers.
    assertEquals(info.languageModelUnd() - 2L * 152064 * 3584, info.genExperts());
    assertTrue(info.vit() > 390e6 && info.vit() < 420e6, info.summary()); // SigLIP so400m minus its last layer
    assertTrue(info.vae() > 80e6 && info.vae() < 90e6, info.summary()); // FLUX AE ~84M
    ModelInfo back = new ObjectMapper().readValue(info.toJson(), ModelInfo.class);
    assertEquals(info, back);
    assertTrue(info.toJson().contains("\"active_per_token\""));
  }

  static long count(ParameterStore store, Predicate<String> names) {
    long n = 0;
    for (Parameter p : store.all().values()) {
      if (names.test(p.name())) {
        n += p.value().size();
      }
    }
    return n;
  }
}

package ai.bakery.runtime.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.model.config.ConfigException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class LmmsEngineConfigTest {

  static String resource(String name) {
    try (InputStream in = LmmsEngineConfigTest.class.getResourceAsStream("/config/" + name)) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  @Test
  void seedGuideListFormParses() {
    LoadedJob job = JobConfigLoader.parse(resource("lmms-seed-guide.yaml"), List.of());
    JobConfig c = job.config();
    assertEquals(Dialect.LMMS_ENGINE_LIST, job.dialect());
    InlineDatasetConfig ds = c.data().dataset();
    assertNotNull(ds);
    assertEquals("bagel_iterable", ds.datasetType());
    assertEquals("parquet", ds.datasetFormat());
    assertEquals(1, ds.datasets().size());
    assertEquals("parquet path", ds.datasets().get(0).path());
    assertEquals(null, ds.datasets().get(0).dataFolder()); // "" means none
    assertEquals("parquet", ds.datasets().get(0).dataType());
    assertEquals("your-model-checkpoint-path", ds.processorConfig().processorName());
    assertEquals("bagel", ds.processorConfig().processorType());
    assertTrue(ds.packing());
    assertEquals("first_fit", ds.packingStrategy());
    assertEquals(4096, ds.packingLength());
    assertEquals("qwen_vl_utils", ds.videoBackend());
    // first_fit to 4096 tokens becomes the packer's budgets
    assertEquals(4096, c.data().packing().maxNumTokens());
    assertEquals(4096, c.data().packing().expectedNumTokens());
    assertEquals(4096, c.data().packing().maxNumTokensPerSample());
    assertEquals("your-model-checkpoint-path", c.model().modelPath());
    assertEquals("eager", c.model().attnImplementation());
    assertFalse(c.model().visualUnd());
    assertFalse(c.training().loop().visualUnd());
    assertTrue(c.model().visualGen());
    assertEquals(1e-6, c.training().optimizer().lr());
    assertEquals(0.0, c.training().optimizer().weightDecay());
    assertEquals(1, c.training().loop().gradientAccumulationSteps());
    assertTrue(c.model().gradientCheckpointing());
    assertEquals(1000, c.training().schedule().totalSteps());
    assertEquals(500, c.training().checkpoint().saveEvery());
    assertEquals("./output/bagel-training", c.output().resultsDir());
    assertEquals(Path.of("./output/bagel-training/checkpoints"), c.training().checkpoint().checkpointDir());
    assertTrue(c.model().bf16());
    // HF defaults the file leaves implicit
    assertEquals(0.999, c.training().optimizer().beta2());
    assertEquals(1e-8, c.training().optimizer().eps());
    assertEquals(0, c.training().schedule().warmupSteps());
    assertEquals(42, c.runtime().seed());
    // fsdp2 and fsdp_config are accepted and reported once, on one line
    long fsdpLines = job.notes().stream().filter(n -> n.contains("fsdp2") && n.contains("fsdp_config")).count();
    assertEquals(1, fsdpLines, job.notes().toString());
  }

  @Test
  void currentTopLevelFormParses() {
    LoadedJob job = JobConfigLoader.parse(resource("lmms-top-level.yaml"), List.of());
    JobConfig c = job.config();
    assertEquals(Dialect.LMMS_ENGINE, job.dialect());
    assertEquals("lmms-lab/BAGEL-7B-MoT-ver.LE", c.model().modelPath());
    assertEquals("flash_attention_2", c.model().attnImplementation());
    assertTrue(c.model().bf16());
    assertFalse(c.model().visualUnd());
    assertEquals(List.of("nsa"), c.model().nsa().patchType());
    assertEquals(64, c.model().nsa().blockSize().intValue());
    assertEquals("weightedpool", c.model().nsa().compressType());
    assertEquals(32, c.model().nsa().kernelSize().intValue());
    assertEquals(16, c.model().nsa().kernelStride().intValue());
    assertEquals(16, c.model().nsa().topk().intValue());
    assertEquals(1, c.model().nsa().initBlocks().intValue());
    assertEquals(2, c.model().nsa().localBlocks().intValue());
    assertEquals(512, c.model().nsa().windowSize().intValue());
    assertEquals("/data/bagel/images", c.data().dataset().datasets().get(0).dataFolder());
    assertEquals(8192, c.data().packing().maxNumTokens());
    assertEquals(2, c.training().loop().gradientAccumulationSteps());
    assertEquals(2e-5, c.training().optimizer().lr());
    assertEquals(0.01, c.training().optimizer().weightDecay());
    assertEquals("cosine", c.training().schedule().lrScheduler());
    assertEquals(100, c.training().schedule().warmupSteps()); // warmup_ratio 0.1 of max_steps 1000
    assertEquals(10, c.training().loop().logEvery());
    assertEquals(2, c.training().checkpoint().keepLast());
    assertEquals(8, c.runtime().numWorkers());
    assertEquals(42, c.training().loop().globalSeed());
    String notes = String.join("\n", job.notes());
    assertTrue(notes.contains("fsdp2") && notes.contains("report_to") && notes.contains("num_train_epochs"), notes);
    assertTrue(notes.contains("filter_overlong"), notes);
    assertFalse(notes.contains("do_eval"), "false/null defaults are not reported: " + notes);
  }

  @Test
  void flagsOverrideTheFile() {
    JobConfig c = JobConfigLoader.parse(resource("lmms-seed-guide.yaml"),
        List.of("--learning_rate", "3e-6", "--lr=4e-6", "--max_steps", "20", "save_steps=5",
            "--training.loop.max_steps", "3", "--visual_und", "true", "--output_dir", "/tmp/run")).config();
    assertEquals(4e-6, c.training().optimizer().lr()); // later wins
    assertEquals(20, c.training().schedule().totalSteps());
    assertEquals(5, c.training().checkpoint().saveEvery());
    assertEquals(3, c.training().loop().maxSteps());
    assertTrue(c.model().visualUnd());
    assertEquals("/tmp/run", c.output().resultsDir());
  }

  @Test
  void misspeltTrainerFieldIsNamedWithASuggestion() {
    String yaml = resource("lmms-seed-guide.yaml").replace("learning_rate:", "learing_rate:");
    var e = assertThrows(ConfigException.class, () -> JobConfigLoader.parse(yaml, List.of()));
    assertEquals("unknown field 'learing_rate' in trainer config (did you mean 'learning_rate'?)", e.getMessage());
  }

  @Test
  void badSectionsAreNamed() {
    String base = resource("lmms-top-level.yaml");
    var e = assertThrows(ConfigException.class,
        () -> JobConfigLoader.parse(base.replace("packing_strategy:", "packing_strategi:"), List.of()));
    assertEquals("unknown field 'packing_strategi' in dataset_config (did you mean 'packing_strategy'?)",
        e.getMessage());
    e = assertThrows(ConfigException.class,
        () -> JobConfigLoader.parse(base.replace("visual_und: false", "visual_und_x: false"), List.of()));
    assertEquals("unknown field 'visual_und_x' in model_config.extra_kwargs (did you mean 'visual_und'?)",
        e.getMessage());
    e = assertThrows(ConfigException.class,
        () -> JobConfigLoader.parse(base.replace("kernel_stride: 16", "kernel_strid: 16"), List.of()));
    assertEquals("unknown field 'kernel_strid' in model_config.monkey_patch_kwargs (did you mean 'kernel_stride'?)",
        e.getMessage());
    e = assertThrows(ConfigException.class,
        () -> JobConfigLoader.parse(base.replace("lr_scheduler_type: cosine", "lr_scheduler_type: linear"),
            List.of()));
    assertTrue(e.getMessage().startsWith("trainer_args.lr_scheduler_type: lr_scheduler_type 'linear' is not"),
        e.getMessage());
    e = assertThrows(ConfigException.class,
        () -> JobConfigLoader.parse(base.replace("compress_type: \"weightedpool\"", "compress_type: weightpool"),
            List.of()));
    assertTrue(e.getMessage().startsWith("monkey_patch_kwargs.compress_type 'weightpool'")
        && e.getMessage().endsWith("(set by model_config.monkey_patch_kwargs.compress_type)"), e.getMessage());
    e = assertThrows(ConfigException.class,
        () -> JobConfigLoader.parse(base.replace("trainer_type: fsdp2_trainer", "trainer_type: fsdp2_trainr"),
            List.of()));
    assertEquals("trainer_type: 'fsdp2_trainr' is not supported; use one of " + LmmsEngineConfig.TRAINER_TYPES
        + " (did you mean 'fsdp2_trainer'?)", e.getMessage());
  }

  @Test
  void printedConfigReadsBackEqual() {
    JobConfig c = JobConfigLoader.parse(resource("lmms-top-level.yaml"), List.of()).config();
    String yaml = JobConfigLoader.toYaml(c);
    LoadedJob again = JobConfigLoader.parse(yaml, List.of());
    assertEquals(Dialect.BAKERY, again.dialect());
    assertEquals(c, again.config());
  }

  @Test
  void dataConfigCarriesPackingImageLimitsAndLoading() {
    JobConfig c = JobConfigLoader.parse(resource("lmms-top-level.yaml"), List.of("--max_latent_size", "64",
        "--interpolate_pos", "true")).config();
    ai.bakery.data.DataConfig d = c.dataConfig();
    assertEquals("first_fit", d.packingStrategy());
    assertEquals(8192, d.packingLength());
    assertEquals(8192, d.maxNumTokens());
    assertEquals(64, d.maxLatentSize());
    assertEquals(16, d.vaeImageDownsample()); // latent_patch_size 2 x FLUX downsample 8
    assertTrue(d.interpolatePos());
    assertEquals(8, d.numWorkers());
    JobConfig reference = JobConfigLoader.fromReferenceFlags(List.of("--num_workers", "0")).config();
    assertEquals("reference", reference.dataConfig().packingStrategy());
    assertEquals(1, reference.dataConfig().numWorkers()); // the loader needs at least one worker
    assertEquals(36864, reference.dataConfig().maxNumTokens());
  }
}

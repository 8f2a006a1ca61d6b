package ai.bakery.runtime.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.model.config.ConfigException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BakeryYamlTest {
  static final String QUICK = String.join("\n",
      "model:",
      "  preset: tiny",
      "  visual_und: true",
      "data:",
      "  dataset_config_file: example-data/groups.yaml",
      "  packing:",
      "    expected_num_tokens: 1024",
      "    max_num_tokens: 1536",
      "    max_num_tokens_per_sample: 1024",
      "training:",
      "  optimizer:",
      "    lr: 3.0e-4",
      "  schedule:",
      "    total_steps: 40",
      "    warmup_steps: 5",
      "    lr_scheduler: cosine",
      "  checkpoint:",
      "    save_every: 20",
      "output:",
      "  results_dir: runs/quick",
      "runtime:",
      "  seed: 7",
      "  threads: 2",
      "");

  @Test
  void sectionsBindToTypedValues() {
    LoadedJob job = JobConfigLoader.parse(QUICK, List.of());
    JobConfig c = job.config().requireRunnable();
    assertEquals(Dialect.BAKERY, job.dialect());
    assertEquals("tiny", c.model().preset());
    assertEquals(1024, c.data().packing().expectedNumTokens());
    assertEquals(3e-4, c.training().optimizer().lr());
    assertEquals(0.95, c.training().optimizer().beta2()); // reference default kept
    assertEquals("cosine", c.training().schedule().lrScheduler());
    assertEquals(40, c.training().schedule().totalSteps());
    assertEquals(Path.of("runs/quick"), c.training().loop().resultsDir());
    assertEquals(Path.of("runs/quick/checkpoints"), c.training().checkpoint().checkpointDir());
    assertEquals(7, c.training().loop().globalSeed());
    assertEquals(2, c.runtime().threads());
    assertTrue(job.notes().isEmpty(), job.notes().toString());
  }

  @Test
  void flagsOverrideYamlByDottedPathOrReferenceName() {
    JobConfig c = JobConfigLoader.parse(QUICK, List.of("--training.optimizer.lr", "1e-3", "--total_steps", "10",
        "--model.freeze_vit=True", "--seed", "9")).config();
    assertEquals(1e-3, c.training().optimizer().lr());
    assertEquals(10, c.training().schedule().totalSteps());
    assertTrue(c.model().freezeVit());
    assertTrue(c.training().loop().freezeVit());
    assertEquals(9, c.runtime().seed());
  }

  @Test
  void misspeltFieldsAreNamedWithSuggestions() {
    var e = assertThrows(ConfigException.class,
        () -> JobConfigLoader.parse(QUICK.replace("    lr: 3.0e-4", "    lrr: 3.0e-4"), List.of()));
    assertEquals("unknown field 'lrr' in training.optimizer (did you mean 'lr'?)", e.getMessage());
    e = assertThrows(ConfigException.class,
        () -> JobConfigLoader.parse(QUICK.replace("runtime:", "runtme:"), List.of()));
    assertTrue(e.getMessage().startsWith("unknown field 'runtme' in config (top level)")
        && e.getMessage().endsWith("(did you mean 'runtime'?)"), e.getMessage());
    e = assertThrows(ConfigException.class,
        () -> JobConfigLoader.parse(QUICK, List.of("--training.optimizer.betta1", "0.8")));
    assertEquals("unknown field 'training.optimizer.betta1' in config (did you mean 'training.optimizer.beta1'?)",
        e.getMessage());
    e = assertThrows(ConfigException.class,
        () -> JobConfigLoader.parse(QUICK.replace("  threads: 2", "  threads: two"), List.of()));
    assertEquals("runtime.threads: expected an integer, got 'two'", e.getMessage());
  }

  @Test
  void sharedFieldsAreSetInTheirOwningSection() {
    String yaml = QUICK.replace("  checkpoint:\n", "  loop:\n    visual_gen: false\n  checkpoint:\n");
    var e = assertThrows(ConfigException.class, () -> JobConfigLoader.parse(yaml, List.of()));
    assertEquals("training.loop.visual_gen: set model.visual_gen instead (training.loop.visual_gen follows it)",
        e.getMessage());
  }

  @Test
  void invalidValuesNameTheField() {
    var e = assertThrows(ConfigException.class, () -> JobConfigLoader.parse(
        QUICK.replace("max_num_tokens: 1536", "max_num_tokens: 512"), List.of()));
    assertTrue(e.getMessage().startsWith("data.packing.expected_num_tokens (1024) must be <= max_num_tokens (512)"),
        e.getMessage());
    e = assertThrows(ConfigException.class, () -> JobConfigLoader.parse(
        QUICK.replace("preset: tiny", "preset: tiny\n  layer_module: Qwen2MotDecoderLayer"), List.of()));
    assertTrue(e.getMessage().contains("did you mean 'Qwen2MoTDecoderLayer'"), e.getMessage());
    e = assertThrows(ConfigException.class, () -> JobConfigLoader.parse("model:\n  preset: tiny\n", List.of())
        .config().requireRunnable());
    assertTrue(e.getMessage().startsWith("data: no dataset given"), e.getMessage());
  }

  @Test
  void loadNamesTheFile(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("job.yaml");
    Files.writeString(f, QUICK.replace("  seed: 7", "  sed: 7"));
    var e = assertThrows(ConfigException.class, () -> JobConfigLoader.load(f, List.of()));
    assertEquals(f + ": unknown field 'sed' in runtime (did you mean 'seed'?)", e.getMessage());
    e = assertThrows(ConfigException.class, () -> JobConfigLoader.load(dir.resolve("none.yaml"), List.of()));
    assertEquals(dir.resolve("none.yaml") + ": config file not found", e.getMessage());
    Files.writeString(f, "model: [unclosed\n");
    e = assertThrows(ConfigException.class, () -> JobConfigLoader.load(f, List.of()));
    assertTrue(e.getMessage().startsWith(f + ": not valid YAML"), e.getMessage());
  }
}

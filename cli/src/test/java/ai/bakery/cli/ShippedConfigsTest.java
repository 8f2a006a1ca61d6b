package ai.bakery.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.runtime.config.Dialect;
import ai.bakery.runtime.config.JobConfig;
import ai.bakery.runtime.config.JobConfigLoader;
import ai.bakery.runtime.config.LoadedJob;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** Every YAML under configs/ (model presets aside) is a valid job config. */
class ShippedConfigsTest {
  static final Path CONFIGS = Path.of("..", "configs");

  @Test
  void everyJobConfigParsesAndIsRunnable() throws Exception {
    List<Path> files;
    try (Stream<Path> s = Files.list(CONFIGS)) {
      files = s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
    }
    assertFalse(files.isEmpty());
    for (Path f : files) {
      LoadedJob job = JobConfigLoader.load(f, List.of());
      job.config().requireRunnable();
    }
  }

  @Test
  void lmmsExampleIsTheGuidesListForm() {
    LoadedJob job = JobConfigLoader.load(CONFIGS.resolve("lmms-engine-example.yaml"), List.of());
    JobConfig c = job.config();
    assertEquals(Dialect.LMMS_ENGINE_LIST, job.dialect());
    assertEquals(1024, c.data().packing().maxNumTokens());
    assertEquals("first_fit", c.dataConfig().packingStrategy());
    assertEquals(100, c.training().schedule().totalSteps());
    assertTrue(job.notes().stream().anyMatch(n -> n.contains("fsdp2")), job.notes().toString());
  }

  @Test
  void finetuneTemplateMatchesTheReferenceRecipe() {
    JobConfig c = JobConfigLoader.load(CONFIGS.resolve("finetune-7b-mot.yaml"), List.of()).config();
    assertTrue(c.training().checkpoint().finetuneFromHf());
    assertTrue(c.training().checkpoint().resumeModelOnly());
    assertEquals(2e-5, c.training().optimizer().lr());
    assertEquals(64, c.model().maxLatentSize());
    assertEquals(11520, c.dataConfig().maxNumTokens());
  }
}

package ai.bakery.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The model-side benchmarks through the CLI, at sizes that take seconds. */
class ModelBenchCommandsTest {
  @BeforeAll
  static void repositoryRoot() {
    System.setProperty("bakery.home", Path.of("..").toAbsolutePath().normalize().toString());
  }

  @Test
  void attentionBenchRowsPerKernelAndLength() throws Exception {
    MainTest.Result r = MainTest.run("bench", "attention", "--json", "--lengths", "64,128", "--kernels", "sdpa");
    assertEquals(0, r.code(), r.toString());
    List<String> lines = r.out().lines().toList();
    assertEquals(2, lines.size(), r.out());
    JsonNode first = new ObjectMapper().readTree(lines.get(0));
    assertEquals("sdpa", first.get("kernel").asText());
    assertEquals(64, first.get("tokens").asInt());
  }

  @Test
  void unknownPresetIsNamed() {
    MainTest.Result r = MainTest.run("bench", "model", "--presets", "nope");
    assertEquals(2, r.code());
    assertTrue(r.err().startsWith("bakery bench model: no preset 'nope' in "), r.err());
  }
}

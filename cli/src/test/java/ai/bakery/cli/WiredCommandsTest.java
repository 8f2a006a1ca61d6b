package ai.bakery.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The commands that call other modules, end to end on small inputs. */
class WiredCommandsTest {
  static final ObjectMapper JSON = new ObjectMapper();

  @BeforeAll
  static void repositoryRoot() {
    System.setProperty("bakery.home", Path.of("..").toAbsolutePath().normalize().toString());
  }

  @Test
  void modelInfoOfAPreset() throws Exception {
    MainTest.Result r = MainTest.run("model", "info", "tiny", "--json");
    assertEquals(0, r.code(), r.toString());
    JsonNode info = JSON.readTree(r.out());
    assertTrue(info.get("total").asLong() > 0, r.out());
    assertEquals(info.get("total").asLong(), info.get("language_model_und").asLong() + info.get("gen_experts").asLong()
        + info.get("vit").asLong() + info.get("connector").asLong() + info.get("other").asLong()
        + info.get("fixed_tables").asLong(), r.out());
    MainTest.assertOneLineError(MainTest.run("model", "info", "tinny"),
        "bakery model info: 'tinny' is not a model folder, a config.json or a preset (did you mean 'tiny'?); presets: "
            + String.join(", ", presets()));
  }

  private static List<String> presets() throws Exception {
    try (var s = Files.list(Path.of("..", "configs", "model"))) {
      return s.filter(Files::isDirectory).map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void exampleThenInspect(@TempDir Path dir) throws Exception {
    MainTest.Result made = MainTest.run("data", "example", dir.toString());
    assertEquals(0, made.code(), made.toString());
    assertTrue(Files.isRegularFile(dir.resolve("example.yaml")), made.out());
    MainTest.Result r = MainTest.run("data", "inspect", dir.resolve("example.yaml").toString(), "--json",
        "--packs", "2", "--max-num-tokens", "4096");
    assertEquals(0, r.code(), r.toString());
    assertEquals(1, r.out().lines().count(), r.out());
    JsonNode report = JSON.readTree(r.out());
    assertEquals(2, report.get("packs").asInt());
    assertTrue(report.get("tokens_per_pack_max").asInt() <= 4096, r.out());
    assertEquals(3, report.get("groups").size(), r.out());
  }

  @Test
  void benchDataPrintsOneJsonObjectPerLine() throws Exception {
    MainTest.Result r = MainTest.run("bench", "data", "--json", "--packs", "3");
    assertEquals(0, r.code(), r.toString());
    List<String> lines = r.out().lines().toList();
    assertTrue(lines.size() >= 2, r.out());
    for (String line : lines) {
      JsonNode row = JSON.readTree(line);
      assertTrue(row.isObject() && row.has("metric") && row.get("value").isNumber(), line);
    }
  }

  @Test
  void benchFlightPrintsOneJsonObjectPerLine() throws Exception {
    MainTest.Result r = MainTest.run("bench", "flight", "--json", "--tokens", "1024", "--batches", "2");
    assertEquals(0, r.code(), r.toString());
    List<String> lines = r.out().lines().toList();
    assertTrue(lines.size() >= 1, r.out());
    for (String line : lines) {
      assertTrue(JSON.readTree(line).isObject(), line);
    }
  }

  @Test
  void benchIngestMeasuresAcceptedSamples() throws Exception {
    MainTest.Result r = MainTest.run("bench", "ingest", "--json", "--clients", "2", "--seconds", "1");
    assertEquals(0, r.code(), r.toString());
    JsonNode first = JSON.readTree(r.out().lines().findFirst().orElseThrow());
    assertEquals("http_accepted_samples_per_s", first.get("metric").asText());
    assertTrue(first.get("value").asDouble() > 0, r.out());
  }
}

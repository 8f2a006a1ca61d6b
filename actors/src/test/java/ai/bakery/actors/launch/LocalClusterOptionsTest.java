package ai.bakery.actors.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LocalClusterOptionsTest {
  @TempDir
  Path dir;

  @Test
  void parsesOptionsThenConfigThenOverrides() throws Exception {
    Path job = Files.writeString(dir.resolve("job.yaml"), "model:\n  preset: tiny\n");
    LocalCluster.Options o = LocalCluster.Options.parse(List.of("--workers", "3", "--data-shards=2", "--min-workers",
        "2", "--job-dir", dir.resolve("j").toString(), job.toString(), "--training.optimizer.lr", "1e-5"));
    assertEquals(3, o.workers());
    assertEquals(2, o.dataShards());
    assertEquals(2, o.minWorkers());
    assertEquals(job, o.config());
    assertEquals(List.of("--training.optimizer.lr", "1e-5"), o.overrides());
  }

  @Test
  void badLinesNameTheOption() throws Exception {
    Path job = Files.writeString(dir.resolve("job.yaml"), "model:\n  preset: tiny\n");
    assertMessage("--worker", List.of("--worker", "2", job.toString()));
    assertMessage("--min-workers must be in 1..2", List.of("--workers", "2", "--min-workers", "3", job.toString()));
    assertMessage("--workers: 'two'", List.of("--workers", "two", job.toString()));
    assertMessage("config file not found", List.of("--workers", "2", dir.resolve("missing.yaml").toString()));
    assertMessage("missing <config>", List.of("--workers", "2"));
  }

  @Test
  void cliRunReportsBadLinesWithStatus2() {
    assertEquals(2, LocalCluster.run(List.of("--workers", "0", "job.yaml"), System.out));
  }

  private static void assertMessage(String part, List<String> args) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LocalCluster.Options.parse(args));
    assertTrue(e.getMessage().contains(part), "'" + part + "' in: " + e.getMessage());
  }
}

package ai.bakery.actors.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class NodeOptionsTest {
  @Test
  void optionsBeforeTheConfigAndOverridesAfterIt() {
    NodeOptions o = NodeOptions.parse(List.of("--role", "coordinator,data", "--port=25520", "--seed",
        "10.0.0.5:25520,10.0.0.6:25520", "--job-dir", "/tmp/job", "--data-shards", "3", "job.yaml",
        "--training.optimizer.lr", "1e-5"));
    assertEquals(Set.of("coordinator", "data"), o.roles());
    assertEquals(25520, o.port());
    assertEquals(List.of("10.0.0.5:25520", "10.0.0.6:25520"), o.seeds());
    assertEquals(3, o.dataShards());
    assertEquals(Path.of("/tmp/job/job.token"), o.tokenFile(), "the token defaults into the job folder");
    assertEquals(Path.of("job.yaml"), o.config());
    assertEquals(List.of("--training.optimizer.lr", "1e-5"), o.overrides());
    assertEquals("seeds", o.bootstrap());
  }

  @Test
  void badLinesAreRefusedNamingTheOption() {
    assertMessage("--rol", List.of("--rol", "worker", "--seed", "h:1", "job.yaml"));
    assertMessage("'gpu' is not one of", List.of("--role", "gpu", "--seed", "h:1", "job.yaml"));
    assertMessage("--seed", List.of("--role", "worker", "--token-file", "t", "job.yaml"));
    assertMessage("--job-dir", List.of("--role", "coordinator", "--seed", "h:1", "job.yaml"));
    assertMessage("--port: 'x'", List.of("--role", "worker", "--port", "x", "--seed", "h:1", "--token-file", "t",
        "job.yaml"));
    assertMessage("missing <config>", List.of("--role", "worker", "--seed", "h:1", "--token-file", "t"));
    assertMessage("--node", List.of("--role", "worker", "--seed", "h:1", "--token-file", "t", "--certs", "c",
        "job.yaml"));
    assertMessage("exclude each other", List.of("--role", "worker", "--seed", "h:1", "--bootstrap", "kubernetes",
        "--token-file", "t", "job.yaml"));
  }

  @Test
  void kubernetesBootstrapNeedsNoSeeds() {
    NodeOptions o = NodeOptions.parse(List.of("--role", "worker", "--bootstrap", "kubernetes", "--token-file", "t",
        "--id", "w7", "job.yaml"));
    assertEquals("kubernetes", o.bootstrap());
    assertEquals("w7", o.workerId());
  }

  private static void assertMessage(String part, List<String> args) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> NodeOptions.parse(args));
    assertTrue(e.getMessage().contains(part), "'" + part + "' in: " + e.getMessage());
  }
}

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
    assertEquals(1, o.coordinators(), "one coordinator unless asked");
    assertEquals(2, LocalCluster.Options.parse(List.of("--coordinators", "2", job.toString())).coordinators());
  }

  @Test
  void coordinatorNodesAreNamedForTheLogPrefix() {
    assertEquals("coordinator", LocalCluster.coordinatorName(0));
    assertEquals("coordinator-1", LocalCluster.coordinatorName(1));
  }

  @Test
  void theLoopbackProfileOverridesTheMultiMachineTiming() {
    com.typesafe.config.Config multi = com.typesafe.config.ConfigFactory.parseResources(LocalCluster.class,
        "/bakery-cluster.conf");
    com.typesafe.config.Config local = com.typesafe.config.ConfigFactory.parseString(LocalCluster.loopbackSettings())
        .withFallback(multi);
    String pause = "pekko.cluster.failure-detector.acceptable-heartbeat-pause";
    String stable = "pekko.cluster.split-brain-resolver.stable-after";
    assertEquals(4, multi.getDuration(pause).toSeconds());
    assertEquals(3, local.getDuration(pause).toSeconds());
    assertEquals(7, multi.getDuration(stable).toSeconds());
    assertEquals(10, local.getDuration(stable).toSeconds());
    assertEquals("keep-oldest", local.getString("pekko.cluster.split-brain-resolver.active-strategy"));
    // with a role, SBR counts sides by it: two coordinator nodes could not fail over (see bakery-cluster.conf)
    assertTrue(!local.hasPath("pekko.cluster.split-brain-resolver.keep-oldest.role"));
    assertEquals(3.0, RecoveryBench.profileSeconds(RecoveryBench.HEARTBEAT_PAUSE));
  }

  @Test
  void badLinesNameTheOption() throws Exception {
    Path job = Files.writeString(dir.resolve("job.yaml"), "model:\n  preset: tiny\n");
    assertMessage("--worker", List.of("--worker", "2", job.toString()));
    assertMessage("--min-workers must be in 1..2", List.of("--workers", "2", "--min-workers", "3", job.toString()));
    assertMessage("--workers: 'two'", List.of("--workers", "two", job.toString()));
    assertMessage("config file not found", List.of("--workers", "2", dir.resolve("missing.yaml").toString()));
    assertMessage("missing <config>", List.of("--workers", "2"));
    assertMessage("--coordinators must be >= 1", List.of("--coordinators", "0", job.toString()));
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

package ai.bakery.actors.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The recovery bench reads its timeline from the coordinator's log lines: these are the lines a real run printed
 * (logback prefix included), timed by hand. The multi-JVM measurement itself takes minutes and is not a test.
 */
class RecoveryBenchTimelineTest {
  static final long KILL = 1_000_000_000_000L;

  static LocalCluster.TimedLine at(double seconds, String text) {
    return new LocalCluster.TimedLine(KILL + Math.round(seconds * 1e9), text);
  }

  @Test
  void timesRemovalNewGroupAndFirstCommitOfTheGroupWithoutTheVictim() {
    List<LocalCluster.TimedLine> lines = List.of(
        at(0.05, "18:30:01 WARN  Coordinator - step 5 aborted: rank worker-0: peer worker-1 lost"),
        // a regroup of the same three (the victim still a member) does not count, nor does its abort
        at(0.40, "18:30:01 INFO  Coordinator - generation 2: ranks [worker-0, worker-1, worker-2] from step 4"),
        at(3.10, "18:30:04 WARN  Coordinator - step 5 aborted: group generation 2 failed"),
        at(17.5, "18:30:18 WARN  Coordinator - worker worker-1 is gone"),
        at(17.9, "18:30:18 INFO  Coordinator - generation 3: ranks [worker-0, worker-2] from step 4"),
        at(19.25, "18:30:20 INFO  Coordinator - (step=0000004) Train Loss mse: 0.1000, Train Loss ce: 5.0000, "
            + "Train Steps/Sec: 0.50, Tokens/Sec: 1.00k, Ranks: 2"),
        at(20.5, "18:30:21 WARN  Coordinator - step 7 aborted: later, not part of this recovery"));
    RecoveryBench.Timeline t = RecoveryBench.Timeline.read(lines, KILL, "worker-1", 1);
    assertEquals(17.5, t.removed(), 1e-9);
    assertEquals(17.9, t.regrouped(), 1e-9);
    assertEquals(19.25, t.firstCommit(), 1e-9);
    assertEquals(3, t.newGeneration());
    assertEquals(4, t.resumedFrom());
    assertEquals(1, t.abortedSteps(), "step 5, aborted twice, is one step");
    assertEquals(1, t.stepsLost(4), "the step in flight");
    assertEquals(2, t.stepsLost(5), "a committed step the group does not resume from is lost too");
  }

  @Test
  void nothingSeenYetIsNaNAndNoGroupMeansUnknownLoss() {
    RecoveryBench.Timeline t = RecoveryBench.Timeline.read(
        List.of(at(0.1, "INFO  Coordinator - generation 1: ranks [worker-0, worker-2] from step 0")), KILL,
        "worker-1", 1);
    assertTrue(Double.isNaN(t.removed()) && Double.isNaN(t.regrouped()) && Double.isNaN(t.firstCommit()));
    assertEquals(-1, t.stepsLost(3));
    // a commit line before the new group forms is the old group's, not a recovery
    RecoveryBench.Timeline early = RecoveryBench.Timeline.read(List.of(
        at(0.1, "(step=0000003) Train Loss mse: 0.1, Train Loss ce: 5.0"),
        at(9.0, "generation 2: ranks [worker-0, worker-2] from step 4")), KILL, "worker-1", 1);
    assertEquals(9.0, early.regrouped(), 1e-9);
    assertTrue(Double.isNaN(early.firstCommit()));
    assertEquals(0, early.stepsLost(4));
  }
}

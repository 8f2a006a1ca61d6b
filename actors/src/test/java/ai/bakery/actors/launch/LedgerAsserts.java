package ai.bakery.actors.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.actors.job.BatchId;
import ai.bakery.actors.job.JobSnapshot;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/** What the multi-JVM tests assert of a finished job's data ledger. */
final class LedgerAsserts {
  private LedgerAsserts() {}

  /**
   * Every dealt batch trained once, and none below the last one left out (an aborted step's batches were served
   * again).
   */
  static void assertExactlyOnce(JobSnapshot job) {
    Set<BatchId> trained = new TreeSet<>();
    long max = -1;
    for (List<BatchId> batches : job.committed().values()) {
      for (BatchId b : batches) {
        assertTrue(trained.add(b), "trained twice: " + b);
        max = Math.max(max, b.seq());
      }
    }
    assertEquals(max + 1, trained.size(), "no batch lost below the last one trained: " + trained);
  }
}

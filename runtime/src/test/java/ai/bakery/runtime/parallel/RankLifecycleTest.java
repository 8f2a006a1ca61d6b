package ai.bakery.runtime.parallel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.bakery.data.pack.PackedBatch;
import ai.bakery.model.tensor.Torch;
import ai.bakery.runtime.collective.Collective;
import ai.bakery.runtime.collective.InMemoryRendezvous;
import ai.bakery.runtime.collective.Rendezvous;
import ai.bakery.runtime.collective.TcpRingCollective;
import ai.bakery.runtime.train.StepResult;
import ai.bakery.runtime.train.TrainStep;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A rank's step can be discarded and recomputed, and a fresh rank joining a group takes the root's state. */
class RankLifecycleTest {
  @TempDir
  static Path dir;
  static List<PackedBatch> packs;

  @BeforeAll
  static void data() throws Exception {
    Torch.init();
    packs = TinyRanks.packs(dir, 6);
  }

  private static StepResult step(RankTrainer t, int rank) {
    long s = t.nextStep();
    t.compute(s, () -> packs.get((int) s * 2 + rank));
    return t.commit();
  }

  @Test
  void discardThenRecomputeEndsAsIfNeverDiscarded() throws Exception {
    List<StateSync.Fingerprint> plain = TinyRanks.onRanks(2, (group, rank) -> {
      try (RankTrainer t = RankTrainer.create(TinyRanks.job(dir, 1), group)) {
        step(t, rank);
        step(t, rank);
        return t.fingerprint();
      }
    });
    List<StateSync.Fingerprint> discarded = TinyRanks.onRanks(2, (group, rank) -> {
      try (RankTrainer t = RankTrainer.create(TinyRanks.job(dir, 1), group)) {
        step(t, rank);
        StateSync.Fingerprint afterFirst = t.fingerprint();
        long micro = t.trainStep().microStep();
        TrainStep.Pending first = t.compute(1, () -> packs.get(2 + rank));
        assertThrows(IllegalStateException.class, () -> t.compute(1, () -> packs.get(2 + rank)));
        t.abort();
        assertNull(t.pending());
        assertEquals(0, t.committedStep());
        assertEquals(micro, t.trainStep().microStep());
        assertEquals(afterFirst, t.fingerprint(), "abort changed the state");
        assertThrows(IllegalStateException.class, () -> t.compute(2, () -> packs.get(4 + rank)));
        TrainStep.Pending again = t.compute(1, () -> packs.get(2 + rank));
        assertEquals(first.result(), again.result(), "the recomputed step differs");
        t.commit();
        assertEquals(1, t.committedStep());
        return t.fingerprint();
      }
    });
    assertEquals(plain.get(0), plain.get(1));
    assertEquals(plain, discarded);
  }

  @Test
  void broadcastStateMakesAFreshRankEqualToTheRoot() throws Exception {
    Rendezvous rendezvous = new InMemoryRendezvous();
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      Future<List<StateSync.Fingerprint>> root = pool.submit(() -> {
        try (RankTrainer t = trainInFirstGeneration(rendezvous, 0)) {
          return secondGeneration(rendezvous, t);
        }
      });
      Future<List<StateSync.Fingerprint>> joiner = pool.submit(() -> {
        trainInFirstGeneration(rendezvous, 1).close(); // this worker dies
        try (RankTrainer fresh = RankTrainer.create(TinyRanks.job(dir, 1), null)) {
          return secondGeneration(rendezvous, fresh);
        }
      });
      List<StateSync.Fingerprint> a = root.get(180, TimeUnit.SECONDS);
      List<StateSync.Fingerprint> b = joiner.get(180, TimeUnit.SECONDS);
      assertNotEquals(a.get(0), a.get(1), "before the broadcast the fresh rank must differ");
      assertEquals(a.get(2), a.get(3), "after the broadcast");
      assertEquals(a.get(4), a.get(5), "after a step together");
      assertNotEquals(a.get(2), a.get(4), "the step changed nothing");
      assertEquals(a, b);
    } finally {
      pool.shutdownNow();
    }
  }

  private static RankTrainer trainInFirstGeneration(Rendezvous rendezvous, int rank) throws Exception {
    try (Collective group = TcpRingCollective.create("join-1", 1, rank, 2, rendezvous, TinyRanks.options())) {
      RankTrainer t = RankTrainer.create(TinyRanks.job(dir, 1), group);
      step(t, rank);
      step(t, rank);
      return t;
    }
  }

  /** Fingerprints of both ranks before and after the broadcast, and after one more step. */
  private static List<StateSync.Fingerprint> secondGeneration(Rendezvous rendezvous, RankTrainer t) throws Exception {
    int rank = t.committedStep() == 1 ? 0 : 1;
    try (Collective group = TcpRingCollective.create("join-2", 2, rank, 2, rendezvous, TinyRanks.options())) {
      t.regroup(group);
      List<StateSync.Fingerprint> before = t.gatherFingerprints();
      t.broadcastState(0);
      assertEquals(1, t.committedStep());
      assertEquals(2, t.trainStep().microStep(), "root's micro-batch count");
      List<StateSync.Fingerprint> after = t.gatherFingerprints();
      step(t, rank);
      List<StateSync.Fingerprint> stepped = t.gatherFingerprints();
      return List.of(before.get(0), before.get(1), after.get(0), after.get(1), stepped.get(0), stepped.get(1));
    }
  }
}

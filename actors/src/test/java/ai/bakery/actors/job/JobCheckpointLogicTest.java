package ai.bakery.actors.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Checkpoint effects of the job logic: when saves are asked for, when COMPLETE may be written, how a resume rewinds. */
class JobCheckpointLogicTest {
  long now;
  /** Two ranks, a batch each per step, a checkpoint every 2 trainer steps: job steps 3, 5, 7, ... */
  final JobPolicy policy = new JobPolicy(2, 2, 1, Duration.ofSeconds(10), Duration.ofSeconds(5), 0)
      .withCheckpoints(2, Duration.ofSeconds(30));
  JobLogic logic = new JobLogic(policy, () -> now);
  long generation;

  static List<BatchId> batches(int from, int n) {
    return java.util.stream.IntStream.range(from, from + n).mapToObj(i -> new BatchId("s", i)).toList();
  }

  static List<String> positions(int from, int n) {
    return java.util.stream.IntStream.range(from, from + n).mapToObj(i -> "after-" + i).toList();
  }

  static <T extends JobEffect> List<T> all(List<JobEffect> fx, Class<T> type) {
    return fx.stream().filter(type::isInstance).map(type::cast).toList();
  }

  static <T extends JobEffect> T one(List<JobEffect> fx, Class<T> type) {
    List<T> found = all(fx, type);
    assertEquals(1, found.size(), "one " + type.getSimpleName() + " in " + fx);
    return found.get(0);
  }

  /** Forms {a, b} and offers 20 batches with positions. */
  List<JobEffect> start() {
    logic.handle(new JobEvent.WorkerUp("a"));
    JobEffect.FormGroup g = one(logic.handle(new JobEvent.WorkerUp("b")), JobEffect.FormGroup.class);
    generation = g.generation();
    logic.handle(new JobEvent.BatchesReady(batches(0, 20), positions(0, 20)));
    logic.handle(new JobEvent.GroupReady("a", generation));
    return logic.handle(new JobEvent.GroupReady("b", generation));
  }

  /** Both ranks finish job step {@code step}. */
  List<JobEffect> finish(long step) {
    logic.handle(new JobEvent.StepDone("a", generation, step));
    return logic.handle(new JobEvent.StepDone("b", generation, step));
  }

  @Test
  void savesOnTheTrainersIntervalAndCommitsOnlyOnceEveryPartIsDurable() {
    start();
    assertTrue(all(finish(1), JobEffect.SaveCheckpoint.class).isEmpty(), "trainer step 0 is not saved");
    assertTrue(all(finish(2), JobEffect.SaveCheckpoint.class).isEmpty(), "trainer step 1 is not saved");
    List<JobEffect> fx = finish(3);
    JobEffect.SaveCheckpoint save = one(fx, JobEffect.SaveCheckpoint.class);
    assertEquals(3, save.step());
    assertEquals(List.of("a", "b"), save.ranks());
    assertTrue(fx.indexOf(save) > fx.indexOf(one(fx, JobEffect.Commit.class)), "saved after the commit");
    assertEquals(4, one(fx, JobEffect.RunStep.class).step(), "the next step does not wait for the save");

    // rank a's part arrives; b's not yet: no COMPLETE
    assertTrue(logic.handle(new JobEvent.CheckpointPartSaved("a", 3, save.saveId(), 0, 2,
        Map.of("train_state.json", "{}"))).isEmpty());
    // step 4 commits meanwhile; the checkpoint must still describe step 3
    finish(4);
    // a report of another save attempt is ignored
    assertTrue(logic.handle(new JobEvent.CheckpointPartSaved("b", 3, "g0-s3", 1, 2, Map.of())).isEmpty());
    JobEffect.CommitCheckpoint commit = one(logic.handle(new JobEvent.CheckpointPartSaved("b", 3, save.saveId(), 1, 2,
        Map.of())), JobEffect.CommitCheckpoint.class);
    assertEquals(3, commit.step());
    assertEquals(2, commit.parts());
    assertEquals(Map.of("train_state.json", "{}"), commit.stepFiles(), "part 0 brings the step-wide files");
    JobSnapshot at = commit.snapshot();
    assertEquals(3, at.committedStep());
    assertEquals(List.of(1L, 2L, 3L), new ArrayList<>(new java.util.TreeMap<>(at.committed()).keySet()));
    assertEquals(batches(6, 14), at.queued(), "batches of step 4, in flight or committed later, are untrained at 3");
    assertEquals(List.of(new DataLedger.Position("s", 5, "after-5")), at.positions().subList(0, 1),
        "the position after the last trained batch is kept, older ones are not");

    assertTrue(logic.latestCheckpoint().isEmpty(), "not complete before COMPLETE is durable");
    logic.handle(new JobEvent.CheckpointCommitted(3, commit.saveId()));
    assertEquals(3, logic.latestCheckpoint().orElseThrow().step());
  }

  @Test
  void aRankLostBeforeItsPartIsDurableLeavesTheCheckpointTorn() {
    start();
    finish(1);
    finish(2);
    JobEffect.SaveCheckpoint save = one(finish(3), JobEffect.SaveCheckpoint.class);
    logic.handle(new JobEvent.CheckpointPartSaved("a", 3, save.saveId(), 0, 2, Map.of()));
    List<JobEffect> fx = logic.handle(new JobEvent.WorkerDown("b", false));
    assertTrue(one(fx, JobEffect.CheckpointAbandoned.class).reason().contains("b"));
    logic.handle(new JobEvent.WorkerUp("b2"));
    assertTrue(all(logic.handle(new JobEvent.CheckpointPartSaved("b", 3, save.saveId(), 1, 2, Map.of())),
        JobEffect.CommitCheckpoint.class).isEmpty(), "never committed");
    assertTrue(logic.latestCheckpoint().isEmpty());
  }

  @Test
  void partsThatDoNotCoverTheWorldAreNotCommitted() {
    start();
    finish(1);
    finish(2);
    JobEffect.SaveCheckpoint save = one(finish(3), JobEffect.SaveCheckpoint.class);
    logic.handle(new JobEvent.CheckpointPartSaved("a", 3, save.saveId(), 0, 2, Map.of()));
    List<JobEffect> fx = logic.handle(new JobEvent.CheckpointPartSaved("b", 3, save.saveId(), -1, 2, Map.of()));
    assertTrue(all(fx, JobEffect.CommitCheckpoint.class).isEmpty());
    assertTrue(one(fx, JobEffect.CheckpointAbandoned.class).reason().contains("only parts [0] of 2"));
  }

  @Test
  void aSaveNotDurableInTimeIsAbandoned() {
    start();
    finish(1);
    finish(2);
    finish(3);
    now += 29_000;
    assertTrue(all(logic.handle(new JobEvent.Tick()), JobEffect.CheckpointAbandoned.class).isEmpty());
    now += 2_000;
    assertEquals(3, one(logic.handle(new JobEvent.Tick()), JobEffect.CheckpointAbandoned.class).step());
  }

  /** Commits steps 1..5 with checkpoint 3 complete, then every worker restarts: the job goes back to 3. */
  @Test
  void lostStateRewindsToTheCheckpointAndServesLaterBatchesAgain() {
    start();
    finish(1);
    finish(2);
    JobEffect.SaveCheckpoint save = one(finish(3), JobEffect.SaveCheckpoint.class);
    logic.handle(new JobEvent.CheckpointPartSaved("a", 3, save.saveId(), 0, 2, Map.of()));
    logic.handle(new JobEvent.CheckpointPartSaved("b", 3, save.saveId(), 1, 2, Map.of()));
    logic.handle(new JobEvent.CheckpointCommitted(3, save.saveId()));
    finish(4);
    finish(5); // its save (step 5) never completes: both workers die
    assertEquals(5, logic.committedStep());
    logic.handle(new JobEvent.WorkerDown("a", false));
    logic.handle(new JobEvent.WorkerDown("b", false));
    logic.handle(new JobEvent.WorkerUp("c"));
    JobEffect.FormGroup g = one(logic.handle(new JobEvent.WorkerUp("d")), JobEffect.FormGroup.class);
    assertEquals(5, g.committedStep());
    assertFalse(g.restores(), "the coordinator cannot know the new workers hold nothing");

    List<JobEffect> fx = logic.handle(new JobEvent.StateLost("c", g.generation(), "no rank holds step 5"));
    JobEffect.Rewind rewind = one(fx, JobEffect.Rewind.class);
    assertEquals(5, rewind.fromStep());
    assertEquals(3, rewind.toStep());
    JobEffect.RestartShard restart = one(fx, JobEffect.RestartShard.class);
    assertEquals(6, restart.fromSeq(), "the shard packs again from the first batch untrained at step 3");
    assertEquals("after-5", restart.position());
    assertTrue(restart.alreadyTrained().isEmpty());
    JobEffect.FormGroup again = one(fx, JobEffect.FormGroup.class);
    assertEquals(3, again.committedStep());
    assertEquals(3, again.restoreStep(), "every rank loads checkpoint 3");
    assertEquals(List.of(1L, 2L, 3L), new ArrayList<>(new java.util.TreeMap<>(logic.ledger().committed()).keySet()));
    assertEquals(0, logic.ledger().available(), "the restarted shard offers the batches again");

    // the replacement shard packs 6.. again; the restored group trains them as steps 4 and 5
    logic.handle(new JobEvent.BatchesReady(batches(6, 14), positions(6, 14)));
    generation = again.generation();
    logic.handle(new JobEvent.GroupReady("c", generation));
    JobEffect.RunStep step4 = one(logic.handle(new JobEvent.GroupReady("d", generation)), JobEffect.RunStep.class);
    assertEquals(4, step4.step());
    assertEquals(List.of(new BatchId("s", 6)), step4.assignment().get("c"));
    assertEquals(-1, logic.restoreStep(), "the group holds the restored state");
    logic.handle(new JobEvent.StepDone("c", generation, 4));
    logic.handle(new JobEvent.StepDone("d", generation, 4));
    java.util.Set<BatchId> seen = new java.util.HashSet<>();
    for (List<BatchId> bs : logic.ledger().committed().values()) {
      for (BatchId b : bs) {
        assertTrue(seen.add(b), "trained once: " + b);
      }
    }
    assertEquals(new java.util.HashSet<>(batches(0, 8)), seen, "steps 1..4 trained batches 0..7, each once");
  }

  @Test
  void lostStateWithTheCheckpointAtTheCommittedStepKeepsTheDataGoing() {
    start();
    finish(1);
    finish(2);
    JobEffect.SaveCheckpoint save = one(finish(3), JobEffect.SaveCheckpoint.class);
    logic.handle(new JobEvent.CheckpointPartSaved("a", 3, save.saveId(), 0, 2, Map.of()));
    logic.handle(new JobEvent.CheckpointPartSaved("b", 3, save.saveId(), 1, 2, Map.of()));
    logic.handle(new JobEvent.CheckpointCommitted(3, save.saveId()));
    // the workers die during step 4, before any rank finished it: it aborts
    logic.handle(new JobEvent.WorkerDown("a", false));
    logic.handle(new JobEvent.WorkerDown("b", false));
    logic.handle(new JobEvent.WorkerUp("c"));
    JobEffect.FormGroup g = one(logic.handle(new JobEvent.WorkerUp("d")), JobEffect.FormGroup.class);
    List<JobEffect> fx = logic.handle(new JobEvent.StateLost("d", g.generation(), "fresh"));
    assertTrue(all(fx, JobEffect.RestartShard.class).isEmpty());
    assertEquals(3, one(fx, JobEffect.FormGroup.class).restoreStep());
    assertEquals(14, logic.ledger().available(), "step 4's batches were given back");
  }

  @Test
  void lostStateWithoutCheckpointGoesBackToTheStart() {
    start();
    finish(1);
    finish(2);
    logic.handle(new JobEvent.WorkerDown("a", false));
    logic.handle(new JobEvent.WorkerDown("b", false));
    logic.handle(new JobEvent.WorkerUp("c"));
    JobEffect.FormGroup g = one(logic.handle(new JobEvent.WorkerUp("d")), JobEffect.FormGroup.class);
    List<JobEffect> fx = logic.handle(new JobEvent.StateLost("c", g.generation(), "fresh"));
    assertEquals(0, one(fx, JobEffect.Rewind.class).toStep());
    JobEffect.RestartShard r = one(fx, JobEffect.RestartShard.class);
    assertEquals(0, r.fromSeq());
    assertEquals("", r.position());
    JobEffect.FormGroup again = one(fx, JobEffect.FormGroup.class);
    assertEquals(0, again.committedStep());
    assertFalse(again.restores(), "fresh ranks hold the start");
    assertTrue(logic.ledger().committed().isEmpty());
  }

  @Test
  void aStartResumesFromTheNewestCheckpointOrTheStoredState() {
    start();
    finish(1);
    finish(2);
    JobEffect.SaveCheckpoint save = one(finish(3), JobEffect.SaveCheckpoint.class);
    logic.handle(new JobEvent.CheckpointPartSaved("a", 3, save.saveId(), 0, 2, Map.of()));
    JobEffect.CommitCheckpoint commit = one(logic.handle(new JobEvent.CheckpointPartSaved("b", 3, save.saveId(), 1, 2,
        Map.of())), JobEffect.CommitCheckpoint.class);
    finish(4);
    CheckpointRef cp = new CheckpointRef(3, commit.snapshot());
    JobSnapshot stored = logic.snapshot();

    JobLogic fresh = JobLogic.start(policy, () -> now, Optional.empty(), Optional.of(cp), false);
    assertEquals(0, fresh.committedStep(), "without auto_resume a new job ignores old checkpoints");
    JobLogic resumed = JobLogic.start(policy, () -> now, Optional.empty(), Optional.of(cp), true);
    assertEquals(3, resumed.committedStep());
    assertEquals(3, resumed.restoreStep());
    resumed.handle(new JobEvent.WorkerUp("x"));
    JobEffect.FormGroup g = one(resumed.handle(new JobEvent.WorkerUp("y")), JobEffect.FormGroup.class);
    assertEquals(3, g.restoreStep());
    assertTrue(g.generation() > commit.snapshot().generation());

    JobLogic failedOver = JobLogic.start(policy, () -> now, Optional.of(stored), Optional.of(cp), false);
    assertEquals(4, failedOver.committedStep(), "the stored state is newer: the workers may hold it");
    assertEquals(-1, failedOver.restoreStep());
    assertEquals(3, failedOver.latestCheckpoint().orElseThrow().step(), "where it goes back to if they do not");
  }

  @Test
  void theLastStepIsSavedAndTheJobEndsWhenItIsComplete() {
    logic = new JobLogic(new JobPolicy(2, 2, 1, Duration.ofSeconds(10), Duration.ofSeconds(5), 4)
        .withCheckpoints(2, Duration.ofSeconds(30)), () -> now);
    start();
    finish(1);
    finish(2);
    finish(3);
    JobEffect.SaveCheckpoint last = one(finish(4), JobEffect.SaveCheckpoint.class);
    assertEquals(4, last.step(), "trainer step 3 is off the interval, but it is the last");
    assertEquals("finishing", logic.phaseName());
    assertFalse(logic.finished(), "the job ends once its final checkpoint is complete");
    logic.handle(new JobEvent.CheckpointPartSaved("a", 4, last.saveId(), 0, 2, Map.of()));
    one(logic.handle(new JobEvent.CheckpointPartSaved("b", 4, last.saveId(), 1, 2, Map.of())),
        JobEffect.CommitCheckpoint.class);
    assertFalse(logic.finished());
    logic.handle(new JobEvent.CheckpointCommitted(4, last.saveId()));
    assertTrue(logic.finished());
  }
}

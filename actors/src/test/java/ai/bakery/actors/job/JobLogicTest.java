package ai.bakery.actors.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class JobLogicTest {
  long now;
  final JobPolicy policy = new JobPolicy(2, 3, 1, Duration.ofSeconds(10), Duration.ofSeconds(5), 0);
  final JobLogic logic = new JobLogic(policy, () -> now);

  List<BatchId> batches(int from, int n) {
    return java.util.stream.IntStream.range(from, from + n).mapToObj(i -> new BatchId("s", i)).toList();
  }

  JobEffect.FormGroup formed(List<JobEffect> fx) {
    return (JobEffect.FormGroup) fx.stream().filter(e -> e instanceof JobEffect.FormGroup).findFirst().orElseThrow();
  }

  JobEffect.RunStep ran(List<JobEffect> fx) {
    return (JobEffect.RunStep) fx.stream().filter(e -> e instanceof JobEffect.RunStep).findFirst().orElseThrow();
  }

  @Test
  void waitsBelowMinimumThenFormsAndSteps() {
    assertInstanceOf(JobEffect.Waiting.class, logic.handle(new JobEvent.WorkerUp("a")).get(0));
    JobEffect.FormGroup g = formed(logic.handle(new JobEvent.WorkerUp("b")));
    assertEquals(List.of("a", "b"), g.ranks());
    logic.handle(new JobEvent.BatchesReady(batches(0, 4)));
    logic.handle(new JobEvent.GroupReady("a", g.generation()));
    JobEffect.RunStep step = ran(logic.handle(new JobEvent.GroupReady("b", g.generation())));
    assertEquals(1, step.step());
    assertEquals(List.of(new BatchId("s", 0)), step.assignment().get("a"));
    logic.handle(new JobEvent.StepDone("a", g.generation(), 1));
    List<JobEffect> fx = logic.handle(new JobEvent.StepDone("b", g.generation(), 1));
    assertEquals(new JobEffect.Commit(1, batches(0, 2)), fx.get(0));
    assertEquals(2, ran(fx).step());
  }

  @Test
  void deadRankBeforeReductionAbortsAndServesBatchesAgain() {
    JobEffect.FormGroup g = formTwo();
    logic.handle(new JobEvent.BatchesReady(batches(0, 4)));
    logic.handle(new JobEvent.GroupReady("a", g.generation()));
    logic.handle(new JobEvent.GroupReady("b", g.generation()));
    logic.handle(new JobEvent.WorkerUp("c")); // standby joiner waits for the step boundary
    logic.handle(new JobEvent.WorkerDown("b", false));
    List<JobEffect> fx = logic.handle(new JobEvent.StepFailed("a", g.generation(), 1, "peer lost"));
    assertInstanceOf(JobEffect.AbortStep.class, fx.get(0));
    JobEffect.FormGroup g2 = formed(fx);
    assertEquals(List.of("a", "c"), g2.ranks());
    assertTrue(g2.generation() > g.generation());
    // A late message of the old generation is ignored.
    assertTrue(logic.handle(new JobEvent.StepDone("a", g.generation(), 1)).isEmpty());
    logic.handle(new JobEvent.GroupReady("a", g2.generation()));
    JobEffect.RunStep again = ran(logic.handle(new JobEvent.GroupReady("c", g2.generation())));
    assertEquals(1, again.step());
    assertEquals(List.of(new BatchId("s", 0)), again.assignment().get("a"), "aborted batches are served first");
    assertEquals(List.of(new BatchId("s", 1)), again.assignment().get("c"));
  }

  @Test
  void aFailedFormationIsFormedAgainAtOnceAFewTimesThenLeftToTheFormTimeout() {
    JobEffect.FormGroup g = formTwo();
    for (int i = 1; i <= JobLogic.QUICK_REFORMS; i++) {
      List<JobEffect> fx = logic.handle(new JobEvent.GroupFailed("a", g.generation(), "peer moved on"));
      JobEffect.FormGroup again = formed(fx);
      assertEquals(List.of("a", "b"), again.ranks(), "nobody is blamed: the same ranks meet again");
      assertEquals(g.generation() + 1, again.generation());
      // the other rank's report of the same failed generation changes nothing
      assertTrue(logic.handle(new JobEvent.GroupFailed("b", g.generation(), "rendezvous in vain")).isEmpty());
      g = again;
    }
    assertTrue(logic.handle(new JobEvent.GroupFailed("a", g.generation(), "again")).isEmpty(),
        "past the quick re-forms the form timeout decides");
    now += policy.formTimeout().toMillis();
    logic.handle(new JobEvent.GroupReady("a", g.generation()));
    JobEffect.Waiting w = assertInstanceOf(JobEffect.Waiting.class, logic.handle(new JobEvent.Tick()).get(0));
    assertEquals(1, w.workers(), "the timeout dropped the rank that never got ready");

    // once a group forms, a failure is quick to re-form again
    JobEffect.FormGroup back = formed(logic.handle(new JobEvent.WorkerUp("b")));
    logic.handle(new JobEvent.GroupReady("a", back.generation()));
    logic.handle(new JobEvent.GroupReady("b", back.generation()));
    JobEffect.FormGroup grown = formed(logic.handle(new JobEvent.WorkerUp("c")));
    assertEquals(List.of("a", "b", "c"), grown.ranks());
    assertEquals(grown.generation() + 1,
        formed(logic.handle(new JobEvent.GroupFailed("c", grown.generation(), "x"))).generation());
  }

  @Test
  void deadRankAfterReductionStillCommitsItsBatch() {
    JobEffect.FormGroup g = formTwo();
    logic.handle(new JobEvent.BatchesReady(batches(0, 2)));
    logic.handle(new JobEvent.GroupReady("a", g.generation()));
    logic.handle(new JobEvent.GroupReady("b", g.generation()));
    assertTrue(logic.handle(new JobEvent.WorkerUp("c")).isEmpty(), "a joiner waits for the step boundary");
    logic.handle(new JobEvent.StepDone("a", g.generation(), 1));
    List<JobEffect> fx = logic.handle(new JobEvent.WorkerDown("b", false));
    assertEquals(new JobEffect.Commit(1, batches(0, 2)), fx.get(0));
    assertEquals(List.of("a", "c"), formed(fx).ranks());
  }

  @Test
  void gracefulLeaverFinishesItsStepWithoutRollback() {
    JobEffect.FormGroup g = formTwo();
    logic.handle(new JobEvent.BatchesReady(batches(0, 2)));
    logic.handle(new JobEvent.GroupReady("a", g.generation()));
    logic.handle(new JobEvent.GroupReady("b", g.generation()));
    assertTrue(logic.handle(new JobEvent.WorkerUp("c")).isEmpty(), "a joiner waits for the step boundary");
    assertTrue(logic.handle(new JobEvent.WorkerDown("b", true)).isEmpty());
    logic.handle(new JobEvent.StepDone("a", g.generation(), 1));
    List<JobEffect> fx = logic.handle(new JobEvent.StepDone("b", g.generation(), 1));
    assertInstanceOf(JobEffect.Commit.class, fx.get(0));
    assertTrue(fx.contains(new JobEffect.Release("b")));
    assertEquals(List.of("a", "c"), formed(fx).ranks());
  }

  @Test
  void joinerDuringFormingRestartsFormingWithANewGeneration() {
    JobEffect.FormGroup g = formTwo();
    JobEffect.FormGroup g2 = formed(logic.handle(new JobEvent.WorkerUp("c")));
    assertEquals(List.of("a", "b", "c"), g2.ranks());
    assertTrue(logic.handle(new JobEvent.GroupReady("a", g.generation())).isEmpty(), "old generation ignored");
  }

  @Test
  void lastPartialStepRunsWhenTheDataEnds() {
    JobEffect.FormGroup g = formTwo();
    logic.handle(new JobEvent.BatchesReady(batches(0, 3)));
    logic.handle(new JobEvent.GroupReady("a", g.generation()));
    logic.handle(new JobEvent.GroupReady("b", g.generation()));
    logic.handle(new JobEvent.StepDone("a", g.generation(), 1));
    assertTrue(logic.handle(new JobEvent.StepDone("b", g.generation(), 1)).stream()
        .noneMatch(e -> e instanceof JobEffect.RunStep), "one batch left for two ranks: wait for more data");
    JobEffect.RunStep last = ran(logic.handle(new JobEvent.DataEnd()));
    assertEquals(List.of(new BatchId("s", 2)), last.assignment().get("a"));
    assertEquals(List.of(), last.assignment().get("b"));
  }

  @Test
  void stepTimeoutPresumesSilentRanksDead() {
    JobEffect.FormGroup g = formTwo();
    logic.handle(new JobEvent.BatchesReady(batches(0, 2)));
    logic.handle(new JobEvent.GroupReady("a", g.generation()));
    logic.handle(new JobEvent.GroupReady("b", g.generation()));
    logic.handle(new JobEvent.StepDone("a", g.generation(), 1));
    now += 11_000;
    List<JobEffect> fx = logic.handle(new JobEvent.Tick());
    assertInstanceOf(JobEffect.AbortStep.class, fx.get(0));
    assertInstanceOf(JobEffect.Waiting.class, fx.get(1));
  }

  @Test
  void maxWorkersLeavesTheRestOnStandby() {
    formTwo();
    logic.handle(new JobEvent.WorkerUp("c"));
    List<JobEffect> fx = logic.handle(new JobEvent.WorkerUp("d"));
    assertTrue(fx.isEmpty(), "a fourth worker stands by when max_workers is 3");
  }

  @Test
  void lostDataShardIsReplacedFromTheFirstUntrainedBatch() {
    JobEffect.FormGroup g = formTwo();
    List<BatchId> xs = batches(0, 6).stream().map(b -> new BatchId("x", b.seq())).toList();
    logic.handle(new JobEvent.BatchesReady(xs, List.of("p0", "p1", "p2", "p3", "p4", "p5")));
    logic.handle(new JobEvent.GroupReady("a", g.generation()));
    logic.handle(new JobEvent.GroupReady("b", g.generation()));
    logic.handle(new JobEvent.StepDone("a", g.generation(), 1));
    logic.handle(new JobEvent.StepDone("b", g.generation(), 1)); // x#0, x#1 trained; step 2 runs x#2, x#3
    List<JobEffect> fx = logic.handle(new JobEvent.ShardLost("x"));
    assertInstanceOf(JobEffect.AbortStep.class, fx.get(0));
    assertEquals(new JobEffect.RestartShard("x", 2, "p1", java.util.Set.of()), fx.get(1));
    JobEffect.FormGroup g2 = formed(fx);
    assertTrue(g2.generation() > g.generation());
    // The replacement re-announces x#2.. with the same ids; they are trained once.
    logic.handle(new JobEvent.BatchesReady(xs.subList(2, 6), List.of("p2", "p3", "p4", "p5")));
    logic.handle(new JobEvent.GroupReady("a", g2.generation()));
    JobEffect.RunStep again = ran(logic.handle(new JobEvent.GroupReady("b", g2.generation())));
    assertEquals(List.of(new BatchId("x", 2)), again.assignment().get("a"));
  }

  @Test
  void ledgerRefusesDoubleTraining() {
    DataLedger l = new DataLedger();
    l.commit(1, batches(0, 2));
    assertThrows(IllegalStateException.class, () -> l.commit(2, batches(1, 1)));
  }

  @Test
  void policyNamesBadBounds() {
    var e = assertThrows(IllegalArgumentException.class,
        () -> new JobPolicy(3, 2, 1, Duration.ofSeconds(1), Duration.ofSeconds(1), 0));
    assertTrue(e.getMessage().contains("max_workers"));
  }

  private JobEffect.FormGroup formTwo() {
    logic.handle(new JobEvent.WorkerUp("a"));
    return formed(logic.handle(new JobEvent.WorkerUp("b")));
  }
}

package ai.bakery.runtime.dashboard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.runtime.train.StepResult;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class RunMonitorTest {
  static StepRecord step(long i, double ce) {
    return new StepRecord(i, ce, ce / 2, 1e-4, 1.5, 1000, 0.25, 100, false, 0);
  }

  @Test
  void stepsFillABoundedRingOldestFirstAndCountTotals() {
    RunMonitor m = new RunMonitor("job", new RunMonitor.Limits(5, 2, 3));
    assertEquals(-1, m.snapshot().step());
    assertNull(m.snapshot().latest());
    assertEquals("starting", m.snapshot().state());
    for (int i = 0; i < 12; i++) {
      m.onStep(i == 4 ? new StepRecord(4, Double.NaN, 0, 1e-4, Double.POSITIVE_INFINITY, 0, 0, 100, true, 0)
          : step(i, 10 - i));
    }
    RunState s = m.snapshot();
    assertEquals(11, s.step());
    assertEquals("running", s.state());
    assertEquals(List.of(7L, 8L, 9L, 10L, 11L), s.series().stream().map(StepRecord::step).toList());
    assertEquals(1200, s.tokensTotal());
    assertEquals(1, s.skippedSteps());
    assertEquals(-1.0, s.latest().ce(), 0);
  }

  @Test
  void checkpointsLogsMembersAndDataAreKept() {
    RunMonitor m = new RunMonitor("job", new RunMonitor.Limits(5, 2, 3));
    m.onCheckpoint(10, Path.of("/r/0000010"));
    m.onCheckpoint(20, Path.of("/r/0000020"));
    m.onCheckpoint(30, Path.of("/r/0000030"));
    for (int i = 0; i < 5; i++) {
      m.onLog("INFO", "t", "line " + i);
    }
    m.putMember(new Member("w1", "trainer", "up", "cpu", 0));
    m.putMember(new Member("c", "coordinator", "up", "cpu", 0));
    m.putMember(new Member("w1", "trainer", "unreachable", "cpu", 1));
    m.setDataHealth(new DataHealth(Map.of("packed", 3), Map.of("corrupt_image", 2L, "too_long", 5L), 1.5));
    m.onJobState("finished");
    RunState s = m.snapshot();
    assertEquals(List.of(20L, 30L), s.checkpoints().stream().map(CheckpointInfo::step).toList());
    assertEquals(List.of("line 2", "line 3", "line 4"), s.logs().stream().map(LogLine::message).toList());
    assertEquals(List.of("c", "w1"), s.members().stream().map(Member::name).toList());
    assertEquals("unreachable", s.members().get(1).health());
    assertEquals(7, s.data().totalSkips());
    assertEquals("finished", s.state());
    m.removeMember("c");
    assertEquals(1, m.snapshot().members().size());
    assertThrows(IllegalArgumentException.class, () -> new Member(" ", "r", "up", "cpu", 0));
  }

  @Test
  void subscribersSeeEveryChangeInOrderAndAFailingOneDoesNotStopTheRun() throws Exception {
    RunMonitor m = new RunMonitor("job");
    List<String> seen = new ArrayList<>();
    m.subscribe(e -> {
      throw new IllegalStateException("broken viewer");
    });
    AutoCloseable sub = m.subscribe(e -> seen.add(e.type() + ":" + (e.payload() instanceof StepRecord r ? r.step() : "")));
    m.onStep(step(0, 1));
    m.onCheckpoint(0, Path.of("x"));
    m.onLog("WARN", "t", "w");
    m.putMember(new Member("w", "trainer", "up", "cpu", 0));
    m.setTotalSteps(10);
    sub.close();
    m.onStep(step(1, 1));
    assertEquals(List.of("step:0", "checkpoint:", "log:", "members:", "job:"), seen);
    assertEquals(1, m.subscriberCount());
  }

  @Test
  void concurrentReportersLoseNothing() throws Exception {
    RunMonitor m = new RunMonitor("job", new RunMonitor.Limits(100_000, 10, 10));
    ExecutorService pool = Executors.newFixedThreadPool(4);
    CountDownLatch go = new CountDownLatch(1);
    for (int t = 0; t < 4; t++) {
      int base = t * 1000;
      pool.submit(() -> {
        go.await();
        for (int i = 0; i < 1000; i++) {
          m.onStep(step(base + i, 1));
          m.putMember(new Member("w" + (base + i) % 7, "trainer", "up", "cpu", 0));
          m.snapshot();
        }
        return null;
      });
    }
    go.countDown();
    pool.shutdown();
    assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS));
    RunState s = m.snapshot();
    assertEquals(4000, s.series().size());
    assertEquals(3999, s.step());
    assertEquals(400_000, s.tokensTotal());
    assertEquals(7, s.members().size());
  }

  @Test
  void stepRecordTakesTheTrainersStepResult() {
    StepResult r = new StepResult(3, 2.5, 0.5, 1e-3, 0.7, false, 4096, 1e6, 8, 1000, 2000);
    StepRecord s = StepRecord.of(r, 1234.5, 0.31);
    assertEquals(3, s.step());
    assertEquals(2.5, s.ce());
    assertEquals(0.5, s.mse());
    assertEquals(1e-3, s.lr());
    assertEquals(0.7, s.gradNorm());
    assertEquals(4096, s.tokens());
    assertEquals(1234.5, s.tokensPerSecond());
    assertEquals(0.31, s.mfu());
  }

  @Test
  void logbackTapCopiesLinesAtOrAboveItsLevelUntilClosed() throws Exception {
    RunMonitor m = new RunMonitor("job");
    org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger("ai.bakery.test.Tapped");
    try (LogbackTap tap = LogbackTap.attach(m, "INFO")) {
      assertTrue(tap != null, "tests run on Logback");
      log.debug("hidden {}", 1);
      log.info("shown {}", 2);
      log.warn("warned");
    }
    log.warn("after close");
    List<LogLine> lines = m.snapshot().logs();
    assertEquals(List.of("INFO shown 2", "WARN warned"),
        lines.stream().map(l -> l.level() + " " + l.message()).toList());
    assertEquals("Tapped", lines.get(0).logger());
  }
}

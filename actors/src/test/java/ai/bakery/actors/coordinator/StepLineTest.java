package ai.bakery.actors.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.actors.worker.StepReport;
import java.util.Set;
import org.junit.jupiter.api.Test;

class StepLineTest {
  @Test
  void aCommittedStepReadsLikeTheTrainersLineWithTheGroupsTokens() {
    StepLine line = new StepLine();
    line.started(3, 5, Set.of("a", "b"));
    line.report("a", 3, 5, new StepReport(2.5, 0.25, 1.0, 1e-4, 300));
    line.report("b", 3, 5, new StepReport(2.5, 0.25, 1.0, 1e-4, 200));
    line.report("b", 2, 5, new StepReport(9, 9, 9, 9, 9_000)); // an older generation's late report
    String s = line.committed(5).orElseThrow();
    assertTrue(s.startsWith("(step=0000004) Train Loss mse: 0.2500, Train Loss ce: 2.5000, Train Steps/Sec: "), s);
    assertTrue(s.endsWith("Ranks: 2"), s);
    double kTokensPerSec = Double.parseDouble(s.replaceAll(".*Tokens/Sec: ([0-9.]+)k.*", "$1"));
    double stepsPerSec = Double.parseDouble(s.replaceAll(".*Steps/Sec: ([0-9.]+),.*", "$1"));
    // 500 tokens in the step: tokens/s = 500 x steps/s (both rounded to 2 decimals)
    assertEquals(0.5 * stepsPerSec, kTokensPerSec, 0.01 + 0.005 * stepsPerSec);
  }

  @Test
  void noLineWithoutMeasuredLosses() {
    StepLine line = new StepLine();
    line.started(1, 1, Set.of("a"));
    line.report("a", 1, 1, StepReport.NONE);
    assertTrue(line.committed(1).isEmpty());
  }
}

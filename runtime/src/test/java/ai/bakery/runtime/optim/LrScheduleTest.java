package ai.bakery.runtime.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class LrScheduleTest {
  @Test
  void constantWarmsUpLinearlyFromZeroThenHolds() {
    LrSchedule s = new LrSchedule(1e-4, new ScheduleConfig("constant", 10, 1e-7, 1000));
    assertEquals(0.0, s.lr(0));
    assertEquals(0.3e-4, s.lr(3), 1e-18);
    assertEquals(0.9e-4, s.lr(9), 1e-18);
    assertEquals(1e-4, s.lr(10));
    assertEquals(1e-4, s.lr(999));
  }

  @Test
  void noWarmupStartsAtPeak() {
    LrSchedule s = new LrSchedule(2e-5, new ScheduleConfig("constant", 0, 1e-7, 1000));
    assertEquals(2e-5, s.lr(0));
  }

  @Test
  void cosineGoesFromPeakToMinLrWithTheMeanAtTheMidpoint() {
    // warmup 10, decay over 100 steps: peak at 10, midpoint 60, min_lr at 110.
    LrSchedule s = new LrSchedule(1e-3, new ScheduleConfig("cosine", 10, 1e-5, 110));
    assertEquals(0.5e-3, s.lr(5), 1e-15);
    assertEquals(1e-3, s.lr(10), 1e-15);
    assertEquals((1e-3 + 1e-5) / 2, s.lr(60), 1e-15);
    assertEquals(1e-5, s.lr(110), 1e-15);
    // a quarter of the way: cos(pi/4) weighting, 0.5 * (1 + sqrt(1/2)) = 0.853553...
    double f = 0.5 * (1 + Math.sqrt(0.5));
    assertEquals(1e-5 + (1e-3 - 1e-5) * f, s.lr(35), 1e-15);
  }
}

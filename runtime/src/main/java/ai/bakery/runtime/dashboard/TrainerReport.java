package ai.bakery.runtime.dashboard;

import ai.bakery.runtime.train.Ema;
import ai.bakery.runtime.train.StepResult;
import ai.bakery.runtime.train.TrainHook;
import java.nio.file.Path;
import java.util.Map;

/**
 * Reports the single-process trainer to a {@link RunListener} (a dashboard's {@link RunMonitor}): every step
 * with its throughput and MFU, checkpoints, the data pipeline's skips, and the job's state.
 */
public final class TrainerReport implements TrainHook {
  private final RunListener listener;
  private final String member;
  private long lastSkips = -1;

  /** @param member this process's name in the member list (null to report none) */
  public TrainerReport(RunListener listener, String member) {
    this.listener = listener;
    this.member = member;
  }

  @Override
  public void onStart(long first, long end) {
    listener.onTotalSteps(end);
    if (member != null && listener instanceof RunMonitor m) {
      m.putMember(new Member(member, "trainer", "up", "cpu", System.currentTimeMillis()));
    }
    listener.onJobState("running");
  }

  @Override
  public void onStep(StepResult r, double seconds, double mfu, long dataSkips, Ema ema) {
    listener.onStep(StepRecord.of(r, r.tokens() / seconds, mfu));
    if (dataSkips != lastSkips) {
      lastSkips = dataSkips;
      listener.onDataHealth(new DataHealth(Map.of(), dataSkips == 0 ? Map.of() : Map.of("skipped", dataSkips), 0));
    }
  }

  @Override
  public void onCheckpoint(long step, Path dir) {
    listener.onCheckpoint(step, dir);
  }

  @Override
  public void onFinish(long lastStep, Ema ema, Throwable error) {
    listener.onJobState(error == null ? "finished"
        : error instanceof ai.bakery.runtime.train.TrainingStopped ? error.getMessage()
        : "failed: " + error.getMessage());
  }
}

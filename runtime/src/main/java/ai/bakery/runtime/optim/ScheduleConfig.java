package ai.bakery.runtime.optim;

import ai.bakery.model.config.ConfigException;
import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * Learning-rate schedule, named and defaulted as the reference's TrainingArguments: linear warm-up, then
 * constant or cosine decay to {@code min_lr} at {@code total_steps}.
 *
 * @param lrScheduler {@code constant} or {@code cosine}
 * @param warmupSteps steps of linear warm-up from 0 to the peak lr
 * @param minLr lr reached at {@code total_steps} by the cosine schedule (ignored by constant)
 * @param totalSteps optimizer steps the run is planned for (the cosine horizon, and where training stops)
 */
public record ScheduleConfig(
    @JsonProperty("lr_scheduler") String lrScheduler,
    @JsonProperty("warmup_steps") int warmupSteps,
    @JsonProperty("min_lr") double minLr,
    @JsonProperty("total_steps") long totalSteps) {

  public static final ScheduleConfig DEFAULTS = new ScheduleConfig("constant", 2000, 1e-7, 500_000);

  @JsonCreator
  static ScheduleConfig fromJson(
      @JsonProperty("lr_scheduler") String lrScheduler,
      @JsonProperty("warmup_steps") Integer warmupSteps,
      @JsonProperty("min_lr") Double minLr,
      @JsonProperty("total_steps") Long totalSteps) {
    return new ScheduleConfig(
        lrScheduler == null ? DEFAULTS.lrScheduler : lrScheduler,
        warmupSteps == null ? DEFAULTS.warmupSteps : warmupSteps,
        minLr == null ? DEFAULTS.minLr : minLr,
        totalSteps == null ? DEFAULTS.totalSteps : totalSteps);
  }

  public ScheduleConfig {
    lrScheduler = lrScheduler == null ? "constant" : lrScheduler;
    if (!lrScheduler.equals("constant") && !lrScheduler.equals("cosine")) {
      throw new ConfigException("schedule: lr_scheduler must be constant or cosine, got '" + lrScheduler + "'");
    }
    if (warmupSteps < 0) {
      throw new ConfigException("schedule: warmup_steps must be >= 0, got " + warmupSteps);
    }
    if (!(minLr >= 0) || !Double.isFinite(minLr)) {
      throw new ConfigException("schedule: min_lr must be finite and >= 0, got " + minLr);
    }
    if (totalSteps <= 0) {
      throw new ConfigException("schedule: total_steps must be > 0, got " + totalSteps);
    }
  }
}

package ai.bakery.runtime.checkpoint;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * The learning-rate schedule at a checkpoint ({@code scheduler.json}), as torch's LambdaLR state: the next
 * update uses {@code lr(last_epoch)}. The schedule's settings are recorded so a resume under different settings
 * is visible in the log.
 */
public record SchedulerState(
    @JsonProperty("last_epoch") long lastEpoch,
    @JsonProperty("base_lr") double baseLr,
    @JsonProperty("lr_scheduler") String lrScheduler,
    @JsonProperty("warmup_steps") long warmupSteps,
    @JsonProperty("total_steps") long totalSteps,
    @JsonProperty("min_lr") double minLr,
    @JsonProperty("last_lr") double lastLr) {}

package ai.bakery.runtime.config;

import ai.bakery.runtime.checkpoint.CheckpointConfig;
import ai.bakery.runtime.optim.OptimizerConfig;
import ai.bakery.runtime.optim.ScheduleConfig;
import ai.bakery.runtime.train.EmaConfig;
import ai.bakery.runtime.train.TrainLoopConfig;

/**
 * The trainer's component configs, as {@code ai.bakery.runtime} defines them. Fields that also belong to another
 * section (modality switches and freeze flags, seed, run and checkpoint folders) are not written here in a
 * config file: {@link JobConfig} fills them from {@code model}, {@code runtime} and {@code output}.
 */
public record TrainingSection(
    OptimizerConfig optimizer, ScheduleConfig schedule, EmaConfig ema, CheckpointConfig checkpoint,
    TrainLoopConfig loop) {

  public static final TrainingSection DEFAULTS = new TrainingSection(OptimizerConfig.DEFAULTS,
      ScheduleConfig.DEFAULTS, EmaConfig.DEFAULTS, CheckpointConfig.DEFAULTS, TrainLoopConfig.DEFAULTS);

  public TrainingSection {
    optimizer = optimizer == null ? OptimizerConfig.DEFAULTS : optimizer;
    schedule = schedule == null ? ScheduleConfig.DEFAULTS : schedule;
    ema = ema == null ? EmaConfig.DEFAULTS : ema;
    checkpoint = checkpoint == null ? CheckpointConfig.DEFAULTS : checkpoint;
    loop = loop == null ? TrainLoopConfig.DEFAULTS : loop;
  }
}

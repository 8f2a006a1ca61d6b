package ai.bakery.runtime.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.bakery.model.tensor.Torch;
import ai.bakery.runtime.config.JobConfig;
import ai.bakery.runtime.config.JobConfigLoader;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code model.timestep_shift} (the reference's {@code --timestep_shift}, a training argument) reaches the model
 * the job trains: it used to be validated and then dropped, so every run trained at the preset's shift.
 */
class TimestepShiftJobTest {
  private static JobConfig job(String shiftLine) {
    return JobConfigLoader.parse(String.join("\n",
        "model:",
        "  preset: tiny",
        shiftLine,
        "data:",
        "  dataset_config_file: never-read.yaml # building the model reads no data",
        "output:",
        "  results_dir: unused",
        ""), List.of()).config();
  }

  @Test
  void theJobsTimestepShiftIsTheTrainedModelsAndDefaultsToOne() throws Exception {
    Torch.init();
    try (TrainJob.Model built = TrainJob.buildModel(job("  timestep_shift: 3.0"))) {
      assertEquals(3.0, built.bagelConfig().timestepShift());
      assertEquals(3.0, built.bagel().config().timestepShift());
    }
    try (TrainJob.Model built = TrainJob.buildModel(job(""))) {
      assertEquals(1.0, built.bagelConfig().timestepShift(), "the reference's default");
    }
  }
}

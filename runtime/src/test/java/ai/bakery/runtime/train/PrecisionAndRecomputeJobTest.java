package ai.bakery.runtime.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.data.example.ExampleDataset;
import ai.bakery.runtime.config.JobConfig;
import ai.bakery.runtime.config.JobConfigLoader;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The job switches of issue 5 reach the real tiny BAGEL step: {@code gradient_checkpointing} gives the same
 * losses (so the same gradients and update) as the plain run, and {@code bf16} stays within 3% of fp32.
 */
class PrecisionAndRecomputeJobTest {
  @TempDir
  static Path tmp;

  @BeforeAll
  static void data() throws Exception {
    ExampleDataset.write(tmp.resolve("example"), ExampleDataset.Options.DEFAULTS);
  }

  private static JobConfig job(String name, boolean recompute, boolean bf16) {
    String yaml = String.join("\n",
        "model:",
        "  preset: tiny",
        "  gradient_checkpointing: " + recompute,
        "  bf16: " + bf16,
        TinyJobYaml.dataAndOptimizer(tmp.resolve("example")),
        "  schedule:",
        "    warmup_steps: 1",
        "    total_steps: 2",
        "  checkpoint:",
        "    save_every: 100",
        "  loop:",
        "    max_steps: 2",
        "    log_every: 1",
        "output:",
        "  results_dir: " + tmp.resolve(name),
        "runtime:",
        "  seed: 11",
        "  num_workers: 1",
        "");
    return JobConfigLoader.parse(yaml, List.of()).config();
  }

  @Test
  void recomputeMatchesThePlainStepAndBf16StaysClose() {
    TrainResult plain = TrainJob.run(job("plain", false, false));
    TrainResult recompute = TrainJob.run(job("recompute", true, false));
    for (int i = 0; i < 2; i++) {
      StepResult a = plain.steps().get(i);
      StepResult b = recompute.steps().get(i);
      assertEquals(a.ce(), b.ce(), 1e-5 * Math.max(1, Math.abs(a.ce())), "ce at step " + i);
      assertEquals(a.mse(), b.mse(), 1e-5 * Math.max(1, Math.abs(a.mse())), "mse at step " + i);
      assertEquals(a.gradNorm(), b.gradNorm(), 1e-4 * Math.max(1, a.gradNorm()), "grad norm at step " + i);
    }
    TrainResult bf16 = TrainJob.run(job("bf16", false, true));
    StepResult f = plain.steps().get(0);
    StepResult h = bf16.steps().get(0);
    // Stated tolerance: bf16 keeps ~3 significant digits; the step's losses agree within 3%.
    assertTrue(Math.abs(h.ce() - f.ce()) <= 0.03 * f.ce(), "bf16 ce " + h.ce() + " vs fp32 " + f.ce());
    assertTrue(Math.abs(h.mse() - f.mse()) <= 0.03 * f.mse(), "bf16 mse " + h.mse() + " vs fp32 " + f.mse());
    assertTrue(h.ce() != f.ce() || h.mse() != f.mse(), "bf16 really computed in bf16");
  }
}

package ai.bakery.runtime.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.data.example.ExampleDataset;
import ai.bakery.runtime.config.JobConfig;
import ai.bakery.runtime.config.JobConfigLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real tiny BAGEL (tiny preset, frozen tiny VAE, SDPA attention) on the generated example dataset through the
 * real data pipeline: 2 steps in one run and 1 + checkpoint + resume in a fresh process state + 1 give
 * byte-identical checkpoints (model, EMA and optimizer moments) and the same losses.
 */
class BagelResumeTest {
  @TempDir
  Path tmp;

  private JobConfig job(Path run, long maxSteps, boolean autoResume) {
    String yaml = String.join("\n",
        "model:",
        "  preset: tiny",
        TinyJobYaml.dataAndOptimizer(tmp.resolve("example")),
        "  schedule:",
        "    warmup_steps: 1",
        "    total_steps: 2",
        "  ema:",
        "    ema: 0.9",
        "  checkpoint:",
        "    save_every: 100",
        "    auto_resume: " + autoResume,
        "  loop:",
        "    max_steps: " + maxSteps,
        "    log_every: 1",
        "output:",
        "  results_dir: " + run,
        "runtime:",
        "  seed: 5",
        "  num_workers: 1",
        "");
    return JobConfigLoader.parse(yaml, List.of()).config();
  }

  @Test
  void resumedTinyBagelMatchesAnUninterruptedRunByteForByte() throws Exception {
    ExampleDataset.write(tmp.resolve("example"), ExampleDataset.Options.DEFAULTS);
    TrainResult full = TrainJob.run(job(tmp.resolve("a"), 0, false));
    assertEquals(2, full.steps().size());
    TrainResult first = TrainJob.run(job(tmp.resolve("b"), 1, false));
    assertEquals(tmp.resolve("b/checkpoints/0000000"), first.lastCheckpoint());
    TrainResult second = TrainJob.run(job(tmp.resolve("b"), 0, true));
    assertEquals(1, second.steps().size());
    assertEquals(1, second.steps().get(0).step());
    assertEquals(full.steps().get(1).ce(), second.steps().get(0).ce(), "ce at step 1");
    assertEquals(full.steps().get(1).mse(), second.steps().get(0).mse(), "mse at step 1");
    Path a = tmp.resolve("a/checkpoints/0000001");
    Path b = tmp.resolve("b/checkpoints/0000001");
    for (String f : List.of("model.safetensors", "ema.safetensors", "optimizer.safetensors")) {
      assertArrayEquals(Files.readAllBytes(a.resolve(f)), Files.readAllBytes(b.resolve(f)), f);
    }
    assertTrue(full.steps().stream().allMatch(s -> s.mseTokens() > 0 || s.ceTokens() > 0));
  }
}

package ai.bakery.actors;

import ai.bakery.data.example.ExampleDataset;
import ai.bakery.runtime.config.JobConfig;
import ai.bakery.runtime.config.JobConfigLoader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A tiny-preset job on the generated example dataset, with small packs so a step takes about a second.
 *
 * <p>AdamW's epsilon is 1e-6 rather than the reference's 1e-15: AdamW divides by the gradient's own magnitude, so
 * with a tiny epsilon a weight whose gradient is nearly zero (the ViT's key biases: softmax ignores a shift shared
 * by every key) takes an {@code lr}-sized step of whatever sign rounding gives it, and any difference in summation
 * order (ring reduce-scatter vs all-reduce, other CPU kernels) shows up in the weights as 1e-5..1e-3. With 1e-6 the
 * optimizer amplifies a gradient difference by at most {@code lr/eps}, so tests comparing weights across code
 * paths hold tight tolerances on any machine.
 */
public final class TinyJob {
  private TinyJob() {}

  /** Writes the example dataset under {@code dir} (once) and returns the job's YAML. */
  public static String yaml(Path dir, int maxSteps, String extra) throws IOException {
    Path example = dir.resolve("example");
    if (!Files.isDirectory(example)) {
      ExampleDataset.write(example, ExampleDataset.Options.DEFAULTS);
    }
    return String.join("\n",
        "model:",
        "  preset: tiny",
        "data:",
        "  dataset_config_file: " + example.resolve("example.yaml"),
        "  packing:",
        "    expected_num_tokens: 256",
        "    max_num_tokens: 768",
        "    max_num_tokens_per_sample: 512",
        "    prefer_buffer_before: 128",
        "    max_buffer_size: 4",
        "training:",
        "  optimizer:",
        "    lr: 2.0e-3",
        "    eps: 1.0e-6",
        "  schedule:",
        "    warmup_steps: 2",
        "    total_steps: " + Math.max(1, maxSteps),
        "  checkpoint:",
        "    save_every: 1000",
        "  loop:",
        "    max_steps: " + maxSteps,
        "    log_every: 1",
        "output:",
        "  results_dir: " + dir.resolve("results"),
        "  checkpoint_dir: " + dir.resolve("checkpoints"),
        "runtime:",
        "  seed: 11",
        "  num_workers: 1",
        "  threads: 1",
        extra,
        "");
  }

  public static JobConfig config(Path dir, int maxSteps) throws IOException {
    return JobConfigLoader.parse(yaml(dir, maxSteps, ""), List.of()).config();
  }
}

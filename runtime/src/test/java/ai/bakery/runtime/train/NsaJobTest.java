package ai.bakery.runtime.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.data.example.ExampleDataset;
import ai.bakery.runtime.config.JobConfig;
import ai.bakery.runtime.config.JobConfigLoader;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code attn_implementation: nsa} / {@code model.nsa} reach every decoder layer of the tiny BAGEL job. */
class NsaJobTest {
  /** Small blocks so the tiny packs' samples span several blocks, windows and compressed kernels. */
  static final String NSA = String.join("\n",
      "  nsa:",
      "    block_size: 16",
      "    kernel_size: 16",
      "    kernel_stride: 8",
      "    topk: 3",
      "    local_blocks: 1",
      "    window_size: 24");

  @TempDir
  static Path tmp;

  @BeforeAll
  static void data() throws Exception {
    ExampleDataset.write(tmp.resolve("example"), ExampleDataset.Options.DEFAULTS);
  }

  static JobConfig job(String name, String attention, String nsa, boolean recompute) {
    String yaml = String.join("\n",
        "model:",
        "  preset: tiny",
        "  attn_implementation: " + attention,
        "  gradient_checkpointing: " + recompute,
        "  bf16: false",
        nsa,
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
  void nsaTrainsAndRecomputeGivesTheSameSteps() {
    TrainResult dense = TrainJob.run(job("dense", "sdpa", "", false));
    TrainResult nsa = TrainJob.run(job("nsa", "nsa", NSA, false));
    TrainResult recompute = TrainJob.run(job("nsa-recompute", "sdpa", NSA, true));
    for (int i = 0; i < 2; i++) {
      StepResult a = nsa.steps().get(i);
      StepResult b = recompute.steps().get(i);
      assertTrue(Double.isFinite(a.ce()) && Double.isFinite(a.mse()) && Double.isFinite(a.gradNorm()), a.toString());
      assertEquals(a.ce(), b.ce(), 1e-5 * Math.max(1, Math.abs(a.ce())), "ce at step " + i);
      assertEquals(a.mse(), b.mse(), 1e-5 * Math.max(1, Math.abs(a.mse())), "mse at step " + i);
      assertEquals(a.gradNorm(), b.gradNorm(), 1e-4 * Math.max(1, a.gradNorm()), "grad norm at step " + i);
    }
    // Same seed, same batches: only the decoder's attention differs.
    StepResult d = dense.steps().get(0);
    StepResult s = nsa.steps().get(0);
    assertTrue(Math.abs(d.ce() - s.ce()) > 1e-6 || Math.abs(d.mse() - s.mse()) > 1e-6,
        "NSA did not change the step: ce " + s.ce() + " vs dense " + d.ce());
  }

  @Test
  void badNsaFieldsAreNamed() {
    Exception e = assertThrows(Exception.class,
        () -> job("bad", "sdpa", "  nsa:\n    compress_type: maxpool", false));
    assertTrue(e.getMessage().contains("compress_type"), e.getMessage());
    e = assertThrows(Exception.class, () -> job("bad2", "sdpa", "  nsa:\n    kernel_size: 24", false));
    assertTrue(e.getMessage().contains("kernel_size"), e.getMessage());
    e = assertThrows(Exception.class, () -> job("bad3", "flashy", "", false));
    assertTrue(e.getMessage().contains("attn_implementation"), e.getMessage());
  }
}

package ai.bakery.model.bench;

import ai.bakery.model.attention.SdpaAttention;
import ai.bakery.model.config.BagelConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Training-step throughput of a preset's language model (see {@link LlmStep}) in fp32 and bf16, with and
 * without activation recompute: step time, tokens/s, achieved GFLOP/s (6N per token plus attention, x4/3
 * with recompute's extra forward not counted as useful work), MFU against the GEMM rate of the same dtype
 * measured in the same run, and peak memory growth.
 */
public final class StepBench {
  private final Path presets;

  public StepBench(Path presetsDir) {
    this.presets = presetsDir;
  }

  public List<Map<String, Object>> run(List<String> presetNames, int tokens, int sampleLen, int steps) {
    GemmProbe gemm = GemmProbe.measure(1024);
    List<Map<String, Object>> rows = new ArrayList<>();
    for (String name : presetNames) {
      BagelConfig cfg = BagelConfig.readModelDir(presets.resolve(name));
      try (LlmStep step = new LlmStep(cfg.llm())) {
        step.step(Math.min(tokens, 2 * sampleLen), sampleLen, new SdpaAttention(), false, false); // warm up
        for (boolean bf16 : new boolean[] {false, true}) {
          for (boolean recompute : new boolean[] {false, true}) {
            rows.add(measure(name, step, gemm, tokens, sampleLen, steps, bf16, recompute));
          }
        }
      }
    }
    return rows;
  }

  /**
   * The best of {@code steps} fp32 training-step times (ms, no recompute) of a preset's language model after one
   * warm-up step: the step other benches (checkpoint stall) compare against.
   */
  public long stepMillis(String presetName, int tokens, int sampleLen, int steps) {
    BagelConfig cfg = BagelConfig.readModelDir(presets.resolve(presetName));
    try (LlmStep step = new LlmStep(cfg.llm())) {
      step.step(Math.min(tokens, 2 * sampleLen), sampleLen, new SdpaAttention(), false, false);
      long best = Long.MAX_VALUE;
      for (int i = 0; i < steps; i++) {
        best = Math.min(best, step.step(tokens, sampleLen, new SdpaAttention(), false, false));
      }
      return best;
    }
  }

  static Map<String, Object> measure(String preset, LlmStep step, GemmProbe gemm, int tokens, int sampleLen,
      int steps, boolean bf16, boolean recompute) {
    long[] best = {Long.MAX_VALUE};
    long peak = PeakMemory.measure(() -> {
      for (int i = 0; i < steps; i++) {
        best[0] = Math.min(best[0], step.step(tokens, sampleLen, new SdpaAttention(), bf16, recompute));
      }
    });
    int packed = Math.max(1, tokens / sampleLen) * sampleLen;
    double flops = 3 * step.forwardFlops(packed, sampleLen);
    double gflops = flops / (best[0] / 1e3) / 1e9;
    double peakRate = bf16 ? gemm.bf16Gflops() : gemm.fp32Gflops();
    Map<String, Object> row = new LinkedHashMap<>();
    row.put("preset", preset);
    row.put("dtype", bf16 ? "bf16" : "fp32");
    row.put("recompute", recompute);
    row.put("tokens", packed);
    row.put("step_ms", best[0]);
    row.put("tokens_per_s", Math.round(packed / (best[0] / 1e3)));
    row.put("gflops", String.format("%.1f", gflops));
    row.put("gemm_gflops", String.format("%.1f", peakRate));
    row.put("mfu", String.format("%.1f%%", 100 * gflops / peakRate));
    row.put("peak_mib", peak < 0 ? null : peak >> 20);
    return row;
  }
}

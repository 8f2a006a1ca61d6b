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
 * without activation recompute: step time, tokens/s, achieved GFLOP/s (6 per active matmul weight per token
 * plus attention; recompute's extra forward is not counted as useful work), and MFU against the fp32 GEMM rate
 * and the bf16 matmul path's rate, both probed right before and right after each row (the mean is used, so a
 * machine shared with other work loads probe and step alike), and peak memory growth.
 */
public final class StepBench {
  static final int PROBE_N = 1024;
  private final Path presets;

  public StepBench(Path presetsDir) {
    this.presets = presetsDir;
  }

  public List<Map<String, Object>> run(List<String> presetNames, int tokens, int sampleLen, int steps) {
    List<Map<String, Object>> rows = new ArrayList<>();
    for (String name : presetNames) {
      BagelConfig cfg = BagelConfig.readModelDir(presets.resolve(name));
      try (LlmStep step = new LlmStep(cfg.llm())) {
        step.step(Math.min(tokens, 2 * sampleLen), sampleLen, new SdpaAttention(), false, false); // warm up
        for (boolean bf16 : new boolean[] {false, true}) {
          for (boolean recompute : new boolean[] {false, true}) {
            rows.add(measure(name, step, tokens, sampleLen, steps, bf16, recompute));
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

  static Map<String, Object> measure(String preset, LlmStep step, int tokens, int sampleLen, int steps,
      boolean bf16, boolean recompute) {
    GemmProbe before = GemmProbe.measure(PROBE_N);
    long[] best = {Long.MAX_VALUE};
    long peak = PeakMemory.measure(() -> {
      for (int i = 0; i < steps; i++) {
        best[0] = Math.min(best[0], step.step(tokens, sampleLen, new SdpaAttention(), bf16, recompute));
      }
    });
    GemmProbe after = GemmProbe.measure(PROBE_N);
    double fp32 = (before.fp32Gflops() + after.fp32Gflops()) / 2;
    double bf16Path = (before.bf16PathGflops() + after.bf16PathGflops()) / 2;
    double bf16Lib = (before.bf16Gflops() + after.bf16Gflops()) / 2;
    int packed = Math.max(1, tokens / sampleLen) * sampleLen;
    double flops = 3 * step.forwardFlops(packed, sampleLen);
    double gflops = flops / (best[0] / 1e3) / 1e9;
    Map<String, Object> row = new LinkedHashMap<>();
    row.put("preset", preset);
    row.put("dtype", bf16 ? "bf16" : "fp32");
    row.put("recompute", recompute);
    row.put("tokens", packed);
    row.put("step_ms", best[0]);
    row.put("tokens_per_s", Math.round(packed / (best[0] / 1e3)));
    row.put("gflops", String.format("%.1f", gflops));
    row.put("gemm_fp32", String.format("%.1f", fp32));
    row.put("gemm_bf16", String.format("%.1f", bf16Lib));
    row.put("gemm_bf16_path", String.format("%.1f", bf16Path));
    row.put("mfu", String.format("%.1f%%", 100 * gflops / (bf16 ? bf16Path : fp32)));
    row.put("mfu_fp32", String.format("%.1f%%", 100 * gflops / fp32));
    row.put("peak_mib", peak < 0 ? null : peak >> 20);
    return row;
  }
}

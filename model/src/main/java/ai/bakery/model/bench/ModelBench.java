package ai.bakery.model.bench;

import ai.bakery.model.attention.SdpaAttention;
import ai.bakery.model.config.BagelConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code bakery bench model}: forward+backward time per token of each preset's language model in fp32, and
 * MFU against the fp32 GEMM rate measured in the same run.
 */
public final class ModelBench {
  private final Path presets;

  public ModelBench(Path presetsDir) {
    this.presets = presetsDir;
  }

  public List<Map<String, Object>> run(List<String> presetNames, int tokens, int sampleLen, int steps) {
    List<Map<String, Object>> rows = new ArrayList<>();
    for (String name : presetNames) {
      BagelConfig cfg = BagelConfig.readModelDir(presets.resolve(name));
      try (LlmStep step = new LlmStep(cfg.llm())) {
        step.step(Math.min(tokens, 2 * sampleLen), sampleLen, new SdpaAttention(), false, false); // warm up
        Map<String, Object> m = StepBench.measure(name, step, tokens, sampleLen, steps, false, false);
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("preset", name);
        row.put("params_matmul", step.matmulParams());
        row.put("tokens", m.get("tokens"));
        long ms = (Long) m.get("step_ms");
        row.put("us_per_token", String.format("%.1f", ms * 1e3 / ((Integer) m.get("tokens"))));
        row.put("gflops", m.get("gflops"));
        row.put("fp32_gemm_gflops", m.get("gemm_fp32"));
        row.put("mfu", m.get("mfu"));
        row.put("peak_mib", m.get("peak_mib"));
        rows.add(row);
      }
    }
    return rows;
  }
}

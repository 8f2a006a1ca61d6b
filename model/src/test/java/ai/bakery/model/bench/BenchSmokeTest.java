package ai.bakery.model.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The benches run end to end at toy sizes and report sane rows (the figures themselves come from the CLI). */
class BenchSmokeTest {
  static final Path PRESETS = Path.of("..", "configs", "model");

  @Test
  void attentionBenchTimesEveryKernelAndSkipsOverBudget() {
    List<Map<String, Object>> rows = new AttentionBench(4, 2, 16, 1L << 20).run(new int[] {64, 512},
        List.of("eager", "sdpa", "nsa"));
    assertEquals(6, rows.size());
    assertTrue(((Long) rows.get(1).get("fwd_bwd_ms")) >= 0); // sdpa at 64
    // eager at 512 would need 4 * 4 * 512^2 * 4 B = 16 MiB > the 1 MiB budget: skipped, and the row says why.
    assertNull(rows.get(3).get("fwd_bwd_ms"));
    assertTrue(rows.get(3).get("note").toString().startsWith("skipped"));
    assertTrue(((Long) rows.get(4).get("fwd_bwd_ms")) >= 0); // sdpa is never skipped
  }

  @Test
  void stepBenchReportsThroughputAndMfu() {
    List<Map<String, Object>> rows = new StepBench(PRESETS).run(List.of("tiny"), 64, 32, 1);
    assertEquals(4, rows.size());
    for (Map<String, Object> r : rows) {
      assertTrue(((Long) r.get("tokens_per_s")) > 0, r.toString());
      assertTrue(r.get("mfu").toString().endsWith("%"));
    }
    List<Map<String, Object>> model = new ModelBench(PRESETS).run(List.of("tiny"), 64, 32, 1);
    assertEquals("tiny", model.get(0).get("preset"));
  }
}

package ai.bakery.runtime.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.model.config.LayerModule;
import ai.bakery.model.config.LlmConfig;
import org.junit.jupiter.api.Test;

class MetricsTest {
  @Test
  void flopCountsFollowTheReferenceFormula() {
    // hidden 8, intermediate 16, 2 layers, 4 heads of 2, 2 kv heads, vocab 10
    LlmConfig c = new LlmConfig(8, 16, 2, 4, 2, 1e-6, 1e4, 10, 64, false, "silu", 0.02, true,
        LayerModule.QWEN2_MOT, false);
    FlopCounter f = FlopCounter.of(c);
    double mlp = 8 * 16 * 3;
    double attn = 8 * (8 + 4 + 4 + 8);
    double dense = (mlp + attn) * 2 + 10 * 8 * 2;
    assertEquals(6 * dense, f.denseTokenFactor());
    assertEquals(12.0 * 2 * 4 * 2, f.attnFactor());
    assertEquals(6 * dense * 100 + 12.0 * 2 * 4 * 2 * (60 * 60 + 40 * 40), f.flops(100, 60 * 60 + 40 * 40));
  }

  @Test
  void gemmProbeMeasuresAPositiveRate() {
    double gflops = ai.bakery.model.bench.GemmProbe.fp32Gflops(128);
    assertTrue(gflops > 0.01 && gflops < 1e5, "gflops " + gflops);
  }

  @Test
  void progressLineShowsFractionRateAndEta() {
    ProgressBar bar = new ProgressBar(System.out, 0, 100);
    long start = System.nanoTime();
    String line = bar.line(50, "ce 1.0", start + 10_000_000_000L);
    assertTrue(line.contains("50/100"), line);
    assertTrue(line.contains(" 50%"), line);
    assertTrue(line.contains("ETA 00:00:1"), line); // ~10 s left at ~5 steps/s
    assertTrue(line.endsWith("ce 1.0"), line);
  }
}

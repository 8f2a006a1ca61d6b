package ai.bakery.actors.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.data.pack.PackedBatch;
import ai.bakery.data.pack.PackedBatchArrow;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class FlightBenchTest {
  @Test
  void syntheticBatchIsAValidPackThatSurvivesArrow() {
    PackedBatch b = FlightBench.synthetic(4096, new Random(1));
    assertEquals(4096, b.tokens());
    assertTrue(b.contentEquals(PackedBatchArrow.fromIpcBytes(PackedBatchArrow.toIpcBytes(b))));
  }

  /** A worker JVM fetches and decodes every batch (it checks their token counts), the in-process copy too. */
  @Test
  void printsOneRowPerSizeWithPositiveRates() throws Exception {
    List<Map<String, Object>> rows = FlightBench.run(new FlightBench.Config(List.of(2048, 4096), 2));
    assertEquals(2, rows.size());
    for (Map<String, Object> row : rows) {
      assertTrue(((Number) row.get("flight_mb_per_s")).doubleValue() > 0, row.toString());
      assertTrue(((Number) row.get("in_process_mb_per_s")).doubleValue() > 0, row.toString());
      assertTrue(((Number) row.get("flight_vs_in_process")).doubleValue() > 0, row.toString());
    }
    assertEquals(4096, rows.get(1).get("tokens_per_batch"));
    assertTrue(((Number) rows.get(1).get("batch_mb")).doubleValue() > ((Number) rows.get(0).get("batch_mb"))
        .doubleValue(), "a larger pack is more bytes");
  }
}

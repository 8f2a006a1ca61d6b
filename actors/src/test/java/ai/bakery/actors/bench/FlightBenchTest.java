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

  @Test
  void printsOneRowPerSizeWithPositiveRates() throws Exception {
    List<Map<String, Object>> rows = FlightBench.run(new FlightBench.Config(List.of(2048), 2));
    assertEquals(1, rows.size());
    assertTrue(((Number) rows.get(0).get("flight_mb_per_s")).doubleValue() > 0);
    assertTrue(((Number) rows.get(0).get("flight_vs_in_process")).doubleValue() > 0);
  }
}

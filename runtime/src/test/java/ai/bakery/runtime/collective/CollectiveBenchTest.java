package ai.bakery.runtime.collective;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class CollectiveBenchTest {
  @Test
  void smallRunReportsStreamAndRingRowsWithNcclTestsBusBandwidth() throws Exception {
    List<CollectiveBench.Row> rows = CollectiveBench.run(new CollectiveBench.Config(List.of(3), 1 << 16, 1 << 17, 16 << 20, 16 << 10));
    assertEquals(3, rows.size(), rows.toString());
    assertEquals("tcp-stream", rows.get(0).test());
    assertTrue(rows.get(0).busbwGBps() > 0);
    assertEquals(List.of(1L << 16, 1L << 17), rows.subList(1, 3).stream().map(CollectiveBench.Row::bytes).toList());
    for (CollectiveBench.Row r : rows.subList(1, 3)) {
      assertEquals(3, r.processes());
      assertEquals(r.bytes() / (r.millis() / 1e3) / 1e9, r.algbwGBps(), 1e-9 * r.algbwGBps() + 1e-12);
      assertEquals(r.algbwGBps() * 4 / 3, r.busbwGBps(), 1e-9);
    }
    Map<String, Object> m = rows.get(1).toMap();
    assertEquals(List.of("test", "processes", "bytes", "iterations", "time_ms", "algbw_GBps", "busbw_GBps"), List.copyOf(m.keySet()));
  }

  @Test
  void configRejectsNonsense() {
    assertThrows(IllegalArgumentException.class, () -> new CollectiveBench.Config(List.of(1), 4, 8, 1, 64));
    assertThrows(IllegalArgumentException.class, () -> new CollectiveBench.Config(List.of(2), 16, 8, 1, 64));
  }
}

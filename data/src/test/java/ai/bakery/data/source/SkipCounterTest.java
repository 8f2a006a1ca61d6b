package ai.bakery.data.source;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.data.source.messages.MessagesYaml;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SkipCounterTest {
  @TempDir Path dir;

  @Test
  void countsExactlyUnderContention() throws Exception {
    SkipCounter c = new SkipCounter();
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < 4; t++) {
      Thread th = new Thread(() -> {
        for (int i = 0; i < 10_000; i++) {
          c.skip(i % 2 == 0 ? SkipReason.CORRUPT_IMAGE : SkipReason.MALFORMED_JSON, "f#0:" + i, "bad");
        }
      });
      threads.add(th);
      th.start();
    }
    for (Thread th : threads) {
      th.join();
    }
    assertEquals(Map.of(SkipReason.CORRUPT_IMAGE, 20_000L, SkipReason.MALFORMED_JSON, 20_000L), c.snapshot());
    assertEquals(40_000, c.total());
    assertEquals(0, c.count(SkipReason.TOO_MANY_TOKENS));

    SkipCounter sum = new SkipCounter();
    sum.skip(SkipReason.TOO_MANY_TOKENS, "x", "y");
    sum.addAll(c);
    assertEquals(40_001, sum.total());
    assertEquals(1, sum.count(SkipReason.TOO_MANY_TOKENS));
  }

  @Test
  void shardUnitKeysAndValidation() {
    ShardUnit u = new ShardUnit("t2i", "data/a.parquet", 3, 10);
    assertEquals("t2i/data/a.parquet#3:7", u.key(7));
    assertThrows(IllegalArgumentException.class, () -> new ShardUnit("t2i", "a", -2, 1));
    assertThrows(IllegalArgumentException.class, () -> new ShardUnit("t2i", "a", 0, -1));
  }

  @Test
  void jsonChunksResumeAtTheExactRecord() throws Exception {
    Path json = dir.resolve("m.json");
    StringBuilder sb = new StringBuilder("[");
    for (int i = 0; i < 7; i++) {
      sb.append(i == 0 ? "" : ",").append("{\"messages\": [{\"role\": \"assistant\", \"content\": \"answer ")
          .append(i).append("\"}]}");
    }
    Files.writeString(json, sb.append("]").toString());
    DatasetSource src = new DatasetSource("m", json, dir, ReadOptions.DEFAULTS.withRowsPerUnit(3));
    DatasetFormat f = DatasetFormats.messages("json");
    List<ShardUnit> units = f.units(src);
    assertEquals(List.of(3L, 3L, 1L), units.stream().map(ShardUnit::rowCount).toList());
    try (SampleCursor c = f.open(src, units.get(1), 2, new SkipCounter())) {
      PositionedSample s = c.next();
      assertEquals(2, s.row());
      assertEquals(List.of("T(answer 5|loss)"), TestMedia.render(s.sample()));
      assertTrue(!c.hasNext());
    }
  }

  @Test
  void yamlListErrorsNameTheEntry() throws Exception {
    Path yaml = dir.resolve("d.yaml");
    Files.writeString(yaml, "- path: a.jsonl\n- data_folder: x\n");
    IOException e = assertThrows(IOException.class, () -> MessagesYaml.read(yaml, ReadOptions.DEFAULTS));
    assertTrue(e.getMessage().contains("datasets[1].path"), e.getMessage());
    Files.writeString(yaml, "- path: a.csv\n  data_type: csv\n");
    e = assertThrows(IOException.class, () -> MessagesYaml.read(yaml, ReadOptions.DEFAULTS));
    assertTrue(e.getMessage().contains("datasets[0].data_type"), e.getMessage());
  }
}

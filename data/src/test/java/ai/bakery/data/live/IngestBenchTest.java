package ai.bakery.data.live;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.data.DataConfig;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IngestBenchTest {
  @TempDir Path dir;

  @Test
  void measuresAcceptedAndPackedSamples() throws Exception {
    DataConfig config = DataConfig.defaults().withTokens(512, 600, 256, 256, 8).withLoading(1, 2, 3);
    List<Map<String, Object>> rows = IngestBench.run(dir, config, new IngestBench.Config(2, 8, 1.5, 256));
    System.out.println("ingest bench: " + rows);
    Map<String, Object> accepted = rows.get(0);
    assertEquals("http_accepted_samples_per_s", accepted.get("metric"));
    assertTrue((double) accepted.get("value") > 0, rows.toString());
    assertTrue((double) rows.get(1).get("value") > 0, "samples were packed: " + rows);
    assertTrue((double) rows.get(3).get("value") >= 1, rows.toString());
  }
}

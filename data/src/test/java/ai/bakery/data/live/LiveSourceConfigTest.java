package ai.bakery.data.live;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.data.group.DatasetGroup;
import ai.bakery.data.group.DatasetGroups;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The {@code source:} key of a dataset group: defaults, and errors that name the group and the field. */
class LiveSourceConfigTest {
  private static final String TRANSFORM = "  image_transform_args: {image_stride: 16, max_image_size: 64,"
      + " min_image_size: 16}\n";

  private static DatasetGroups parse(String group) {
    return DatasetGroups.parse("g:\n  weight: 2\n  is_mandatory: true\n" + TRANSFORM + group, "live.yaml",
        Path.of("."));
  }

  private static String error(String group) {
    return assertThrows(IllegalArgumentException.class, () -> parse(group)).getMessage();
  }

  @Test
  void bindsEachTypeWithDefaults() {
    DatasetGroup g = parse("  source: {type: http, log: /tmp/ingest.jsonl}\n").group("g");
    assertTrue(g.isLive());
    assertEquals("messages", g.type());
    assertEquals(2.0, g.weight());
    assertTrue(g.isMandatory());
    LiveSourceConfig s = g.source();
    assertEquals("127.0.0.1", s.host());
    assertEquals(8470, s.port());
    assertEquals(10_000, s.maxPending());
    assertEquals(LiveSpec.DEFAULT_BUFFER, s.buffer());
    assertEquals(50, s.pollMs());
    LiveSourceConfig k = parse("  source: {type: kafka, bootstrap_servers: 'b:9092', topic: t}\n").group("g")
        .source();
    assertEquals("t", k.topic());
    assertEquals("/in", parse("  source: {type: directory, path: /in, rescan_ms: 500}\n").group("g").source()
        .path());
  }

  @Test
  void errorsNameTheGroupAndField() {
    assertTrue(error("  source: {type: kafka, bootstrap_servers: 'b:9092'}\n").contains("source.topic"));
    assertTrue(error("  source: {type: ftp}\n").contains("source.type"));
    assertTrue(error("  source: {type: directory}\n").contains("source.path"));
    assertTrue(error("  source: {type: http}\n").contains("source.log"));
    assertTrue(error("  source: {type: http, log: l, port: 70000}\n").contains("source.port"));
    String unknown = error("  source: {type: http, log: l, colour: red}\n");
    assertTrue(unknown.contains("group g") && unknown.contains("colour"), unknown);
    String both = error("  dataset_names: [x]\n  source: {type: directory, path: /in}\n");
    assertTrue(both.contains("dataset_names"), both);
    String open = error("  source: {type: http, log: l, host: 0.0.0.0}\n");
    assertTrue(open.contains("source.token_file"), open);
  }
}

package ai.bakery.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class BenchRowsTest {
  record Row(String kernel, int seqLen, double millis, long[] shape) {}

  private static String print(BenchRows rows, boolean json) {
    var bytes = new ByteArrayOutputStream();
    rows.print(new PrintStream(bytes, true, StandardCharsets.UTF_8), json);
    return bytes.toString(StandardCharsets.UTF_8);
  }

  @Test
  void jsonIsOneObjectPerLineWithTypedValues() throws Exception {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("test", "allreduce \"ring\"\nx");
    m.put("bytes", 1048576L);
    m.put("busbw_GBps", 1.25);
    BenchRows rows = BenchRows.of(List.of(new Row("sdpa", 4096, 1.5, new long[] {2, 3}), m));
    List<String> lines = print(rows, true).lines().toList();
    assertEquals(2, lines.size());
    ObjectMapper json = new ObjectMapper();
    JsonNode first = json.readTree(lines.get(0));
    assertEquals("sdpa", first.get("kernel").asText());
    assertEquals(4096, first.get("seqLen").asInt());
    assertEquals(1.5, first.get("millis").asDouble());
    assertEquals("[2,3]", first.get("shape").toString());
    JsonNode second = json.readTree(lines.get(1));
    assertEquals("allreduce \"ring\"\nx", second.get("test").asText());
    assertEquals(1048576L, second.get("bytes").asLong());
    assertEquals(List.of("test", "bytes", "busbw_GBps"), iterable(second));
  }

  private static List<String> iterable(JsonNode n) {
    List<String> names = new java.util.ArrayList<>();
    n.fieldNames().forEachRemaining(names::add);
    return names;
  }

  @Test
  void tableAlignsColumnsAndRightAlignsNumbers() {
    Map<String, Object> a = new LinkedHashMap<>();
    a.put("name", "a");
    a.put("ms", 12.5);
    Map<String, Object> b = new LinkedHashMap<>();
    b.put("name", "longer");
    b.put("ms", 3.0);
    b.put("note", "x");
    String table = print(BenchRows.of(List.of(a, b)), false);
    assertEquals(String.join("\n",
        "name      ms  note",
        "------  ----  ----",
        "a       12.5",
        "longer   3.0  x",
        ""), table);
  }

  @Test
  void rowsMustBeMapsOrRecords() {
    assertThrows(IllegalArgumentException.class, () -> BenchRows.of(List.of("plain string")));
  }
}

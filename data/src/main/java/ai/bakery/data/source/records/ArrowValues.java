package ai.bakery.data.source.records;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigDecimal;
import java.util.List;
import java.util.Map;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.util.Text;

/**
 * Turns one row of an Arrow batch into a Jackson tree, so parquet, Arrow IPC and JSON records all reach the
 * row mappers as the same {@link JsonNode} shape: structs become objects, lists arrays, strings text, binary
 * {@code BinaryNode}s (image bytes stay bytes).
 */
final class ArrowValues {
  private static final JsonNodeFactory F = JsonNodeFactory.instance;

  private ArrowValues() {}

  static ObjectNode row(VectorSchemaRoot root, int row) {
    ObjectNode node = F.objectNode();
    for (FieldVector v : root.getFieldVectors()) {
      node.set(v.getName(), toNode(v.getObject(row)));
    }
    return node;
  }

  static JsonNode toNode(Object value) {
    if (value == null) {
      return F.nullNode();
    }
    if (value instanceof Text t) {
      return F.textNode(t.toString());
    }
    if (value instanceof CharSequence s) {
      return F.textNode(s.toString());
    }
    if (value instanceof byte[] b) {
      return F.binaryNode(b);
    }
    if (value instanceof Boolean b) {
      return F.booleanNode(b);
    }
    if (value instanceof Integer || value instanceof Short || value instanceof Byte) {
      return F.numberNode(((Number) value).intValue());
    }
    if (value instanceof Long l) {
      return F.numberNode(l);
    }
    if (value instanceof Float || value instanceof Double) {
      return F.numberNode(((Number) value).doubleValue());
    }
    if (value instanceof BigDecimal d) {
      return F.numberNode(d);
    }
    if (value instanceof Map<?, ?> m) {
      ObjectNode o = F.objectNode();
      for (Map.Entry<?, ?> e : m.entrySet()) {
        o.set(String.valueOf(e.getKey()), toNode(e.getValue()));
      }
      return o;
    }
    if (value instanceof List<?> l) {
      ArrayNode a = F.arrayNode(l.size());
      for (Object o : l) {
        a.add(toNode(o));
      }
      return a;
    }
    return F.textNode(value.toString());
  }
}

package ai.bakery.data.source.records;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * One row read from a container: its tree, or why it could not be read.
 *
 * @param row row inside the unit, 0-based
 * @param node the record; null when {@code error} is set
 * @param error why the row is unreadable (malformed JSON line, undecodable batch), else null
 */
public record Record(long row, JsonNode node, String error) {
  static Record ok(long row, JsonNode node) {
    return new Record(row, node, null);
  }

  static Record bad(long row, String error) {
    return new Record(row, null, error);
  }
}

package ai.bakery.runtime.config;

import ai.bakery.model.config.ConfigException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A job config being assembled from one dialect plus overrides: a tree in Bakery's layout, where each value came
 * from (so errors can name what the user wrote), and the fields accepted but not used.
 */
final class ConfigDraft {
  private final ObjectNode tree = JsonNodeFactory.instance.objectNode();
  private final Map<String, String> sources = new LinkedHashMap<>();
  private final Map<String, String> ignored = new LinkedHashMap<>();
  private final List<String> notes = new ArrayList<>();
  private final Map<String, Double> deferred = new LinkedHashMap<>();
  private final Map<String, String> deferredSources = new LinkedHashMap<>();

  /**
   * Sets a field of Bakery's layout, converting {@code value} to the field's type.
   *
   * @param path dotted path, e.g. {@code training.optimizer.lr}
   * @param source what the user wrote, e.g. {@code --lr} or {@code trainer_args.learning_rate}
   */
  void set(String path, JsonNode value, String source) {
    ValueKind kind = ConfigSchema.job().kind(path)
        .orElseThrow(() -> new IllegalStateException("no config field " + path));
    JsonNode converted = kind.convert(value, source);
    ObjectNode parent = tree;
    String[] parts = path.split("\\.");
    for (int i = 0; i < parts.length - 1; i++) {
      JsonNode child = parent.get(parts[i]);
      if (!(child instanceof ObjectNode)) {
        child = parent.putObject(parts[i]);
      }
      parent = (ObjectNode) child;
    }
    parent.set(parts[parts.length - 1], converted);
    sources.put(path, source);
  }

  void set(String path, String text, String source) {
    set(path, JsonNodeFactory.instance.textNode(text), source);
  }

  boolean isSet(String path) {
    return sources.containsKey(path);
  }

  JsonNode get(String path) {
    JsonNode node = tree;
    for (String part : path.split("\\.")) {
      node = node == null ? null : node.get(part);
    }
    return node;
  }

  /** A field accepted from the user's file but with no effect here; reported once, with why. */
  void ignore(String name, String why) {
    ignored.putIfAbsent(name, why);
  }

  /** A value that can only be applied once the whole config is read (e.g. a warm-up ratio of total steps). */
  void defer(String name, double value, String source) {
    deferred.put(name, value);
    deferredSources.put(name, source);
  }

  java.util.Optional<Double> deferred(String name) {
    return java.util.Optional.ofNullable(deferred.get(name));
  }

  String deferredSource(String name) {
    return deferredSources.get(name);
  }

  void note(String message) {
    notes.add(message);
  }

  ObjectNode tree() {
    return tree;
  }

  Map<String, String> sources() {
    return sources;
  }

  /** One line per reason: the ignored fields grouped by why they do nothing, then any other notes. */
  List<String> report() {
    Map<String, List<String>> byReason = new LinkedHashMap<>();
    ignored.forEach((name, why) -> byReason.computeIfAbsent(why, k -> new ArrayList<>()).add(name));
    List<String> lines = new ArrayList<>();
    byReason.forEach((why, names) -> lines.add("ignored " + String.join(", ", names) + ": " + why));
    lines.addAll(notes);
    return lines;
  }

  static ConfigException unknown(String name, String where, java.util.Collection<String> valid) {
    return new ConfigException("unknown field '" + name + "' in " + where + NameSuggester.hint(name, valid));
  }
}

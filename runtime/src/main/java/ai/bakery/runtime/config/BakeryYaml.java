package ai.bakery.runtime.config;

import ai.bakery.model.config.ConfigException;
import com.fasterxml.jackson.databind.JsonNode;

/** Reads Bakery's own sectioned YAML ({@code model:}, {@code data:}, {@code training:} ...) into a draft. */
final class BakeryYaml {
  private BakeryYaml() {}

  static boolean matches(JsonNode root) {
    if (!root.isObject()) {
      return false;
    }
    for (String section : ConfigSchema.job().childNames("")) {
      if (root.has(section)) {
        return true;
      }
    }
    return false;
  }

  static void read(JsonNode root, ConfigDraft draft) {
    walk(root, "", draft);
  }

  private static void walk(JsonNode node, String prefix, ConfigDraft draft) {
    ConfigSchema schema = ConfigSchema.job();
    String section = prefix.isEmpty() ? "" : prefix.substring(0, prefix.length() - 1);
    node.fields().forEachRemaining(e -> {
      String path = prefix + e.getKey();
      if (JobConfig.DERIVED.containsKey(path)) {
        throw new ConfigException(path + ": set " + JobConfig.DERIVED.get(path) + " instead (" + path
            + " follows it)");
      }
      ValueKind kind = schema.kind(path).orElseThrow(() -> ConfigDraft.unknown(e.getKey(),
          section.isEmpty() ? "config (top level)" : section, schema.childNames(section)));
      JsonNode value = e.getValue();
      if (kind == ValueKind.SECTION && value.isObject()) {
        walk(value, path + ".", draft);
      } else if (kind == ValueKind.SECTION && !value.isNull()) {
        throw new ConfigException(path + ": expected a mapping of " + schema.childNames(path));
      } else {
        draft.set(path, value, path);
      }
    });
  }
}

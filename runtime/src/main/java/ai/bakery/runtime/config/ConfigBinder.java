package ai.bakery.runtime.config;

import ai.bakery.model.config.ConfigException;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.ser.std.ToStringSerializer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/** Binds a {@link ConfigDraft} onto the defaults and into a validated {@link JobConfig}. */
final class ConfigBinder {
  static final ObjectMapper MAPPER = new ObjectMapper()
      .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
      .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
      .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
      .registerModule(new SimpleModule().addSerializer(Path.class, ToStringSerializer.instance));

  private ConfigBinder() {}

  static JobConfig bind(ConfigDraft draft) {
    ObjectNode merged = MAPPER.valueToTree(JobConfig.DEFAULTS);
    merge(merged, draft.tree(), "");
    if (!draft.isSet("output.checkpoint_dir")) {
      merged.with("output").putNull("checkpoint_dir"); // follows results_dir
    }
    try {
      return MAPPER.treeToValue(merged, JobConfig.class);
    } catch (ValueInstantiationException e) {
      Throwable cause = e.getCause();
      String message = cause instanceof ConfigException || cause instanceof IllegalArgumentException
          ? cause.getMessage() : e.getOriginalMessage();
      throw new ConfigException(message + sourceHint(message, draft.sources()), e);
    } catch (UnrecognizedPropertyException e) {
      String at = pathOf(e);
      var known = e.getKnownPropertyIds().stream().map(Object::toString).collect(Collectors.toList());
      throw new ConfigException("unknown field '" + e.getPropertyName() + "' in " + at
          + NameSuggester.hint(e.getPropertyName(), known), e);
    } catch (JsonMappingException e) {
      throw new ConfigException(pathOf(e) + ": " + e.getOriginalMessage(), e);
    } catch (JsonProcessingException e) {
      throw new ConfigException("config: " + e.getOriginalMessage(), e);
    }
  }

  /** Overlays {@code overlay} onto {@code base}; a section absent from the defaults starts from its DEFAULTS. */
  private static void merge(ObjectNode base, JsonNode overlay, String prefix) {
    overlay.fields().forEachRemaining(entry -> {
      String path = prefix + entry.getKey();
      JsonNode value = entry.getValue();
      JsonNode existing = base.get(entry.getKey());
      if (value.isObject() && ConfigSchema.job().kind(path).orElse(null) == ValueKind.SECTION) {
        ObjectNode target = existing instanceof ObjectNode o ? o : sectionDefaults(path);
        merge(target, value, path + ".");
        base.set(entry.getKey(), target);
      } else {
        base.set(entry.getKey(), value);
      }
    });
  }

  /** The defaults of a section that is null by default (e.g. {@code model.nsa}), when its record has any. */
  private static ObjectNode sectionDefaults(String path) {
    Class<?> type = JobConfig.class;
    for (String part : path.split("\\.")) {
      Class<?> next = null;
      for (var c : type.getRecordComponents()) {
        if (ConfigSchema.jsonName(c).equals(part)) {
          next = c.getType();
        }
      }
      type = next;
    }
    try {
      Object defaults = type.getField("DEFAULTS").get(null);
      return MAPPER.valueToTree(defaults);
    } catch (ReflectiveOperationException | NullPointerException e) {
      return MAPPER.createObjectNode();
    }
  }

  /** " (set by --lr)" when the failing message names a field the user set, so they can find it. */
  private static String sourceHint(String message, Map<String, String> sources) {
    for (var e : sources.entrySet()) {
      String leaf = e.getKey().substring(e.getKey().lastIndexOf('.') + 1);
      boolean named = Pattern.compile("(?<!\\w)" + Pattern.quote(leaf) + "\\b").matcher(message).find()
          || message.contains(e.getKey());
      if (named && !e.getValue().equals(e.getKey())) {
        return " (set by " + e.getValue() + ")";
      }
    }
    return "";
  }

  private static String pathOf(JsonMappingException e) {
    var parts = new ArrayList<String>();
    for (JsonMappingException.Reference r : e.getPath()) {
      if (r.getFieldName() != null) {
        parts.add(r.getFieldName());
      } else if (r.getIndex() >= 0 && !parts.isEmpty()) {
        parts.set(parts.size() - 1, parts.get(parts.size() - 1) + "[" + r.getIndex() + "]");
      }
    }
    if (!parts.isEmpty() && e instanceof UnrecognizedPropertyException) {
      parts.remove(parts.size() - 1);
    }
    return parts.isEmpty() ? "config" : String.join(".", parts);
  }
}

package ai.bakery.model.config;

import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.TreeSet;

/**
 * Typed reads from one JSON object with errors that name the source and the field. Remembers which keys were
 * read, so a caller can reject (or deliberately ignore) the rest. A JSON null counts as absent: HF writes
 * nulls for unset options.
 */
public final class ConfigFields {
  /** Lenient only where real files need it: early BAGEL config.json files end objects with a trailing comma. */
  static final ObjectMapper JSON = JsonMapper.builder().enable(JsonReadFeature.ALLOW_TRAILING_COMMA).build();

  private final JsonNode node;
  private final String source;
  private final Set<String> read = new LinkedHashSet<>();

  public ConfigFields(JsonNode node, String source) {
    if (node == null || !node.isObject()) {
      throw new ConfigException(source + ": expected a JSON object");
    }
    this.node = node;
    this.source = source;
  }

  /** Parses a JSON object file; a missing or malformed file is a ConfigException naming it. */
  public static ConfigFields read(Path file) {
    return new ConfigFields(readTree(file), file.toString());
  }

  static JsonNode readTree(Path file) {
    try {
      return JSON.readTree(Files.readAllBytes(file));
    } catch (NoSuchFileException e) {
      throw new ConfigException(file + ": file not found");
    } catch (IOException e) {
      throw new ConfigException(file + ": not valid JSON: " + e.getMessage(), e);
    }
  }

  public String source() {
    return source;
  }

  public JsonNode node() {
    return node;
  }

  public boolean has(String field) {
    JsonNode v = node.get(field);
    return v != null && !v.isNull();
  }

  private JsonNode value(String field) {
    read.add(field);
    JsonNode v = node.get(field);
    return v == null || v.isNull() ? null : v;
  }

  public int requireInt(String field) {
    JsonNode v = value(field);
    if (v == null) {
      throw missing(field);
    }
    return toInt(field, v);
  }

  public int optInt(String field, int dflt) {
    JsonNode v = value(field);
    return v == null ? dflt : toInt(field, v);
  }

  public double optDouble(String field, double dflt) {
    JsonNode v = value(field);
    if (v == null) {
      return dflt;
    }
    if (!v.isNumber()) {
      throw wrong(field, "a number", v);
    }
    return v.asDouble();
  }

  public boolean optBool(String field, boolean dflt) {
    JsonNode v = value(field);
    if (v == null) {
      return dflt;
    }
    if (!v.isBoolean()) {
      throw wrong(field, "true or false", v);
    }
    return v.asBoolean();
  }

  /** A boolean that may be absent: null when it is. */
  public Boolean optBool(String field) {
    return has(field) ? optBool(field, false) : mark(field);
  }

  public String optString(String field, String dflt) {
    JsonNode v = value(field);
    if (v == null) {
      return dflt;
    }
    if (!v.isTextual()) {
      throw wrong(field, "a string", v);
    }
    return v.asText();
  }

  /** A nested object, or null when absent. */
  public JsonNode optObject(String field) {
    JsonNode v = value(field);
    if (v != null && !v.isObject()) {
      throw wrong(field, "a JSON object", v);
    }
    return v;
  }

  /** Marks a field as deliberately ignored. */
  public void ignore(String... fields) {
    read.addAll(Set.of(fields));
  }

  /** Keys present in the object but never read nor ignored. */
  public Set<String> unread() {
    Set<String> out = new TreeSet<>();
    for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
      String k = it.next();
      if (!read.contains(k)) {
        out.add(k);
      }
    }
    return out;
  }

  /** Fails on any key not read: for files whose every field we own. */
  public void rejectUnknown() {
    Set<String> extra = unread();
    if (!extra.isEmpty()) {
      throw new ConfigException(source + ": unknown field" + (extra.size() > 1 ? "s " : " ") + extra);
    }
  }

  public ConfigException missing(String field) {
    return new ConfigException(source + ": missing required field '" + field + "'");
  }

  public ConfigException invalid(String field, String why) {
    return new ConfigException(source + ": field '" + field + "' " + why);
  }

  private int toInt(String field, JsonNode v) {
    if (!v.isIntegralNumber() || !v.canConvertToInt()) {
      throw wrong(field, "an integer", v);
    }
    return v.asInt();
  }

  private ConfigException wrong(String field, String want, JsonNode got) {
    return new ConfigException(source + ": field '" + field + "' must be " + want + ", got " + got);
  }

  private Boolean mark(String field) {
    read.add(field);
    return null;
  }
}

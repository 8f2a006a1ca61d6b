package ai.bakery.runtime.config;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import java.lang.reflect.RecordComponent;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

/**
 * Every field a Bakery config file may set, read off the config records themselves (so it cannot drift from
 * them): dotted path ({@code training.optimizer.lr}) to its {@link ValueKind}. Fields listed in
 * {@link JobConfig#DERIVED} are left out: they are set in the section that owns them.
 */
public final class ConfigSchema {
  private static final ConfigSchema JOB = new ConfigSchema(JobConfig.class);

  private final Map<String, ValueKind> fields = new LinkedHashMap<>();

  private ConfigSchema(Class<? extends Record> root) {
    walk("", root);
  }

  public static ConfigSchema job() {
    return JOB;
  }

  public Optional<ValueKind> kind(String path) {
    return Optional.ofNullable(fields.get(path));
  }

  /** All paths, sections included, in declaration order. */
  public Map<String, ValueKind> fields() {
    return Collections.unmodifiableMap(fields);
  }

  /** The names directly under a section ({@code ""} = top level). */
  public List<String> childNames(String section) {
    String prefix = section.isEmpty() ? "" : section + ".";
    TreeSet<String> names = new TreeSet<>();
    for (String path : fields.keySet()) {
      if (path.startsWith(prefix) && path.indexOf('.', prefix.length()) < 0) {
        names.add(path.substring(prefix.length()));
      }
    }
    return List.copyOf(names);
  }

  /** Leaf paths (not sections), for "did you mean" over the whole config. */
  public List<String> leafPaths() {
    return fields.entrySet().stream().filter(e -> e.getValue() != ValueKind.SECTION).map(Map.Entry::getKey)
        .toList();
  }

  private void walk(String prefix, Class<?> type) {
    for (RecordComponent c : type.getRecordComponents()) {
      String path = prefix + jsonName(c);
      if (JobConfig.DERIVED.containsKey(path) || c.getAccessor().isAnnotationPresent(JsonIgnore.class)) {
        continue; // derived, or set by the job's start rather than the user
      }
      Class<?> t = c.getType();
      if (t.isRecord()) {
        fields.put(path, ValueKind.SECTION);
        walk(path + ".", t);
      } else {
        fields.put(path, kindOf(t));
      }
    }
  }

  /** The JSON name Jackson binds: an explicit {@code @JsonProperty}, else the snake_case of the component. */
  static String jsonName(RecordComponent c) {
    JsonProperty p = c.getAccessor().getAnnotation(JsonProperty.class);
    if (p == null) {
      try {
        p = c.getDeclaringRecord().getDeclaredField(c.getName()).getAnnotation(JsonProperty.class);
      } catch (NoSuchFieldException e) {
        p = null;
      }
    }
    if (p != null && !p.value().isEmpty()) {
      return p.value();
    }
    return new PropertyNamingStrategies.SnakeCaseStrategy().translate(c.getName());
  }

  private static ValueKind kindOf(Class<?> t) {
    if (t == String.class || t == Path.class || t.isEnum()) {
      return ValueKind.STRING;
    }
    if (t == int.class || t == Integer.class) {
      return ValueKind.INT;
    }
    if (t == long.class || t == Long.class) {
      return ValueKind.LONG;
    }
    if (t == double.class || t == Double.class || t == float.class || t == Float.class) {
      return ValueKind.DOUBLE;
    }
    if (t == boolean.class || t == Boolean.class) {
      return ValueKind.BOOL;
    }
    if (List.class.isAssignableFrom(t)) {
      return ValueKind.LIST;
    }
    if (Map.class.isAssignableFrom(t)) {
      return ValueKind.MAP;
    }
    throw new IllegalStateException("config field type not handled: " + t);
  }
}

package ai.bakery.runtime.config;

import ai.bakery.model.config.ConfigException;
import java.util.Collection;

/** Field checks for config records; every message starts with the field's full path. */
final class Checks {
  private Checks() {}

  static void positive(String field, long value) {
    if (value <= 0) {
      throw new ConfigException(field + " must be > 0, got " + value);
    }
  }

  static void nonNegative(String field, long value) {
    if (value < 0) {
      throw new ConfigException(field + " must be >= 0, got " + value);
    }
  }

  static void positive(String field, double value) {
    if (!(value > 0) || Double.isInfinite(value)) {
      throw new ConfigException(field + " must be a finite number > 0, got " + value);
    }
  }

  static void nonNegative(String field, double value) {
    if (!(value >= 0) || Double.isInfinite(value)) {
      throw new ConfigException(field + " must be a finite number >= 0, got " + value);
    }
  }

  /** A probability-like value in [0, 1) (dropout) or [0, 1] when {@code closed}. */
  static void unitInterval(String field, double value, boolean closed) {
    boolean ok = value >= 0 && (closed ? value <= 1 : value < 1);
    if (!ok) {
      throw new ConfigException(field + " must be in [0, 1" + (closed ? "]" : ")") + ", got " + value);
    }
  }

  static String oneOf(String field, String value, Collection<String> allowed) {
    if (value == null || !allowed.contains(value)) {
      throw new ConfigException(field + " must be one of " + allowed + ", got '" + value + "'"
          + (value == null ? "" : NameSuggester.hint(value, allowed)));
    }
    return value;
  }

  static String or(String value, String dflt) {
    return value == null ? dflt : value;
  }

  static String blankToNull(String value) {
    return value == null || value.isBlank() ? null : value;
  }
}

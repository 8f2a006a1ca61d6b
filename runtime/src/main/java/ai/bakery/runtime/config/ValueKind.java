package ai.bakery.runtime.config;

import ai.bakery.model.config.ConfigException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.util.Locale;

/** The type of a config leaf, and how a value written by hand (a flag, a YAML scalar) becomes that type. */
public enum ValueKind {
  STRING, INT, LONG, DOUBLE, BOOL, LIST, MAP, SECTION;

  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  /**
   * Converts {@code value} (a {@link JsonNode} from YAML, or flag text) to this kind.
   *
   * @param where how to name the value in an error, e.g. {@code --lr} or {@code trainer_args.learning_rate}
   */
  public JsonNode convert(JsonNode value, String where) {
    if (value == null || value.isNull()) {
      return NODES.nullNode();
    }
    switch (this) {
      case STRING:
        if (value.isContainerNode()) {
          throw bad(where, "a string", value);
        }
        return NODES.textNode(value.asText());
      case INT:
      case LONG:
        return integer(value, where);
      case DOUBLE:
        return decimal(value, where);
      case BOOL:
        return NODES.booleanNode(bool(value, where));
      case LIST:
        if (value.isArray()) {
          return value;
        }
        if (value.isTextual()) {
          // "a,b" or "[a, b]" from a flag
          String text = value.asText().trim().replaceAll("^\\[|]$", "");
          var array = NODES.arrayNode();
          for (String part : text.split(",")) {
            String item = part.trim().replaceAll("^['\"]|['\"]$", "");
            if (!item.isEmpty()) {
              array.add(item);
            }
          }
          return array;
        }
        throw bad(where, "a list", value);
      default:
        if (value.isObject()) {
          return value;
        }
        throw bad(where, "a mapping", value);
    }
  }

  /** HF-style booleans: true/false, t/f, yes/no, y/n, 1/0, any case. */
  static boolean bool(JsonNode value, String where) {
    if (value.isBoolean()) {
      return value.booleanValue();
    }
    if (value.isIntegralNumber() && (value.asLong() == 0 || value.asLong() == 1)) {
      return value.asLong() == 1;
    }
    if (value.isTextual()) {
      switch (value.asText().trim().toLowerCase(Locale.ROOT)) {
        case "true", "t", "yes", "y", "1":
          return true;
        case "false", "f", "no", "n", "0":
          return false;
        default:
          break;
      }
    }
    throw bad(where, "true or false", value);
  }

  private static JsonNode integer(JsonNode value, String where) {
    if (value.isIntegralNumber()) {
      return value;
    }
    if (value.isNumber() && value.asDouble() == Math.rint(value.asDouble())) {
      return NODES.numberNode(value.asLong());
    }
    if (value.isTextual()) {
      String text = value.asText().trim().replace("_", "");
      try {
        return NODES.numberNode(Long.parseLong(text));
      } catch (NumberFormatException e) {
        try {
          double d = Double.parseDouble(text); // 1e4 is a valid step count
          if (d == Math.rint(d) && Math.abs(d) < 9e15) {
            return NODES.numberNode((long) d);
          }
        } catch (NumberFormatException ignored) {
          // reported below
        }
      }
    }
    throw bad(where, "an integer", value);
  }

  private static JsonNode decimal(JsonNode value, String where) {
    if (value.isNumber()) {
      return NODES.numberNode(value.asDouble());
    }
    if (value.isTextual()) {
      try {
        return NODES.numberNode(Double.parseDouble(value.asText().trim().replace("_", "")));
      } catch (NumberFormatException ignored) {
        // reported below
      }
    }
    throw bad(where, "a number", value);
  }

  private static ConfigException bad(String where, String expected, JsonNode value) {
    return new ConfigException(where + ": expected " + expected + ", got '" + (value.isTextual() ? value.asText()
        : value.toString()) + "'");
  }
}

package ai.bakery.runtime.config;

import ai.bakery.model.config.ConfigException;
import com.fasterxml.jackson.databind.node.BooleanNode;
import com.fasterxml.jackson.databind.node.TextNode;
import java.util.List;

/**
 * Reads {@code --key value}, {@code --key=value}, {@code key=value}, bare boolean {@code --key} and
 * {@code --no_key} settings, as the reference trainer's argument parser accepts them.
 */
final class FlagParser {
  private FlagParser() {}

  /**
   * @param launchLine true for a pasted reference launch line: {@code torchrun} and the {@code .py} script are
   *     skipped (with a note) instead of rejected
   */
  static void parse(List<String> args, ConfigDraft draft, boolean launchLine) {
    for (int i = 0; i < args.size(); i++) {
      String arg = args.get(i);
      if (launchLine && (arg.equals("torchrun") || arg.endsWith(".py"))) {
        draft.note("skipped '" + arg + "' from the launch line: Bakery runs the trainer itself");
        continue;
      }
      String key;
      String value = null;
      if (arg.startsWith("--")) {
        key = arg.substring(2);
      } else if (arg.contains("=") && !arg.startsWith("-")) {
        key = arg;
      } else {
        throw new ConfigException("unexpected argument '" + arg + "': settings are written --name value");
      }
      int eq = key.indexOf('=');
      if (eq >= 0) {
        value = key.substring(eq + 1);
        key = key.substring(0, eq);
      }
      if (key.isEmpty()) {
        throw new ConfigException("unexpected argument '" + arg + "'");
      }
      String source = "--" + key;
      boolean negated = false;
      String name;
      String plain = key.replace('-', '_');
      if (plain.startsWith("no_") && !FlatKeys.names().contains(plain)
          && FlatKeys.names().contains(plain.substring(3)) && FlatKeys.isBoolean(plain.substring(3))) {
        name = plain.substring(3);
        negated = true;
      } else {
        name = FlatKeys.canonical(key, source);
      }
      if (negated) {
        if (value != null) {
          throw new ConfigException(source + " takes no value");
        }
        FlatKeys.apply(name, BooleanNode.FALSE, draft, source);
        continue;
      }
      if (value == null) {
        boolean hasNext = i + 1 < args.size() && !looksLikeFlag(args.get(i + 1));
        if (hasNext) {
          value = args.get(++i);
        } else if (FlatKeys.isBoolean(name)) {
          value = "true";
        } else {
          throw new ConfigException(source + " needs a value");
        }
      }
      FlatKeys.apply(name, TextNode.valueOf(value), draft, source);
    }
  }

  private static boolean looksLikeFlag(String token) {
    return token.startsWith("--") && token.length() > 2 && !Character.isDigit(token.charAt(2));
  }
}

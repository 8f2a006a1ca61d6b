package ai.bakery.runtime.config;

import ai.bakery.model.config.ConfigException;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * Every name a single setting may be given by, outside a Bakery YAML section: the reference trainer's flags,
 * LMMS Engine's trainer arguments, a few Bakery short names, and any dotted Bakery path
 * ({@code training.optimizer.lr}).
 */
final class FlatKeys {
  private FlatKeys() {}

  /** Bakery's own short names. */
  static final Map<String, String> BAKERY = Map.of(
      "preset", "model.preset",
      "threads", "runtime.threads",
      "keep_last", "training.checkpoint.keep_last",
      "attn_implementation", "model.attn_implementation");

  static Set<String> names() {
    Set<String> all = new TreeSet<>(ReferenceFlags.names());
    all.addAll(LmmsTrainerArgs.names());
    all.addAll(BAKERY.keySet());
    return all;
  }

  /**
   * The canonical name for what the user typed: {@code -} read as {@code _}; an unambiguous prefix is expanded
   * (argparse does so, and the reference guide relies on it: {@code --num_worker 1}).
   */
  static String canonical(String typed, String where) {
    String name = typed.replace('-', '_');
    if (name.contains(".") || names().contains(name)) {
      return name;
    }
    List<String> matches = new ArrayList<>();
    for (String known : names()) {
      if (known.startsWith(name)) {
        matches.add(known);
      }
    }
    if (matches.size() == 1 && name.length() >= 3) {
      return matches.get(0);
    }
    if (matches.size() > 1) {
      throw new ConfigException(where + ": '" + typed + "' is ambiguous: could be " + String.join(", ", matches));
    }
    if (where.startsWith("--")) {
      throw new ConfigException("unknown flag '" + where + "'" + NameSuggester.nearest(name, names())
          .map(s -> " (did you mean '--" + s + "'?)").orElse(""));
    }
    throw ConfigDraft.unknown(typed, where, names());
  }

  /** The Bakery path a name sets directly, if it is a plain mapping. */
  static Optional<String> path(String name) {
    if (name.contains(".")) {
      return Optional.of(name);
    }
    String p = ReferenceFlags.PATHS.get(name);
    if (p == null) {
      p = LmmsTrainerArgs.PATHS.get(name);
    }
    if (p == null) {
      p = BAKERY.get(name);
    }
    return Optional.ofNullable(p);
  }

  /** Whether {@code --name} alone means true. */
  static boolean isBoolean(String name) {
    return path(name).flatMap(p -> ConfigSchema.job().kind(p)).orElse(null) == ValueKind.BOOL
        || LmmsTrainerArgs.isBoolean(name) || name.equals("use_flex") || name.equals("wandb_offline");
  }

  /**
   * Applies one setting to the draft.
   *
   * @param name a canonical name from {@link #canonical}
   * @param source how to name it in messages (e.g. {@code --lr})
   */
  static void apply(String name, JsonNode value, ConfigDraft draft, String source) {
    if (value == null || value.isNull()) {
      return; // HF-style dumps write null for "not set"
    }
    if (name.contains(".")) {
      ConfigSchema schema = ConfigSchema.job();
      if (JobConfig.DERIVED.containsKey(name)) {
        throw new ConfigException(source + ": set " + JobConfig.DERIVED.get(name) + " instead (" + name
            + " follows it)");
      }
      if (schema.kind(name).isEmpty()) {
        throw ConfigDraft.unknown(name, "config", schema.leafPaths());
      }
      draft.set(name, value, source);
      return;
    }
    Optional<String> path = path(name);
    if (path.isPresent()) {
      draft.set(path.get(), value, source);
    } else if (ReferenceFlags.IGNORED.containsKey(name)) {
      draft.ignore(name, ReferenceFlags.IGNORED.get(name));
    } else if (LmmsTrainerArgs.SPECIAL.contains(name)) {
      LmmsTrainerArgs.applySpecial(name, value, draft, source);
    } else if (LmmsTrainerArgs.IGNORED.containsKey(name)) {
      if (isSet(value)) {
        draft.ignore(name, LmmsTrainerArgs.IGNORED.get(name));
      }
    } else {
      throw ConfigDraft.unknown(name, source, names());
    }
  }

  /** A value worth reporting as ignored: not null, false, zero or empty (HF dumps list every default). */
  static boolean isSet(JsonNode v) {
    if (v == null || v.isNull() || v.isBoolean() && !v.booleanValue() || v.isNumber() && v.asDouble() == 0) {
      return false;
    }
    return !(v.isContainerNode() && v.isEmpty()) && !(v.isTextual() && v.asText().isEmpty());
  }
}

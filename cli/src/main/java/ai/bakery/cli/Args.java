package ai.bakery.cli;

import ai.bakery.runtime.config.NameSuggester;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** A leaf command's parsed arguments: positionals in order, {@code --option value}s and {@code --flag}s. */
public final class Args {
  /**
   * What a leaf command accepts.
   *
   * @param positionals names shown in usage; a name in brackets ({@code [dir]}) is optional
   * @param options {@code --name} to help text; a name ending in {@code =} takes a value ({@code steps=})
   * @param passThrough whether arguments after the positionals are kept raw ({@link #rest()}) instead of
   *     parsed (the {@code train} overrides)
   */
  public record Spec(List<String> positionals, Map<String, String> options, boolean passThrough, String details) {
    public static Spec of(String... positionals) {
      return new Spec(List.of(positionals), new LinkedHashMap<>(), false, "");
    }

    public Spec option(String name, String help) {
      Map<String, String> o = new LinkedHashMap<>(options);
      o.put(name, help);
      return new Spec(positionals, o, passThrough, details);
    }

    public Spec withPassThrough() {
      return new Spec(positionals, options, true, details);
    }

    public Spec details(String text) {
      return new Spec(positionals, options, passThrough, text);
    }

    String help(String path, String summary) {
      StringBuilder b = new StringBuilder("usage: ").append(path);
      for (String p : positionals) {
        b.append(' ').append(p.startsWith("[") ? p : "<" + p + ">");
      }
      if (!options.isEmpty()) {
        b.append(" [options]");
      }
      if (passThrough) {
        b.append(" [--key value ...]");
      }
      b.append("\n\n").append(summary).append('\n');
      if (!options.isEmpty()) {
        b.append("\noptions:\n");
        int width = options.keySet().stream().mapToInt(k -> display(k).length()).max().orElse(0);
        options.forEach((k, v) -> b.append("  ").append(String.format("%-" + width + "s", display(k)))
            .append("  ").append(v).append('\n'));
      }
      if (!details.isEmpty()) {
        b.append('\n').append(details).append('\n');
      }
      return b.toString();
    }

    private static String display(String option) {
      return option.endsWith("=") ? "--" + option.substring(0, option.length() - 1) + " <value>" : "--" + option;
    }
  }

  private final String path;
  private final List<String> positionals;
  private final Map<String, String> values;
  private final List<String> rest;

  private Args(String path, List<String> positionals, Map<String, String> values, List<String> rest) {
    this.path = path;
    this.positionals = positionals;
    this.values = values;
    this.rest = rest;
  }

  static Args parse(String path, Spec spec, List<String> raw) {
    List<String> pos = new ArrayList<>();
    Map<String, String> values = new LinkedHashMap<>();
    List<String> rest = new ArrayList<>();
    int required = (int) spec.positionals().stream().filter(p -> !p.startsWith("[")).count();
    for (int i = 0; i < raw.size(); i++) {
      String a = raw.get(i);
      if (spec.passThrough() && pos.size() >= required && (a.startsWith("--") || a.contains("="))) {
        // own options are still honoured before the overrides, e.g. --print-config
        String own = a.startsWith("--") ? a.substring(2) : null;
        if (own != null && spec.options().containsKey(own)) {
          values.put(own, "true");
          continue;
        }
        if (own != null && spec.options().containsKey(own + "=") && i + 1 < raw.size()) {
          values.put(own, raw.get(++i));
          continue;
        }
        rest.add(a);
        continue;
      }
      if (a.startsWith("--") && a.length() > 2) {
        String name = a.substring(2);
        String inline = null;
        int eq = name.indexOf('=');
        if (eq >= 0) {
          inline = name.substring(eq + 1);
          name = name.substring(0, eq);
        }
        if (spec.options().containsKey(name + "=")) {
          if (inline == null) {
            if (i + 1 >= raw.size()) {
              throw new UsageException(path + ": --" + name + " needs a value");
            }
            inline = raw.get(++i);
          }
          values.put(name, inline);
        } else if (spec.options().containsKey(name) && inline == null) {
          values.put(name, "true");
        } else {
          List<String> known = spec.options().keySet().stream().map(k -> k.replace("=", "")).toList();
          throw new UsageException(path + ": unknown option '--" + name + "'"
              + NameSuggester.hint(name, known) + "; see '" + path + " --help'");
        }
      } else if (pos.size() < spec.positionals().size()) {
        pos.add(a);
      } else if (spec.passThrough()) {
        rest.add(a);
      } else {
        throw new UsageException(path + ": unexpected argument '" + a + "'; see '" + path + " --help'");
      }
    }
    if (pos.size() < required) {
      throw new UsageException(path + ": missing <" + spec.positionals().get(pos.size()) + ">; see '" + path
          + " --help'");
    }
    return new Args(path, pos, values, rest);
  }

  public String path() {
    return path;
  }

  public String positional(int i) {
    return positionals.get(i);
  }

  public Optional<String> optionalPositional(int i) {
    return i < positionals.size() ? Optional.of(positionals.get(i)) : Optional.empty();
  }

  public boolean flag(String name) {
    return values.containsKey(name);
  }

  public Optional<String> option(String name) {
    return Optional.ofNullable(values.get(name));
  }

  public long longOption(String name, long dflt) {
    String v = values.get(name);
    if (v == null) {
      return dflt;
    }
    try {
      return Long.parseLong(v.replace("_", ""));
    } catch (NumberFormatException e) {
      throw new UsageException(path + ": --" + name + " expects an integer, got '" + v + "'");
    }
  }

  /** Arguments after the positionals of a pass-through command. */
  public List<String> rest() {
    return List.copyOf(rest);
  }
}

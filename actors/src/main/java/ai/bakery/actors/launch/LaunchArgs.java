package ai.bakery.actors.launch;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * A launcher's command line: leading {@code --name value} or {@code --name=value} options, then the job's config,
 * then the config's own overrides (which may look like options too, so parsing stops at the first non-option).
 *
 * @param options the options in the order given (a name may repeat)
 */
record LaunchArgs(List<Map.Entry<String, String>> options, Path config, List<String> overrides) {

  /**
   * @param known the option names accepted
   * @param kind what the options are called in errors ("option", "node option")
   */
  static LaunchArgs parse(List<String> args, Collection<String> known, String kind) {
    List<Map.Entry<String, String>> options = new ArrayList<>();
    int i = 0;
    while (i < args.size() && args.get(i).startsWith("--")) {
      String name = args.get(i).substring(2);
      String value;
      int eq = name.indexOf('=');
      if (eq >= 0) {
        value = name.substring(eq + 1);
        name = name.substring(0, eq);
        i++;
      } else {
        if (i + 1 >= args.size()) {
          throw new IllegalArgumentException("--" + name + " needs a value");
        }
        value = args.get(i + 1);
        i += 2;
      }
      if (!known.contains(name)) {
        throw new IllegalArgumentException("unknown " + kind + " --" + name + " (options: --"
            + String.join(", --", known) + "; config overrides go after <config>)");
      }
      options.add(Map.entry(name, value));
    }
    if (i >= args.size()) {
      throw new IllegalArgumentException("missing <config>: the job's YAML file, after the " + kind + "s");
    }
    return new LaunchArgs(List.copyOf(options), Path.of(args.get(i)), args.subList(i + 1, args.size()));
  }
}

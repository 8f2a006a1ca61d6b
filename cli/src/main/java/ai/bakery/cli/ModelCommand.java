package ai.bakery.cli;

import ai.bakery.model.ModelInfo;
import ai.bakery.model.config.BagelConfig;
import ai.bakery.model.config.ConfigException;
import ai.bakery.runtime.config.NameSuggester;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/** {@code bakery model info}. */
final class ModelCommand extends CommandGroup {
  private static final ObjectMapper JSON = new ObjectMapper();

  ModelCommand() {
    super("model", "describe models");
    add(new LeafCommand("info",
        "parameter counts per component and MFU coefficients of a model (BAGEL folder, its config.json, or a "
            + "preset name from configs/model)",
        Args.Spec.of("model dir|config.json|preset").option("json", "one JSON object"), ModelCommand::info));
  }

  private static int info(Args args, Cli cli) throws Exception {
    Path dir = resolve(args.positional(0), args.path());
    BagelConfig config;
    try {
      config = BagelConfig.readModelDir(dir);
    } catch (ConfigException e) {
      throw new UsageException(args.path() + ": " + e.getMessage());
    }
    ModelInfo info = ModelInfo.of(config);
    if (args.flag("json")) {
      cli.out().println(JSON.writeValueAsString(info));
      return 0;
    }
    cli.out().println("model: " + dir);
    cli.out().println(info.summary());
    cli.out().println();
    Map<String, Object> row = new LinkedHashMap<>();
    List<Map<String, Object>> rows = new ArrayList<>();
    for (var c : ModelInfo.class.getRecordComponents()) {
      Object v = c.getAccessor().invoke(info);
      row = new LinkedHashMap<>();
      row.put("quantity", c.getName());
      row.put("value", v);
      rows.add(row);
    }
    BenchRows.of(rows).print(cli.out(), false);
    return 0;
  }

  /** A folder, a config.json inside one, or a preset name under {@code <bakery home>/configs/model}. */
  static Path resolve(String arg, String command) throws IOException {
    Path p = Path.of(arg);
    if (Files.isDirectory(p)) {
      return p;
    }
    if (Files.isRegularFile(p)) {
      return p.toAbsolutePath().getParent();
    }
    Path presets = home().resolve("configs").resolve("model");
    if (!arg.contains("/") && Files.isDirectory(presets.resolve(arg))) {
      return presets.resolve(arg);
    }
    List<String> names = new ArrayList<>();
    if (Files.isDirectory(presets)) {
      try (Stream<Path> s = Files.list(presets)) {
        s.filter(Files::isDirectory).map(d -> d.getFileName().toString()).sorted().forEach(names::add);
      }
    }
    throw new UsageException(command + ": '" + arg + "' is not a model folder, a config.json or a preset"
        + NameSuggester.hint(arg, names) + (names.isEmpty() ? "" : "; presets: " + String.join(", ", names)));
  }

  /** The repository root: {@code -Dbakery.home} (set by ./bakery), else the working directory. */
  static Path home() {
    return Path.of(System.getProperty("bakery.home", "."));
  }
}

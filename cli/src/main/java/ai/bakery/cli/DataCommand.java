package ai.bakery.cli;

import ai.bakery.data.DataConfig;
import ai.bakery.data.example.ExampleDataset;
import ai.bakery.data.inspect.DataInspector;
import ai.bakery.data.text.TextTokenizer;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** {@code bakery data example|inspect}. */
final class DataCommand extends CommandGroup {
  private static final ObjectMapper JSON = new ObjectMapper();

  DataCommand() {
    super("data", "make and check datasets");
    add(new LeafCommand("example",
        "write a small example dataset (T2I parquet, editing parquet, VLM JSONL, groups YAML) to <dir>",
        Args.Spec.of("dir").option("seed=", "seed the example is drawn from (default 42)"), DataCommand::example));
    add(new LeafCommand("inspect",
        "resolve a dataset groups YAML, pack a few packs as training would, report tokens, padding and skips",
        Args.Spec.of("yaml").option("json", "the report as one JSON object")
            .option("packs=", "packs to build (default 20)")
            .option("registry=", "dataset_info registry file (default: the YAML's dataset_info)")
            .option("tokenizer=", "model folder holding tokenizer.json (default: the shipped tiny tokenizer)")
            .option("max-num-tokens=", "pack size cap (default 36864; expected/per-sample limits follow it)"),
        DataCommand::inspect));
  }

  private static int example(Args args, Cli cli) throws Exception {
    ExampleDataset.Options d = ExampleDataset.Options.DEFAULTS;
    ExampleDataset.Options o = new ExampleDataset.Options(args.longOption("seed", d.seed()), d.imageSize(),
        d.t2iFiles(), d.editFiles(), d.rowGroupsPerFile(), d.rowsPerGroup(), d.vlmRecords());
    ExampleDataset.Summary s = ExampleDataset.write(Path.of(args.positional(0)), o);
    cli.out().println("wrote example dataset to " + s.root() + ": " + s.t2iSamples() + " T2I, " + s.editSamples()
        + " editing, " + s.vlmSamples() + " VLM samples");
    cli.out().println("groups: " + s.groupsYaml() + "  registry: " + s.datasetInfo());
    return 0;
  }

  private static int inspect(Args args, Cli cli) throws Exception {
    Path yaml = Path.of(args.positional(0));
    if (!Files.isRegularFile(yaml)) {
      throw new UsageException(args.path() + ": " + yaml + " does not exist");
    }
    Path registry = args.option("registry").map(Path::of).orElse(null);
    DataConfig config = DataConfig.defaults();
    if (args.option("max-num-tokens").isPresent()) {
      int max = (int) args.longOption("max-num-tokens", config.maxNumTokens());
      config = config.withTokens(Math.max(1, max * 8 / 9), max, Math.max(1, max * 8 / 9),
          Math.min(config.preferBufferBefore(), max), config.maxBufferSize());
    }
    int packs = (int) args.longOption("packs", 20);
    DataInspector.Report report;
    try (TextTokenizer tokenizer = args.option("tokenizer").isPresent()
        ? TextTokenizer.fromModelDir(Path.of(args.option("tokenizer").get())) : TextTokenizer.tiny()) {
      report = DataInspector.inspect(yaml, registry, config, tokenizer, packs);
    } catch (IllegalArgumentException e) {
      throw new UsageException(args.path() + ": " + e.getMessage());
    }
    if (args.flag("json")) {
      cli.out().println(JSON.writeValueAsString(report));
      return 0;
    }
    BenchRows.of(report.groups()).print(cli.out(), false);
    Map<String, Object> totals = new LinkedHashMap<>();
    totals.put("packs", report.packs());
    totals.put("strategy", report.packingStrategy());
    totals.put("tokens/pack min", report.tokensMin());
    totals.put("mean", report.tokensMean());
    totals.put("max", report.tokensMax());
    totals.put("samples/pack", report.samplesMean());
    totals.put("padding", report.paddingRatio());
    totals.put("vae images", report.vaeImages());
    totals.put("vit images", report.vitImages());
    cli.out().println();
    BenchRows.of(List.of(totals)).print(cli.out(), false);
    cli.out().println();
    cli.out().println("skips: " + (report.skips().isEmpty() ? "none" : report.skips()));
    return 0;
  }
}

package ai.bakery.cli;

/** {@code bakery data example|inspect}. */
final class DataCommand extends CommandGroup {
  DataCommand() {
    super("data", "make and check datasets");
    add(new LeafCommand("example", "write a small example dataset (T2I parquet, edit parquet, VLM JSONL) to <dir>",
        Args.Spec.of("dir"), DataCommand::example));
    add(new LeafCommand("inspect", "read a dataset groups YAML and report its datasets, samples and skips",
        Args.Spec.of("yaml").option("json", "one JSON object per line"), DataCommand::inspect));
  }

  private static int example(Args args, Cli cli) {
    throw new NotAvailableException(args.path(), "the example dataset writer ai.bakery.data.ExampleDataset");
  }

  private static int inspect(Args args, Cli cli) {
    throw new NotAvailableException(args.path(), "the dataset inspector ai.bakery.data.DataInspector");
  }
}

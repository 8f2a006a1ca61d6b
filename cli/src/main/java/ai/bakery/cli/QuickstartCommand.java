package ai.bakery.cli;

/** {@code bakery quickstart}: a few minutes of real training of the tiny preset on the example data. */
final class QuickstartCommand {
  private QuickstartCommand() {}

  static Command create() {
    return new LeafCommand("quickstart",
        "train the tiny preset on generated example data for a few minutes (configs/quickstart.yaml)",
        Args.Spec.of().option("config=", "config to run instead of configs/quickstart.yaml"),
        QuickstartCommand::run);
  }

  private static int run(Args args, Cli cli) {
    throw new NotAvailableException(args.path(), "the quickstart runner ai.bakery.runtime.train.Quickstart");
  }
}

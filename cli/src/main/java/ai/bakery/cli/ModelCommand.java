package ai.bakery.cli;

/** {@code bakery model info}. */
final class ModelCommand extends CommandGroup {
  ModelCommand() {
    super("model", "describe models");
    add(new LeafCommand("info",
        "sizes, parameter counts and memory of a model (config.json, BAGEL model folder, or preset name)",
        Args.Spec.of("config.json|model dir|preset").option("json", "one JSON object per line"), ModelCommand::info));
  }

  private static int info(Args args, Cli cli) {
    throw new NotAvailableException(args.path(), "the model summary ai.bakery.model.ModelInfo");
  }
}

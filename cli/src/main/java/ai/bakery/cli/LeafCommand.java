package ai.bakery.cli;

import java.util.List;

/** A command that does the work: prints its usage on {@code --help}, otherwise parses and runs. */
public final class LeafCommand implements Command {
  /** The work of a leaf command, given its parsed arguments. */
  @FunctionalInterface
  public interface Action {
    int run(Args args, Cli cli) throws Exception;
  }

  private final String name;
  private final String summary;
  private final Args.Spec spec;
  private final Action action;

  public LeafCommand(String name, String summary, Args.Spec spec, Action action) {
    this.name = name;
    this.summary = summary;
    this.spec = spec;
    this.action = action;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public String summary() {
    return summary;
  }

  @Override
  public int run(String path, List<String> args, Cli cli) throws Exception {
    if (!args.isEmpty() && Command.isHelp(args.get(0))
        || !spec.passThrough() && args.stream().anyMatch(a -> a.equals("--help") || a.equals("-h"))) {
      cli.out().print(spec.help(path, summary));
      return 0;
    }
    return action.run(Args.parse(path, spec, args), cli);
  }
}

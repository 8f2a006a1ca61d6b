package ai.bakery.cli;

import ai.bakery.runtime.config.NameSuggester;
import java.util.ArrayList;
import java.util.List;

/** A command made of named subcommands ({@code bakery data example|inspect}). */
public class CommandGroup implements Command {
  private final String name;
  private final String summary;
  private final List<Command> children = new ArrayList<>();

  public CommandGroup(String name, String summary) {
    this.name = name;
    this.summary = summary;
  }

  protected final void add(Command child) {
    children.add(child);
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public String summary() {
    return summary;
  }

  public List<Command> children() {
    return List.copyOf(children);
  }

  @Override
  public int run(String path, List<String> args, Cli cli) throws Exception {
    if (args.isEmpty()) {
      throw new UsageException(path + ": missing subcommand (" + String.join(", ", names())
          + "); see '" + path + " --help'");
    }
    String first = args.get(0);
    if (Command.isHelp(first)) {
      cli.out().print(help(path));
      return 0;
    }
    for (Command c : children) {
      if (c.name().equals(first)) {
        return c.run(path + " " + first, args.subList(1, args.size()), cli);
      }
    }
    throw new UsageException(path + ": unknown subcommand '" + first + "'" + NameSuggester.hint(first, names())
        + "; choose one of " + String.join(", ", names()));
  }

  String help(String path) {
    StringBuilder b = new StringBuilder();
    b.append("usage: ").append(path).append(" <").append(String.join("|", names())).append("> [args]\n\n");
    b.append(summary).append("\n\n");
    int width = names().stream().mapToInt(String::length).max().orElse(0);
    for (Command c : children) {
      b.append("  ").append(String.format("%-" + width + "s", c.name())).append("  ").append(c.summary())
          .append('\n');
    }
    b.append("\nRun '").append(path).append(" <command> --help' for a command's options.\n");
    return b.toString();
  }

  private List<String> names() {
    return children.stream().map(Command::name).toList();
  }
}

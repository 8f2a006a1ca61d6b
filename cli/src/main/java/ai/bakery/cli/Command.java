package ai.bakery.cli;

import java.util.List;

/** One node of the command tree: a group of subcommands or a leaf that does the work. */
public interface Command {
  String name();

  /** One line for listings. */
  String summary();

  /**
   * @param path the words that led here, e.g. {@code bakery data}, for messages
   * @return the process exit code
   */
  int run(String path, List<String> args, Cli cli) throws Exception;

  static boolean isHelp(String arg) {
    return arg.equals("-h") || arg.equals("--help") || arg.equals("help");
  }
}

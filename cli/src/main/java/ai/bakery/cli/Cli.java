package ai.bakery.cli;

import java.io.PrintStream;

/** Where a command writes: results to {@code out}, messages for the user to {@code err}. */
public record Cli(PrintStream out, PrintStream err) {
  public static Cli system() {
    return new Cli(System.out, System.err);
  }
}

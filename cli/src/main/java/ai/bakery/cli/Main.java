package ai.bakery.cli;

import ai.bakery.model.config.ConfigException;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code bakery}: the command-line entry point. Bad usage and bad input exit with 2 and one line on stderr;
 * a failure while running exits with 1 (the stack trace goes to the log at DEBUG, or to stderr with
 * {@code BAKERY_DEBUG=1}); {@code train} and {@code quickstart} stopped by SIGTERM or SIGINT exit with 143 or 130
 * after checkpointing ({@link Preemption}).
 */
public final class Main {
  private static final Logger LOG = LoggerFactory.getLogger(Main.class);

  private Main() {}

  public static void main(String[] args) {
    System.exit(run(List.of(args), Cli.system()));
  }

  /** The command tree; each group is one class. */
  public static CommandGroup commands() {
    return new RootCommand();
  }

  public static int run(List<String> args, Cli cli) {
    CommandGroup root = commands();
    if (args.isEmpty()) {
      cli.err().print(root.help("bakery"));
      return 2;
    }
    try {
      return root.run("bakery", args, cli);
    } catch (UsageException e) {
      cli.err().println(e.getMessage());
      return 2;
    } catch (ConfigException e) {
      cli.err().println("bakery: " + e.getMessage());
      return 2;
    } catch (Exception e) {
      LOG.debug("command failed", e);
      if ("1".equals(System.getenv("BAKERY_DEBUG"))) {
        e.printStackTrace(cli.err());
      }
      cli.err().println("bakery: error: " + (e.getMessage() == null ? e.toString() : e.getMessage()));
      return 1;
    }
  }

  private static final class RootCommand extends CommandGroup {
    RootCommand() {
      super("bakery", "Bakery: elastic, fault-tolerant training for BAGEL unified multimodal models.");
      add(QuickstartCommand.create());
      add(TrainCommand.create());
      add(new DataCommand());
      add(new ModelCommand());
      add(new CheckpointCommand());
      add(new BenchCommand());
      add(GenerateCommand.create());
      add(EditCommand.create());
      add(ChatCommand.create());
      add(new ClusterCommand());
    }
  }
}

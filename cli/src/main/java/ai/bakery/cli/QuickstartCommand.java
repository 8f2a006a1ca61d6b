package ai.bakery.cli;

import ai.bakery.model.config.ConfigException;
import ai.bakery.runtime.config.JobConfigLoader;
import ai.bakery.runtime.train.Quickstart;
import ai.bakery.runtime.train.TrainingStopped;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/** {@code bakery quickstart}: a few minutes of real training of the tiny preset on the example data. */
final class QuickstartCommand {
  private QuickstartCommand() {}

  static Command create() {
    return new LeafCommand("quickstart",
        "train the tiny preset on generated example data for a few minutes (configs/quickstart.yaml)",
        Args.Spec.of().option("config=", "config to run instead of configs/quickstart.yaml").withPassThrough()
            .details("Settings after the options override the config, as for 'bakery train' (e.g. --total_steps 50)."),
        QuickstartCommand::run);
  }

  private static int run(Args args, Cli cli) throws Exception {
    Path config = args.option("config").map(Path::of).orElse(Quickstart.DEFAULT_CONFIG);
    if (!Files.isRegularFile(config)) {
      throw new UsageException(args.path() + ": " + config + " not found (run from the repository root, or pass "
          + "--config)");
    }
    Path results;
    Path checkpointDir;
    try {
      var job = JobConfigLoader.load(config, args.rest()).config().training();
      results = job.loop().resultsDir();
      checkpointDir = job.checkpoint().checkpointDir();
      Files.createDirectories(results);
    } catch (ConfigException e) {
      throw new UsageException(args.path() + ": " + e.getMessage());
    }
    Duration grace = Preemption.timeout(System.getenv());
    Quickstart.Summary s;
    try (RunLog log = RunLog.attach(results);
        Preemption preemption = Preemption.install(grace, checkpointDir)) {
      try {
        s = Quickstart.run(config, args.rest(), cli.out(), preemption.stop());
      } catch (TrainingStopped e) {
        return TrainCommand.stopped(e, preemption.status()); // in the autoencoder stage
      }
      if (s.result().stopped()) {
        return TrainCommand.stopped(s.result(), preemption.status());
      }
    } catch (ConfigException e) {
      throw new UsageException(args.path() + ": " + e.getMessage());
    }
    if (!s.learned()) {
      cli.err().println("bakery quickstart: losses did not fall (ce " + s.firstCe() + " -> " + s.lastCe() + ", mse "
          + s.firstMse() + " -> " + s.lastMse() + ")");
      return 1;
    }
    return 0;
  }
}

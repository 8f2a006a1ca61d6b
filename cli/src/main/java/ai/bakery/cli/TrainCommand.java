package ai.bakery.cli;

import ai.bakery.model.config.ConfigException;
import ai.bakery.runtime.config.JobConfig;
import ai.bakery.runtime.config.JobConfigLoader;
import ai.bakery.runtime.config.LoadedJob;
import ai.bakery.runtime.dashboard.RunListener;
import ai.bakery.runtime.train.TrainJob;
import ai.bakery.runtime.train.TrainResult;
import ai.bakery.runtime.train.TrainingStopped;
import ai.bakery.runtime.vae.VaeTrainConfig;
import ai.bakery.runtime.vae.VaeTrainer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code bakery train <config> [--key value ...]}: a Bakery or LMMS Engine YAML followed by overrides, or the
 * reference trainer's flags alone ({@code bakery train --dataset_config_file ... --llm_path ...}).
 */
final class TrainCommand {
  private static final Logger LOG = LoggerFactory.getLogger(TrainCommand.class);

  static final String DETAILS = String.join("\n",
      "The config may be Bakery YAML (configs/quickstart.yaml), LMMS Engine YAML (either the top-level form or",
      "the '- type: trainer' list form), or no file at all: the reference trainer's flags",
      "(train/pretrain_unified_navit.py), with - or _ spellings and True/False/1/0 values.",
      "Overrides after the config win over it: any reference flag (--lr 2e-5), LMMS trainer argument",
      "(--learning_rate 2e-5) or Bakery path (--training.optimizer.lr 2e-5).",
      "",
      "  bakery train vae <config>   trains the VAE (separate command)");

  private TrainCommand() {}

  static Command create() {
    return new LeafCommand("train", "train a BAGEL model from a config file or the reference trainer's flags",
        Args.Spec.of().option("print-config", "print the resolved config as YAML and exit")
            .option("dashboard", "serve the live dashboard on localhost while training (as dashboard.enabled)")
            .withPassThrough()
            .details(DETAILS),
        TrainCommand::run);
  }

  private static int run(Args args, Cli cli) {
    List<String> rest = args.rest();
    if (rest.isEmpty()) {
      throw new UsageException(args.path() + ": missing <config> (a YAML file, or the reference flags); see '"
          + args.path() + " --help'");
    }
    if (rest.get(0).equals("vae")) {
      return trainVae(args.path() + " vae", rest.subList(1, rest.size()), cli);
    }
    LoadedJob job;
    try {
      job = isLaunchLine(rest.get(0)) ? JobConfigLoader.fromReferenceFlags(rest)
          : JobConfigLoader.load(Path.of(rest.get(0)), rest.subList(1, rest.size()));
    } catch (ConfigException e) {
      throw new UsageException(args.path() + ": " + e.getMessage());
    }
    LOG.info("config read as {}", job.dialect());
    job.notes().forEach(n -> LOG.info("config: {}", n));
    if (args.flag("print-config")) {
      cli.out().print(JobConfigLoader.toYaml(job.config()));
      return 0;
    }
    JobConfig config;
    try {
      config = job.config().requireRunnable();
    } catch (ConfigException e) {
      throw new UsageException(args.path() + ": " + e.getMessage());
    }
    if (args.flag("dashboard")) {
      JobConfig c = config;
      config = new JobConfig(c.model(), c.data(), c.training(), c.output(), c.runtime(), c.parallel(), c.launch(),
          c.dashboard().withEnabled(true));
    }
    LOG.debug("resolved config: {}", config);
    Path results = config.training().loop().resultsDir();
    try {
      Files.createDirectories(results);
    } catch (IOException e) {
      throw new UsageException(args.path() + ": cannot create results_dir " + results + ": " + e.getMessage());
    }
    Duration grace = Preemption.timeout(System.getenv());
    TrainResult result;
    int status;
    try (RunLog log = RunLog.attach(results);
        Preemption preemption = Preemption.install(grace, config.training().checkpoint().checkpointDir())) {
      result = TrainJob.run(config, preemption.stop());
      status = result.stopped() ? stopped(result, preemption.status()) : 0;
    } catch (ConfigException e) {
      throw new UsageException(args.path() + ": " + e.getMessage());
    }
    printSummary(result, cli);
    return status;
  }

  /**
   * The exit status of a run a signal stopped (128 + its number), after the line saying where it stopped and what
   * to resume from.
   */
  static int stopped(TrainResult r, int status) {
    long last = r.steps().isEmpty() ? -1 : r.steps().get(r.steps().size() - 1).step();
    LOG.warn("preempted: stopped {}; {}; exiting with status {} (run again with --auto_resume true to continue)",
        last < 0 ? "before training a step" : "after step " + last,
        r.lastCheckpoint() != null ? "checkpoint " + r.lastCheckpoint() + " holds it" : "no new checkpoint", status);
    return status;
  }

  /** The exit status of a run a signal stopped before it had anything to checkpoint (the autoencoder stage). */
  static int stopped(TrainingStopped e, int status) {
    LOG.warn("preempted: {}; exiting with status {}", e.getMessage(), status);
    return status;
  }

  /** The reference's flags, or a torchrun line pasted whole (its script and torchrun itself are skipped). */
  private static boolean isLaunchLine(String first) {
    return first.startsWith("-") || first.equals("torchrun") || first.endsWith(".py");
  }

  /** {@code bakery train vae <config>}: trains the autoencoder alone (see VaeTrainConfig for the YAML). */
  private static int trainVae(String path, List<String> rest, Cli cli) {
    if (rest.size() != 1 || rest.get(0).startsWith("-")) {
      throw new UsageException(path + ": expected exactly one <config> (a VAE training YAML)");
    }
    Path file = Path.of(rest.get(0));
    if (!Files.isRegularFile(file)) {
      throw new UsageException(path + ": " + file + ": config file not found");
    }
    VaeTrainer.Result r;
    VaeTrainConfig config;
    try {
      config = VaeTrainConfig.load(file);
    } catch (ConfigException | IllegalArgumentException e) {
      throw new UsageException(path + ": " + e.getMessage());
    }
    try (Preemption preemption = Preemption.install(Preemption.timeout(System.getenv()),
        "saving nothing (a partly trained autoencoder would pass for the finished one)",
        "nothing saved; an earlier " + VaeTrainer.WEIGHTS + " under " + config.outputDir() + " stays whole")) {
      try {
        r = VaeTrainer.run(config, RunListener.NONE, preemption.stop());
      } catch (TrainingStopped e) {
        return stopped(e, preemption.status());
      }
    } catch (ConfigException | IllegalArgumentException e) {
      throw new UsageException(path + ": " + e.getMessage());
    }
    cli.out().println(String.format(Locale.ROOT, "trained %d steps; fixed-batch reconstruction %.5f -> %.5f",
        r.reconstruction().size(), r.evalBefore(), r.evalAfter()));
    cli.out().println("weights: " + r.weights());
    if (!r.skippedImages().isEmpty()) {
      cli.out().println("skipped images: " + r.skippedImages());
    }
    return 0;
  }

  static void printSummary(TrainResult r, Cli cli) {
    int n = Math.min(10, Math.max(1, r.steps().size() / 2));
    cli.out().println(String.format(Locale.ROOT, "trained %d steps; first %d: ce %.4f mse %.4f; last %d: ce %.4f "
        + "mse %.4f", r.steps().size(), n, r.firstCe(n), r.firstMse(n), n, r.lastCe(n), r.lastMse(n)));
    if (r.lastCheckpoint() != null) {
      cli.out().println("last checkpoint: " + r.lastCheckpoint());
    }
    if (r.skippedSteps() > 0) {
      cli.out().println(r.skippedSteps() + " steps were skipped (non-finite gradients)");
    }
  }
}

package ai.bakery.runtime.train;

import ai.bakery.data.example.ExampleDataset;
import ai.bakery.model.config.ConfigException;
import ai.bakery.runtime.config.JobConfig;
import ai.bakery.runtime.config.JobConfigLoader;
import ai.bakery.runtime.config.LoadedJob;
import ai.bakery.runtime.vae.VaeTrainConfig;
import ai.bakery.runtime.vae.VaeTrainer;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * {@code bakery quickstart}: writes the generated example dataset where the config expects it (once), trains
 * the tiny preset on it for a few minutes with checkpoints on, and prints how CE and MSE moved.
 */
public final class Quickstart {
  public static final Path DEFAULT_CONFIG = Path.of("configs", "quickstart.yaml");
  /** Steps averaged for the first and last losses reported. */
  public static final int WINDOW = 10;

  private Quickstart() {}

  /** The losses at the start and end of the run, each averaged over {@link #WINDOW} steps. */
  public record Summary(TrainResult result, double firstCe, double lastCe, double firstMse, double lastMse) {
    public boolean learned() {
      return lastCe < firstCe && lastMse < firstMse;
    }
  }

  /**
   * Runs the quickstart config.
   *
   * @param config a Bakery YAML (normally {@link #DEFAULT_CONFIG}) whose {@code data.dataset_config_file} is the
   *     example's {@code example.yaml}
   * @param overrides {@code --key value} overrides as {@code bakery train} takes them
   * @param out where the summary is printed
   */
  public static Summary run(Path config, List<String> overrides, PrintStream out) {
    return run(config, overrides, out, new StopRequest());
  }

  /** As {@link #run(Path, List, PrintStream)}, stopping at the next step boundary once {@code stop} is requested. */
  public static Summary run(Path config, List<String> overrides, PrintStream out, StopRequest stop) {
    LoadedJob job = JobConfigLoader.load(config, overrides);
    JobConfig c = job.config();
    ensureExample(c);
    ensureAutoencoder(c, config, out, stop);
    out.println("Training the " + c.model().preset() + " preset for " + stepsOf(c) + " steps (checkpoints in "
        + c.training().checkpoint().checkpointDir() + ", metrics in " + c.training().loop().resultsDir() + ").");
    TrainResult r = TrainJob.run(c, stop);
    Summary s = new Summary(r, r.firstCe(WINDOW), r.lastCe(WINDOW), r.firstMse(WINDOW), r.lastMse(WINDOW));
    out.println(String.format(Locale.ROOT, "first %d steps: ce %.4f  mse %.4f", WINDOW, s.firstCe(), s.firstMse()));
    out.println(String.format(Locale.ROOT, "last  %d steps: ce %.4f  mse %.4f", WINDOW, s.lastCe(), s.lastMse()));
    if (r.lastCheckpoint() != null) {
      out.println("last checkpoint: " + r.lastCheckpoint());
    }
    if (r.skippedSteps() > 0) {
      out.println(r.skippedSteps() + " steps were skipped (non-finite gradients)");
    }
    return s;
  }

  /** The stage-1 config beside the quickstart's: trains the tiny autoencoder {@code model.vae_path} names. */
  public static final String VAE_CONFIG = "vae/quickstart.yaml";

  /**
   * Trains the autoencoder {@code model.vae_path} names when it is missing, with {@value #VAE_CONFIG} from the
   * config's folder (whose output_dir must be that file's folder).
   */
  static void ensureAutoencoder(JobConfig c, Path config, PrintStream out, StopRequest stop) {
    String ae = c.model().vaePath();
    if (ae == null || Files.isRegularFile(Path.of(ae))) {
      return;
    }
    Path vaeConfig = config.toAbsolutePath().getParent().resolve(VAE_CONFIG);
    if (!Files.isRegularFile(vaeConfig)) {
      throw new ConfigException("quickstart: model.vae_path " + ae + " is missing and there is no " + vaeConfig
          + " to train it with");
    }
    VaeTrainConfig vc = VaeTrainConfig.load(vaeConfig);
    Path target = vc.outputDir().resolve(VaeTrainer.WEIGHTS).toAbsolutePath().normalize();
    if (!target.equals(Path.of(ae).toAbsolutePath().normalize())) {
      throw new ConfigException("quickstart: " + vaeConfig + " writes " + target + " but model.vae_path is " + ae);
    }
    out.println("Stage 1: training the tiny autoencoder (" + vc.steps() + " steps, " + vaeConfig + ").");
    VaeTrainer.Result r = VaeTrainer.run(vc, ai.bakery.runtime.dashboard.RunListener.NONE, stop);
    out.println(String.format(Locale.ROOT, "autoencoder reconstruction %.4f -> %.4f, saved to %s", r.evalBefore(),
        r.evalAfter(), r.weights()));
  }

  private static long stepsOf(JobConfig c) {
    long total = c.training().schedule().totalSteps();
    long max = c.training().loop().maxSteps();
    return max > 0 ? Math.min(max, total) : total;
  }

  /**
   * Writes the example dataset ({@link ExampleDataset.Options#QUICKSTART}: 32-pixel pictures to generate)
   * beside the configured groups file when that file is absent.
   */
  static void ensureExample(JobConfig c) {
    String file = c.data().datasetConfigFile();
    if (file == null) {
      throw new ConfigException("quickstart: data.dataset_config_file must name the example's example.yaml");
    }
    Path yaml = Path.of(file);
    if (Files.isRegularFile(yaml)) {
      return;
    }
    Path root = yaml.toAbsolutePath().getParent();
    try {
      ExampleDataset.Summary s = ExampleDataset.write(root, ExampleDataset.Options.QUICKSTART);
      if (!s.groupsYaml().toAbsolutePath().equals(yaml.toAbsolutePath())) {
        throw new ConfigException("quickstart: the example dataset writes " + s.groupsYaml()
            + "; point data.dataset_config_file at it");
      }
    } catch (IOException e) {
      throw new UncheckedIOException(root + ": cannot write the example dataset: " + e.getMessage(), e);
    }
  }

  public static void main(String[] args) {
    Path config = args.length > 0 ? Path.of(args[0]) : DEFAULT_CONFIG;
    List<String> overrides = args.length > 1 ? List.of(args).subList(1, args.length) : List.of();
    Summary s = run(config, overrides, System.out);
    System.exit(s.learned() ? 0 : 1);
  }
}

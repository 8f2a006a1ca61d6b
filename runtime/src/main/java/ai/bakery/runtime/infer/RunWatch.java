package ai.bakery.runtime.infer;

import ai.bakery.data.text.TextTokenizer;
import ai.bakery.model.config.BagelConfig;
import ai.bakery.model.config.ConfigException;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.runtime.config.DashboardSection;
import ai.bakery.runtime.dashboard.DashboardConfig;
import ai.bakery.runtime.dashboard.DashboardServer;
import ai.bakery.runtime.dashboard.LogbackTap;
import ai.bakery.runtime.dashboard.RunListener;
import ai.bakery.runtime.dashboard.RunMonitor;
import ai.bakery.runtime.dashboard.TrainerReport;
import ai.bakery.runtime.train.TrainHook;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What watches one single-process training run, as its {@code dashboard} section asks: the live dashboard (a
 * {@link RunMonitor} fed by the trainer and the log, served by a {@link DashboardServer} on loopback) and the
 * {@link TrainingSampler}. Close it after training: the server stops, the log tap comes off.
 */
public final class RunWatch implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(RunWatch.class);

  private final RunMonitor monitor;
  private final DashboardServer server;
  private final LogbackTap tap;
  private final TrainingSampler sampler;
  private final TrainHook hook;

  private RunWatch(RunMonitor monitor, DashboardServer server, LogbackTap tap, TrainingSampler sampler) {
    this.monitor = monitor;
    this.server = server;
    this.tap = tap;
    this.sampler = sampler;
    List<TrainHook> hooks = new ArrayList<>();
    if (monitor != null) {
      hooks.add(new TrainerReport(monitor, "trainer"));
    }
    if (sampler != null) {
      hooks.add(sampler);
    }
    this.hook = hooks.isEmpty() ? TrainHook.NONE : TrainHook.all(hooks);
  }

  /**
   * Starts what {@code d} asks for.
   *
   * @param runDir the run's results folder (samples go under it)
   * @param weights the trained model's parameters
   * @param vaeWeights the run's autoencoder parameters (null without generation)
   */
  public static RunWatch open(DashboardSection d, String job, Path runDir, BagelConfig cfg, TextTokenizer tokenizer,
      ParameterStore weights, ParameterStore vaeWeights) {
    RunMonitor monitor = null;
    DashboardServer server = null;
    LogbackTap tap = null;
    TrainingSampler sampler = null;
    try {
      if (d.enabled()) {
        monitor = new RunMonitor(job);
        DashboardConfig dc = new DashboardConfig(d.host(), d.port(), d.tokenFile() == null ? null
            : Path.of(d.tokenFile()), DashboardConfig.DEFAULT_TOKEN_ENV);
        server = DashboardServer.start(monitor, dc);
        tap = LogbackTap.attach(monitor, "INFO");
        LOG.info("Dashboard for this run: {}", server.uri());
      }
      if (d.sampleEvery() > 0) {
        BufferedImage asked = d.sampleImage() == null ? null : readSampleImage(d.sampleImage());
        SamplingOptions o = SamplingOptions.TINY.withSteps(d.sampleSteps());
        Map<String, ai.djl.ndarray.NDArray> vae = vaeWeights == null ? null : TrainingSampler.values(vaeWeights);
        sampler = new TrainingSampler(new TrainingSampler.Plan(d.sampleEvery(), d.samplePrompts(), d.sampleQuestion(),
            asked, o), runDir, cfg, tokenizer, weights, vae, monitor == null ? RunListener.NONE : monitor);
      }
      return new RunWatch(monitor, server, tap, sampler);
    } catch (RuntimeException e) {
      closeAll(server, tap, sampler);
      throw e;
    }
  }

  private static BufferedImage readSampleImage(String file) {
    try {
      return Images.read(Path.of(file));
    } catch (IllegalArgumentException e) {
      throw new ConfigException("dashboard.sample_image: " + e.getMessage().replace("--image: ", ""));
    }
  }

  /** The hook to give the trainer. */
  public TrainHook hook() {
    return hook;
  }

  /** The run's monitor, or null without a dashboard. */
  public RunMonitor monitor() {
    return monitor;
  }

  /** The dashboard server, or null without one. */
  public DashboardServer server() {
    return server;
  }

  @Override
  public void close() {
    closeAll(server, tap, sampler);
  }

  private static void closeAll(DashboardServer server, LogbackTap tap, TrainingSampler sampler) {
    if (tap != null) {
      tap.close();
    }
    if (server != null) {
      server.close();
    }
    if (sampler != null) {
      sampler.close();
    }
  }
}

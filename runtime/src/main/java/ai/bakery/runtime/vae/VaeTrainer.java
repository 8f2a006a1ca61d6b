package ai.bakery.runtime.vae;

import ai.bakery.model.io.Dtype;
import ai.bakery.model.io.LoadReport;
import ai.bakery.model.io.PretrainedWeights;
import ai.bakery.model.io.SafetensorsWriter;
import ai.bakery.model.io.StateDictLoader;
import ai.bakery.model.nn.Init;
import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.bakery.model.tensor.Torch;
import ai.bakery.model.vae.DiagonalGaussian;
import ai.bakery.model.vae.FluxAutoencoder;
import ai.bakery.runtime.dashboard.DataHealth;
import ai.bakery.runtime.dashboard.RunListener;
import ai.bakery.runtime.dashboard.StepRecord;
import ai.bakery.runtime.metrics.MetricsLog;
import ai.bakery.runtime.optim.AdamW;
import ai.bakery.runtime.optim.GradClipper;
import ai.bakery.runtime.optim.Gradients;
import ai.bakery.runtime.optim.OptimizerConfig;
import ai.bakery.runtime.train.StopRequest;
import ai.bakery.runtime.train.TrainingStopped;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Trains the FLUX-architecture autoencoder on a folder of images, as such autoencoders are trained: pixel
 * reconstruction (L1 or MSE, per element) of a reparameterised posterior sample plus a small KL term to N(0, 1),
 * with AdamW, linear warm-up, and gradient clipping. Writes {@code ae.safetensors} in FLUX's names
 * ({@code encoder.*}, {@code decoder.*}), which BAGEL's {@code vae_path} loads, plus {@code vae_config.json} and
 * {@code metrics.jsonl}.
 *
 * <p>The loss is {@code rec + kl_weight * KL / (C*H*W)}: KL summed over latent elements and divided by the pixel
 * element count, so {@code kl_weight} means what LDM's does (where both terms are sums).
 */
public final class VaeTrainer {
  private static final Logger LOG = LoggerFactory.getLogger(VaeTrainer.class);
  public static final String WEIGHTS = "ae.safetensors";
  public static final String CONFIG = "vae_config.json";
  private static final int EVAL_IMAGES = 8;

  /**
   * What a run did.
   *
   * @param weights the written {@code ae.safetensors}
   * @param reconstruction per-step reconstruction loss of the training batches
   * @param kl per-step mean KL per sample (summed over latent elements)
   * @param evalBefore reconstruction loss of a fixed batch through the posterior mean, before training
   * @param evalAfter the same after training
   * @param skippedImages unreadable images by reason
   */
  public record Result(Path weights, List<Double> reconstruction, List<Double> kl, double evalBefore,
      double evalAfter, Map<String, Long> skippedImages) {}

  private VaeTrainer() {}

  /** Reads the YAML config and trains; see {@link VaeTrainConfig} for the fields. */
  public static Result run(Path configFile) {
    return run(VaeTrainConfig.load(configFile), RunListener.NONE);
  }

  public static Result run(VaeTrainConfig config) {
    return run(config, RunListener.NONE);
  }

  /** Trains as configured, reporting every step to {@code listener} (e.g. a dashboard's RunMonitor). */
  public static Result run(VaeTrainConfig c, RunListener listener) {
    return run(c, listener, new StopRequest());
  }

  /**
   * As {@link #run(VaeTrainConfig, RunListener)}, ending at the next step boundary once {@code stop} is requested.
   *
   * @throws TrainingStopped when stopped: nothing is saved, because an autoencoder trained part of the way would
   *     pass for the finished one with the next start that finds its file
   */
  public static Result run(VaeTrainConfig c, RunListener listener, StopRequest stop) {
    Engine engine = Torch.init();
    org.bytedeco.pytorch.global.torch.manual_seed(c.seed());
    ImageFolder images = new ImageFolder(c.images(), c.imageSize(), c.seed());
    int size = c.imageSize();
    LOG.info("Training the autoencoder on {} images under {} at {}x{}, batch {}, {} steps.", images.fileCount(),
        c.images(), size, size, c.batchSize(), c.steps());
    listener.onJobState("running");
    try (NDManager root = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(root)) {
      FluxAutoencoder ae = new FluxAutoencoder(c.vae(), store, "", Init.seeded(c.seed()), Precision.FP32);
      if (c.init() != null) {
        LoadReport r = PretrainedWeights.loadFluxAe(c.init(), store, "", StateDictLoader.strict());
        LOG.info("Continuing from {}: {}", c.init(), r);
      }
      List<Parameter> params = store.trainable();
      LOG.info("Autoencoder parameters: {}.", store.numel());
      // eps 1e-8 as torch's default: the reference's 1e-15 suits its LLM, not a conv net trained from scratch
      OptimizerConfig opt = new OptimizerConfig(c.lr(), 0.9, 0.99, 1e-8, c.weightDecay(), c.maxGradNorm());
      GradClipper clipper = new GradClipper(c.maxGradNorm());
      int evalN = Math.min(EVAL_IMAGES, images.fileCount());
      float[] evalBatch = images.fixed(evalN);
      double before = evaluate(ae, root, evalBatch, evalN, size, c.reconstruction());
      LOG.info("Reconstruction loss before training (posterior mean, {} fixed images): {}", evalN, fmt(before));

      List<Double> recs = new ArrayList<>();
      List<Double> kls = new ArrayList<>();
      int pixels = 3 * size * size;
      try (AdamW adamw = new AdamW(store, opt); MetricsLog metrics = new MetricsLog(c.outputDir())) {
        long windowStart = System.nanoTime();
        for (int step = 0; step < c.steps(); step++) {
          if (stop.requested()) {
            listener.onJobState("stopped");
            throw new TrainingStopped("autoencoder training stopped (" + stop.reason() + ") before step " + step
                + " of " + c.steps() + "; nothing saved under " + c.outputDir() + ": run again to train it");
          }
          double lr = c.warmupSteps() > 0 && step < c.warmupSteps() ? c.lr() * (step + 1) / c.warmupSteps() : c.lr();
          float[] batch = images.next(c.batchSize());
          double rec;
          double kl;
          try (NDManager m = root.newSubManager(); GradientCollector gc = engine.newGradientCollector()) {
            NDArray x = m.create(batch, new Shape(c.batchSize(), 3, size, size));
            DiagonalGaussian q = ae.posterior(x);
            NDArray z = q.sample(m.randomNormal(q.mean().getShape()));
            NDArray xHat = ae.decode(ae.scale(z));
            NDArray recLoss = reconstruction(xHat, x, c.reconstruction());
            NDArray klLoss = q.kl().mean();
            NDArray loss = recLoss.add(klLoss.mul(c.klWeight() / pixels));
            gc.backward(loss);
            rec = recLoss.getFloat();
            kl = klLoss.getFloat();
          }
          double norm = clipper.clip(params);
          boolean finite = Double.isFinite(norm) && Double.isFinite(rec) && Double.isFinite(kl);
          if (finite) {
            adamw.step(lr);
          } else {
            LOG.warn("(step={}) skipped: non-finite loss or gradients (rec {}, kl {}, grad norm {}).", step, rec, kl,
                norm);
          }
          Gradients.clear(params);
          recs.add(rec);
          kls.add(kl);
          double elapsed = Math.max((System.nanoTime() - windowStart) / 1e9, 1e-9);
          windowStart = System.nanoTime();
          double imagesPerSec = c.batchSize() / elapsed;
          // The dashboard's loss plot shows reconstruction as "mse" (the generation loss slot) and KL as "ce".
          listener.onStep(new StepRecord(step, kl, rec, lr, norm, imagesPerSec * pixels / 3.0, 0, c.batchSize(),
              !finite, System.currentTimeMillis()));
          if (step % c.logEvery() == 0 || step == c.steps() - 1) {
            LOG.info(String.format(Locale.ROOT, "(step=%07d) reconstruction %.4f, kl %.2f, grad norm %.3f, lr %.2e,"
                + " %.1f images/s", step, rec, kl, norm, lr, imagesPerSec));
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("step", step);
            row.put("reconstruction", rec);
            row.put("kl", kl);
            row.put("grad_norm", norm);
            row.put("lr", lr);
            row.put("images_per_s", imagesPerSec);
            metrics.write(row);
            listener.onLog("INFO", "VaeTrainer", String.format(Locale.ROOT, "step %d reconstruction %.4f kl %.2f",
                step, rec, kl));
            if (!images.skips().isEmpty() && listener instanceof ai.bakery.runtime.dashboard.RunMonitor mon) {
              mon.setDataHealth(new DataHealth(Map.of(), images.skips(), 0));
            }
          }
        }
      }
      double after = evaluate(ae, root, evalBatch, evalN, size, c.reconstruction());
      LOG.info("Reconstruction loss after training: {} (before: {}).", fmt(after), fmt(before));
      Path weights = save(store, c);
      listener.onCheckpoint(c.steps() - 1, weights);
      listener.onJobState("finished");
      return new Result(weights, List.copyOf(recs), List.copyOf(kls), before, after, images.skips());
    }
  }

  /** Reconstruction loss of {@code n} images through the posterior mean (no sampling, no gradient). */
  static double evaluate(FluxAutoencoder ae, NDManager root, float[] images, int n, int size,
      VaeTrainConfig.Reconstruction kind) {
    try (NDManager m = root.newSubManager()) {
      NDArray x = m.create(images, new Shape(n, 3, size, size));
      return reconstruction(ae.decode(ae.encodeMean(x)), x, kind).getFloat();
    }
  }

  static NDArray reconstruction(NDArray xHat, NDArray x, VaeTrainConfig.Reconstruction kind) {
    NDArray diff = xHat.sub(x);
    return kind == VaeTrainConfig.Reconstruction.L1 ? diff.abs().mean() : diff.square().mean();
  }

  private static Path save(ParameterStore store, VaeTrainConfig c) {
    try {
      Files.createDirectories(c.outputDir());
      Path file = c.outputDir().resolve(WEIGHTS);
      // the shape first: the weights (written whole, through a temporary file) appear only beside their shape, so a
      // run stopped in between leaves no ae.safetensors that a later start would read with the wrong architecture
      Path config = c.outputDir().resolve(CONFIG);
      Files.writeString(config, new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
          .writeValueAsString(Map.of("vae_config", vaeJson(c))));
      new SafetensorsWriter().metadata("format", "pt").metadata("producer", "bakery train vae")
          .addAll(store, Dtype.F32).write(file);
      LOG.info("Saved the autoencoder to {} ({} tensors) and its shape to {}.", file, store.all().size(), config);
      return file;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot save the autoencoder under " + c.outputDir() + ": " + e.getMessage(), e);
    }
  }

  private static Map<String, Object> vaeJson(VaeTrainConfig c) {
    var v = c.vae();
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("resolution", v.resolution());
    m.put("in_channels", v.inChannels());
    m.put("ch", v.ch());
    m.put("out_ch", v.outCh());
    m.put("ch_mult", v.chMult());
    m.put("num_res_blocks", v.numResBlocks());
    m.put("z_channels", v.zChannels());
    m.put("scale_factor", v.scaleFactor());
    m.put("shift_factor", v.shiftFactor());
    return m;
  }

  private static String fmt(double v) {
    return String.format(Locale.ROOT, "%.4f", v);
  }
}

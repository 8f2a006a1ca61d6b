package ai.bakery.runtime.infer;

import ai.bakery.data.text.TextTokenizer;
import ai.bakery.model.config.BagelConfig;
import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.runtime.dashboard.RunListener;
import ai.bakery.runtime.dashboard.SampleSet;
import ai.bakery.runtime.train.Ema;
import ai.bakery.runtime.train.StepResult;
import ai.bakery.runtime.train.TrainHook;
import ai.djl.ndarray.NDArray;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Samples during training: every {@code every} steps (and after the last) the EMA weights draw one image per
 * fixed prompt and answer a fixed question about a fixed picture (or about the first drawn image), saved as
 * {@code <runDir>/samples/step-N/sample-K.png} and {@code answers.txt} and shown on the dashboard. Weights the
 * EMA does not track (frozen ones) come from the model. A sampling failure is logged, never fatal to training.
 */
public final class TrainingSampler implements TrainHook, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(TrainingSampler.class);

  /** What to sample and how often. */
  public record Plan(int every, List<String> prompts, String question, BufferedImage questionImage,
      SamplingOptions options) {
    public Plan {
      if (every < 1) {
        throw new IllegalArgumentException("sample_every must be >= 1 to sample, got " + every);
      }
      prompts = List.copyOf(prompts);
    }
  }

  private final Plan plan;
  private final Path runDir;
  private final ParameterStore trainWeights;
  private final InferenceModel model;
  private final RunListener listener;
  private long lastSampled = -1;

  /**
   * @param trainWeights the trained model's store (for weights the EMA leaves out)
   * @param vaeWeights the run's frozen autoencoder weights, or null for a model without generation
   */
  public TrainingSampler(Plan plan, Path runDir, BagelConfig cfg, TextTokenizer tokenizer, ParameterStore trainWeights,
      Map<String, NDArray> vaeWeights, RunListener listener) {
    this.plan = plan;
    this.runDir = runDir;
    this.trainWeights = trainWeights;
    this.model = InferenceModel.forSampling(cfg, tokenizer, vaeWeights);
    this.listener = listener == null ? RunListener.NONE : listener;
  }

  /** The values of every parameter of {@code store}, by name. */
  public static Map<String, NDArray> values(ParameterStore store) {
    Map<String, NDArray> m = new LinkedHashMap<>();
    for (Map.Entry<String, Parameter> e : store.all().entrySet()) {
      m.put(e.getKey(), e.getValue().value());
    }
    return m;
  }

  @Override
  public void onStep(StepResult r, double seconds, double mfu, long dataSkips, Ema ema) {
    if ((r.step() + 1) % plan.every() == 0) {
      sample(r.step(), ema);
    }
  }

  @Override
  public void onFinish(long lastStep, Ema ema, Throwable error) {
    if (error == null && lastStep >= 0 && lastStep != lastSampled) {
      sample(lastStep, ema);
    }
  }

  /** Draws this step's samples; returns what was written (null when sampling failed). */
  public SampleSet sample(long step, Ema ema) {
    lastSampled = step;
    long start = System.nanoTime();
    try {
      model.copyWeights(values(trainWeights));
      int tracked = model.copyWeights(ema.stateDict());
      Path dir = runDir.resolve("samples").resolve("step-" + step);
      Files.createDirectories(dir);
      List<SampleSet.Image> images = new ArrayList<>();
      BufferedImage first = null;
      if (model.vae() != null) {
        ImageGenerator gen = new ImageGenerator(model);
        for (int i = 0; i < plan.prompts().size(); i++) {
          String prompt = plan.prompts().get(i);
          BufferedImage img = gen.generate(prompt, plan.options());
          first = first == null ? img : first;
          String file = "sample-" + i + ".png";
          Images.writePng(img, dir.resolve(file));
          images.add(new SampleSet.Image(prompt, base64Png(img), file));
        }
      }
      StringBuilder answers = new StringBuilder();
      for (int i = 0; i < images.size(); i++) {
        answers.append("image ").append(images.get(i).file()).append(": ").append(images.get(i).prompt()).append('\n');
      }
      String answer = null;
      BufferedImage asked = plan.questionImage() != null ? plan.questionImage() : first;
      if (plan.question() != null && model.config().visualUnd()) {
        answer = new Chat(model).answer(asked, plan.question(), plan.options().size(), 24);
        if (plan.questionImage() != null) {
          Images.writePng(plan.questionImage(), dir.resolve("question-image.png"));
        }
        answers.append("Q (").append(plan.questionImage() != null ? "question-image.png" : "sample-0.png")
            .append("): ").append(plan.question()).append('\n').append("A: ").append(answer).append('\n');
      }
      Files.writeString(dir.resolve("answers.txt"), answers.toString(), StandardCharsets.UTF_8);
      SampleSet set = new SampleSet(step, images, plan.question(), answer, dir.toString());
      listener.onSamples(set);
      LOG.info("Samples of step {} ({} EMA tensors) in {} ({} s): {}", step, tracked, dir,
          String.format(java.util.Locale.ROOT, "%.1f", (System.nanoTime() - start) / 1e9),
          answer == null ? "" : "answer '" + answer + "'");
      return set;
    } catch (IOException | RuntimeException e) {
      LOG.warn("Sampling at step {} failed: {}", step, e.toString());
      return null;
    }
  }

  private static String base64Png(BufferedImage img) {
    try {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      ImageIO.write(img, "png", out);
      return Base64.getEncoder().encodeToString(out.toByteArray());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void close() {
    model.close();
  }
}

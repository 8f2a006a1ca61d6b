package ai.bakery.runtime.infer;

import ai.bakery.data.text.TextTokenizer;
import ai.bakery.model.attention.SdpaAttention;
import ai.bakery.model.bagel.Bagel;
import ai.bakery.model.config.BagelConfig;
import ai.bakery.model.config.ConfigException;
import ai.bakery.model.io.LoadReport;
import ai.bakery.model.io.ModelDirectory;
import ai.bakery.model.io.PretrainedWeights;
import ai.bakery.model.io.SafetensorsCheckpoint;
import ai.bakery.model.io.StateDictLoader;
import ai.bakery.model.nn.Init;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.bakery.model.tensor.Torch;
import ai.bakery.model.vae.FluxAutoencoder;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A BAGEL model ready for inference: its weights (the EMA when the checkpoint has them), the autoencoder that
 * turns latents into pixels, and the tokenizer. Owns its native memory; close it.
 *
 * <p>A training checkpoint ({@code checkpoints/0000099/}) holds only weights: the architecture, tokenizer and
 * autoencoder come from the model folder the run used (a preset such as {@code configs/model/tiny}, or a
 * released model folder), and the autoencoder from {@code ae.safetensors} beside the weights or in that folder.
 */
public final class InferenceModel implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(InferenceModel.class);

  private final NDManager manager;
  private final ParameterStore store;
  private final ParameterStore vaeStore;
  private final Bagel bagel;
  private final FluxAutoencoder vae;
  private final TextTokenizer tokenizer;
  private final boolean ownsTokenizer;
  private final String weights;

  private InferenceModel(BagelConfig cfg, TextTokenizer tokenizer, boolean ownsTokenizer, boolean withVae) {
    Torch.init();
    this.manager = NDManager.newBaseManager();
    this.store = new ParameterStore(manager);
    this.vaeStore = new ParameterStore(manager);
    this.bagel = new Bagel(cfg, store, Init.forLoading(), Precision.FP32);
    bagel.setAttentionKernel(new SdpaAttention());
    this.vae = withVae && cfg.visualGen()
        ? new FluxAutoencoder(cfg.vae(), vaeStore, "", Init.forLoading(), Precision.FP32) : null;
    this.tokenizer = tokenizer;
    this.ownsTokenizer = ownsTokenizer;
    this.weights = "";
  }

  private InferenceModel(InferenceModel m, String weights) {
    this.manager = m.manager;
    this.store = m.store;
    this.vaeStore = m.vaeStore;
    this.bagel = m.bagel;
    this.vae = m.vae;
    this.tokenizer = m.tokenizer;
    this.ownsTokenizer = m.ownsTokenizer;
    this.weights = weights;
  }

  /**
   * Loads a checkpoint for inference.
   *
   * @param checkpoint a checkpoint step folder or a released model folder (model/ema safetensors)
   * @param modelDir folder with config.json, llm_config.json, vit_config.json and tokenizer.json; null to use
   *     the checkpoint folder when it has a config.json
   * @param aeFile the trained autoencoder; null to look for ae.safetensors in the checkpoint, then the model folder
   * @param needVae whether the caller decodes or encodes images (generate, edit); chat does not
   */
  public static InferenceModel load(Path checkpoint, Path modelDir, Path aeFile, boolean needVae) {
    ModelDirectory ckpt = ModelDirectory.of(checkpoint);
    Path dir = modelDir != null ? modelDir : checkpoint;
    if (!Files.isRegularFile(dir.resolve("config.json"))) {
      throw new ConfigException(dir + ": no config.json (give the model folder the checkpoint was trained with,"
          + " e.g. --model configs/model/tiny)");
    }
    BagelConfig cfg = BagelConfig.readModelDir(dir);
    Path ae = aeFile;
    if (ae == null && needVae && cfg.visualGen()) {
      for (Path candidate : new Path[] {checkpoint.resolve(ModelDirectory.AE_FILE), dir.resolve(ModelDirectory.AE_FILE)}) {
        if (Files.isRegularFile(candidate)) {
          ae = candidate;
          break;
        }
      }
      if (ae == null) {
        throw new ConfigException("no trained autoencoder: neither " + checkpoint.resolve(ModelDirectory.AE_FILE)
            + " nor " + dir.resolve(ModelDirectory.AE_FILE) + " exists (train one with ./bakery train vae, then"
            + " pass --vae path/to/ae.safetensors)");
      }
    }
    if (ae != null && !Files.isRegularFile(ae)) {
      throw new ConfigException("--vae: " + ae + " not found");
    }
    TextTokenizer tok;
    try {
      tok = Files.isRegularFile(dir.resolve("tokenizer.json")) ? TextTokenizer.fromModelDir(dir) : TextTokenizer.tiny();
    } catch (IOException e) {
      throw new UncheckedIOException(dir + ": cannot read tokenizer.json: " + e.getMessage(), e);
    }
    InferenceModel m = new InferenceModel(cfg, tok, true, needVae);
    try {
      String used = m.loadCheckpoint(ckpt);
      if (m.vae != null) {
        LoadReport r = PretrainedWeights.loadFluxAe(ae, m.vaeStore, "", StateDictLoader.nonStrict());
        requireComplete(r, ae);
      }
      LOG.info("Inference weights: {} of {}{}", used, checkpoint, ae == null ? "" : ", autoencoder " + ae);
      return new InferenceModel(m, used);
    } catch (RuntimeException e) {
      m.close();
      throw e;
    }
  }

  /**
   * A model over weights the caller supplies with {@link #copyWeights} (the trainer's sampler): same
   * architecture, tokenizer and autoencoder weights as the run, none of them owned.
   */
  public static InferenceModel forSampling(BagelConfig cfg, TextTokenizer tokenizer, Map<String, NDArray> vaeWeights) {
    InferenceModel m = new InferenceModel(cfg, tokenizer, false, vaeWeights != null);
    if (m.vae != null) {
      m.copyInto(m.vaeStore, vaeWeights);
    }
    return new InferenceModel(m, "copied");
  }

  /** Overwrites this model's weights with same-named tensors (e.g. the trainer's EMA); returns how many. */
  public int copyWeights(Map<String, NDArray> tensors) {
    return copyInto(store, tensors);
  }

  private int copyInto(ParameterStore target, Map<String, NDArray> tensors) {
    int n = 0;
    for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
      if (target.contains(e.getKey())) {
        target.get(e.getKey()).copyFrom(e.getValue());
        n++;
      }
    }
    return n;
  }

  /** model.safetensors, then the EMA over it when present (the EMA may track only the trained weights). */
  private String loadCheckpoint(ModelDirectory dir) {
    boolean ema = SafetensorsCheckpoint.existsIn(dir.path(), ModelDirectory.EMA);
    boolean model = SafetensorsCheckpoint.existsIn(dir.path(), ModelDirectory.MODEL);
    LoadReport base = dir.loadModel(store, !model, StateDictLoader.nonStrict());
    if (!ema || !model) {
      requireComplete(base, dir.path());
      return model ? "model.safetensors" : "ema.safetensors";
    }
    LoadReport r = dir.loadModel(store, true, StateDictLoader.nonStrict());
    if (!base.missing().isEmpty() && !r.missing().isEmpty()) {
      requireComplete(base, dir.path());
    }
    return "ema.safetensors (" + r.loaded().size() + " tensors)";
  }

  private static void requireComplete(LoadReport r, Path from) {
    if (!r.missing().isEmpty()) {
      throw new ConfigException(from + ": weights do not match the model config: " + r.missing().size()
          + " missing (first " + r.missing().get(0) + ")" + (r.unexpected().isEmpty() ? ""
              : ", " + r.unexpected().size() + " unexpected (first " + r.unexpected().get(0) + ")"));
    }
  }

  public Bagel bagel() {
    return bagel;
  }

  /** The autoencoder, or null when loaded without one. */
  public FluxAutoencoder vae() {
    return vae;
  }

  public FluxAutoencoder requireVae() {
    if (vae == null) {
      throw new IllegalStateException("this model was loaded without an autoencoder (or has no visual_gen)");
    }
    return vae;
  }

  public TextTokenizer tokenizer() {
    return tokenizer;
  }

  public BagelConfig config() {
    return bagel.config();
  }

  /** Which weights were loaded ("ema.safetensors (...)", "model.safetensors" or "copied"). */
  public String weights() {
    return weights;
  }

  @Override
  public void close() {
    if (ownsTokenizer) {
      tokenizer.close();
    }
    manager.close();
  }
}

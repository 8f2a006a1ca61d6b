package ai.bakery.model.io;

import ai.bakery.model.config.BagelConfig;
import ai.bakery.model.tensor.ParameterStore;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A BAGEL model directory ({@code model_path}): configs ({@code llm_config.json}, {@code vit_config.json} or an
 * HF-style config.json, read by {@link BagelConfig#readModelDir}) and weights in one of two layouts:
 * <ul>
 *   <li>original: {@code ema.safetensors} and/or {@code model.safetensors} (each possibly sharded with an
 *       index) beside FLUX's {@code ae.safetensors};
 *   <li>HF-converted (LMMS Engine): {@code model.safetensors[.index.json]} holding the VAE as
 *       {@code vae_model.*}.
 * </ul>
 * Weights are opened per call and read tensor by tensor, so loading never holds more than one tensor beyond
 * the stores.
 */
public final class ModelDirectory {
  public static final String EMA = "ema";
  public static final String MODEL = "model";
  public static final String AE_FILE = "ae.safetensors";

  private final Path dir;

  private ModelDirectory(Path dir) {
    this.dir = dir;
  }

  public static ModelDirectory of(Path dir) {
    if (!Files.isDirectory(dir)) {
      throw new SafetensorsException(dir + ": model directory (model_path) not found");
    }
    if (!SafetensorsCheckpoint.existsIn(dir, EMA) && !SafetensorsCheckpoint.existsIn(dir, MODEL)) {
      throw new SafetensorsException(dir + ": no weights (looked for ema.safetensors, model.safetensors and"
          + " model.safetensors.index.json)");
    }
    return new ModelDirectory(dir);
  }

  public Path path() {
    return dir;
  }

  public BagelConfig config() {
    return BagelConfig.readModelDir(dir);
  }

  /**
   * The weights to start from: the EMA when asked for and present (finetune_from_ema), else the raw model
   * weights, else the EMA (the reference replicates whichever exists).
   */
  public SafetensorsCheckpoint openWeights(boolean preferEma) {
    boolean ema = SafetensorsCheckpoint.existsIn(dir, EMA);
    boolean model = SafetensorsCheckpoint.existsIn(dir, MODEL);
    String base = (preferEma && ema) || !model ? EMA : MODEL;
    return SafetensorsCheckpoint.openIn(dir, base);
  }

  /** Loads the BAGEL model's parameters (everything but the VAE). */
  public LoadReport loadModel(ParameterStore store, boolean preferEma, StateDictLoader loader) {
    try (SafetensorsCheckpoint ckpt = openWeights(preferEma)) {
      return loader.load(BagelCheckpointAdapter.model(ckpt.tensors()), store);
    }
  }

  /**
   * Loads the VAE: from {@code ae.safetensors} when present, else from the {@code vae_model.*} tensors of an
   * HF-converted checkpoint. {@code prefix} is the VAE's name prefix in {@code vaeStore}.
   */
  public LoadReport loadVae(ParameterStore vaeStore, String prefix, StateDictLoader loader) {
    Path ae = dir.resolve(AE_FILE);
    if (Files.isRegularFile(ae)) {
      return PretrainedWeights.loadFluxAe(ae, vaeStore, prefix, loader);
    }
    try (SafetensorsCheckpoint ckpt = openWeights(false)) {
      if (!BagelCheckpointAdapter.hasVae(ckpt.tensors())) {
        throw new SafetensorsException(dir + ": no " + AE_FILE + " and the checkpoint holds no vae_model.* tensors");
      }
      return loader.load(BagelCheckpointAdapter.vae(ckpt.tensors(), prefix), vaeStore);
    }
  }
}

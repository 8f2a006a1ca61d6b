package ai.bakery.runtime.vae;

import ai.bakery.model.config.ConfigException;
import ai.bakery.model.config.VaeConfig;
import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * What {@code bakery train vae <config>} reads (YAML, snake_case). Relative paths are resolved against the
 * config file's folder.
 *
 * <pre>
 * images: data/example            # folder searched recursively for .png/.jpg/.jpeg/.webp/.bmp
 * vae_config: configs/model/tiny/config.json   # a model config with vae_config, or a bare VAE config
 * output_dir: results/vae         # ae.safetensors, vae_config.json and metrics.jsonl go here
 * image_size: 64                  # square side images are cropped and resized to (default: the VAE resolution)
 * batch_size: 8
 * steps: 500
 * lr: 1.0e-3
 * warmup_steps: 20
 * weight_decay: 0.0
 * max_grad_norm: 1.0
 * kl_weight: 1.0e-6               # weight of KL against the per-element reconstruction loss (as LDM's kl_weight)
 * reconstruction: l1              # l1 | mse
 * seed: 0
 * log_every: 10
 * init: null                      # an ae.safetensors to continue from
 * </pre>
 */
public record VaeTrainConfig(
    Path images,
    Path vaeConfigFile,
    VaeConfig vae,
    Path outputDir,
    int imageSize,
    int batchSize,
    int steps,
    double lr,
    int warmupSteps,
    double weightDecay,
    double maxGradNorm,
    double klWeight,
    Reconstruction reconstruction,
    long seed,
    int logEvery,
    Path init) {

  /** The pixel-space reconstruction loss. */
  public enum Reconstruction { L1, MSE }

  public VaeTrainConfig {
    if (images == null) {
      throw new ConfigException("vae training: images (a folder of images) is required");
    }
    if (outputDir == null) {
      throw new ConfigException("vae training: output_dir is required");
    }
    if (vae == null) {
      throw new ConfigException("vae training: vae_config is required");
    }
    if (imageSize <= 0) {
      imageSize = vae.resolution();
    }
    if (imageSize % vae.downsample() != 0) {
      throw new ConfigException("vae training: image_size " + imageSize + " must be a multiple of the VAE's"
          + " downsampling factor " + vae.downsample());
    }
    positive("batch_size", batchSize);
    positive("steps", steps);
    positive("log_every", logEvery);
    if (!(lr > 0) || !Double.isFinite(lr)) {
      throw new ConfigException("vae training: lr must be finite and > 0, got " + lr);
    }
    if (warmupSteps < 0) {
      throw new ConfigException("vae training: warmup_steps must be >= 0, got " + warmupSteps);
    }
    if (!(weightDecay >= 0) || !Double.isFinite(weightDecay)) {
      throw new ConfigException("vae training: weight_decay must be finite and >= 0, got " + weightDecay);
    }
    if (!Double.isFinite(maxGradNorm)) {
      throw new ConfigException("vae training: max_grad_norm must be finite (<= 0 disables clipping)");
    }
    if (!(klWeight >= 0) || !Double.isFinite(klWeight)) {
      throw new ConfigException("vae training: kl_weight must be finite and >= 0, got " + klWeight);
    }
    if (reconstruction == null) {
      reconstruction = Reconstruction.L1;
    }
  }

  private static void positive(String field, int v) {
    if (v <= 0) {
      throw new ConfigException("vae training: " + field + " must be > 0, got " + v);
    }
  }

  /** Defaults for a small run on {@code images}, writing to {@code outputDir}. */
  public static VaeTrainConfig of(Path images, VaeConfig vae, Path outputDir) {
    return new VaeTrainConfig(images, null, vae, outputDir, 0, 8, 500, 1e-3, 20, 0, 1.0, 1e-6,
        Reconstruction.L1, 0, 10, null);
  }

  public VaeTrainConfig withSteps(int newSteps) {
    return new VaeTrainConfig(images, vaeConfigFile, vae, outputDir, imageSize, batchSize, newSteps, lr, warmupSteps,
        weightDecay, maxGradNorm, klWeight, reconstruction, seed, logEvery, init);
  }

  public VaeTrainConfig withTraining(int newImageSize, int newBatchSize, double newLr, int newWarmup,
      double newKlWeight) {
    return new VaeTrainConfig(images, vaeConfigFile, vae, outputDir, newImageSize, newBatchSize, steps, newLr,
        newWarmup, weightDecay, maxGradNorm, newKlWeight, reconstruction, seed, logEvery, init);
  }

  /** The YAML as written: every field optional except images, vae_config and output_dir. */
  record Raw(
      @JsonProperty("images") String images,
      @JsonProperty("vae_config") String vaeConfig,
      @JsonProperty("output_dir") String outputDir,
      @JsonProperty("image_size") Integer imageSize,
      @JsonProperty("batch_size") Integer batchSize,
      @JsonProperty("steps") Integer steps,
      @JsonProperty("lr") Double lr,
      @JsonProperty("warmup_steps") Integer warmupSteps,
      @JsonProperty("weight_decay") Double weightDecay,
      @JsonProperty("max_grad_norm") Double maxGradNorm,
      @JsonProperty("kl_weight") Double klWeight,
      @JsonProperty("reconstruction") String reconstruction,
      @JsonProperty("seed") Long seed,
      @JsonProperty("log_every") Integer logEvery,
      @JsonProperty("init") String init) {
    @JsonCreator
    Raw {}
  }

  /** Reads and validates a YAML file; errors name the file and the field. */
  public static VaeTrainConfig load(Path file) {
    ObjectMapper yaml = new ObjectMapper(new YAMLFactory()).enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
    Raw r;
    try {
      r = yaml.readValue(Files.readAllBytes(file), Raw.class);
    } catch (UnrecognizedPropertyException e) {
      throw new ConfigException(file + ": unknown field '" + e.getPropertyName() + "' (known: " + e.getKnownPropertyIds()
          + ")", e);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new ConfigException(file + ": cannot read vae training config: " + e.getOriginalMessage(), e);
    } catch (IOException e) {
      throw new ConfigException(file + ": cannot read vae training config: " + e.getMessage(), e);
    }
    if (r == null) {
      throw new ConfigException(file + ": empty vae training config");
    }
    Path base = file.toAbsolutePath().getParent();
    try {
      if (r.vaeConfig() == null) {
        throw new ConfigException("vae training: vae_config is required");
      }
      Path vaeFile = base.resolve(r.vaeConfig());
      Reconstruction rec = Reconstruction.L1;
      if (r.reconstruction() != null) {
        try {
          rec = Reconstruction.valueOf(r.reconstruction().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
          throw new ConfigException("vae training: reconstruction must be l1 or mse, got '" + r.reconstruction() + "'");
        }
      }
      VaeTrainConfig d = of(Path.of("."), VaeConfig.FLUX, Path.of("."));
      return new VaeTrainConfig(
          r.images() == null ? null : base.resolve(r.images()),
          vaeFile,
          readVae(vaeFile),
          r.outputDir() == null ? null : base.resolve(r.outputDir()),
          or(r.imageSize(), 0), or(r.batchSize(), d.batchSize()), or(r.steps(), d.steps()), or(r.lr(), d.lr()),
          or(r.warmupSteps(), d.warmupSteps()), or(r.weightDecay(), d.weightDecay()),
          or(r.maxGradNorm(), d.maxGradNorm()), or(r.klWeight(), d.klWeight()), rec,
          r.seed() == null ? d.seed() : r.seed(), or(r.logEvery(), d.logEvery()),
          r.init() == null ? null : base.resolve(r.init()));
    } catch (ConfigException e) {
      throw new ConfigException(file + ": " + e.getMessage(), e);
    }
  }

  /** A model config.json (its {@code vae_config} object) or a bare VAE config JSON. */
  public static VaeConfig readVae(Path file) {
    if (!Files.isRegularFile(file)) {
      throw new ConfigException("vae_config: " + file + " not found");
    }
    try {
      ObjectMapper json = new ObjectMapper();
      JsonNode root = json.readTree(Files.readAllBytes(file));
      JsonNode node = root.has("vae_config") ? root.get("vae_config") : root;
      return json.treeToValue(node, VaeConfig.class);
    } catch (ValueInstantiationException e) {
      Throwable cause = e.getCause() == null ? e : e.getCause();
      throw new ConfigException("vae_config: " + file + ": " + cause.getMessage(), e);
    } catch (IOException e) {
      throw new ConfigException("vae_config: " + file + ": cannot read: " + e.getMessage(), e);
    }
  }

  private static int or(Integer v, int d) {
    return v == null ? d : v;
  }

  private static double or(Double v, double d) {
    return v == null ? d : v;
  }
}

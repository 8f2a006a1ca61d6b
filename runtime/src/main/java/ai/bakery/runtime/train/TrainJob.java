package ai.bakery.runtime.train;

import ai.bakery.data.DataConfig;
import ai.bakery.data.DataPipeline;
import ai.bakery.data.shard.GroupSpec;
import ai.bakery.data.group.PipelineFactory;
import ai.bakery.data.text.TextTokenizer;
import ai.bakery.model.attention.EagerAttention;
import ai.bakery.model.attention.SdpaAttention;
import ai.bakery.model.bagel.Bagel;
import ai.bakery.model.config.BagelConfig;
import ai.bakery.model.config.ConfigException;
import ai.bakery.model.io.LoadReport;
import ai.bakery.model.io.ModelDirectory;
import ai.bakery.model.io.PretrainedWeights;
import ai.bakery.model.io.StateDictLoader;
import ai.bakery.model.nn.Init;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.BF16Precision;
import ai.bakery.model.tensor.Precision;
import ai.bakery.model.tensor.Torch;
import ai.bakery.model.vae.FluxAutoencoder;
import ai.bakery.runtime.checkpoint.CheckpointConfig;
import ai.bakery.runtime.checkpoint.CheckpointManager;
import ai.bakery.runtime.config.DataSection;
import ai.bakery.runtime.config.JobConfig;
import ai.bakery.runtime.config.ModelSection;
import ai.bakery.runtime.config.PackingOptions;
import ai.bakery.runtime.config.TrainingSection;
import ai.bakery.runtime.infer.RunWatch;
import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.bytedeco.pytorch.global.torch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Builds everything a single-process run needs from a {@link JobConfig} (model and weights, frozen VAE,
 * tokenizer, data pipeline) and runs the {@link Trainer}: the body of {@code bakery train}.
 *
 * <p>Weights: a {@code model.preset} (a folder under {@code configs/model/}) starts from seeded initial weights;
 * a {@code model.model_path} folder supplies configs, and with {@code finetune_from_hf} its (EMA) weights and
 * VAE. Without either, {@code model.llm_path} / {@code vit_path} / {@code vae_path} name separate pretrained
 * parts ({@link PretrainParts}), as the reference's pretraining starts. A complete checkpoint found by
 * {@code auto_resume}, or {@code resume_from}, overrides the start weights.
 */
public final class TrainJob {
  private static final Logger LOG = LoggerFactory.getLogger(TrainJob.class);
  /** Where preset names resolve, relative to the working directory. */
  public static final Path PRESETS = Path.of("configs", "model");
  /** Under results_dir: the model folder a job from separate parts writes (configs, tokenizer, autoencoder). */
  public static final String MODEL_FOLDER = "model";

  private TrainJob() {}

  /** Trains as configured; returns what was done. */
  public static TrainResult run(JobConfig config) {
    return run(config, new StopRequest());
  }

  /**
   * Trains as configured until the end or until {@code stop} is requested (then after the step in flight, with a
   * checkpoint of the last finished step); the model, dashboard and data are closed only after the trainer returns.
   */
  public static TrainResult run(JobConfig config, StopRequest stop) {
    try (Model built = buildModel(config);
        RunWatch watch = RunWatch.open(config.dashboard(), config.training().loop().resultsDir().toString(),
            config.training().loop().resultsDir(), built.bagelConfig(), built.tokenizer(), built.store(),
            built.vae() == null ? null : built.vaeStore())) {
      try (Trainer trainer = Trainer.builder().setTraining(built.training()).setModel(built.trainModel())
          .setData(data(config, built, 0, 1)).optHook(watch.hook()).optStop(stop).build()) {
        return trainer.run();
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e.getMessage(), e);
    }
  }

  /** The job's packed batches for rank {@code rank} of {@code world}, through the data pipeline. */
  public static BatchSource.Factory data(JobConfig config, Model built, int rank, int world) throws IOException {
    TextTokenizer tokenizer = built.tokenizer();
    DataConfig dataConfig = dataConfig(config.data(), config.model(), built.bagelConfig(),
        config.runtime().numWorkers());
    if (config.data().dataset() != null) {
      dataConfig = PipelineFactory.lmmsDataConfig(config.data().dataset().toJson(), dataConfig, "data.dataset");
    }
    List<GroupSpec> groups = groups(config.data(), dataConfig, tokenizer);
    DataConfig finalDataConfig = dataConfig;
    var tokens = tokenizer.specialTokens();
    return PipelineBatchSource.factory(() -> DataPipeline.builder().setGroups(groups)
        .setConfig(finalDataConfig).setTokens(tokens).setRank(rank, world));
  }

  /**
   * What {@link #buildModel} made for a job: the BAGEL with its weights (and frozen VAE), the tokenizer, and the
   * training section to run with (without the weight source the model already loaded). Owns their memory.
   */
  public static final class Model implements AutoCloseable {
    private final TextTokenizer tokenizer;
    private final NDManager base;
    private final ParameterStore store;
    private final ParameterStore vaeStore;
    private BagelConfig bagelConfig;
    private Bagel bagel;
    private FluxAutoencoder vae;
    private BagelTrainModel trainModel;
    private TrainingSection training;

    private Model(TextTokenizer tokenizer) {
      this.tokenizer = tokenizer;
      this.base = NDManager.newBaseManager();
      this.store = new ParameterStore(base);
      this.vaeStore = new ParameterStore(base);
    }

    public TextTokenizer tokenizer() {
      return tokenizer;
    }

    public BagelConfig bagelConfig() {
      return bagelConfig;
    }

    /** The trained weights, by checkpoint name. */
    public ParameterStore store() {
      return store;
    }

    public Bagel bagel() {
      return bagel;
    }

    /** The frozen VAE's weights (FLUX names). */
    public ParameterStore vaeStore() {
      return vaeStore;
    }

    /** The frozen VAE, or null without visual generation. */
    public FluxAutoencoder vae() {
      return vae;
    }

    public BagelTrainModel trainModel() {
      return trainModel;
    }

    /** The job's training section, less a weight source this model already loaded. */
    public TrainingSection training() {
      return training;
    }

    @Override
    public void close() {
      try (TextTokenizer t = tokenizer; NDManager b = base; ParameterStore s = store; ParameterStore v = vaeStore) {
        // closed in reverse order
      }
    }
  }

  /**
   * Builds the job's model as {@link #run} trains it: architecture from the preset or model folder, the run's
   * switches, seeded initial weights or the released weights ({@code finetune_from_hf}), the frozen VAE.
   */
  public static Model buildModel(JobConfig config) throws IOException {
    config.requireRunnable();
    Torch.init();
    if (config.runtime().threads() > 0) {
      torch.set_num_threads(config.runtime().threads());
    }
    ModelSection ms = config.model();
    TrainingSection training = config.training();
    CheckpointConfig ck = training.checkpoint();
    boolean resumingFromCheckpoint = ck.autoResume()
        && CheckpointManager.latestComplete(ck.checkpointDir()).isPresent();
    Path weightsDir = null;
    if (ms.preset() == null && ms.modelPath() != null && ck.finetuneFromHf() && !resumingFromCheckpoint) {
      // the released folder supplies the weights here; the checkpoint manager must not load it again
      weightsDir = ck.resumeFrom() != null ? ck.resumeFrom() : Path.of(ms.modelPath());
      ck = new CheckpointConfig(ck.checkpointDir(), ck.saveEvery(), ck.autoResume(), null, false, false, false,
          ck.keepLast());
      training = new TrainingSection(training.optimizer(), training.schedule(), training.ema(), ck, training.loop());
    }
    // a job from separate parts (llm_path / vit_path / vae_path) loads them over seeded weights unless it resumes
    PretrainParts parts = PretrainParts.used(ms) ? PretrainParts.of(ms) : null;
    boolean loadParts = parts != null && !resumingFromCheckpoint && ck.resumeFrom() == null;
    Path modelDir = modelDir(ms);
    long seed = training.loop().globalSeed();

    Model built = new Model(parts != null ? parts.tokenizer() : tokenizer(ms, modelDir));
    try {
      TextTokenizer tokenizer = built.tokenizer;
      ParameterStore store = built.store;
      ParameterStore vaeStore = built.vaeStore;
      BagelConfig cfg = parts != null ? parts.config(ms, tokenizer) : bagelConfig(ms, modelDir);
      checkVocab(tokenizer, cfg, modelDir);
      boolean load = weightsDir != null;
      // bf16: compute in bf16 against fp32 master weights; norms' statistics, softmax and losses in fp32
      Precision precision = ms.bf16() ? BF16Precision.INSTANCE : Precision.FP32;
      Bagel bagel = new Bagel(cfg, store, load ? Init.forLoading() : Init.seeded(seed), precision);
      bagel.setAttentionKernel(ms.attnImplementation().equals("eager") ? new EagerAttention() : new SdpaAttention());
      if (loadParts) {
        parts.loadModel(cfg, store); // before NSA: a plain Qwen2 has no NSA weights
      }
      if (ms.nsa() != null) {
        // LMMS Engine's monkey patch: NSA weights drawn fresh (a checkpoint that has them overwrites them below)
        bagel.languageModel().enableNsa(ms.nsa(), Init.seeded(seed + 2));
      }
      FluxAutoencoder vae = null;
      if (cfg.visualGen()) {
        vae = new FluxAutoencoder(cfg.vae(), vaeStore, "", load ? Init.forLoading() : Init.seeded(seed + 1),
            Precision.FP32);
        vaeStore.setTrainable(n -> true, false); // frozen: encodes under no-grad, never saved with the model
        if (parts != null) {
          parts.loadVae(vaeStore);
        } else if (!load && ms.vaePath() != null) {
          // a trained autoencoder for a preset (bakery train vae); a random one makes generation meaningless
          Path ae = Path.of(ms.vaePath());
          if (!Files.isRegularFile(ae)) {
            throw new ConfigException("model.vae_path: " + ae + " not found (train one with ./bakery train vae)");
          }
          LOG.info("VAE from {}: {}", ae, PretrainedWeights.loadFluxAe(ae, vaeStore, "", StateDictLoader.strict()));
        }
      }
      if (load) {
        ModelDirectory dir = ModelDirectory.of(weightsDir);
        LoadReport model = dir.loadModel(store, config.training().checkpoint().finetuneFromEma(),
            StateDictLoader.nonStrict());
        LOG.info("Weights from {}: {}", weightsDir, model);
        if (vae != null) {
          LOG.info("VAE from {}: {}", weightsDir, dir.loadVae(vaeStore, "", StateDictLoader.nonStrict()));
        }
      } else if (ms.preset() == null && parts == null && !resumingFromCheckpoint && ck.resumeFrom() == null) {
        LOG.warn("No weights to start from (no finetune_from_hf, resume_from or checkpoint): training from"
            + " initial weights.");
      }
      built.bagelConfig = cfg;
      built.bagel = bagel;
      built.vae = vae;
      built.trainModel = new BagelTrainModel(bagel, vae, ms.gradientCheckpointing());
      if (parts != null) {
        // no folder describes this model: write one, and into every checkpoint, so model_path / generate read it
        Path folder = parts.writeModelFolder(cfg, training.loop().resultsDir().resolve(MODEL_FOLDER));
        training = new TrainingSection(training.optimizer(), training.schedule(), training.ema(),
            training.checkpoint().withModelFiles(folder), training.loop());
      }
      built.training = training;
      return built;
    } catch (RuntimeException e) {
      built.close();
      throw e;
    }
  }

  /**
   * The model of a job: architecture from the model folder, the run's switches (branches, freeze_und, and the
   * timestep shift, a training argument in the reference) from the job; for a job from separate parts, as
   * {@link PretrainParts#config} makes it. Every way of starting a job builds this.
   */
  public static BagelConfig bagelConfig(ModelSection ms, Path modelDir) {
    if (PretrainParts.used(ms)) {
      PretrainParts parts = PretrainParts.of(ms);
      try (TextTokenizer tokenizer = parts.tokenizer()) {
        return parts.config(ms, tokenizer);
      } catch (IOException e) {
        throw new UncheckedIOException(e.getMessage(), e);
      }
    }
    BagelConfig cfg = BagelConfig.readModelDir(modelDir).withBranches(ms.visualGen(), ms.visualUnd())
        .withTimestepShift(ms.timestepShift());
    return cfg.withLlm(cfg.llm().withBagelOptions(cfg.llm().layerModule(), cfg.llm().qkNorm(),
        cfg.llm().tieWordEmbeddings(), ms.freezeUnd()));
  }

  /** @throws ConfigException when the tokenizer has more tokens than the LLM's embedding rows */
  public static void checkVocab(TextTokenizer tokenizer, BagelConfig cfg, Path modelDir) {
    if (tokenizer.vocabSize() > cfg.llm().vocabSize()) {
      throw new ConfigException("model: the tokenizer has " + tokenizer.vocabSize() + " tokens but the LLM's vocab_size"
          + " is " + cfg.llm().vocabSize() + " (" + modelDir + ")");
    }
  }

  /**
   * The folder holding the model's configs and tokenizer: the preset's, or model_path; for a job from separate
   * parts ({@link PretrainParts}) the LLM's folder, which holds the tokenizer (the configs come from the parts).
   */
  public static Path modelDir(ModelSection ms) {
    if (ms.preset() != null) {
      // the installation's (-Dbakery.home, set by ./bakery and passed to cluster nodes), else from the working
      // folder or a folder above it (a module folder when tests run)
      String home = System.getProperty("bakery.home");
      if (home != null && Files.isDirectory(Path.of(home).resolve(PRESETS).resolve(ms.preset()))) {
        return Path.of(home).resolve(PRESETS).resolve(ms.preset()).toAbsolutePath();
      }
      for (Path base = Path.of("").toAbsolutePath(); base != null; base = base.getParent()) {
        Path dir = base.resolve(PRESETS).resolve(ms.preset());
        if (Files.isDirectory(dir)) {
          return dir;
        }
      }
      throw new ConfigException("model.preset: no preset '" + ms.preset() + "' (looked for " + PRESETS.resolve(
          ms.preset()) + " in " + (home == null ? "" : home + ", ") + Path.of("").toAbsolutePath()
          + " and its parents)");
    }
    if (ms.modelPath() != null) {
      return Path.of(ms.modelPath());
    }
    if (ms.llmPath() != null) {
      return Path.of(ms.llmPath());
    }
    throw new ConfigException("model: no weights given: set model.preset, model.model_path or model.llm_path");
  }

  /** The tokenizer of the model folder (the tiny built-in one for a preset without tokenizer.json). */
  public static TextTokenizer tokenizer(ModelSection ms, Path modelDir) throws IOException {
    if (PretrainParts.used(ms)) {
      return PretrainParts.of(ms).tokenizer();
    }
    if (Files.isRegularFile(modelDir.resolve("tokenizer.json"))) {
      return TextTokenizer.fromModelDir(modelDir);
    }
    if (ms.preset() != null) {
      return TextTokenizer.tiny();
    }
    throw new ConfigException("model.model_path: " + modelDir + " has no tokenizer.json");
  }

  /** The data module's settings from the job's data and model sections and the model's image limits. */
  public static DataConfig dataConfig(DataSection d, ModelSection ms, BagelConfig cfg, int workers) {
    PackingOptions p = d.packing();
    DataConfig c = DataConfig.of(null, null, null, null, null, null, null, null, null, null, null, null, null, null,
        null, null, null, null, null, null, null)
        .withTokens(p.expectedNumTokens(), p.maxNumTokens(), p.maxNumTokensPerSample(), p.preferBufferBefore(),
            p.maxBufferSize())
        .withDropout(ms.textCondDropoutProb(), ms.vitCondDropoutProb(), ms.vaeCondDropoutProb())
        .withLoading(Math.max(1, workers), d.prefetchFactor(), d.dataSeed());
    int downsample = cfg.visualGen() ? cfg.latentDownsample() : c.vaeImageDownsample();
    int vitPatch = cfg.visualUnd() ? cfg.vit().patchSize() : ms.vitPatchSize();
    return c.withImageLimits(downsample, cfg.maxLatentSize(), vitPatch, cfg.vitMaxNumPatchPerSide());
  }

  /** The dataset groups of the job's dataset_config_file (or LMMS Engine inline dataset_config). */
  public static List<GroupSpec> groups(DataSection d, DataConfig dataConfig, TextTokenizer tokenizer)
      throws IOException {
    if (d.datasetConfigFile() == null) {
      // LMMS Engine's inline dataset_config: relative paths resolve from the working directory
      return PipelineFactory.standard(dataConfig, tokenizer).fromLmms(d.dataset().toJson(), Path.of(""),
          "data.dataset");
    }
    Path yaml = Path.of(d.datasetConfigFile());
    if (!Files.isRegularFile(yaml)) {
      throw new ConfigException("data.dataset_config_file: " + yaml + " not found");
    }
    return PipelineFactory.standard(dataConfig, tokenizer).fromYamlFile(yaml, null);
  }
}

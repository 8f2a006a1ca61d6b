package ai.bakery.runtime.parallel.fsdp;

import ai.bakery.data.text.TextTokenizer;
import ai.bakery.model.attention.EagerAttention;
import ai.bakery.model.attention.SdpaAttention;
import ai.bakery.model.bagel.Bagel;
import ai.bakery.model.config.BagelConfig;
import ai.bakery.model.config.ConfigException;
import ai.bakery.model.io.BagelCheckpointAdapter;
import ai.bakery.model.io.ModelDirectory;
import ai.bakery.model.io.PretrainedWeights;
import ai.bakery.model.io.SafetensorsCheckpoint;
import ai.bakery.model.io.StateDictLoader;
import ai.bakery.model.nn.Init;
import ai.bakery.model.tensor.BF16Precision;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.bakery.model.tensor.Torch;
import ai.bakery.model.vae.FluxAutoencoder;
import ai.bakery.runtime.checkpoint.CheckpointConfig;
import ai.bakery.runtime.checkpoint.CheckpointManager;
import ai.bakery.runtime.collective.ProcessMesh;
import ai.bakery.runtime.config.JobConfig;
import ai.bakery.runtime.config.ModelSection;
import ai.bakery.runtime.config.TrainingSection;
import ai.bakery.runtime.train.PretrainParts;
import ai.bakery.runtime.train.TrainJob;
import ai.bakery.runtime.train.Trainer;
import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.bytedeco.pytorch.global.torch;
import org.slf4j.LoggerFactory;

/**
 * A sharded rank's start without ever holding the whole model. From released weights ({@code model_path} +
 * {@code finetune_from_hf}): the BAGEL is built with a {@link PreSharder} on its store (each parameter sliced and
 * freed as it is created), then each slice is read from the memory-mapped checkpoint by its element range. From
 * seeded initial weights (a preset, or a model folder without {@code finetune_from_hf}; also before a checkpoint
 * restore): the BAGEL is built with every value freed as it appears, sharded, and each shard drawn by
 * {@link ShardedInit#draw}, equal to the same slice of a full initialisation with the job's seed; a job from
 * separate parts ({@code llm_path} / {@code vit_path} / {@code vae_path}) then reads its LLM and ViT slices from the
 * parts' files. Only the frozen VAE (small, replicated) is held whole.
 */
public final class ShardedStart implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ShardedStart.class);

  private final NDManager base;
  private final ParameterStore store;
  private final ParameterStore vaeStore;
  private final TextTokenizer tokenizer;
  private BagelConfig modelConfig;
  private Fsdp.Rank rank;
  private TrainingSection training;
  private ShardedLoader.Report report;
  private long bytesRead;
  private final ShardedInit.Meter meter = new ShardedInit.Meter();

  private ShardedStart(TextTokenizer tokenizer) {
    this.tokenizer = tokenizer;
    this.base = NDManager.newBaseManager();
    this.store = new ParameterStore(base);
    this.vaeStore = new ParameterStore(base);
  }

  /** Whether the job starts from a released model folder (the case this class handles). */
  public static boolean startsFromReleasedWeights(JobConfig config) {
    ModelSection ms = config.model();
    CheckpointConfig ck = config.training().checkpoint();
    boolean resuming = ck.autoResume() && CheckpointManager.latestComplete(ck.checkpointDir()).isPresent();
    return ms.preset() == null && ms.modelPath() != null && ck.finetuneFromHf() && !resuming;
  }

  /**
   * Builds this rank's shards of the job's model: read from its released weights when
   * {@link #startsFromReleasedWeights}, else drawn from the job's seed.
   */
  public static ShardedStart open(JobConfig config, ProcessMesh mesh) throws IOException {
    config.requireRunnable();
    Torch.init();
    if (config.runtime().threads() > 0) {
      torch.set_num_threads(config.runtime().threads());
    }
    return startsFromReleasedWeights(config) ? released(config, mesh) : drawn(config, mesh);
  }

  private static ShardedStart released(JobConfig config, ProcessMesh mesh) throws IOException {
    ModelSection ms = config.model();
    CheckpointConfig ck = config.training().checkpoint();
    Path weightsDir = ck.resumeFrom() != null ? ck.resumeFrom() : Path.of(ms.modelPath());
    Path modelDir = TrainJob.modelDir(ms);
    BagelConfig cfg = TrainJob.bagelConfig(ms, modelDir);
    long seed = config.training().loop().globalSeed();
    ShardedStart s = new ShardedStart(TrainJob.tokenizer(ms, modelDir));
    try {
      TrainJob.checkVocab(s.tokenizer, cfg, modelDir);
      Precision precision = ms.bf16() ? BF16Precision.INSTANCE : Precision.FP32;
      Bagel bagel;
      try (PreSharder pre = PreSharder.install(s.store, mesh.shard().rank(), mesh.shard().worldSize())) {
        bagel = new Bagel(cfg, s.store, Init.forLoading(), precision);
        s.modelConfig = bagel.config();
        if (ms.nsa() != null) {
          bagel.languageModel().enableNsa(ms.nsa(), Init.seeded(seed + 2)); // a checkpoint holding them overwrites
        }
        bagel.setAttentionKernel(ms.attnImplementation().equals("eager") ? new EagerAttention() : new SdpaAttention());
        FluxAutoencoder vae = null;
        ModelDirectory dir = ModelDirectory.of(weightsDir);
        if (cfg.visualGen()) {
          vae = new FluxAutoencoder(cfg.vae(), s.vaeStore, "", Init.forLoading(), Precision.FP32);
          s.vaeStore.setTrainable(n -> true, false);
          LOG.info("VAE from {}: {}", weightsDir, dir.loadVae(s.vaeStore, "", StateDictLoader.nonStrict()));
        }
        s.training = withoutWeightSource(config.training());
        Trainer.applyFreezing(s.store, s.training.loop());
        s.rank = Fsdp.apply(bagel, vae, mesh.shard(), mesh.replicate(), ms.gradientCheckpointing(), Double.NaN, pre);
      }
      try (SafetensorsCheckpoint ckpt = dir(weightsDir).openWeights(ck.finetuneFromEma())) {
        Map<String, ai.bakery.model.io.TensorSource> source =
            new LinkedHashMap<>(BagelCheckpointAdapter.model(ckpt.tensors()).tensors());
        source.keySet().removeIf(StateDictLoader.FIXED_POS_EMBED); // recomputed tables, as the loader skips them
        s.report = ShardedLoader.load(source, s.rank.state().params(), false);
        s.bytesRead = ckpt.bytesRead();
      }
      s.report.missing().stream().filter(n -> !StateDictLoader.FIXED_POS_EMBED.test(n)).findFirst()
          .ifPresent(n -> LOG.warn("{} parameter(s) not in {} (kept at their initial values), first {}",
              s.report.missing().size(), weightsDir, n));
      s.rank.state().startEma(s.training.ema().ema());
      LOG.info("Rank {}: loaded {} slices ({} MiB read) from {}", mesh.rank(), s.report.loaded(), s.bytesRead >> 20,
          weightsDir);
      return s;
    } catch (RuntimeException e) {
      s.close();
      throw e;
    }
  }

  /**
   * Seeded initial weights, as {@link TrainJob#buildModel} draws them for the whole model (BAGEL from the seed, NSA
   * weights from seed + 2, copy_init_moe; the VAE from seed + 1 or {@code model.vae_path}), but only this rank's
   * slices are kept.
   */
  private static ShardedStart drawn(JobConfig config, ProcessMesh mesh) throws IOException {
    ModelSection ms = config.model();
    CheckpointConfig ck = config.training().checkpoint();
    Path modelDir = TrainJob.modelDir(ms);
    BagelConfig cfg = TrainJob.bagelConfig(ms, modelDir);
    long seed = config.training().loop().globalSeed();
    ShardedStart s = new ShardedStart(TrainJob.tokenizer(ms, modelDir));
    try {
      TrainJob.checkVocab(s.tokenizer, cfg, modelDir);
      boolean fromCheckpoint = ck.resumeFrom() != null || (ck.autoResume()
          && CheckpointManager.latestComplete(ck.checkpointDir()).isPresent());
      PretrainParts parts = PretrainParts.used(ms) ? PretrainParts.of(ms) : null;
      if (ms.preset() == null && parts == null && !fromCheckpoint) {
        LOG.warn("No weights to start from (no finetune_from_hf, resume_from or checkpoint): training from"
            + " initial weights.");
      }
      Precision precision = ms.bf16() ? BF16Precision.INSTANCE : Precision.FP32;
      String attention = ms.attnImplementation();
      s.meter.watch(s.store);
      // the structure: every value freed as it is created (zeros: Init.forLoading draws nothing)
      Bagel bagel;
      FluxAutoencoder vae = null;
      try (PreSharder structure = PreSharder.structureOnly(s.store, s.meter)) {
        bagel = new Bagel(cfg, s.store, Init.forLoading(), precision);
        s.modelConfig = bagel.config();
        if (ms.nsa() != null) {
          bagel.languageModel().enableNsa(ms.nsa(), Init.forLoading());
        }
        if (cfg.visualGen()) {
          vae = new FluxAutoencoder(cfg.vae(), s.vaeStore, "", Init.seeded(seed + 1), Precision.FP32);
          s.vaeStore.setTrainable(n -> true, false); // frozen: encodes under no-grad, never saved with the model
          if (ms.vaePath() != null) {
            Path ae = Path.of(ms.vaePath());
            if (!Files.isRegularFile(ae)) {
              throw new ConfigException("model.vae_path: " + ae + " not found (train one with ./bakery train vae)");
            }
            LOG.info("VAE from {}: {}", ae, PretrainedWeights.loadFluxAe(ae, s.vaeStore, "",
                StateDictLoader.strict()));
          }
        }
        s.training = config.training();
        Trainer.applyFreezing(s.store, s.training.loop());
        s.rank = Fsdp.apply(bagel, vae, mesh.shard(), mesh.replicate(), ms.gradientCheckpointing(), Double.NaN,
            structure);
      }
      bagel.setAttentionKernel(attention.equals("eager") ? new EagerAttention() : new SdpaAttention());
      ShardedState state = s.rank.state();
      s.meter.shards(state.gradientBytes() / Float.BYTES);
      s.meter.sample();
      // the values: a throwaway model drawn in full registration order, one parameter at a time
      BagelConfig drawnCfg = withoutCopyInitMoe(cfg);
      boolean copyMoe = cfg.copyInitMoe() && cfg.llm().routesTokens();
      ShardedInit.draw(state, s.base, s.meter, scratch -> {
        Bagel full = new Bagel(drawnCfg, scratch.store(), Init.seeded(seed), precision);
        if (copyMoe) {
          scratch.copyUndToGen(full.languageModel().prefix() + ".");
        }
        if (ms.nsa() != null) {
          full.languageModel().enableNsa(ms.nsa(), Init.seeded(seed + 2));
        }
      });
      if (parts != null) {
        parts.writeModelFolder(cfg, s.training.loop().resultsDir().resolve(TrainJob.MODEL_FOLDER));
        if (!fromCheckpoint) {
          loadParts(parts, cfg, state, mesh);
        }
      }
      state.startEma(s.training.ema().ema());
      LOG.info("Rank {}: drew its shards of the seeded weights (seed {}), at most {} weight elements held at once",
          mesh.rank(), seed, s.meter.peakElements());
      return s;
    } catch (RuntimeException e) {
      s.close();
      throw e;
    }
  }

  /**
   * A job from separate parts ({@link PretrainParts}): this rank's slices of the LLM and ViT weights over the drawn
   * ones (connectors and the rest keep the seeded values, as in a single process).
   */
  private static void loadParts(PretrainParts parts, BagelConfig cfg, ShardedState state, ProcessMesh mesh) {
    List<String> names = state.params().stream().map(ShardSlice::name).toList();
    try (PretrainParts.Sources src = parts.open(cfg, names)) {
      ShardedLoader.Report r;
      try {
        r = ShardedLoader.load(src.tensors(), state.params(), false);
      } catch (IllegalArgumentException e) {
        throw new ConfigException("model.llm_path / vit_path (" + parts.llm() + ", " + parts.vit() + "): "
            + e.getMessage(), e);
      }
      parts.requireLoaded(cfg, r.missing());
      LOG.info("Rank {}: loaded {} slices of the pretrained parts ({} parameters kept their drawn values)",
          mesh.rank(), r.loaded(), r.missing().size());
    }
  }

  /** The same architecture without the MoT copy in the constructor (it would read freed values). */
  private static BagelConfig withoutCopyInitMoe(BagelConfig c) {
    return new BagelConfig(c.visualGen(), c.visualUnd(), c.llm(), c.vit(), c.vae(), c.latentPatchSize(),
        c.maxLatentSize(), c.vitMaxNumPatchPerSide(), c.vitSelectLayer(), c.connectorAct(), c.interpolatePos(),
        c.timestepShift(), false);
  }

  private static ModelDirectory dir(Path p) {
    return ModelDirectory.of(p);
  }

  /** The job's training section without the weight source this start already loaded (as TrainJob does). */
  private static TrainingSection withoutWeightSource(TrainingSection t) {
    CheckpointConfig ck = t.checkpoint();
    CheckpointConfig stripped = new CheckpointConfig(ck.checkpointDir(), ck.saveEvery(), ck.autoResume(), null, false,
        false, false, ck.keepLast());
    return new TrainingSection(t.optimizer(), t.schedule(), t.ema(), stripped, t.loop());
  }

  /** The configuration of the model this rank trains (the job's, as {@link TrainJob#bagelConfig} makes it). */
  public BagelConfig modelConfig() {
    return modelConfig;
  }

  public Fsdp.Rank rank() {
    return rank;
  }

  public TrainingSection training() {
    return training;
  }

  /** Slices loaded and parameters the checkpoint lacked. */
  public ShardedLoader.Report report() {
    return report;
  }

  /** Weight elements this rank held at once while it started (measured at every parameter created). */
  public ShardedInit.Meter meter() {
    return meter;
  }

  /** Tensor bytes this rank read from the checkpoint. */
  public long bytesRead() {
    return bytesRead;
  }

  public TextTokenizer tokenizer() {
    return tokenizer;
  }

  @Override
  public void close() {
    try (TextTokenizer t = tokenizer; NDManager b = base; ParameterStore st = store; ParameterStore v = vaeStore) {
      if (rank != null) {
        rank.close();
      }
    }
  }
}

package ai.bakery.runtime.config;

import ai.bakery.data.DataConfig;
import ai.bakery.model.config.ConfigException;
import ai.bakery.runtime.train.TrainLoopConfig;
import java.nio.file.Path;
import java.util.Map;

/**
 * One training job, whichever dialect it was written in (Bakery YAML, LMMS Engine YAML, or the reference
 * trainer's flags): see {@link JobConfigLoader}.
 *
 * <p>Values the trainer's records share with other sections are kept in one place: the modality switches and
 * freeze flags live in {@code model}, the seed in {@code runtime}, the folders in {@code output}; the
 * constructor copies them into {@code training} so both views always agree.
 */
public record JobConfig(
    ModelSection model,
    DataSection data,
    TrainingSection training,
    OutputSection output,
    RuntimeSection runtime,
    ParallelSection parallel,
    LaunchSection launch,
    DashboardSection dashboard) {

  /** Trainer fields set from another section: path under {@code training} -> the path that owns it. */
  public static final Map<String, String> DERIVED = Map.ofEntries(
      Map.entry("training.loop.visual_gen", "model.visual_gen"),
      Map.entry("training.loop.visual_und", "model.visual_und"),
      Map.entry("training.loop.freeze_llm", "model.freeze_llm"),
      Map.entry("training.loop.freeze_vit", "model.freeze_vit"),
      Map.entry("training.loop.freeze_vae", "model.freeze_vae"),
      Map.entry("training.loop.freeze_und", "model.freeze_und"),
      Map.entry("training.loop.global_seed", "runtime.seed"),
      Map.entry("training.loop.results_dir", "output.results_dir"),
      Map.entry("training.checkpoint.checkpoint_dir", "output.checkpoint_dir"));

  public static final JobConfig DEFAULTS = new JobConfig(ModelSection.DEFAULTS, DataSection.DEFAULTS,
      TrainingSection.DEFAULTS, OutputSection.DEFAULTS, RuntimeSection.DEFAULTS, ParallelSection.DEFAULTS,
      LaunchSection.DEFAULTS, DashboardSection.DEFAULTS);

  public JobConfig {
    model = model == null ? ModelSection.DEFAULTS : model;
    data = data == null ? DataSection.DEFAULTS : data;
    training = training == null ? TrainingSection.DEFAULTS : training;
    output = output == null ? OutputSection.DEFAULTS : output;
    runtime = runtime == null ? RuntimeSection.DEFAULTS : runtime;
    parallel = parallel == null ? ParallelSection.DEFAULTS : parallel;
    launch = launch == null ? LaunchSection.DEFAULTS : launch;
    dashboard = dashboard == null ? DashboardSection.DEFAULTS : dashboard;
    training = aligned(training, model, output, runtime);
  }

  /**
   * Checks what a training run needs beyond well-formed values: somewhere to take weights and data from.
   *
   * @throws ConfigException naming the missing field
   */
  public JobConfig requireRunnable() {
    if (!model.hasWeightsSource()) {
      throw new ConfigException(
          "model: no weights given: set model.preset (e.g. tiny), model.model_path or model.llm_path");
    }
    if (!data.hasSource()) {
      throw new ConfigException("data: no dataset given: set data.dataset_config_file or an inline data.dataset");
    }
    if (training.checkpoint().finetuneFromHf() && model.modelPath() == null) {
      throw new ConfigException("training.checkpoint.finetune_from_hf needs model.model_path (the BAGEL folder)");
    }
    return this;
  }

  /** FLUX's VAE downsamples 8x; a latent token then covers latent_patch_size * 8 pixels per side. */
  static final int VAE_DOWNSAMPLE = 8;

  /**
   * The data pipeline's options ({@code ai.bakery.data.DataConfig}) this job implies: packer budgets and
   * seed from {@code data}, image limits and CFG dropouts from {@code model}, loader workers from
   * {@code runtime}; LMMS {@code first_fit} packing when the inline dataset asks for it.
   */
  public DataConfig dataConfig() {
    PackingOptions p = data.packing();
    InlineDatasetConfig inline = data.dataset();
    boolean firstFit = inline != null && inline.packing();
    DataConfig d = DataConfig.defaults();
    return new DataConfig(p.expectedNumTokens(), p.maxNumTokens(), p.maxNumTokensPerSample(),
        p.preferBufferBefore(), p.maxBufferSize(), model.latentPatchSize() * VAE_DOWNSAMPLE, model.maxLatentSize(),
        model.vitPatchSize(), model.vitMaxNumPatchPerSide(), model.textCondDropoutProb(),
        model.vitCondDropoutProb(), model.vaeCondDropoutProb(), model.interpolatePos(), d.ceLossWeighting(),
        firstFit ? DataConfig.FIRST_FIT : DataConfig.REFERENCE, firstFit ? inline.packingLength() : d.packingLength(),
        d.filterOverlong(), Math.max(1, runtime.numWorkers()), data.prefetchFactor(), data.dataSeed(),
        d.rowsPerUnit());
  }

  private static TrainingSection aligned(
      TrainingSection t, ModelSection m, OutputSection o, RuntimeSection r) {
    TrainLoopConfig l = t.loop();
    TrainLoopConfig loop = new TrainLoopConfig(l.maxSteps(), l.gradientAccumulationSteps(), l.logEvery(),
        l.ceWeight(), l.mseWeight(), l.ceLossReweighting(), r.seed(), m.visualGen(), m.visualUnd(), m.freezeLlm(),
        m.freezeVit(), m.freezeVae(), m.freezeUnd(), Path.of(o.resultsDir()), l.peakDeviceTflops());
    return new TrainingSection(t.optimizer(), t.schedule(), t.ema(),
        t.checkpoint().withCheckpointDir(Path.of(o.checkpointDir())), loop);
  }
}

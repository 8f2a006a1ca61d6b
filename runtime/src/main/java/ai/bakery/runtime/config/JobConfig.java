package ai.bakery.runtime.config;

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
    LaunchSection launch) {

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
      LaunchSection.DEFAULTS);

  public JobConfig {
    model = model == null ? ModelSection.DEFAULTS : model;
    data = data == null ? DataSection.DEFAULTS : data;
    training = training == null ? TrainingSection.DEFAULTS : training;
    output = output == null ? OutputSection.DEFAULTS : output;
    runtime = runtime == null ? RuntimeSection.DEFAULTS : runtime;
    parallel = parallel == null ? ParallelSection.DEFAULTS : parallel;
    launch = launch == null ? LaunchSection.DEFAULTS : launch;
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

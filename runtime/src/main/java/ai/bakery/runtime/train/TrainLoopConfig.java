package ai.bakery.runtime.train;

import ai.bakery.model.config.ConfigException;
import com.fasterxml.jackson.annotation.JsonAlias;
import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.nio.file.Path;

/**
 * The training loop's own settings, named and defaulted as the reference's TrainingArguments.
 * {@code visual_gen}, {@code visual_und} and {@code freeze_und} are also model switches: the job config passes
 * the same values to the model's config.
 *
 * @param maxSteps stop after this many optimizer steps in this process run; {@code 0} means run to the
 *     schedule's {@code total_steps} (LMMS Engine's {@code max_steps})
 * @param gradientAccumulationSteps micro-batches summed into one optimizer step
 * @param logEvery log (and write a metrics line) every N optimizer steps
 * @param ceWeight weight of the cross-entropy term of the loss
 * @param mseWeight weight of the flow-matching MSE term of the loss
 * @param ceLossReweighting normalise CE by the summed per-token weights instead of the token count
 * @param globalSeed base seed; a rank's seed is {@code global_seed * world + rank}
 * @param visualGen train the generation branch (VAE latents, MSE loss)
 * @param visualUnd train the understanding branch (ViT)
 * @param freezeLlm keep the language model's weights fixed
 * @param freezeVit keep the ViT's weights fixed
 * @param freezeVae keep the VAE fixed (it always encodes under no-grad here)
 * @param freezeUnd freeze the understanding copy of the LLM (model switch)
 * @param resultsDir run folder for the log and the metrics file
 * @param peakDeviceTflops per-device peak for MFU; {@code 0} measures one (a GEMM probe on CPU)
 */
public record TrainLoopConfig(
    @JsonProperty("max_steps") long maxSteps,
    @JsonProperty("gradient_accumulation_steps") int gradientAccumulationSteps,
    @JsonProperty("log_every") int logEvery,
    @JsonProperty("ce_weight") double ceWeight,
    @JsonProperty("mse_weight") double mseWeight,
    @JsonProperty("ce_loss_reweighting") boolean ceLossReweighting,
    @JsonProperty("global_seed") long globalSeed,
    @JsonProperty("visual_gen") boolean visualGen,
    @JsonProperty("visual_und") boolean visualUnd,
    @JsonProperty("freeze_llm") boolean freezeLlm,
    @JsonProperty("freeze_vit") boolean freezeVit,
    @JsonProperty("freeze_vae") boolean freezeVae,
    @JsonProperty("freeze_und") boolean freezeUnd,
    @JsonProperty("results_dir") Path resultsDir,
    @JsonProperty("peak_device_tflops") double peakDeviceTflops) {

  public static final TrainLoopConfig DEFAULTS = new TrainLoopConfig(0, 1, 10, 1.0, 1.0, false, 4396, true, true,
      false, false, true, false, Path.of("results"), 0.0);

  @JsonCreator
  static TrainLoopConfig fromJson(
      @JsonProperty("max_steps") Long maxSteps,
      @JsonProperty("gradient_accumulation_steps") Integer gradientAccumulationSteps,
      @JsonProperty("log_every") @JsonAlias("logging_steps") Integer logEvery,
      @JsonProperty("ce_weight") @JsonAlias("ce_loss_weight") Double ceWeight,
      @JsonProperty("mse_weight") @JsonAlias("mse_loss_weight") Double mseWeight,
      @JsonProperty("ce_loss_reweighting") Boolean ceLossReweighting,
      @JsonProperty("global_seed") @JsonAlias("seed") Long globalSeed,
      @JsonProperty("visual_gen") Boolean visualGen,
      @JsonProperty("visual_und") Boolean visualUnd,
      @JsonProperty("freeze_llm") Boolean freezeLlm,
      @JsonProperty("freeze_vit") Boolean freezeVit,
      @JsonProperty("freeze_vae") Boolean freezeVae,
      @JsonProperty("freeze_und") Boolean freezeUnd,
      @JsonProperty("results_dir") String resultsDir,
      @JsonProperty("peak_device_tflops") Double peakDeviceTflops) {
    TrainLoopConfig d = DEFAULTS;
    return new TrainLoopConfig(
        maxSteps == null ? d.maxSteps : maxSteps,
        gradientAccumulationSteps == null ? d.gradientAccumulationSteps : gradientAccumulationSteps,
        logEvery == null ? d.logEvery : logEvery,
        ceWeight == null ? d.ceWeight : ceWeight,
        mseWeight == null ? d.mseWeight : mseWeight,
        ceLossReweighting == null ? d.ceLossReweighting : ceLossReweighting,
        globalSeed == null ? d.globalSeed : globalSeed,
        visualGen == null ? d.visualGen : visualGen,
        visualUnd == null ? d.visualUnd : visualUnd,
        freezeLlm == null ? d.freezeLlm : freezeLlm,
        freezeVit == null ? d.freezeVit : freezeVit,
        freezeVae == null ? d.freezeVae : freezeVae,
        freezeUnd == null ? d.freezeUnd : freezeUnd,
        resultsDir == null ? d.resultsDir : Path.of(resultsDir),
        peakDeviceTflops == null ? d.peakDeviceTflops : peakDeviceTflops);
  }

  public TrainLoopConfig {
    if (maxSteps < 0) {
      throw new ConfigException("training: max_steps must be >= 0 (0 = total_steps), got " + maxSteps);
    }
    if (gradientAccumulationSteps < 1) {
      throw new ConfigException("training: gradient_accumulation_steps must be >= 1, got "
          + gradientAccumulationSteps);
    }
    if (logEvery < 1) {
      throw new ConfigException("training: log_every must be >= 1, got " + logEvery);
    }
    if (!(ceWeight >= 0) || !Double.isFinite(ceWeight)) {
      throw new ConfigException("training: ce_weight must be finite and >= 0, got " + ceWeight);
    }
    if (!(mseWeight >= 0) || !Double.isFinite(mseWeight)) {
      throw new ConfigException("training: mse_weight must be finite and >= 0, got " + mseWeight);
    }
    if (!visualGen && !visualUnd && ceWeight == 0) {
      throw new ConfigException("training: with visual_gen and visual_und both false only CE trains, but ce_weight is 0");
    }
    if (resultsDir == null) {
      throw new ConfigException("training: results_dir must be set");
    }
    if (!(peakDeviceTflops >= 0) || !Double.isFinite(peakDeviceTflops)) {
      throw new ConfigException("training: peak_device_tflops must be finite and >= 0, got " + peakDeviceTflops);
    }
  }
}

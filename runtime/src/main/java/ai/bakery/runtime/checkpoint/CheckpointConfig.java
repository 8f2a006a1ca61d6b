package ai.bakery.runtime.checkpoint;

import ai.bakery.model.config.ConfigException;
import com.fasterxml.jackson.annotation.JsonAlias;
import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.nio.file.Path;

/**
 * Where checkpoints go and what a run starts from, named and defaulted as the reference's TrainingArguments.
 *
 * @param checkpointDir folder holding one sub-folder per saved step ({@code 0000500/})
 * @param saveEvery save a checkpoint every N optimizer steps (LMMS Engine calls it {@code save_steps})
 * @param autoResume resume from the newest complete checkpoint in {@code checkpoint_dir} when there is one
 *     (it then wins over {@code resume_from}, and model-only/EMA flags are ignored, as in the reference)
 * @param resumeFrom a step folder (or, with {@code finetune_from_hf}, a Hugging Face BAGEL folder) to start from
 * @param resumeModelOnly load only weights from {@code resume_from}: step, optimizer, schedule and data
 *     position start fresh
 * @param finetuneFromEma with {@code resume_model_only}, initialise the model from {@code ema.safetensors}
 * @param finetuneFromHf the model's configs come from a released BAGEL folder ({@code model_path}); its weights
 *     are loaded from {@code resume_from} (normally the same folder) with {@code resume_model_only}
 * @param keepLast keep only the newest N complete checkpoints ({@code 0} keeps all)
 * @param modelFiles a folder whose files every step folder also gets (hard-linked, else copied), so a checkpoint
 *     describes its model as a released BAGEL folder does (configs, tokenizer, autoencoder); set by the job's
 *     start when no other folder holds them (a job from separate parts), not a user option; null for none
 */
public record CheckpointConfig(
    @JsonProperty("checkpoint_dir") Path checkpointDir,
    @JsonProperty("save_every") long saveEvery,
    @JsonProperty("auto_resume") boolean autoResume,
    @JsonProperty("resume_from") Path resumeFrom,
    @JsonProperty("resume_model_only") boolean resumeModelOnly,
    @JsonProperty("finetune_from_ema") boolean finetuneFromEma,
    @JsonProperty("finetune_from_hf") boolean finetuneFromHf,
    @JsonProperty("keep_last") int keepLast,
    @JsonIgnore Path modelFiles) {

  public static final CheckpointConfig DEFAULTS =
      new CheckpointConfig(Path.of("results/checkpoints"), 2000, false, null, false, false, false, 0);

  @JsonCreator
  static CheckpointConfig fromJson(
      @JsonProperty("checkpoint_dir") String checkpointDir,
      @JsonProperty("save_every") @JsonAlias("save_steps") Long saveEvery,
      @JsonProperty("auto_resume") Boolean autoResume,
      @JsonProperty("resume_from") String resumeFrom,
      @JsonProperty("resume_model_only") Boolean resumeModelOnly,
      @JsonProperty("finetune_from_ema") Boolean finetuneFromEma,
      @JsonProperty("finetune_from_hf") Boolean finetuneFromHf,
      @JsonProperty("keep_last") Integer keepLast) {
    return new CheckpointConfig(
        checkpointDir == null ? DEFAULTS.checkpointDir : Path.of(checkpointDir),
        saveEvery == null ? DEFAULTS.saveEvery : saveEvery,
        autoResume != null && autoResume,
        resumeFrom == null || resumeFrom.isBlank() ? null : Path.of(resumeFrom),
        resumeModelOnly != null && resumeModelOnly,
        finetuneFromEma != null && finetuneFromEma,
        finetuneFromHf != null && finetuneFromHf,
        keepLast == null ? DEFAULTS.keepLast : keepLast);
  }

  public CheckpointConfig(Path checkpointDir, long saveEvery, boolean autoResume, Path resumeFrom,
      boolean resumeModelOnly, boolean finetuneFromEma, boolean finetuneFromHf, int keepLast) {
    this(checkpointDir, saveEvery, autoResume, resumeFrom, resumeModelOnly, finetuneFromEma, finetuneFromHf, keepLast,
        null);
  }

  public CheckpointConfig {
    if (checkpointDir == null) {
      throw new ConfigException("checkpoint: checkpoint_dir must be set");
    }
    if (saveEvery <= 0) {
      throw new ConfigException("checkpoint: save_every must be > 0, got " + saveEvery);
    }
    if (keepLast < 0) {
      throw new ConfigException("checkpoint: keep_last must be >= 0 (0 keeps all), got " + keepLast);
    }
  }

  public CheckpointConfig withCheckpointDir(Path dir) {
    return new CheckpointConfig(dir, saveEvery, autoResume, resumeFrom, resumeModelOnly, finetuneFromEma,
        finetuneFromHf, keepLast, modelFiles);
  }

  /** The same, with every step folder also getting the files of {@code dir} (see {@code modelFiles}). */
  public CheckpointConfig withModelFiles(Path dir) {
    return new CheckpointConfig(checkpointDir, saveEvery, autoResume, resumeFrom, resumeModelOnly, finetuneFromEma,
        finetuneFromHf, keepLast, dir);
  }
}

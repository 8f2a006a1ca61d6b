package ai.bakery.model.io;

import ai.bakery.model.config.VitConfig;
import ai.bakery.model.tensor.ParameterStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Starting a BAGEL model from its parts, as the reference does without {@code finetune_from_hf}: the LLM from a
 * HF Qwen2 directory (optionally copying und weights into the MoT gen branch), the ViT from a HF SigLIP
 * directory, the VAE from FLUX's {@code ae.safetensors}. Each load touches only its own part of the store.
 */
public final class PretrainedWeights {
  private PretrainedWeights() {}

  /** Loads {@code language_model.*}; with {@code copyInitMoe} the {@code _moe_gen} weights start as copies. */
  public static LoadReport loadQwen2(Path hfDir, ParameterStore store, boolean copyInitMoe, StateDictLoader loader) {
    return loadQwen2(hfDir, store, copyInitMoe, -1, loader);
  }

  /**
   * As {@link #loadQwen2(Path, ParameterStore, boolean, StateDictLoader)}, with the token tables (embedding, LM
   * head) resized to {@code vocabRows} rows first ({@link EmbeddingRows}), as the reference resizes them when the
   * tokenizer gained special tokens; {@code vocabRows <= 0} keeps the file's rows.
   */
  public static LoadReport loadQwen2(Path hfDir, ParameterStore store, boolean copyInitMoe, int vocabRows,
      StateDictLoader loader) {
    try (SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.openIn(hfDir, "model")) {
      return loader.only(n -> n.startsWith(Qwen2HfAdapter.PREFIX))
          .load(mapQwen2(ckpt.tensors(), store.all().keySet(), copyInitMoe, vocabRows), store);
    }
  }

  /**
   * A HF Qwen2 checkpoint's tensors as {@link #loadQwen2} loads them into a model with parameters {@code names}
   * (token tables resized to {@code vocabRows} unless {@code <= 0}, gen twins with {@code copyInitMoe}): what a
   * sharded start reads its slices from.
   */
  public static MappedTensors mapQwen2(Map<String, TensorSource> hf, Collection<String> names, boolean copyInitMoe,
      int vocabRows) {
    MappedTensors mapped = Qwen2HfAdapter.map(hf);
    if (vocabRows > 0) {
      Map<String, TensorSource> t = new LinkedHashMap<>(mapped.tensors());
      for (String table : new String[] {Qwen2HfAdapter.EMBED, Qwen2HfAdapter.HEAD}) {
        t.computeIfPresent(table, (n, src) -> EmbeddingRows.resized(src, vocabRows));
      }
      mapped = new MappedTensors(t, mapped.optional(), mapped.dropped());
    }
    return copyInitMoe ? MoeInit.withGenCopies(mapped, names) : mapped;
  }

  /** Loads {@code vit_model.*} for the tower {@code keptCfg} describes (already cut to vit_select_layer). */
  public static LoadReport loadSiglip(Path hfDir, VitConfig keptCfg, ParameterStore store, StateDictLoader loader) {
    try (SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.openIn(hfDir, "model")) {
      return loader.only(n -> n.startsWith(SiglipHfAdapter.PREFIX))
          .load(SiglipHfAdapter.map(ckpt.tensors(), keptCfg), store);
    }
  }

  /** Loads FLUX's ae.safetensors into the VAE's store under {@code prefix} ("" for FLUX's names). */
  public static LoadReport loadFluxAe(Path aeFile, ParameterStore vaeStore, String prefix, StateDictLoader loader) {
    if (!Files.isRegularFile(aeFile)) {
      throw new SafetensorsException(aeFile + ": VAE weights not found (vae_path)");
    }
    try (SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(aeFile)) {
      String p = prefix.isEmpty() ? "" : prefix + ".";
      return loader.only(n -> n.startsWith(p + "encoder.") || n.startsWith(p + "decoder."))
          .load(FluxAeAdapter.map(ckpt.tensors(), prefix), vaeStore);
    }
  }
}

package ai.bakery.runtime.train;

import ai.bakery.data.text.TextTokenizer;
import ai.bakery.model.config.BagelConfig;
import ai.bakery.model.config.ConfigException;
import ai.bakery.model.config.LayerModule;
import ai.bakery.model.config.LlmConfig;
import ai.bakery.model.config.VaeConfig;
import ai.bakery.model.config.VitConfig;
import ai.bakery.model.io.LoadReport;
import ai.bakery.model.io.ModelDirectory;
import ai.bakery.model.io.PretrainedWeights;
import ai.bakery.model.io.Qwen2HfAdapter;
import ai.bakery.model.io.SafetensorsCheckpoint;
import ai.bakery.model.io.SafetensorsException;
import ai.bakery.model.io.SiglipHfAdapter;
import ai.bakery.model.io.StateDictException;
import ai.bakery.model.io.StateDictLoader;
import ai.bakery.model.io.TensorSource;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.runtime.config.ModelSection;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A BAGEL assembled from separate pretrained parts, as the reference's pretraining starts (no
 * {@code finetune_from_hf}): the LLM from a HF Qwen2 folder ({@code llm_path}: config.json, model.safetensors,
 * tokenizer.json), the ViT from a HF SigLIP folder ({@code vit_path}), the VAE from FLUX's {@code ae.safetensors}
 * ({@code vae_path}). The job's model flags override the parts' configs as the reference's arguments do
 * (layer_module, llm_qk_norm, tie_word_embeddings, freeze_und; vit_select_layer cuts the ViT, vit_rope); the
 * connectors, time embedder and position tables start from the job's seed.
 *
 * @param llm the Qwen2 folder
 * @param vit the SigLIP folder, null without visual_und
 * @param vae the autoencoder file, null without visual_gen
 */
public record PretrainParts(Path llm, Path vit, Path vae) {
  private static final Logger LOG = LoggerFactory.getLogger(PretrainParts.class);
  /** Beside ae.safetensors, what {@code bakery train vae} writes; FLUX's architecture without it. */
  public static final String VAE_CONFIG = "vae_config.json";
  /** BAGEL weights a plain Qwen2 checkpoint does not have: QK-norm (HF initialises them to ones, as we do). */
  private static final Pattern QK_NORM = Pattern.compile("\\.(q|k)_norm(_moe_gen)?\\.weight$");

  /** Whether the job starts from separate parts: no preset, no model_path, an llm_path. */
  public static boolean used(ModelSection ms) {
    return ms.preset() == null && ms.modelPath() == null && ms.llmPath() != null;
  }

  /**
   * The parts the job's switches need, checked to exist.
   *
   * @throws ConfigException naming the flag and the missing file
   */
  public static PretrainParts of(ModelSection ms) {
    Path llm = Path.of(ms.llmPath());
    requireHfFolder(llm, "model.llm_path", "Qwen2");
    Path vit = null;
    if (ms.visualUnd()) {
      if (ms.vitPath() == null) {
        throw new ConfigException("model.vit_path: needed for visual_und (set visual_und: false to train without"
            + " the ViT)");
      }
      vit = Path.of(ms.vitPath());
      requireHfFolder(vit, "model.vit_path", "SigLIP");
    }
    Path vae = null;
    if (ms.visualGen()) {
      if (ms.vaePath() == null) {
        throw new ConfigException("model.vae_path: needed for visual_gen (set visual_gen: false to train without"
            + " the VAE)");
      }
      vae = Path.of(ms.vaePath());
      if (!Files.isRegularFile(vae)) {
        throw new ConfigException("model.vae_path: " + vae + " not found (FLUX's ae.safetensors)");
      }
    }
    return new PretrainParts(llm, vit, vae);
  }

  private static void requireHfFolder(Path dir, String flag, String what) {
    if (!Files.isDirectory(dir)) {
      throw new ConfigException(flag + ": " + dir + " is not a folder (a HF " + what + " model folder)");
    }
    if (!Files.isRegularFile(dir.resolve("config.json"))) {
      throw new ConfigException(flag + ": " + dir.resolve("config.json") + " not found");
    }
    if (!SafetensorsCheckpoint.existsIn(dir, "model")) {
      throw new ConfigException(flag + ": " + dir + " has no weights (model.safetensors or"
          + " model.safetensors.index.json)");
    }
  }

  /** The LLM's tokenizer with the reference's four special tokens added where it lacks them. */
  public TextTokenizer tokenizer() throws IOException {
    if (!Files.isRegularFile(llm.resolve("tokenizer.json"))) {
      throw new ConfigException("model.llm_path: " + llm.resolve("tokenizer.json") + " not found");
    }
    return TextTokenizer.fromModelDir(llm);
  }

  /**
   * The model: configs from the parts' files, the rest from the job. When the tokenizer gained special tokens
   * the LLM's vocabulary becomes the tokenizer's length, as the reference resizes the embeddings.
   */
  public BagelConfig config(ModelSection ms, TextTokenizer tokenizer) {
    LlmConfig llmCfg = LlmConfig.read(llm.resolve("config.json")).withBagelOptions(
        LayerModule.parse(ms.layerModule(), "model.layer_module"), ms.llmQkNorm(), ms.tieWordEmbeddings(),
        ms.freezeUnd());
    if (tokenizer.addedSpecials() > 0) {
      LOG.info("The tokenizer of {} gained {} special token(s): vocabulary {} -> {} rows", llm,
          tokenizer.addedSpecials(), llmCfg.vocabSize(), tokenizer.vocabSize());
      llmCfg = llmCfg.withVocabSize(tokenizer.vocabSize());
    }
    VitConfig vitCfg = null;
    if (vit != null) {
      Path file = vit.resolve("config.json");
      try {
        vitCfg = VitConfig.read(file).keepingLayersFor(ms.vitSelectLayer()).withRope(ms.vitRope());
      } catch (ConfigException e) {
        throw e.getMessage().startsWith(file.toString()) ? e : new ConfigException(file + ": " + e.getMessage(), e);
      }
    }
    try {
      return new BagelConfig(ms.visualGen(), ms.visualUnd(), llmCfg, vitCfg, vae == null ? null : vaeConfig(),
          ms.latentPatchSize(), ms.maxLatentSize(), ms.vitMaxNumPatchPerSide(), ms.vitSelectLayer(),
          ms.connectorAct(), ms.interpolatePos(), ms.timestepShift(), ms.copyInitMoe());
    } catch (ConfigException e) {
      throw new ConfigException("model (from llm_path " + llm + (vit == null ? "" : ", vit_path " + vit) + "): "
          + e.getMessage(), e);
    }
  }

  /** {@value #VAE_CONFIG} beside the autoencoder when there is one, else FLUX's (the reference's fixed config). */
  public VaeConfig vaeConfig() {
    Path file = vae.resolveSibling(VAE_CONFIG);
    return Files.isRegularFile(file) ? VaeConfig.read(file) : VaeConfig.FLUX;
  }

  /**
   * Loads the LLM and the ViT into a model built from {@link #config}: the LLM's token tables resized to the
   * model's vocabulary, its gen branch copied from the und weights with copy_init_moe. A tensor of the wrong
   * shape, a missing weight or a checkpoint that is not the part it should be fails naming the flag and file.
   */
  public void loadModel(BagelConfig cfg, ParameterStore store) {
    boolean copyMoe = copiesMoe(cfg);
    LoadReport l = guarded("model.llm_path", llm, () -> PretrainedWeights.loadQwen2(llm, store, copyMoe,
        cfg.llm().vocabSize(), StateDictLoader.nonStrict()));
    requireLoaded(cfg, l.missing());
    if (!l.unexpected().isEmpty()) {
      LOG.warn("{}: {} tensor(s) the LLM does not use (ignored, as HF does), first {}", llm, l.unexpected().size(),
          l.unexpected().get(0));
    }
    LOG.info("LLM from {}: {} loaded, {} kept at their initial values{}", llm, l.loaded().size(),
        l.missing().size(), copyMoe ? " (gen branch copied from und)" : "");
    if (vit != null) {
      LoadReport v = guarded("model.vit_path", vit, () -> PretrainedWeights.loadSiglip(vit, cfg.vit(), store,
          StateDictLoader.strict()));
      LOG.info("ViT from {}: {} loaded ({} layers kept), {} dropped", vit, v.loaded().size(),
          cfg.vit().numHiddenLayers(), v.skipped().size());
    }
  }

  private static boolean copiesMoe(BagelConfig cfg) {
    return cfg.copyInitMoe() && cfg.llm().routesTokens();
  }

  /**
   * Fails when a weight the parts should supply was not loaded: any ViT weight; an LLM weight other than BAGEL's
   * QK-norm (a plain Qwen2 has none; HF starts it at ones, as we do) and, without copy_init_moe, the gen branch.
   *
   * @param missing model parameters no part supplied
   */
  public void requireLoaded(BagelConfig cfg, List<String> missing) {
    boolean copyMoe = copiesMoe(cfg);
    List<String> llmLacks = missing.stream().filter(n -> n.startsWith(Qwen2HfAdapter.PREFIX))
        .filter(n -> !QK_NORM.matcher(n).find() && (copyMoe || !n.contains("_moe_gen"))).toList();
    if (!llmLacks.isEmpty()) {
      throw new ConfigException("model.llm_path: " + llm + " lacks " + llmLacks.size() + " weight(s) of the LLM"
          + " its config.json describes, first " + llmLacks.subList(0, Math.min(5, llmLacks.size())));
    }
    List<String> vitLacks = missing.stream().filter(n -> n.startsWith(SiglipHfAdapter.PREFIX)).toList();
    if (vit != null && !vitLacks.isEmpty()) {
      throw new ConfigException("model.vit_path: " + vit + " lacks " + vitLacks.size() + " weight(s) of the ViT"
          + " its config.json describes, first " + vitLacks.subList(0, Math.min(5, vitLacks.size())));
    }
  }

  /**
   * The LLM's and ViT's tensors under BAGEL's names, as {@link #loadModel} loads them into a model with
   * parameters {@code names}: what a sharded rank reads its slices from. Open until closed.
   */
  public Sources open(BagelConfig cfg, Collection<String> names) {
    SafetensorsCheckpoint l = guardedOpen("model.llm_path", llm);
    SafetensorsCheckpoint v = null;
    try {
      Map<String, TensorSource> all = new LinkedHashMap<>(PretrainedWeights.mapQwen2(l.tensors(), names,
          copiesMoe(cfg), cfg.llm().vocabSize()).tensors());
      if (vit != null) {
        v = guardedOpen("model.vit_path", vit);
        all.putAll(SiglipHfAdapter.map(v.tensors(), cfg.vit()).tensors());
      }
      return new Sources(all, l, v);
    } catch (RuntimeException e) {
      l.close();
      if (v != null) {
        v.close();
      }
      throw e;
    }
  }

  private static SafetensorsCheckpoint guardedOpen(String flag, Path dir) {
    try {
      return SafetensorsCheckpoint.openIn(dir, "model");
    } catch (SafetensorsException e) {
      throw new ConfigException(flag + ": " + dir + ": " + e.getMessage(), e);
    }
  }

  /** Mapped tensors over open checkpoint files. */
  public static final class Sources implements AutoCloseable {
    private final Map<String, TensorSource> tensors;
    private final SafetensorsCheckpoint llmFile;
    private final SafetensorsCheckpoint vitFile;

    private Sources(Map<String, TensorSource> tensors, SafetensorsCheckpoint llmFile, SafetensorsCheckpoint vitFile) {
      this.tensors = tensors;
      this.llmFile = llmFile;
      this.vitFile = vitFile;
    }

    public Map<String, TensorSource> tensors() {
      return tensors;
    }

    @Override
    public void close() {
      try (SafetensorsCheckpoint l = llmFile; SafetensorsCheckpoint v = vitFile) {
        // both closed
      }
    }
  }

  /** Loads the frozen autoencoder (never saved with the model, so also on resume); nothing without visual_gen. */
  public void loadVae(ParameterStore vaeStore) {
    if (vae != null) {
      LoadReport a = guarded("model.vae_path", vae, () -> PretrainedWeights.loadFluxAe(vae, vaeStore, "",
          StateDictLoader.strict()));
      LOG.info("VAE from {}: {} loaded", vae, a.loaded().size());
    }
  }

  private static LoadReport guarded(String flag, Path from, java.util.function.Supplier<LoadReport> load) {
    try {
      return load.get();
    } catch (StateDictException | SafetensorsException e) {
      throw new ConfigException(flag + ": " + from + ": " + e.getMessage(), e);
    }
  }

  /**
   * Writes the model folder a checkpoint of this job needs to describe itself, as a released BAGEL folder does:
   * config.json (with the VAE's config), llm_config.json, vit_config.json, the LLM's tokenizer.json (read again,
   * it gains the same special tokens at the same ids) and a copy of the autoencoder. Each file is replaced
   * atomically, so ranks writing the same folder at once leave it whole.
   */
  public Path writeModelFolder(BagelConfig cfg, Path dir) {
    try {
      Files.createDirectories(dir);
      Path staged = Files.createTempDirectory(dir, ".staging-");
      try {
        cfg.writeModelDir(staged);
        Files.copy(llm.resolve("tokenizer.json"), staged.resolve("tokenizer.json"));
        Path ae = dir.resolve(ModelDirectory.AE_FILE);
        if (vae != null && !(Files.isRegularFile(ae) && Files.mismatch(vae, ae) == -1L)) {
          // a copy, not a link: checkpoints hard-link this file and their manifests hash it, so it must not change
          // when the user's file is rewritten in place; kept when equal (ranks of one node, a resumed run)
          Files.copy(vae, staged.resolve(ModelDirectory.AE_FILE));
        }
        try (var files = Files.list(staged)) {
          for (Path f : (Iterable<Path>) files::iterator) {
            Files.move(f, dir.resolve(f.getFileName()), StandardCopyOption.ATOMIC_MOVE,
                StandardCopyOption.REPLACE_EXISTING);
          }
        }
      } finally {
        try (var left = Files.list(staged)) {
          for (Path f : (Iterable<Path>) left::iterator) {
            Files.deleteIfExists(f);
          }
        }
        Files.deleteIfExists(staged);
      }
      return dir;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the model folder " + dir + ": " + e.getMessage(), e);
    }
  }
}

package ai.bakery.runtime.config;

import ai.bakery.model.config.ConfigException;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.TextNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

/**
 * Turns what a user brings into a {@link JobConfig}: a Bakery YAML, an LMMS Engine YAML (either form), or the
 * reference trainer's flags, each followed by optional {@code --key value} overrides (flags override the file).
 * The dialect is recognised from the file's shape. Errors are {@link ConfigException}s that name the file and
 * field, with the nearest valid name for a misspelt one.
 */
public final class JobConfigLoader {
  private static final ObjectMapper YAML = new ObjectMapper(YAMLFactory.builder()
      .enable(com.fasterxml.jackson.dataformat.yaml.YAMLGenerator.Feature.MINIMIZE_QUOTES)
      .disable(com.fasterxml.jackson.dataformat.yaml.YAMLGenerator.Feature.WRITE_DOC_START_MARKER).build());

  private JobConfigLoader() {}

  /** Reads a config file, then applies {@code overrides} ({@code --key value ...}). */
  public static LoadedJob load(Path file, List<String> overrides) {
    String text;
    try {
      text = Files.readString(file);
    } catch (NoSuchFileException e) {
      throw new ConfigException(file + ": config file not found");
    } catch (IOException e) {
      throw new ConfigException(file + ": cannot read: " + e.getMessage(), e);
    }
    try {
      return parse(text, overrides);
    } catch (ConfigException e) {
      throw new ConfigException(file + ": " + e.getMessage(), e);
    }
  }

  /** Parses config text (YAML or JSON) and applies {@code overrides}. */
  public static LoadedJob parse(String text, List<String> overrides) {
    JsonNode root;
    try {
      root = YAML.readTree(text);
    } catch (JsonProcessingException e) {
      throw new ConfigException("not valid YAML: " + e.getOriginalMessage().lines().findFirst().orElse("")
          + (e.getLocation() == null ? "" : " (line " + e.getLocation().getLineNr() + ")"), e);
    }
    if (root == null || root.isMissingNode() || root.isNull()) {
      throw new ConfigException("the config is empty");
    }
    ConfigDraft draft = new ConfigDraft();
    Dialect dialect;
    if (LmmsEngineConfig.matches(root)) {
      dialect = LmmsEngineConfig.read(root, draft) ? Dialect.LMMS_ENGINE_LIST : Dialect.LMMS_ENGINE;
    } else if (BakeryYaml.matches(root)) {
      dialect = Dialect.BAKERY;
      BakeryYaml.read(root, draft);
    } else {
      String first = root.isObject() && root.fieldNames().hasNext() ? root.fieldNames().next() : root.getNodeType()
          .toString().toLowerCase();
      throw new ConfigException("not a job config: expected Bakery sections " + ConfigSchema.job().childNames("")
          + " or an LMMS Engine config (trainer_type / dataset_config / model_config / trainer_args, or a "
          + "'- type: trainer' list); found '" + first + "'" + NameSuggester.hint(first, allTopLevelNames()));
    }
    FlagParser.parse(overrides, draft, false);
    return finish(draft, dialect);
  }

  /** Builds a config from the reference trainer's flags alone (a launch line may be pasted as is). */
  public static LoadedJob fromReferenceFlags(List<String> flags) {
    ConfigDraft draft = new ConfigDraft();
    ReferenceFlags.DEFAULT_PATHS.forEach((path, value) -> draft.set(path, TextNode.valueOf(value),
        "reference default"));
    FlagParser.parse(flags, draft, true);
    JsonNode fromHf = draft.get("training.checkpoint.finetune_from_hf");
    boolean finetuneFromHf = fromHf != null && fromHf.asBoolean();
    if (finetuneFromHf && !draft.isSet("model.model_path")) {
      draft.set("model.model_path", TextNode.valueOf(ReferenceFlags.REFERENCE_MODEL_PATH), "reference default");
    } else if (!finetuneFromHf && draft.get("model.model_path") != null) {
      draft.note("--model_path is used only with --finetune_from_hf True (as in the reference); weights come from "
          + "--llm_path/--vit_path/--vae_path and --resume_from");
      draft.tree().with("model").putNull("model_path");
    }
    return finish(draft, Dialect.REFERENCE_FLAGS);
  }

  /**
   * The config as Bakery YAML (every field, defaults included): what a run will actually use. Reading it back
   * gives an equal config.
   */
  public static String toYaml(JobConfig config) {
    try {
      JsonNode tree = ConfigBinder.MAPPER.valueToTree(config);
      for (String derived : JobConfig.DERIVED.keySet()) { // written once, in the section that owns it
        int dot = derived.lastIndexOf('.');
        ((com.fasterxml.jackson.databind.node.ObjectNode) tree.at("/" + derived.substring(0, dot).replace('.', '/')))
            .remove(derived.substring(dot + 1));
      }
      return YAML.writeValueAsString(tree);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("config cannot be written as YAML", e);
    }
  }

  private static LoadedJob finish(ConfigDraft draft, Dialect dialect) {
    LmmsTrainerArgs.finish(draft);
    JobConfig config = ConfigBinder.bind(draft);
    return new LoadedJob(config, dialect, draft.report());
  }

  private static List<String> allTopLevelNames() {
    var names = new java.util.ArrayList<>(ConfigSchema.job().childNames(""));
    names.addAll(LmmsEngineConfig.TOP_LEVEL);
    return names;
  }
}

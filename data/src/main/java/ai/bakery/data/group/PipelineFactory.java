package ai.bakery.data.group;

import ai.bakery.data.DataConfig;
import ai.bakery.data.image.ImageTransform;
import ai.bakery.data.text.TextTokenizer;
import ai.bakery.data.plan.SequencePlanner;
import ai.bakery.data.plan.SpecialTokens;
import ai.bakery.data.plan.TextEncoder;
import ai.bakery.data.shard.GroupDataset;
import ai.bakery.data.shard.GroupSpec;
import ai.bakery.data.source.DatasetFormat;
import ai.bakery.data.source.DatasetFormats;
import ai.bakery.data.source.DatasetSource;
import ai.bakery.data.source.ReadOptions;
import ai.bakery.data.source.messages.MessagesYaml;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Resolves dataset groups into {@link GroupSpec}s for a {@link ai.bakery.data.DataPipeline}: from the
 * reference's dataset YAML plus the dataset-info registry, or from LMMS Engine's inline
 * {@code dataset_config}. Checks at start-up what the reference finds only deep in a run: missing registry
 * entries, transforms whose stride does not match the ViT patch or VAE downsample.
 */
public final class PipelineFactory {
  /** BAGEL's VAE transform for LMMS Engine configs, which carry none: long edge 1024, short 512, stride 16. */
  public static final TransformArgs LMMS_VAE = TransformArgs.of(16, 1024, 512, null, null, null);
  /** BAGEL's ViT transform for LMMS Engine configs: long edge 980, short 224, stride 14. */
  public static final TransformArgs LMMS_VIT = TransformArgs.of(14, 980, 224, null, null, null);

  private final DataConfig config;
  private final SpecialTokens tokens;
  private final TextEncoder encoder;
  private final TransformFactory transforms;

  /**
   * @param encoder the tokenizer's plain encode
   * @param transforms builds the image transforms from the groups' args
   */
  public PipelineFactory(DataConfig config, SpecialTokens tokens, TextEncoder encoder, TransformFactory transforms) {
    this.config = Objects.requireNonNull(config, "config");
    this.tokens = Objects.requireNonNull(tokens, "tokens");
    this.encoder = Objects.requireNonNull(encoder, "encoder");
    this.transforms = Objects.requireNonNull(transforms, "transforms");
  }

  /** The standard factory: the tokenizer's encode and special ids, the reference's image transform. */
  public static PipelineFactory standard(DataConfig config, TextTokenizer tokenizer) {
    return new PipelineFactory(config, tokenizer.specialTokens(), tokenizer, ImageTransform::of);
  }

  /**
   * The groups of a dataset YAML file whose registry is named by its {@code dataset_info:} key, or given here.
   *
   * @param registry the dataset-info registry, or null to use the YAML's {@code dataset_info}
   */
  public List<GroupSpec> fromYamlFile(Path yaml, Path registry) throws IOException {
    DatasetGroups groups = DatasetGroups.load(yaml);
    Path info = registry != null ? registry : groups.datasetInfo();
    if (info == null) {
      throw new IllegalArgumentException(yaml + " names no dataset-info registry: add 'dataset_info: <file>' to it"
          + " or pass the registry file");
    }
    return fromYaml(groups, DatasetInfoRegistry.load(info));
  }

  /** The groups of a reference dataset YAML, datasets looked up in the registry under each group's type. */
  public List<GroupSpec> fromYaml(DatasetGroups groups, DatasetInfoRegistry registry) {
    List<GroupSpec> out = new ArrayList<>();
    for (DatasetGroup g : groups.groups()) {
      if (g.isLive()) {
        out.add(liveGroup(g));
        continue;
      }
      DatasetFormat format;
      try {
        format = DatasetFormats.forGroupType(g.type());
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("dataset group " + g.name() + ": " + e.getMessage()
            + "; name the group after its type or set 'type:'", e);
      }
      checkStrides(g, format);
      ReadOptions options = ReadOptions.DEFAULTS.withSeed(config.dataSeed()).withRowsPerUnit(config.rowsPerUnit());
      if (g.frameSamplerArgs() != null) {
        options = options.withFrameSampler(g.frameSamplerArgs().toConfig());
      }
      List<GroupDataset> datasets = new ArrayList<>();
      for (int i = 0; i < g.datasetNames().size(); i++) {
        String name = g.datasetNames().get(i);
        DatasetInfo info;
        try {
          info = registry.lookup(g.type(), name);
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException("dataset group " + g.name() + ": " + e.getMessage(), e);
        }
        Long used = g.numUsedData() == null ? null : g.numUsedData().get(i);
        datasets.add(new GroupDataset(source(g, name, info, options), format, used, countsFiles(format)));
      }
      out.add(new GroupSpec(g.name(), g.weight(), g.isMandatory(), g.resumeDataStatus(), g.shuffleLines(),
          g.shuffleSeed(), datasets, planner(transforms.create(g.imageTransformArgs()),
              transforms.create(g.vitTransform()))));
    }
    return out;
  }

  /** A group with {@code source:}: messages records from a live source, planned as a static group's. */
  private GroupSpec liveGroup(DatasetGroup g) {
    if (!g.type().equals("messages") && !g.type().equals("lmms")) {
      throw new IllegalArgumentException("dataset group " + g.name() + ": a live source carries messages records;"
          + " type '" + g.type() + "' is not supported for it");
    }
    checkStrides(g, DatasetFormats.MESSAGES);
    ReadOptions options = ReadOptions.DEFAULTS.withSeed(config.dataSeed()).withRowsPerUnit(config.rowsPerUnit());
    return GroupSpec.live(g.name(), g.weight(), g.isMandatory(), g.resumeDataStatus(),
        planner(transforms.create(g.imageTransformArgs()), transforms.create(g.vitTransform())),
        g.source().spec(g.name(), options));
  }

  /**
   * One group from LMMS Engine's {@code dataset_config}: its {@code datasets:} list (path, data_folder,
   * data_type) read as {@code messages}, BAGEL's transforms. Use {@link #lmmsDataConfig} for its packing keys.
   *
   * @param base where relative paths in the list resolve (the config file's folder)
   */
  public List<GroupSpec> fromLmms(JsonNode datasetConfig, Path base, String where) throws IOException {
    ReadOptions options = ReadOptions.DEFAULTS.withSeed(config.dataSeed()).withRowsPerUnit(config.rowsPerUnit());
    List<GroupDataset> datasets = new ArrayList<>();
    for (MessagesYaml.Entry e : MessagesYaml.entries(datasetConfig, base, where, options)) {
      datasets.add(new GroupDataset(e.source(), e.format(), null, false));
    }
    boolean shuffle = datasetConfig.path("shuffle").asBoolean(true);
    return List.of(new GroupSpec("lmms", 1.0, false, true, shuffle, config.dataSeed(), datasets,
        planner(transforms.create(LMMS_VAE), transforms.create(LMMS_VIT))));
  }

  /**
   * {@code base} with LMMS Engine's packing keys of a {@code dataset_config} applied: {@code packing},
   * {@code packing_strategy} (first_fit; unknown strategies are refused), {@code packing_length},
   * {@code filter_overlong}, {@code data_seed}.
   */
  public static DataConfig lmmsDataConfig(JsonNode datasetConfig, DataConfig base, String where) {
    DataConfig c = base;
    boolean packing = datasetConfig.path("packing").asBoolean(false);
    String strategy = datasetConfig.path("packing_strategy").asText(DataConfig.FIRST_FIT);
    if (packing && !DataConfig.FIRST_FIT.equals(strategy)) {
      throw new IllegalArgumentException(where + ": dataset_config.packing_strategy '" + strategy
          + "' is not supported (first_fit is)");
    }
    int length = datasetConfig.path("packing_length").asInt(32000);
    if (length <= 0) {
      throw new IllegalArgumentException(where + ": dataset_config.packing_length must be positive, got " + length);
    }
    // without packing LMMS Engine trains one sample per step: first_fit with room for one sample
    c = c.withPacking(DataConfig.FIRST_FIT, packing ? length : 1, datasetConfig.path("filter_overlong")
        .asBoolean(packing));
    if (datasetConfig.hasNonNull("data_seed")) {
      c = c.withLoading(c.numWorkers(), c.prefetch(), datasetConfig.get("data_seed").asLong());
    }
    return c;
  }

  private SequencePlanner planner(ai.bakery.data.plan.ImagePreparer vae, ai.bakery.data.plan.ImagePreparer vit) {
    return new SequencePlanner(config, tokens, encoder, vae, vit);
  }

  private static boolean countsFiles(DatasetFormat format) {
    return format == DatasetFormats.T2I || format == DatasetFormats.EDIT;
  }

  private static DatasetSource source(DatasetGroup g, String name, DatasetInfo info, ReadOptions options) {
    String at = "dataset group " + g.name() + ", dataset " + name;
    if (g.type().equals("vlm_sft") || g.type().equals("vlm")) {
      if (info.jsonlPath() == null) {
        throw new IllegalArgumentException(at + ": the registry entry needs jsonl_path");
      }
      Path media = info.imagePrefixDir() != null ? info.imagePrefixDir() : info.dataDir();
      return new DatasetSource(name, info.jsonlPath(), media, options);
    }
    if (g.type().equals("messages") || g.type().equals("lmms")) {
      Path records = info.jsonlPath() != null ? info.jsonlPath() : info.dataDir();
      return new DatasetSource(name, records, info.imagePrefixDir(), options);
    }
    if (info.dataDir() == null) {
      throw new IllegalArgumentException(at + ": the registry entry needs data_dir");
    }
    return new DatasetSource(name, info.dataDir(), null, options);
  }

  private void checkStrides(DatasetGroup g, DatasetFormat format) {
    boolean vae = format != DatasetFormats.VLM;
    boolean vit = format != DatasetFormats.T2I;
    if (vae && g.imageTransformArgs().imageStride() % config.vaeImageDownsample() != 0) {
      throw new IllegalArgumentException("dataset group " + g.name() + ": image_transform_args.image_stride "
          + g.imageTransformArgs().imageStride() + " must be a multiple of the VAE downsample "
          + config.vaeImageDownsample());
    }
    if (vit && g.vitTransform().imageStride() % config.vitPatchSize() != 0) {
      String key = g.vitImageTransformArgs() != null ? "vit_image_transform_args" : "image_transform_args";
      throw new IllegalArgumentException("dataset group " + g.name() + ": " + key + ".image_stride "
          + g.vitTransform().imageStride() + " must be a multiple of vit_patch_size " + config.vitPatchSize());
    }
  }
}

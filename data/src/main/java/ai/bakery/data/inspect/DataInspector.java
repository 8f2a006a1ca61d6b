package ai.bakery.data.inspect;

import ai.bakery.data.DataConfig;
import ai.bakery.data.DataPipeline;
import ai.bakery.data.group.PipelineFactory;
import ai.bakery.data.text.TextTokenizer;
import java.nio.file.Path;
import ai.bakery.data.pack.PackedBatch;
import ai.bakery.data.plan.SpecialTokens;
import ai.bakery.data.shard.GroupDataset;
import ai.bakery.data.shard.GroupSpec;
import ai.bakery.data.shard.ShardAssignment;
import ai.bakery.data.shard.ShardSlot;
import ai.bakery.data.source.SkipCounter;
import ai.bakery.data.source.SkipReason;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code bakery data inspect}: what a dataset YAML gives before a run spends GPU time on it. Lists every
 * group's units and rows, then packs a number of packs on one rank exactly as training would and reports
 * tokens per pack, padding (to the fixed length packs are padded to: max_num_tokens for the reference packer,
 * packing_length for first_fit), samples per group and skips per reason.
 */
public final class DataInspector {
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  /**
   * A group's data.
   *
   * @param units shard units selected by num_used_data (repeats included)
   * @param rows records in those units
   * @param maxReaders the most ranks x loader workers the group can feed
   * @param samplesPacked samples of the group in the inspected packs
   */
  public record GroupReport(@JsonProperty("name") String name, @JsonProperty("weight") double weight,
      @JsonProperty("is_mandatory") boolean mandatory, @JsonProperty("datasets") List<String> datasets,
      @JsonProperty("units") int units, @JsonProperty("rows") long rows, @JsonProperty("max_readers") int maxReaders,
      @JsonProperty("samples_packed") long samplesPacked) {}

  /**
   * The whole report.
   *
   * @param padTo the length packs are padded to for the padding ratio
   * @param paddingRatio padding tokens / padded tokens over the inspected packs
   */
  public record Report(@JsonProperty("groups") List<GroupReport> groups, @JsonProperty("packs") int packs,
      @JsonProperty("packing_strategy") String packingStrategy, @JsonProperty("pad_to") int padTo,
      @JsonProperty("tokens_total") long tokensTotal, @JsonProperty("tokens_per_pack_min") int tokensMin,
      @JsonProperty("tokens_per_pack_mean") double tokensMean, @JsonProperty("tokens_per_pack_max") int tokensMax,
      @JsonProperty("samples_per_pack_mean") double samplesMean, @JsonProperty("padding_ratio") double paddingRatio,
      @JsonProperty("vae_images") long vaeImages, @JsonProperty("vit_images") long vitImages,
      @JsonProperty("skips") Map<String, Long> skips) {

    public String toJson() {
      try {
        return JSON.writeValueAsString(this);
      } catch (JsonProcessingException e) {
        throw new IllegalStateException(e);
      }
    }
  }

  private DataInspector() {}

  /**
   * {@code bakery data inspect <dataset yaml>}: resolves the YAML with the given tokenizer and the reference's
   * image transforms, then {@link #inspect(List, DataConfig, SpecialTokens, int)}.
   *
   * @param registry the dataset-info registry, or null for the YAML's {@code dataset_info:}
   */
  public static Report inspect(Path yaml, Path registry, DataConfig config, TextTokenizer tokenizer, int packs)
      throws IOException {
    List<GroupSpec> groups = PipelineFactory.standard(config, tokenizer).fromYamlFile(yaml, registry);
    return inspect(groups, config, tokenizer.specialTokens(), packs);
  }

  /**
   * @param groups the resolved groups ({@link ai.bakery.data.group.PipelineFactory})
   * @param packs how many packs to build (on rank 0 of 1, one loader worker)
   */
  public static Report inspect(List<GroupSpec> groups, DataConfig config, SpecialTokens tokens, int packs)
      throws IOException {
    Map<String, String> groupOfDataset = new HashMap<>();
    List<long[]> unitRows = new ArrayList<>();
    for (GroupSpec g : groups) {
      for (GroupDataset d : g.datasets()) {
        groupOfDataset.put(d.source().name(), g.name());
      }
      List<ShardSlot> slots = ShardAssignment.usedSlots(g.name(), g.datasets(), g.shuffleLines(), g.shuffleSeed());
      unitRows.add(new long[] {slots.size(), slots.stream().mapToLong(ShardSlot::endRow).sum()});
    }
    DataConfig one = config.withLoading(1, config.prefetch(), config.dataSeed());
    SkipCounter skips = new SkipCounter();
    Map<String, Long> samplesPerGroup = new LinkedHashMap<>();
    long total = 0;
    long samples = 0;
    long vae = 0;
    long vit = 0;
    int min = Integer.MAX_VALUE;
    int max = 0;
    try (DataPipeline pipeline = DataPipeline.builder().setGroups(groups).setConfig(one).setTokens(tokens)
        .setRank(0, 1).optSkips(skips).build()) {
      for (int i = 0; i < packs; i++) {
        PackedBatch b = pipeline.next();
        total += b.sequenceLength();
        min = Math.min(min, b.sequenceLength());
        max = Math.max(max, b.sequenceLength());
        samples += b.sampleKeys().length;
        vae += b.numVaeImages();
        vit += b.numVitImages();
        for (String key : b.sampleKeys()) {
          String dataset = key.substring(0, Math.max(0, key.indexOf('/')));
          samplesPerGroup.merge(groupOfDataset.getOrDefault(dataset, "?"), 1L, Long::sum);
        }
      }
    }
    List<GroupReport> reports = new ArrayList<>();
    for (int g = 0; g < groups.size(); g++) {
      GroupSpec spec = groups.get(g);
      reports.add(new GroupReport(spec.name(), spec.weight(), spec.mandatory(),
          spec.datasets().stream().map(d -> d.source().name()).toList(), (int) unitRows.get(g)[0],
          unitRows.get(g)[1], (int) unitRows.get(g)[0], samplesPerGroup.getOrDefault(spec.name(), 0L)));
    }
    int padTo = DataConfig.FIRST_FIT.equals(config.packingStrategy()) ? config.packingLength()
        : config.maxNumTokens();
    long padded = 0;
    // a pack longer than the pad length (an overlong first_fit sample kept alone) pads to itself
    padded = Math.max((long) packs * padTo, total);
    Map<String, Long> skipMap = new LinkedHashMap<>();
    for (Map.Entry<SkipReason, Long> e : skips.snapshot().entrySet()) {
      skipMap.put(e.getKey().name(), e.getValue());
    }
    return new Report(reports, packs, config.packingStrategy(), padTo, total, packs == 0 ? 0 : min,
        packs == 0 ? 0 : total / (double) packs, max, packs == 0 ? 0 : samples / (double) packs,
        padded == 0 ? 0 : 1.0 - total / (double) padded, vae, vit, skipMap);
  }
}

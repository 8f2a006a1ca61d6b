package ai.bakery.data.bench;

import ai.bakery.data.DataConfig;
import ai.bakery.data.DataPipeline;
import ai.bakery.data.example.ExampleDataset;
import ai.bakery.data.group.PipelineFactory;
import ai.bakery.data.text.TextTokenizer;
import java.nio.file.Path;
import ai.bakery.data.pack.PackedBatch;
import ai.bakery.data.plan.SpecialTokens;
import ai.bakery.data.sample.SampleItem;
import ai.bakery.data.shard.GroupDataset;
import ai.bakery.data.shard.GroupSpec;
import ai.bakery.data.shard.ShardAssignment;
import ai.bakery.data.shard.ShardSlot;
import ai.bakery.data.source.PositionedSample;
import ai.bakery.data.source.SampleCursor;
import ai.bakery.data.source.SkipCounter;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code bakery bench data}: how fast the pipeline packs (tokens/s, images/s with its configured loader
 * workers) next to how fast one thread can merely decode the same images, measured in the same run, and the
 * ratio. A ratio well below the worker count means planning and packing, not decoding, is the bottleneck.
 */
public final class DataBench {
  /** One result line: what, value, unit. */
  public record Row(String metric, double value, String unit) {}

  private DataBench() {}

  /**
   * The standard benchmark: writes the example dataset under {@code dir} (H3a's {@link ExampleDataset}, default
   * sizes) and runs {@link #run} on it with the shipped tiny tokenizer and the reference's image transforms.
   */
  public static List<Row> onExample(Path dir, DataConfig config, int packs) throws IOException {
    ExampleDataset.Summary example = ExampleDataset.write(dir, ExampleDataset.Options.DEFAULTS);
    try (TextTokenizer tokenizer = TextTokenizer.tiny()) {
      List<GroupSpec> groups = PipelineFactory.standard(config, tokenizer).fromYamlFile(example.groupsYaml(), null);
      return run(groups, config, tokenizer.specialTokens(), Math.max(1, packs / 10), packs, 256);
    }
  }

  /**
   * @param groups the resolved groups (the example dataset for the standard benchmark)
   * @param warmupPacks packs taken before timing (class loading, first file opens)
   * @param packs packs timed
   * @param decodeImages images decoded for the raw rate (fewer if the data has fewer)
   */
  public static List<Row> run(List<GroupSpec> groups, DataConfig config, SpecialTokens tokens, int warmupPacks,
      int packs, int decodeImages) throws IOException {
    long tokensPacked = 0;
    long images = 0;
    long samples = 0;
    double seconds;
    try (DataPipeline pipeline = DataPipeline.builder().setGroups(groups).setConfig(config).setTokens(tokens)
        .setRank(0, 1).optSkips(new SkipCounter()).build()) {
      for (int i = 0; i < warmupPacks; i++) {
        pipeline.next();
      }
      long start = System.nanoTime();
      for (int i = 0; i < packs; i++) {
        PackedBatch b = pipeline.next();
        tokensPacked += b.sequenceLength();
        images += b.numVaeImages() + b.numVitImages();
        samples += b.sampleKeys().length;
      }
      seconds = (System.nanoTime() - start) / 1e9;
    }
    double decodeRate = decodeRate(groups, decodeImages);
    double imagesPerSecond = images / seconds;
    List<Row> rows = new ArrayList<>();
    rows.add(new Row("packs_per_s", packs / seconds, "packs/s"));
    rows.add(new Row("packed_tokens_per_s", tokensPacked / seconds, "tokens/s"));
    rows.add(new Row("packed_samples_per_s", samples / seconds, "samples/s"));
    rows.add(new Row("packed_images_per_s", imagesPerSecond, "images/s"));
    rows.add(new Row("raw_decode_images_per_s", decodeRate, "images/s (1 thread)"));
    rows.add(new Row("packed_to_decode_ratio", decodeRate == 0 ? 0 : imagesPerSecond / decodeRate, "x"));
    rows.add(new Row("loader_workers", config.numWorkers(), "threads"));
    return rows;
  }

  /** Images decoded per second by one thread reading the groups' first units, nothing else. */
  static double decodeRate(List<GroupSpec> groups, int limit) throws IOException {
    List<SampleItem.Image> found = new ArrayList<>();
    SkipCounter skips = new SkipCounter();
    for (GroupSpec g : groups) {
      for (ShardSlot slot : ShardAssignment.usedSlots(g.name(), g.datasets(), false, 0)) {
        if (found.size() >= limit) {
          break;
        }
        GroupDataset d = g.datasets().get(slot.dataset());
        try (SampleCursor c = d.format().open(d.source(), slot.unit(), 0, skips)) {
          while (c.hasNext() && found.size() < limit) {
            PositionedSample ps = c.next();
            for (SampleItem item : ps.sample().items()) {
              if (item instanceof SampleItem.Image image) {
                found.add(image);
              }
            }
          }
        }
      }
    }
    if (found.isEmpty()) {
      return 0;
    }
    long start = System.nanoTime();
    int decoded = 0;
    for (SampleItem.Image image : found) {
      try {
        image.source().load();
        decoded++;
      } catch (IOException | RuntimeException e) {
        // counted by the pipeline as a skip; here it only does not count as decoded
      }
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    return decoded / Math.max(seconds, 1e-9);
  }
}

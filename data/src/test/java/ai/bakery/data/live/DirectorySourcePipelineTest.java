package ai.bakery.data.live;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.data.DataConfig;
import ai.bakery.data.DataPipeline;
import ai.bakery.data.group.DatasetGroups;
import ai.bakery.data.group.DatasetInfoRegistry;
import ai.bakery.data.group.PipelineFactory;
import ai.bakery.data.pack.PackedBatch;
import ai.bakery.data.plan.SpecialTokens;
import ai.bakery.data.shard.DataPosition;
import ai.bakery.data.shard.GroupSpec;
import ai.bakery.data.source.SkipReason;
import ai.bakery.data.testing.TinyDatasets;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A watched folder as a dataset group, mixed with a static group, through the real packer. */
class DirectorySourcePipelineTest {
  static final SpecialTokens TOKENS = new SpecialTokens(2000, 2001, 2002, 2003);
  static final DataConfig CONFIG = DataConfig.defaults().withTokens(60, 72, 48, 30, 3).withRowsPerUnit(16)
      .withLoading(1, 2, 7);
  static final long DEADLINE_MS = 30_000;

  @TempDir Path dir;

  private List<GroupSpec> groups(Path incoming, double liveWeight) throws IOException {
    return groups(incoming, liveWeight, false);
  }

  private List<GroupSpec> groups(Path incoming, double liveWeight, boolean mandatory) throws IOException {
    TinyDatasets.write(dir, 40);
    Path yaml = dir.resolve("live.yaml");
    Files.writeString(yaml, """
        dataset_info: dataset_info.yaml
        vlm_sft:
          dataset_names: [llava_tiny]
          image_transform_args: {image_stride: 14, max_image_size: 56, min_image_size: 14}
          weight: 1
        incoming:
          weight: %s
          is_mandatory: %s
          image_transform_args: {image_stride: 16, max_image_size: 64, min_image_size: 16}
          vit_image_transform_args: {image_stride: 14, max_image_size: 56, min_image_size: 14}
          source: {type: directory, path: '%s', poll_ms: 10, rescan_ms: 200, buffer: 8}
        """.formatted(liveWeight, mandatory, incoming));
    DatasetGroups g = DatasetGroups.load(yaml);
    assertTrue(g.group("incoming").isLive());
    assertEquals("messages", g.group("incoming").type());
    return new PipelineFactory(CONFIG, TOKENS, TinyDatasets.WORDS, TinyDatasets.CROP)
        .fromYaml(g, DatasetInfoRegistry.load(g.datasetInfo()));
  }

  private static DataPipeline pipeline(List<GroupSpec> groups, DataPosition restore) throws IOException {
    return DataPipeline.builder().setGroups(groups).setConfig(CONFIG).setTokens(TOKENS).setRank(0, 1)
        .optRestore(restore).build();
  }

  private static Set<String> keys(Path file, String group, long[] offsets) {
    Set<String> out = new HashSet<>();
    for (long o : offsets) {
      out.add(group + "/" + file.getFileName() + "@" + o);
    }
    return out;
  }

  /** Takes packs until {@code want} live keys have been delivered (or the deadline), adding them to seen. */
  private static void drain(DataPipeline p, List<String> seen, int want, Runnable afterFirstPacks) {
    long deadline = System.currentTimeMillis() + DEADLINE_MS;
    int packs = 0;
    while (seen.size() < want && System.currentTimeMillis() < deadline) {
      PackedBatch b = p.next().validate();
      for (String k : b.sampleKeys()) {
        if (k.startsWith("incoming/")) {
          seen.add(k);
        }
      }
      if (++packs == 3 && afterFirstPacks != null) {
        afterFirstPacks.run();
      }
    }
  }

  @Test
  void linesAppendedDuringARunArePackedOnceEach() throws IOException {
    Path incoming = Files.createDirectories(dir.resolve("incoming"));
    Path a = incoming.resolve("a.jsonl");
    Path b = incoming.resolve("b.jsonl");
    Set<String> expected = new HashSet<>(keys(a, "incoming", LiveTestData.append(a,
        LiveTestData.record("d0"), LiveTestData.record("d1"), LiveTestData.record("d2"), LiveTestData.record("d3"))));
    List<String> seen = new ArrayList<>();
    try (DataPipeline p = pipeline(groups(incoming, 1), null)) {
      drain(p, seen, 15, () -> {
        try {
          String[] more = new String[6];
          for (int i = 0; i < 6; i++) {
            more[i] = LiveTestData.record("d" + (4 + i));
          }
          expected.addAll(keys(a, "incoming", LiveTestData.append(a, more)));
          LiveTestData.append(a, "{not json"); // counted, never packed
          expected.addAll(keys(b, "incoming", LiveTestData.append(b, LiveTestData.record("d10"),
              LiveTestData.record("d11"), LiveTestData.record("d12"), LiveTestData.record("d13"),
              LiveTestData.record("d14"))));
          LiveTestData.append(b, "{\"messages\": [{\"role\": \"robot\", \"content\": \"x\"}]}");
        } catch (IOException e) {
          throw new RuntimeException(e);
        }
      });
      assertEquals(15, expected.size());
      assertEquals(expected, new HashSet<>(seen), "every appended line is packed");
      assertEquals(seen.size(), new HashSet<>(seen).size(), "each once: " + seen);
      assertTrue(p.skips().count(SkipReason.MALFORMED_JSON) >= 1, p.skips().toString());
      assertTrue(p.skips().count(SkipReason.UNKNOWN_CONTENT_TYPE) >= 1, p.skips().toString());
    }
  }

  @Test
  void restoredRunContinuesAfterTheLastDeliveredSample() throws IOException {
    Path incoming = Files.createDirectories(dir.resolve("incoming"));
    Path c = incoming.resolve("c.jsonl");
    String[] lines = new String[30];
    for (int i = 0; i < lines.length; i++) {
      lines[i] = LiveTestData.record("r" + i);
    }
    Set<String> expected = keys(c, "incoming", LiveTestData.append(c, lines));
    List<GroupSpec> groups = groups(incoming, 3);
    List<String> first = new ArrayList<>();
    DataPosition saved;
    try (DataPipeline p = pipeline(groups, null)) {
      drain(p, first, 10, null);
      saved = DataPosition.fromJson(p.position().toJson());
    }
    assertTrue(first.size() >= 10 && first.size() < 30, "stopped mid-file: " + first.size());
    assertTrue(saved.workers().get(0).live().containsKey("incoming"), saved.toJson());
    List<String> second = new ArrayList<>();
    try (DataPipeline p = pipeline(groups, saved)) {
      drain(p, second, 30 - first.size(), null);
    }
    List<String> all = new ArrayList<>(first);
    all.addAll(second);
    assertEquals(expected, new HashSet<>(all), "the resumed run reads what the first did not deliver");
    assertEquals(all.size(), new HashSet<>(all).size(), "nothing twice across the restart: " + all);
  }

  @Test
  void mandatoryLiveGroupIsInEveryPackAndWeightsDrawTheRest() throws IOException {
    Path incoming = Files.createDirectories(dir.resolve("incoming"));
    String[] lines = new String[300];
    for (int i = 0; i < lines.length; i++) {
      lines[i] = LiveTestData.record("m" + i);
    }
    LiveTestData.append(incoming.resolve("m.jsonl"), lines);
    int live = 0;
    int all = 0;
    try (DataPipeline p = pipeline(groups(incoming, 1, true), null)) {
      for (int i = 0; i < 12; i++) {
        PackedBatch b = p.next().validate();
        long inPack = java.util.Arrays.stream(b.sampleKeys()).filter(k -> k.startsWith("incoming/")).count();
        assertTrue(inPack >= 1, "a mandatory live group is in every pack: " + List.of(b.sampleKeys()));
        live += (int) inPack;
        all += b.sampleKeys().length;
      }
    }
    // one mandatory sample per pack, then equal weights: live samples are well above a third of the total
    assertTrue(live > all / 3 && live < all, live + " live of " + all);
  }

  @Test
  void idleLiveGroupDoesNotStallTheStaticOnes() throws IOException {
    Path incoming = Files.createDirectories(dir.resolve("incoming"));
    long t0 = System.nanoTime();
    try (DataPipeline p = pipeline(groups(incoming, 10), null)) {
      for (int i = 0; i < 6; i++) {
        PackedBatch b = p.next().validate();
        for (String k : b.sampleKeys()) {
          assertFalse(k.startsWith("incoming/"), k);
        }
      }
    }
    assertTrue((System.nanoTime() - t0) / 1e9 < 20, "packs kept coming while the live group was empty");
  }
}

package ai.bakery.data.shard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.data.DataConfig;
import ai.bakery.data.DataPipeline;
import ai.bakery.data.group.DatasetGroups;
import ai.bakery.data.group.DatasetInfoRegistry;
import ai.bakery.data.group.PipelineFactory;
import ai.bakery.data.pack.PackedBatch;
import ai.bakery.data.plan.SpecialTokens;
import ai.bakery.data.testing.TinyDatasets;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Exact resume through real parquet / JSONL files, across 1, 2 and 3 ranks with 2 loader workers each. */
class DataPipelineRestoreTest {
  static final SpecialTokens TOKENS = new SpecialTokens(2000, 2001, 2002, 2003);
  @TempDir static Path dir;
  static List<GroupSpec> groups;
  static DataConfig config;

  @BeforeAll
  static void writeData() throws IOException {
    Path yaml = TinyDatasets.write(dir, 160);
    DatasetGroups g = DatasetGroups.load(yaml);
    // small packs so the overflow buffer and mandatory samples are exercised every few samples
    config = DataConfig.defaults().withTokens(60, 72, 48, 30, 3).withRowsPerUnit(16).withLoading(2, 2, 7);
    groups = new PipelineFactory(config, TOKENS, TinyDatasets.WORDS, TinyDatasets.CROP)
        .fromYaml(g, DatasetInfoRegistry.load(g.datasetInfo()));
  }

  static DataPipeline pipeline(int rank, int world, DataPosition restore) throws IOException {
    return pipeline(config, rank, world, restore);
  }

  static DataPipeline pipeline(DataConfig c, int rank, int world, DataPosition restore) throws IOException {
    return DataPipeline.builder().setGroups(groups).setConfig(c).setTokens(TOKENS).setRank(rank, world)
        .optRestore(restore).build();
  }

  @Test
  void firstFitPipelineRestoresItsPendingSample() throws IOException {
    DataConfig ff = config.withPacking(DataConfig.FIRST_FIT, 80, true);
    List<PackedBatch> straight = new ArrayList<>();
    try (DataPipeline p = pipeline(ff, 1, 2, null)) {
      for (int i = 0; i < 10; i++) {
        PackedBatch b = p.next().validate();
        assertTrue(b.sequenceLength() <= 80);
        straight.add(b);
      }
    }
    DataPosition saved;
    try (DataPipeline p = pipeline(ff, 1, 2, null)) {
      for (int i = 0; i < 4; i++) {
        assertTrue(straight.get(i).contentEquals(p.next()), "deterministic pack " + i);
      }
      saved = DataPosition.fromJson(p.position().toJson());
    }
    assertTrue(saved.workers().stream().allMatch(w -> w.packer().held().size() == 1),
        "first_fit holds the sample that did not fit");
    try (DataPipeline p = pipeline(ff, 1, 2, saved)) {
      for (int i = 4; i < 10; i++) {
        assertTrue(straight.get(i).contentEquals(p.next()), "pack " + i);
      }
    }
  }

  @Test
  void restoredPipelineYieldsTheNextPacksExactly() throws IOException {
    boolean sawHeldSamples = false;
    for (int world = 1; world <= 3; world++) {
      Set<String> firstKeysPerRank = new HashSet<>();
      for (int rank = 0; rank < world; rank++) {
        int k = 5 + rank;
        int m = 7;
        List<PackedBatch> straight = new ArrayList<>();
        String json = null;
        try (DataPipeline p = pipeline(rank, world, null)) {
          for (int i = 0; i < k + m; i++) {
            if (i == k) {
              json = p.position().toJson(); // as a checkpoint would, without disturbing the stream
            }
            straight.add(p.next().validate());
          }
        }
        DataPosition saved = DataPosition.fromJson(json);
        assertEquals(k, saved.packs());
        sawHeldSamples |= saved.workers().stream().anyMatch(w -> !w.packer().held().isEmpty());
        try (DataPipeline p = pipeline(rank, world, saved)) {
          for (int i = 0; i < m; i++) {
            PackedBatch next = p.next();
            assertTrue(straight.get(k + i).contentEquals(next), "world " + world + " rank " + rank
                + " pack " + (k + i) + ": " + Arrays.toString(next.sampleKeys()) + " vs "
                + Arrays.toString(straight.get(k + i).sampleKeys()));
          }
        }
        firstKeysPerRank.add(straight.get(0).sampleKeys()[0]);
      }
      assertEquals(world, firstKeysPerRank.size(), "ranks read different data");
    }
    assertTrue(sawHeldSamples, "some saved position held buffered samples, so the buffer restore was tested");
  }

  @Test
  void everyPackHasOneMandatorySampleAndStaysUnderMaxTokens() throws IOException {
    try (DataPipeline p = pipeline(0, 1, null)) {
      for (int i = 0; i < 20; i++) {
        PackedBatch b = p.next();
        assertTrue(b.sampleKeys()[0].startsWith("t2i/"), Arrays.toString(b.sampleKeys()));
        assertTrue(b.sequenceLength() <= 72);
      }
    }
  }

  @Test
  void tooFewUnitsForRanksTimesWorkersFailsAtStartNamingTheGroup() {
    // t2i has 6 row groups; 4 ranks x 2 workers need 8
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> pipeline(0, 4, null));
    assertTrue(e.getMessage().contains("t2i_pretrain") && e.getMessage().contains("6 shard units")
        && e.getMessage().contains("4 ranks x 2 loader workers"), e.getMessage());
  }

  @Test
  void groupWithResumeDataStatusFalseRestartsWhileOthersContinue() throws IOException {
    DataPosition saved;
    try (DataPipeline p = pipeline(0, 1, null)) {
      for (int i = 0; i < 6; i++) {
        p.next();
      }
      saved = p.position();
    }
    List<GroupSpec> noResume = groups.stream().map(g -> g.name().equals("vlm_sft")
        ? new GroupSpec(g.name(), g.weight(), g.mandatory(), false, g.shuffleLines(), g.shuffleSeed(), g.datasets(),
            g.planner())
        : g).toList();
    try (DataPipeline p = DataPipeline.builder().setGroups(noResume).setConfig(config).setTokens(TOKENS)
        .setRank(0, 1).optRestore(saved).build()) {
      DataPosition now = p.position();
      for (int w = 0; w < 2; w++) {
        assertEquals(saved.workers().get(w).groups().get("t2i_pretrain"),
            now.workers().get(w).groups().get("t2i_pretrain"));
        assertEquals(GroupCursor.START, now.workers().get(w).groups().get("vlm_sft"));
        assertTrue(now.workers().get(w).packer().held().stream().noneMatch(r -> r.group() == 1),
            "buffered samples of a restarted group are dropped");
      }
      p.next().validate();
    }
  }

  @Test
  void positionFromAnotherLayoutIsRefused() throws IOException {
    DataPosition p;
    try (DataPipeline d = pipeline(0, 1, null)) {
      d.next();
      p = d.position();
    }
    DataPosition pos = p;
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> pipeline(0, 2, pos));
    assertTrue(e.getMessage().contains("same layout"), e.getMessage());
    // the elastic restore starts every group's next pass on the new layout instead
    try (DataPipeline d = DataPipeline.builder().setGroups(groups).setConfig(config).setTokens(TOKENS)
        .setRank(1, 2).optElasticRestore(pos).build()) {
      DataPosition now = d.position();
      long oldPass = pos.workers().stream().mapToLong(w -> w.groups().get("t2i_pretrain").pass()).max()
          .orElseThrow();
      assertEquals(new GroupCursor(0, 0, oldPass + 1), now.workers().get(0).groups().get("t2i_pretrain"));
      d.next().validate();
    }
  }
}

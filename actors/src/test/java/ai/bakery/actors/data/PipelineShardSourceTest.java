package ai.bakery.actors.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.actors.TinyJob;
import ai.bakery.data.pack.PackedBatch;
import ai.bakery.data.pack.PackedBatchArrow;
import ai.bakery.runtime.config.JobConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PipelineShardSourceTest {
  @TempDir
  static Path dir;

  private static List<byte[]> take(BatchSource s, int n, List<String> positions) throws Exception {
    List<byte[]> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(s.next().orElseThrow());
      positions.add(s.position());
    }
    return out;
  }

  @Test
  void reopenedAtAPositionYieldsTheSamePacks() throws Exception {
    JobConfig job = TinyJob.config(dir, 1);
    BatchSource.Factory shards = PipelineShardSource.factory(job, 1);
    List<String> positions = new ArrayList<>();
    List<byte[]> first;
    try (BatchSource s = shards.open("shard-0", "")) {
      first = take(s, 5, positions);
    }
    PackedBatch decoded = PackedBatchArrow.fromIpcBytes(first.get(0));
    assertTrue(decoded.sequenceLength() > 0 && decoded.sampleLens().length > 0, "a real pack");
    try (BatchSource s = shards.open("shard-0", positions.get(1))) {
      List<byte[]> again = take(s, 3, new ArrayList<>());
      for (int i = 0; i < 3; i++) {
        assertArrayEquals(first.get(i + 2), again.get(i), "pack " + (i + 2) + " after restoring at pack 2");
      }
    }
    assertFalse(Arrays.equals(first.get(0), first.get(1)), "packs differ");
  }

  @Test
  void badShardNamesAreRefusedByName() throws Exception {
    BatchSource.Factory shards = PipelineShardSource.factory(TinyJob.config(dir, 1), 2);
    // the example's VLM group has one unit: two shards of it are refused by the data module, naming the group
    IllegalArgumentException few = assertThrows(IllegalArgumentException.class, () -> shards.open("shard-1", ""));
    assertTrue(few.getMessage().contains("vlm_sft"), few.getMessage());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> shards.open("shard-2", ""));
    assertTrue(e.getMessage().contains("shard-2") && e.getMessage().contains("2 shards"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> shards.open("s0", ""));
    assertTrue(e.getMessage().contains("'s0'"), e.getMessage());
  }
}

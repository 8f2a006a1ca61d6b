package ai.bakery.actors.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.actors.job.BatchId;
import ai.bakery.actors.job.DataLedger;
import ai.bakery.actors.job.JobEffect;
import ai.bakery.actors.job.JobSnapshot;
import ai.bakery.actors.worker.CheckpointWriter;
import ai.bakery.actors.worker.ClusterRank;
import ai.bakery.data.pack.PackedBatch;
import ai.bakery.model.tensor.Torch;
import ai.bakery.runtime.checkpoint.CheckpointException;
import ai.bakery.runtime.checkpoint.CompleteMarker;
import ai.bakery.runtime.checkpoint.ShardedCheckpoint;
import ai.bakery.runtime.checkpoint.ShardedReader;
import ai.bakery.runtime.checkpoint.ShardedTensor;
import ai.bakery.runtime.collective.CollectiveFactory;
import ai.bakery.runtime.train.TrainStep;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Cluster checkpoints on disk: three ranks' writers save parts of a small state, the coordinator commits them with
 * the job's snapshot; a torn newest checkpoint (a rank part missing or truncated, no COMPLETE, no job snapshot) is
 * passed over for the previous complete one, with the reason; a commit with a part missing is refused.
 */
class ClusterCheckpointsTest {
  static final List<String> RANKS = List.of("w0", "w1", "w2");

  @TempDir
  Path dir;

  Path root;
  ClusterCheckpoints checkpoints;

  @BeforeEach
  void setUp() {
    Torch.init();
    root = dir.resolve("checkpoints");
    checkpoints = new ClusterCheckpoints(root, 0, true);
  }

  /** A rank holding two whole tensors whose values depend on the step (data parallel: every rank the same). */
  static final class TinyRank implements ClusterRank {
    final NDManager manager = NDManager.newBaseManager();
    final Map<String, NDArray> model = new LinkedHashMap<>();

    TinyRank(long step) {
      model.put("a.weight", manager.arange(0f, 10f).add(step).reshape(2, 5));
      model.put("b.bias", manager.arange(0f, 7f).mul(step));
    }

    @Override
    public CheckpointPart checkpointPart(int index, int ranks) {
      return new CheckpointPart(index, ranks, Map.of("model", ShardedTensor.allOfFull(model, index, ranks)), Map.of(),
          index == 0 ? Map.of("train_state.json", "{\"step\": 1}") : Map.of());
    }

    @Override
    public Groups join(long generation, int rank, int world, CollectiveFactory factory) {
      throw new UnsupportedOperationException();
    }

    @Override
    public long heldStep() {
      return 0;
    }

    @Override
    public void takeState(int root, long[] held) {}

    @Override
    public TrainStep.Pending compute(long step, Supplier<PackedBatch> batches) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void commit() {}

    @Override
    public void abort() {}

    @Override
    public String describe() {
      return "tiny";
    }

    @Override
    public void export(Path file, long committedStep) {}

    @Override
    public void close() {
      manager.close();
    }
  }

  static JobSnapshot snapshot(long step) {
    Map<Long, List<BatchId>> committed = new LinkedHashMap<>();
    for (long s = 1; s <= step; s++) {
      committed.put(s, List.of(new BatchId("shard-0", 2 * s - 2), new BatchId("shard-0", 2 * s - 1)));
    }
    return new JobSnapshot(4, step, committed, List.of(new BatchId("shard-0", 2 * step)),
        List.of(new DataLedger.Position("shard-0", 2 * step - 1, "{\"pos\":" + step + "}")));
  }

  /** Three ranks write their parts of job step {@code step}; {@code commit} has the coordinator commit it. */
  JobEffect.CommitCheckpoint save(long step, int parts, boolean commit) throws Exception {
    String saveId = "g4-s" + step;
    Map<String, String> stepFiles = Map.of();
    try (TinyRank rank = new TinyRank(step)) {
      for (int i = 0; i < parts; i++) {
        try (CheckpointWriter w = new CheckpointWriter()) {
          CheckpointWriter.Part p = w.save(rank, step, saveId, RANKS, i, root).get();
          assertEquals(i, p.part());
          assertEquals(3, p.parts());
          if (i == 0) {
            stepFiles = p.stepFiles();
          }
        }
      }
    }
    JobEffect.CommitCheckpoint c = new JobEffect.CommitCheckpoint(step, saveId, 3, snapshot(step), stepFiles);
    if (commit) {
      assertEquals(checkpoints.stepDir(step), checkpoints.commit(c));
    }
    return c;
  }

  @Test
  void theNewestCompleteCheckpointHoldsTheJobAndEveryPart() throws Exception {
    save(3, 3, true);
    save(5, 3, true);
    ClusterCheckpoints.Scan scan = checkpoints.scan();
    assertTrue(scan.skipped().isEmpty(), scan.skipped().toString());
    ClusterCheckpoints.Found found = scan.latest().orElseThrow();
    assertEquals(root.resolve("0000004"), found.dir(), "job step 5 is the trainer's step 4");
    assertEquals(snapshot(5), found.checkpoint().snapshot(), "the job's state at the step, ledger and positions");
    // the 3 parts load whole, and as 2 ranks' slices (resharded on load)
    try (ShardedReader r = ShardedReader.open(found.dir()); NDManager m = NDManager.newBaseManager()) {
      assertEquals(3, r.savedWorld());
      assertEquals(4, r.step());
      try (TinyRank want = new TinyRank(5)) {
        assertEquals(want.model.get("a.weight"), r.readFull("model", "a.weight", m));
        NDArray flat = want.model.get("b.bias");
        assertEquals(flat.get("0:4"), r.readSlice("model", "b.bias", 0, 2, m));
        assertEquals(flat.get("4:7"), r.readSlice("model", "b.bias", 1, 2, m));
      }
    }
  }

  @Test
  void aMissingRankPartIsTorn() throws Exception {
    save(3, 3, true);
    save(5, 3, true);
    Files.delete(checkpoints.stepDir(5).resolve("rank-00001-of-00003.safetensors"));
    assertFallsBackTo3("rank-00001-of-00003.safetensors is missing");
  }

  @Test
  void aTruncatedRankPartIsTorn() throws Exception {
    save(3, 3, true);
    save(5, 3, true);
    Path part = checkpoints.stepDir(5).resolve("rank-00002-of-00003.safetensors");
    try (FileChannel ch = FileChannel.open(part, StandardOpenOption.WRITE)) {
      ch.truncate(ch.size() - 4);
    }
    assertFallsBackTo3("truncated");
  }

  @Test
  void noCompleteMarkerIsTorn() throws Exception {
    save(3, 3, true);
    save(5, 3, true);
    Files.delete(checkpoints.stepDir(5).resolve(CompleteMarker.FILE));
    assertFallsBackTo3("no COMPLETE marker");
  }

  @Test
  void aCheckpointWithoutTheJobsStateIsNotResumed() throws Exception {
    save(3, 3, true);
    JobEffect.CommitCheckpoint c = save(5, 3, false);
    // committed as a plain sharded checkpoint (bakery train's kind): no ledger to resume a cluster job with
    ShardedCheckpoint.commit(checkpoints.stepDir(5), 4, 3, c.saveId(), c.stepFiles());
    assertFallsBackTo3("no " + ClusterCheckpoints.JOB_FILE);
  }

  @Test
  void aCommitWithAPartMissingIsRefusedAndNeverUsed() throws Exception {
    save(3, 3, true);
    JobEffect.CommitCheckpoint c = save(5, 2, false);
    CheckpointException e = assertThrows(CheckpointException.class, () -> checkpoints.commit(c));
    assertTrue(e.getMessage().contains("rank 2 of 3 has not written"), e.getMessage());
    assertFallsBackTo3("no COMPLETE marker");
  }

  void assertFallsBackTo3(String reason) {
    ClusterCheckpoints.Scan scan = checkpoints.scan();
    assertEquals(3, scan.latest().orElseThrow().checkpoint().step(), "the previous complete checkpoint");
    assertEquals(1, scan.skipped().size(), scan.skipped().toString());
    String why = scan.skipped().get(0);
    assertTrue(why.startsWith(checkpoints.stepDir(5).toString()), why);
    assertTrue(why.contains(reason), "reason '" + why + "' names: " + reason);
  }
}

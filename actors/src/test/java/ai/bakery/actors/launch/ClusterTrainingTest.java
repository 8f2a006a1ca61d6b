package ai.bakery.actors.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.actors.TinyJob;
import ai.bakery.actors.coordinator.FileJobStore;
import ai.bakery.actors.data.BatchSource;
import ai.bakery.actors.data.PipelineShardSource;
import ai.bakery.actors.job.BatchId;
import ai.bakery.actors.job.JobSnapshot;
import ai.bakery.data.pack.PackedBatch;
import ai.bakery.data.pack.PackedBatchArrow;
import ai.bakery.model.io.SafetensorsReader;
import ai.bakery.model.tensor.Parameter;
import ai.bakery.runtime.collective.InMemoryRendezvous;
import ai.bakery.runtime.collective.TcpRingCollective;
import ai.bakery.runtime.config.JobConfig;
import ai.bakery.runtime.config.JobConfigLoader;
import ai.bakery.runtime.parallel.RankTrainer;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real cluster job on loopback, every node its own JVM (coordinator, one data node, two workers): the tiny
 * preset trains 20 steps on packs streamed over Arrow Flight, with gradients averaged over a TCP ring formed
 * through the cluster's rendezvous. The workers' final weights must equal those of the same two ranks run
 * inside this one process on the same packs.
 */
class ClusterTrainingTest {
  static final int STEPS = 20;
  /** Stated tolerance: the same fp32 operations in the same order; only summation order could differ. */
  static final double TOLERANCE = 1e-5;

  /** Nodes of a short test: the client compiler and one GC thread start faster on a busy machine. */
  static final List<String> QUICK_JVM = List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC");

  @TempDir
  Path dir;

  @Test
  void twoWorkerJvmsTrainAsTwoRanksInOneProcess() throws Exception {
    String yaml = TinyJob.yaml(dir, STEPS, "parallel:\n  sharding_strategy: NO_SHARD");
    Path jobFile = dir.resolve("job.yaml");
    Files.writeString(jobFile, yaml);
    JobConfig config = JobConfigLoader.parse(yaml, List.of()).config();
    Path export = dir.resolve("export");
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    PrintStream out = new PrintStream(new Tee(captured, System.out), true, StandardCharsets.UTF_8);
    long t0 = System.nanoTime();
    Map<String, float[]> reference;
    int status;
    try (LocalCluster cluster = new LocalCluster(
        new LocalCluster.Options(2, 1, 2, dir.resolve("job"), "1g", export, QUICK_JVM, jobFile, List.of()), out)) {
      cluster.start();
      reference = twoRanksInProcess(config); // runs while the cluster's JVMs start and train
      status = cluster.await(420_000);
    }
    System.out.printf("cluster job took %.1f s%n", (System.nanoTime() - t0) / 1e9);
    assertEquals(0, status, "the cluster job finished");

    // the ledger: 20 committed steps of 2 batches, every batch of the shard's first 40 exactly once
    JobSnapshot job = new FileJobStore(dir.resolve("job").resolve("job.json")).load().orElseThrow();
    assertEquals(STEPS, job.committedStep());
    Set<BatchId> trained = new TreeSet<>();
    for (List<BatchId> batches : job.committed().values()) {
      assertEquals(2, batches.size(), "a batch per rank and step");
      for (BatchId b : batches) {
        assertTrue(trained.add(b), "trained twice: " + b);
      }
    }
    Set<BatchId> expected = new TreeSet<>();
    for (int i = 0; i < 2 * STEPS; i++) {
      expected.add(new BatchId(PipelineShardSource.shardName(0), i));
    }
    assertEquals(expected, trained);

    String log = captured.toString(StandardCharsets.UTF_8);
    long stepLines = log.lines().filter(l -> l.startsWith("[coordinator]") && l.contains("Train Loss ce:")
        && l.contains("Ranks: 2")).count();
    assertEquals(STEPS, stepLines, "a step line per committed step");

    double maxDiff = 0;
    for (String worker : List.of("worker-0", "worker-1")) {
      try (SafetensorsReader r = SafetensorsReader.open(export.resolve(worker + ".safetensors"))) {
        assertEquals(reference.keySet(), r.tensors().keySet(), worker + " exported every weight");
        for (var e : reference.entrySet()) {
          ByteBuffer raw = r.raw(e.getKey()).order(ByteOrder.LITTLE_ENDIAN);
          float[] want = e.getValue();
          assertEquals(want.length * 4, raw.remaining(), e.getKey());
          for (int i = 0; i < want.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(raw.getFloat(i * 4) - want[i]));
          }
        }
      }
    }
    System.out.printf("max |cluster - in-process| over all weights of both workers: %.3g%n", maxDiff);
    assertTrue(maxDiff <= TOLERANCE, "max abs diff " + maxDiff + " > " + TOLERANCE);
  }

  /**
   * The reference: the same job's two ranks as threads of this process over an in-memory rendezvous, rank
   * {@code r} of step {@code t} training pack {@code 2t + r} of the shard (the order the coordinator deals
   * them). Also checks that training moved the weights, so equality above is not that of two idle runs.
   */
  static Map<String, float[]> twoRanksInProcess(JobConfig config) throws Exception {
    return twoRanksInProcess(config, STEPS);
  }

  /** As {@link #twoRanksInProcess(JobConfig)}, for {@code steps} steps. */
  static Map<String, float[]> twoRanksInProcess(JobConfig config, int steps) throws Exception {
    List<PackedBatch> packs = new ArrayList<>();
    try (BatchSource s = PipelineShardSource.factory(config, 1).open(PipelineShardSource.shardName(0), "")) {
      for (int i = 0; i < 2 * steps; i++) {
        packs.add(PackedBatchArrow.fromIpcBytes(s.next().orElseThrow()));
      }
    }
    InMemoryRendezvous rendezvous = new InMemoryRendezvous();
    List<CompletableFuture<Map<String, float[]>>> ranks = new ArrayList<>();
    for (int rank = 0; rank < 2; rank++) {
      int r = rank;
      ranks.add(CompletableFuture.supplyAsync(() -> {
        try (TcpRingCollective g = TcpRingCollective.create("reference", 1, r, 2, rendezvous,
                TcpRingCollective.Options.loopback());
            RankTrainer t = RankTrainer.create(config, g)) {
          Map<String, float[]> initial = weights(t);
          for (int step = 0; step < steps; step++) {
            PackedBatch mine = packs.get(2 * step + r);
            t.compute(step, () -> mine);
            t.commit();
          }
          Map<String, float[]> end = weights(t);
          double moved = 0;
          for (var e : end.entrySet()) {
            float[] a = initial.get(e.getKey());
            for (int i = 0; i < a.length; i++) {
              moved = Math.max(moved, Math.abs(a[i] - e.getValue()[i]));
            }
          }
          assertTrue(moved > 1e-3, "training moved the weights (max change " + moved + ")");
          return end;
        }
      }));
    }
    Map<String, float[]> a = ranks.get(0).get();
    Map<String, float[]> b = ranks.get(1).get();
    for (var e : a.entrySet()) {
      assertTrue(java.util.Arrays.equals(e.getValue(), b.get(e.getKey())), "in-process ranks agree on " + e.getKey());
    }
    return a;
  }

  static Map<String, float[]> weights(RankTrainer t) {
    Map<String, float[]> out = new HashMap<>();
    for (Parameter p : t.store().all().values()) {
      out.put(p.name(), p.value().toFloatArray());
    }
    return out;
  }

  /** Writes to both streams. */
  static final class Tee extends OutputStream {
    private final OutputStream a;
    private final OutputStream b;

    Tee(OutputStream a, OutputStream b) {
      this.a = a;
      this.b = b;
    }

    @Override
    public synchronized void write(int c) throws java.io.IOException {
      a.write(c);
      b.write(c);
    }

    @Override
    public synchronized void write(byte[] buf, int off, int len) throws java.io.IOException {
      a.write(buf, off, len);
      b.write(buf, off, len);
    }
  }
}

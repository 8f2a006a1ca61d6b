package ai.bakery.actors.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.actors.TinyJob;
import ai.bakery.actors.coordinator.FileJobStore;
import ai.bakery.actors.data.BatchSource;
import ai.bakery.actors.data.PipelineShardSource;
import ai.bakery.actors.job.JobSnapshot;
import ai.bakery.data.pack.PackedBatch;
import ai.bakery.data.pack.PackedBatchArrow;
import ai.bakery.runtime.collective.InMemoryRendezvous;
import ai.bakery.runtime.collective.TcpRingCollective;
import ai.bakery.runtime.parallel.RankTrainer;
import ai.bakery.runtime.train.StepResult;
import java.util.ArrayList;
import java.util.concurrent.CompletableFuture;
import ai.bakery.model.io.SafetensorsReader;
import ai.bakery.runtime.config.JobConfig;
import ai.bakery.runtime.config.JobConfigLoader;
import ai.bakery.runtime.parallel.ShardRange;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * FULL_SHARD across JVMs on loopback (coordinator, one data node, two workers), tiny preset with gradient
 * checkpointing, 20 steps: each worker holds only its slices of the weights, AdamW moments and EMA. Put together,
 * the two workers' exported weight slices must equal the weights of two data-parallel ranks run in this process
 * on the same packs (the same mathematics: gathered weights, gradients summed over the two ranks), and each
 * worker must hold half of the state.
 */
class ClusterFullShardTest {
  static final int STEPS = ClusterTrainingTest.STEPS;
  /**
   * Stated fp32 tolerance for every weight but the ViT key biases. Not bit-equal by construction: the sharded
   * ranks reduce-scatter per unit and sum the global norm's squares per shard, the reference all-reduces
   * buckets, so sums and the clip factor differ in the last bits, and AdamW grows that over 20 steps (it moves
   * an element with a near-zero gradient by about lr whatever its size). Measured over 5 runs: max 4e-4 to 1.3e-3
   * (weights move by up to 0.04), about half the elements beyond 1e-5; the step losses agree to the printed 4
   * decimals for the first 6 steps, then drift apart by up to 1e-3. Much looser than the data-parallel cluster
   * (1e-5): a semantic difference that only shows after several steps is not ruled out by this test.
   */
  static final double TOLERANCE = 3e-3;
  /** Step losses (ce, mse) printed with 4 decimals by the coordinator: rounding plus the drift above. */
  static final double LOSS_TOLERANCE = 3e-3;
  /**
   * The ViT key biases get a zero gradient in exact arithmetic (softmax ignores a shift shared by every key), so
   * each run's gradient is rounding noise and AdamW turns it into lr-sized steps of random sign: they are held
   * only to AdamW's step bound, 2 * steps * lr (as runtime's DataParallelTrainingTest does).
   */
  static final double NOISE_BOUND = 2 * STEPS * 2e-3;

  static boolean noiseOnly(String name) {
    return name.startsWith("vit_model.") && name.endsWith("self_attn.k_proj.bias");
  }

  @TempDir
  Path dir;

  @Test
  void twoFullShardWorkersTrainAsTwoRanksAndHoldHalfTheStateEach() throws Exception {
    String sharded = yaml("FULL_SHARD");
    Path jobFile = dir.resolve("job.yaml");
    Files.writeString(jobFile, sharded);
    JobConfig reference = JobConfigLoader.parse(yaml("NO_SHARD"), List.of()).config();
    assertTrue(reference.model().gradientCheckpointing(), "the job recomputes activations");
    Path export = dir.resolve("export");
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    PrintStream out = new PrintStream(new ClusterTrainingTest.Tee(captured, System.out), true, StandardCharsets.UTF_8);
    long t0 = System.nanoTime();
    Reference ref;
    int status;
    try (LocalCluster cluster = new LocalCluster(new LocalCluster.Options(2, 1, 2, dir.resolve("job"), "1g", export,
        ClusterTrainingTest.QUICK_JVM, jobFile, List.of()), out)) {
      cluster.start();
      ref = twoRanksInProcess(reference); // runs while the cluster's JVMs start and train
      status = cluster.await(420_000);
    }
    System.out.printf("FULL_SHARD cluster job took %.1f s%n", (System.nanoTime() - t0) / 1e9);
    assertEquals(0, status, "the cluster job finished");
    JobSnapshot job = new FileJobStore(dir.resolve("job").resolve("job.json")).load().orElseThrow();
    assertEquals(STEPS, job.committedStep());
    String log = captured.toString(StandardCharsets.UTF_8);
    List<String> stepLines = log.lines().filter(l -> l.startsWith("[coordinator]") && l.contains("Train Loss ce:")
        && l.contains("Ranks: 2")).toList();
    assertEquals(STEPS, stepLines.size(), "a step line per committed step");
    // the group's losses of every step, as the coordinator printed them (4 decimals), equal the reference's
    double lossDiff = 0;
    for (int s = 0; s < STEPS; s++) {
      String line = stepLines.get(s);
      assertTrue(line.contains(String.format("(step=%07d)", s)), line);
      double ce = number(line, "Train Loss ce: ");
      double mse = number(line, "Train Loss mse: ");
      System.out.printf("step %d: cluster ce %.4f mse %.4f, reference ce %.6f mse %.6f%n", s, ce, mse,
          ref.losses()[s][0], ref.losses()[s][1]);
      lossDiff = Math.max(lossDiff, Math.abs(ce - ref.losses()[s][0]));
      lossDiff = Math.max(lossDiff, Math.abs(mse - ref.losses()[s][1]));
    }
    System.out.printf("max |step loss (ce, mse) of the cluster - reference| over %d steps: %.2g%n", STEPS, lossDiff);
    assertTrue(lossDiff <= LOSS_TOLERANCE, "step losses differ by " + lossDiff + " (printed to 4 decimals)");
    Map<String, float[]> want = ref.weights();

    long[] stateBytes = new long[2];
    long full = -1;
    double maxDiff = 0;
    double noiseDiff = 0;
    String worst = "";
    long over = 0;
    long covered = 0;
    long total = want.values().stream().mapToLong(a -> a.length).sum();
    for (int r = 0; r < 2; r++) {
      try (SafetensorsReader in = SafetensorsReader.open(export.resolve("worker-" + r + ".safetensors"))) {
        Map<String, String> meta = in.metadata();
        int shard = Integer.parseInt(meta.get("shard_rank"));
        assertEquals("2", meta.get("shard_size"));
        stateBytes[shard] = Long.parseLong(meta.get("state_bytes"));
        long f = Long.parseLong(meta.get("full_state_bytes"));
        assertTrue(full < 0 || full == f, "both workers count the same full state");
        full = f;
        for (var e : want.entrySet()) {
          float[] w = e.getValue();
          ShardRange range = ShardRange.of(w.length, shard, 2);
          if (range.length() == 0) {
            assertTrue(!in.tensors().containsKey(e.getKey()), "an empty slice is not written: " + e.getKey());
            continue;
          }
          ByteBuffer raw = in.raw(e.getKey()).order(ByteOrder.LITTLE_ENDIAN);
          assertEquals(range.length() * 4, raw.remaining(), "slice of " + e.getKey() + " on shard " + shard);
          for (int i = 0; i < range.length(); i++) {
            double d = Math.abs(raw.getFloat(i * 4) - w[(int) range.start() + i]);
            if (noiseOnly(e.getKey())) {
              noiseDiff = Math.max(noiseDiff, d);
            } else {
              over += d > 1e-5 ? 1 : 0;
              if (d > maxDiff) {
                maxDiff = d;
                worst = e.getKey();
              }
            }
          }
          covered += range.length();
        }
      }
    }
    assertEquals(total, covered, "the two workers' slices cover every weight once");
    assertEquals(full, stateBytes[0] + stateBytes[1], "the two shards make the whole state, nothing held twice");
    for (int r = 0; r < 2; r++) {
      double ratio = (double) stateBytes[r] / full;
      System.out.printf("shard %d holds %d of %d state bytes (%.4f)%n", r, stateBytes[r], full, ratio);
      assertEquals(0.5, ratio, 0.02, "shard " + r + " holds about half of the state");
    }
    System.out.printf("max |FULL_SHARD cluster - in-process data-parallel| over all weights but the ViT key biases:"
        + " %.3g at %s (tolerance %.0e), %d of %d elements differ by more than 1e-5; ViT key biases %.3g (AdamW"
        + " bound %.2g)%n", maxDiff, worst, TOLERANCE, over, total, noiseDiff, NOISE_BOUND);
    assertTrue(maxDiff <= TOLERANCE, "max abs diff " + maxDiff + " at " + worst + " > " + TOLERANCE);
    assertTrue(noiseDiff <= NOISE_BOUND, "ViT key biases moved by more than AdamW's step: " + noiseDiff);
  }

  static double number(String line, String after) {
    int at = line.indexOf(after) + after.length();
    int end = at;
    while (end < line.length() && (Character.isDigit(line.charAt(end)) || line.charAt(end) == '.'
        || line.charAt(end) == '-')) {
      end++;
    }
    return Double.parseDouble(line.substring(at, end));
  }

  /** The reference's final weights and each step's group losses (ce, mse). */
  record Reference(Map<String, float[]> weights, double[][] losses) {}

  /**
   * Two data-parallel ranks of the job as threads of this process (as {@link ClusterTrainingTest} runs them:
   * rank {@code r} of step {@code t} trains pack {@code 2t + r}), keeping each step's losses.
   */
  static Reference twoRanksInProcess(JobConfig config) throws Exception {
    List<PackedBatch> packs = new ArrayList<>();
    try (BatchSource s = PipelineShardSource.factory(config, 1).open(PipelineShardSource.shardName(0), "")) {
      for (int i = 0; i < 2 * STEPS; i++) {
        packs.add(PackedBatchArrow.fromIpcBytes(s.next().orElseThrow()));
      }
    }
    InMemoryRendezvous rendezvous = new InMemoryRendezvous();
    List<CompletableFuture<Reference>> ranks = new ArrayList<>();
    for (int rank = 0; rank < 2; rank++) {
      int r = rank;
      ranks.add(CompletableFuture.supplyAsync(() -> {
        try (TcpRingCollective g = TcpRingCollective.create("reference", 1, r, 2, rendezvous,
                TcpRingCollective.Options.loopback());
            RankTrainer t = RankTrainer.create(config, g)) {
          double[][] losses = new double[STEPS][];
          for (int step = 0; step < STEPS; step++) {
            PackedBatch mine = packs.get(2 * step + r);
            t.compute(step, () -> mine);
            StepResult res = t.commit();
            losses[step] = new double[] {res.ce(), res.mse()};
          }
          return new Reference(ClusterTrainingTest.weights(t), losses);
        }
      }));
    }
    Reference a = ranks.get(0).get();
    ranks.get(1).get();
    return a;
  }

  private String yaml(String strategy) throws java.io.IOException {
    return TinyJob.yaml(dir, STEPS, "parallel:\n  sharding_strategy: " + strategy)
        .replace("  preset: tiny\n", "  preset: tiny\n  gradient_checkpointing: true\n");
  }
}

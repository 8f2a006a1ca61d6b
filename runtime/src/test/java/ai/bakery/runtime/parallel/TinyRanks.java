package ai.bakery.runtime.parallel;

import ai.bakery.data.example.ExampleDataset;
import ai.bakery.data.pack.PackedBatch;
import ai.bakery.model.bagel.BagelLoss;
import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.runtime.collective.Collective;
import ai.bakery.runtime.collective.InMemoryRendezvous;
import ai.bakery.runtime.collective.Rendezvous;
import ai.bakery.runtime.collective.TcpRingCollective;
import ai.bakery.runtime.config.JobConfig;
import ai.bakery.runtime.config.JobConfigLoader;
import ai.bakery.runtime.optim.GradClipper;
import ai.bakery.runtime.train.BatchSource;
import ai.bakery.runtime.train.StepResult;
import ai.bakery.runtime.train.TrainJob;
import ai.bakery.runtime.train.TrainStep;
import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/** The tiny BAGEL job on the generated example dataset, its packs, ranks as threads, and a one-process reference. */
final class TinyRanks {
  private TinyRanks() {}

  /**
   * The tiny preset in fp32, CE and MSE, EMA on, clipping on, NO_SHARD; {@code accumulation} micro-batches a step.
   * fp32 because in bf16 the loss scale ({@code world / count} on a rank, {@code 1 / count} accumulated) reaches
   * the bf16 gradients with different rounding unless the world size is a power of two (~4e-3 relative), as in
   * the reference. AdamW's epsilon is 1e-6 rather than the reference's 1e-15: AdamW divides by the gradient's own
   * magnitude, so with a tiny epsilon a weight whose gradient is nearly zero takes an {@code lr}-sized step of
   * whatever sign the rounding gives it, and summation order (ranks vs accumulation, AVX2 vs AVX-512 kernels) shows
   * up as differences of ~1e-5; with 1e-6 the optimizer can amplify a gradient difference at most {@code lr/eps}.
   */
  static JobConfig job(Path dir, int accumulation) {
    String yaml = String.join("\n",
        "model:",
        "  preset: tiny",
        "  bf16: false",
        "data:",
        "  dataset_config_file: " + dir.resolve("example").resolve("example.yaml"),
        "  packing:",
        "    expected_num_tokens: 160",
        "    max_num_tokens: 512",
        "    max_num_tokens_per_sample: 384",
        "    prefer_buffer_before: 96",
        "    max_buffer_size: 4",
        "training:",
        "  optimizer:",
        "    lr: 2.0e-3",
        "    eps: 1.0e-6",
        "    max_grad_norm: 1.0",
        "  schedule:",
        "    warmup_steps: 2",
        "    total_steps: 20",
        "  ema:",
        "    ema: 0.9",
        "  loop:",
        "    gradient_accumulation_steps: " + accumulation,
        "output:",
        "  results_dir: " + dir.resolve("run"),
        "runtime:",
        "  seed: 11",
        "  num_workers: 1",
        "parallel:",
        "  sharding_strategy: NO_SHARD",
        "");
    return JobConfigLoader.parse(yaml, List.of()).config();
  }

  /** Writes the example dataset and returns its first {@code n} packs (one pipeline, rank 0 of 1). */
  static List<PackedBatch> packs(Path dir, int n) throws IOException {
    ExampleDataset.write(dir.resolve("example"), ExampleDataset.Options.DEFAULTS);
    JobConfig config = job(dir, 1);
    List<PackedBatch> out = new ArrayList<>();
    try (TrainJob.Model built = TrainJob.buildModel(config);
        BatchSource source = TrainJob.data(config, built, 0, 1).open(null)) {
      for (int i = 0; i < n; i++) {
        out.add(source.next());
      }
    }
    return out;
  }

  /** What a rank (or the reference) ends with. */
  record Outcome(Map<String, float[]> weights, Map<String, float[]> ema, StateSync.Fingerprint fingerprint,
      List<StepResult> steps) {}

  static Map<String, float[]> copy(ParameterStore store) {
    Map<String, float[]> out = new LinkedHashMap<>();
    for (Parameter p : store.all().values()) {
      out.put(p.name(), p.value().toFloatArray());
    }
    return out;
  }

  static Outcome outcome(RankTrainer t, List<StepResult> steps) {
    Map<String, float[]> ema = new LinkedHashMap<>();
    t.ema().stateDict().forEach((k, v) -> ema.put(k, v.toFloatArray()));
    return new Outcome(copy(t.store()), ema, t.fingerprint(), steps);
  }

  /**
   * One process training {@code steps} steps, step {@code s} accumulating packs {@code s*world .. s*world+world-1}
   * with every micro-batch's loss normalised by the step's total counts (world = accumulation): the loss a group
   * of {@code world} ranks computes, one pack per rank, with counts summed over the group.
   */
  static Outcome reference(Path dir, List<PackedBatch> packs, int world, int steps) {
    JobConfig config = job(dir, world);
    try (RankTrainer t = RankTrainer.create(config, null); NDManager root = NDManager.newBaseManager()) {
      List<StepResult> results = new ArrayList<>();
      for (int s = 0; s < steps; s++) {
        List<PackedBatch> step = packs.subList(s * world, (s + 1) * world);
        long ce = step.stream().mapToLong(b -> b.ceLossIndexes().length).sum();
        long mse = step.stream().mapToLong(b -> b.mseLossIndexes().length).sum();
        TrainStep.CountReducer totals = local -> new BagelLoss.GlobalCounts(ce, 0, mse, world);
        TrainStep ts = new TrainStep(t.model(), root, TrainStep.Update.of(t.optimizer(), t.ema()),
            new GradClipper(config.training().optimizer().maxGradNorm()), config.training().loop(),
            config.training().loop().globalSeed(), 0, 1, totals, GradientSync.LOCAL);
        ts.resumeCounters(s * world, 0, 0);
        var it = step.iterator();
        results.add(ts.run(s, t.schedule().lr(s), it::next));
      }
      return outcome(t, results);
    }
  }

  interface RankBody<T> {
    T run(Collective group, int rank) throws Exception;
  }

  /** Runs {@code body} on {@code n} ranks (threads) of a fresh loopback group; results by rank. */
  static <T> List<T> onRanks(int n, long generation, Rendezvous rendezvous, String group, RankBody<T> body)
      throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(n);
    try {
      List<Future<T>> ranks = new ArrayList<>();
      for (int r = 0; r < n; r++) {
        int rank = r;
        ranks.add(pool.submit(() -> {
          try (Collective c = TcpRingCollective.create(group, generation, rank, n, rendezvous, options())) {
            return body.run(c, rank);
          }
        }));
      }
      List<T> out = new ArrayList<>();
      for (Future<T> f : ranks) {
        try {
          out.add(f.get(120, TimeUnit.SECONDS));
        } catch (ExecutionException e) {
          if (e.getCause() instanceof Exception ex) {
            throw ex;
          }
          throw e;
        }
      }
      return out;
    } finally {
      pool.shutdownNow();
    }
  }

  static <T> List<T> onRanks(int n, RankBody<T> body) throws Exception {
    return onRanks(n, 1, new InMemoryRendezvous(), "dp-" + UUID.randomUUID().toString().substring(0, 8), body);
  }

  static TcpRingCollective.Options options() {
    return TcpRingCollective.Options.loopback().withTimeout(Duration.ofSeconds(90))
        .withConnectTimeout(Duration.ofSeconds(30));
  }

  /** Max |a - b| over every element; both must hold the same tensors. */
  static double maxAbsDiff(Map<String, float[]> a, Map<String, float[]> b) {
    if (!a.keySet().equals(b.keySet())) {
      throw new AssertionError("different tensors: " + a.keySet() + " vs " + b.keySet());
    }
    double max = 0;
    for (Map.Entry<String, float[]> e : a.entrySet()) {
      float[] x = e.getValue();
      float[] y = b.get(e.getKey());
      if (x.length != y.length) {
        throw new AssertionError(e.getKey() + ": " + x.length + " vs " + y.length + " elements");
      }
      for (int i = 0; i < x.length; i++) {
        max = Math.max(max, Math.abs((double) x[i] - y[i]));
      }
    }
    return max;
  }
}

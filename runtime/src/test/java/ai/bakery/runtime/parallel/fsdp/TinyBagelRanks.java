package ai.bakery.runtime.parallel.fsdp;

import ai.bakery.data.DataConfig;
import ai.bakery.data.DataPipeline;
import ai.bakery.data.example.ExampleDataset;
import ai.bakery.data.pack.PackedBatch;
import ai.bakery.data.shard.GroupSpec;
import ai.bakery.data.text.TextTokenizer;
import ai.bakery.model.bagel.Bagel;
import ai.bakery.model.bagel.BagelLoss;
import ai.bakery.model.config.BagelConfig;
import ai.bakery.model.nn.Init;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.bakery.model.vae.FluxAutoencoder;
import ai.bakery.runtime.collective.CollectiveFactory;
import ai.bakery.runtime.collective.InMemoryRendezvous;
import ai.bakery.runtime.collective.ParallelDims;
import ai.bakery.runtime.collective.ProcessMesh;
import ai.bakery.runtime.collective.TcpRingCollective;
import ai.bakery.runtime.config.JobConfig;
import ai.bakery.runtime.config.JobConfigLoader;
import ai.bakery.runtime.optim.OptimizerConfig;
import ai.bakery.runtime.train.TrainJob;
import ai.bakery.runtime.train.TrainLoopConfig;
import ai.djl.ndarray.NDArray;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/** The tiny preset BAGEL on packs of the generated example dataset, and ranks run as threads of this JVM. */
final class TinyBagelRanks {
  static final long SEED = 17;
  /** eps 1e-8 (torch's default) rather than the reference's 1e-15, which turns rounding noise in near-zero
   * gradients into full-size steps and would hide real differences behind it. */
  static final OptimizerConfig OPTIMIZER = new OptimizerConfig(2e-3, 0.9, 0.95, 1e-8, 0.0, 1.0);

  private TinyBagelRanks() {}

  static BagelConfig config() {
    return BagelConfig.readModelDir(presetDir());
  }

  static Path presetDir() {
    for (Path base = Path.of("").toAbsolutePath(); base != null; base = base.getParent()) {
      Path dir = base.resolve("configs/model/tiny");
      if (dir.toFile().isDirectory()) {
        return dir;
      }
    }
    throw new IllegalStateException("configs/model/tiny not found above " + Path.of("").toAbsolutePath());
  }

  /** The first {@code n} packs of the example dataset, as one rank of one would read them. */
  static List<PackedBatch> packs(Path tmp, int n) throws Exception {
    JobConfig job = job(tmp, "");
    BagelConfig cfg = config();
    List<PackedBatch> out = new ArrayList<>();
    try (TextTokenizer tokenizer = TrainJob.tokenizer(job.model(), presetDir())) {
      DataConfig dc = TrainJob.dataConfig(job.data(), job.model(), cfg, 1);
      List<GroupSpec> groups = TrainJob.groups(job.data(), dc, tokenizer);
      try (DataPipeline p = DataPipeline.builder().setGroups(groups).setConfig(dc)
          .setTokens(tokenizer.specialTokens()).setRank(0, 1).build()) {
        for (int i = 0; i < n; i++) {
          out.add(p.next());
        }
      }
    }
    return out;
  }

  /** A tiny-preset job on the example dataset (written under {@code tmp} once), with {@code modelLines} (indented
   * YAML) added to its model section. */
  static JobConfig job(Path tmp, String modelLines) throws Exception {
    Path example = tmp.resolve("example");
    if (!example.resolve("example.yaml").toFile().isFile()) {
      ExampleDataset.write(example, ExampleDataset.Options.DEFAULTS);
    }
    String yaml = String.join("\n",
        "model:",
        "  preset: tiny",
        modelLines,
        "data:",
        "  dataset_config_file: " + example.resolve("example.yaml"),
        "  packing:",
        "    expected_num_tokens: 160",
        "    max_num_tokens: 448",
        "    max_num_tokens_per_sample: 384",
        "    prefer_buffer_before: 80",
        "    max_buffer_size: 4",
        "output:",
        "  results_dir: " + tmp.resolve("run"),
        "runtime:",
        "  num_workers: 1",
        "");
    return JobConfigLoader.parse(yaml, List.of()).config();
  }

  static Bagel bagel(ParameterStore store, Init init) {
    return new Bagel(config(), store, init, Precision.FP32);
  }

  static FluxAutoencoder vae(ParameterStore vaeStore) {
    FluxAutoencoder vae = new FluxAutoencoder(config().vae(), vaeStore, "", Init.seeded(SEED + 1), Precision.FP32);
    vaeStore.setTrainable(n -> true, false);
    return vae;
  }

  static TrainLoopConfig loop(int accumulation) {
    return new TrainLoopConfig(0, accumulation, 1, 1.0, 1.0, false, SEED, true, true, false, false, true, false,
        Path.of("unused"), 0);
  }

  /** A single process standing for {@code world} ranks: the loss of each micro-batch is normalised by the token
   * counts of the {@code world} packs of its step together, as the ranks normalise by their sum. */
  static ai.bakery.runtime.train.TrainStep.CountReducer groupCounts(List<PackedBatch> packs, int world) {
    long[] micro = {0};
    return local -> {
      int first = (int) (micro[0]++ / world * world);
      long ce = 0;
      long mse = 0;
      for (int i = first; i < first + world; i++) {
        ce += packs.get(i).ceLossIndexes().length;
        mse += packs.get(i).mseLossIndexes().length;
      }
      return new BagelLoss.GlobalCounts(ce, 0, mse, world);
    };
  }

  static float[] floats(NDArray a) {
    return a.toFloatArray();
  }

  interface RankBody<T> {
    T run(int rank, ProcessMesh mesh) throws Exception;
  }

  /** Runs {@code body} on every rank of {@code dims} (threads over loopback TCP rings); returns their results. */
  static <T> List<T> runRanks(ParallelDims dims, RankBody<T> body) throws Exception {
    CollectiveFactory factory = TcpRingCollective.factory(new InMemoryRendezvous(), TcpRingCollective.Options.loopback()
        .withTimeout(Duration.ofSeconds(60)).withConnectTimeout(Duration.ofSeconds(30)));
    String prefix = "fsdp-" + UUID.randomUUID().toString().substring(0, 8);
    ExecutorService pool = Executors.newFixedThreadPool(dims.worldSize());
    try {
      List<Future<T>> futures = new ArrayList<>();
      for (int r = 0; r < dims.worldSize(); r++) {
        int rank = r;
        futures.add(pool.submit(() -> {
          try (ProcessMesh mesh = ProcessMesh.create(factory, prefix, 1, rank, dims)) {
            return body.run(rank, mesh);
          }
        }));
      }
      return results(futures);
    } finally {
      pool.shutdownNow();
    }
  }

  /** Each rank's result in rank order; a rank's failure is rethrown as itself. */
  static <T> List<T> results(List<Future<T>> futures) throws Exception {
    List<T> out = new ArrayList<>();
    for (Future<T> f : futures) {
      try {
        out.add(f.get(300, TimeUnit.SECONDS));
      } catch (java.util.concurrent.ExecutionException e) {
        if (e.getCause() instanceof Exception ex) {
          throw ex;
        }
        throw e;
      }
    }
    return out;
  }
}

package ai.bakery.runtime.parallel.fsdp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.data.pack.PackedBatch;
import ai.bakery.data.text.TextTokenizer;
import ai.bakery.model.io.Dtype;
import ai.bakery.model.io.SafetensorsWriter;
import ai.bakery.model.io.StateDictLoader;
import ai.bakery.model.nn.Init;
import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.bakery.model.tensor.Torch;
import ai.bakery.model.vae.FluxAutoencoder;
import ai.bakery.runtime.collective.ParallelDims;
import ai.bakery.runtime.config.JobConfig;
import ai.bakery.runtime.config.JobConfigLoader;
import ai.bakery.runtime.train.StepResult;
import ai.djl.ndarray.NDManager;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A FULL_SHARD job fine-tuning from a released-style folder ({@code model_path} + {@code finetune_from_hf}): each
 * of 2 ranks reads about half of ema.safetensors, holds exactly the folder's values in its slices, and trains.
 */
class ShardedStartTest {
  @TempDir
  static Path tmp;
  static Path hf;
  static List<PackedBatch> packs;
  static Map<String, float[]> released = new LinkedHashMap<>();
  static long dataBytes;

  @BeforeAll
  static void folder() throws Exception {
    Torch.init();
    packs = TinyBagelRanks.packs(tmp, 2);
    hf = Files.createDirectories(tmp.resolve("hf"));
    try (var files = Files.list(TinyBagelRanks.presetDir())) {
      for (Path f : (Iterable<Path>) files::iterator) {
        Files.copy(f, hf.resolve(f.getFileName()));
      }
    }
    if (!Files.exists(hf.resolve("tokenizer.json"))) {
      try (InputStream in = TextTokenizer.class.getResourceAsStream(TextTokenizer.TINY_RESOURCE)) {
        Files.write(hf.resolve("tokenizer.json"), in.readAllBytes());
      }
    }
    try (NDManager m = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(m);
        ParameterStore vae = new ParameterStore(m)) {
      TinyBagelRanks.bagel(store, Init.seeded(99));
      new SafetensorsWriter().addAll(store, Dtype.F32).write(hf.resolve("ema.safetensors"));
      for (Parameter p : store.all().values()) {
        released.put(p.name(), p.value().toFloatArray());
        dataBytes += 4 * p.value().size();
      }
      new FluxAutoencoder(TinyBagelRanks.config().vae(), vae, "", Init.seeded(7), Precision.FP32);
      SafetensorsWriter w = new SafetensorsWriter();
      for (Parameter p : vae.all().values()) {
        w.add(p.name(), p.value(), Dtype.F32);
      }
      w.write(hf.resolve("ae.safetensors"));
    }
  }

  private static JobConfig job() {
    String yaml = String.join("\n",
        "model:",
        "  model_path: " + hf,
        "  gradient_checkpointing: true",
        "  timestep_shift: 3.0 # the folder's config says 1.0: the job's wins",
        "data:",
        "  dataset_config_file: " + tmp.resolve("example/example.yaml"),
        "training:",
        "  ema:",
        "    ema: 0.9",
        "  checkpoint:",
        "    finetune_from_hf: true",
        "    finetune_from_ema: true",
        "    resume_model_only: true",
        "    resume_from: " + hf,
        "output:",
        "  results_dir: " + tmp.resolve("run"),
        "runtime:",
        "  num_workers: 1",
        "");
    return JobConfigLoader.parse(yaml, List.of()).config();
  }

  @Test
  void ranksReadTheirHalvesOfTheReleasedWeightsAndTrain() throws Exception {
    JobConfig job = job();
    assertTrue(ShardedStart.startsFromReleasedWeights(job));
    List<Long> reads = TinyBagelRanks.runRanks(new ParallelDims(2, 2), (rank, mesh) -> {
      try (ShardedStart start = ShardedStart.open(job, mesh)) {
        assertEquals(3.0, start.modelConfig().timestepShift(), "model.timestep_shift");
        ShardedState state = start.rank().state();
        for (ShardSlice s : state.params()) {
          if (StateDictLoader.FIXED_POS_EMBED.test(s.name()) || s.name().contains("patch_embedding")) {
            continue; // recomputed tables; the patch embedding is reshaped on load
          }
          assertArrayEquals(Arrays.copyOfRange(released.get(s.name()), (int) s.range().start(), (int) s.range().end()),
              s.shard().toFloatArray(), s.name());
        }
        for (ShardSlice s : state.ema()) {
          if (!StateDictLoader.FIXED_POS_EMBED.test(s.name()) && !s.name().contains("patch_embedding")) {
            assertArrayEquals(Arrays.copyOfRange(released.get(s.name()), (int) s.range().start(),
                (int) s.range().end()), s.shard().toFloatArray(), "ema starts at the loaded " + s.name());
          }
        }
        long read = start.bytesRead();
        try (ShardedRankTrainer t = ShardedRankTrainer.of(start.rank(), start.training(), rank, 2, null)) {
          t.compute(0, () -> packs.get(rank));
          StepResult r = t.commit();
          assertFalse(r.skipped());
          assertTrue(Double.isFinite(r.ce()) && r.gradNorm() > 0);
        }
        return read;
      }
    });
    for (long r : reads) {
      assertTrue(r > dataBytes / 3 && r < dataBytes * 6 / 10, "a rank read " + r + " of " + dataBytes + " bytes");
    }
    assertTrue(reads.get(0) + reads.get(1) <= dataBytes, "no byte of the weights read twice over both ranks");
  }
}

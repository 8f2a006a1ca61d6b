package ai.bakery.runtime.parallel.fsdp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.Torch;
import ai.bakery.runtime.collective.ParallelDims;
import ai.bakery.runtime.config.JobConfig;
import ai.bakery.runtime.train.TinyParts;
import ai.bakery.runtime.train.TrainJob;
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
 * A FULL_SHARD rank of a job from separate parts ({@code --llm_path --vit_path --vae_path}) starts from the same
 * weights as {@code bakery train} in one process: every slice of every parameter (the LLM's and ViT's read from the
 * parts, the grown token rows, the gen copies, the seeded connectors) equals the same slice of the whole model.
 */
class ShardedPretrainPartsTest {
  @TempDir
  Path tmp;

  @BeforeAll
  static void init() {
    Torch.init();
  }

  @Test
  void twoRanksLoadTheirSlicesOfThePartsAsOneProcessLoadsThem() throws Exception {
    TinyParts.Written parts = TinyParts.writeAll(tmp);
    Path llm = parts.llm();
    Path vit = parts.vit();
    Path ae = parts.ae();
    Files.createDirectories(tmp.resolve("example"));
    Files.writeString(tmp.resolve("example/example.yaml"), "{}");
    JobConfig job = TinyParts.load(TinyParts.flags(tmp, llm, vit, ae, tmp.resolve("run")));

    Map<String, float[]> full = new LinkedHashMap<>();
    try (TrainJob.Model built = TrainJob.buildModel(job)) {
      for (Parameter p : built.store().all().values()) {
        full.put(p.name(), p.value().toFloatArray());
      }
    }
    float[] q = full.get("language_model.model.layers.0.self_attn.q_proj.weight");
    assertArrayEquals(TinyParts.file(llm.resolve("model.safetensors"), "model.layers.0.self_attn.q_proj.weight"), q,
        "the whole model holds the file's weights");

    int world = 2;
    List<Integer> checked = TinyBagelRanks.runRanks(new ParallelDims(world, world), (rank, mesh) -> {
      try (ShardedStart start = ShardedStart.open(job, mesh)) {
        int n = 0;
        for (ShardSlice s : start.rank().state().params()) {
          float[] want = Arrays.copyOfRange(full.get(s.name()), (int) s.range().start(), (int) s.range().end());
          assertArrayEquals(want, s.shard().toFloatArray(), s.name() + " on rank " + rank);
          n++;
        }
        for (ShardSlice s : start.rank().state().ema()) {
          float[] want = Arrays.copyOfRange(full.get(s.name()), (int) s.range().start(), (int) s.range().end());
          assertArrayEquals(want, s.shard().toFloatArray(), "the EMA starts at the loaded " + s.name());
        }
        return n;
      }
    });
    for (int n : checked) {
      assertEquals(full.size(), n);
    }
    assertTrue(Files.isRegularFile(tmp.resolve("run/model/config.json")), "the run's model folder");
  }
}

package ai.bakery.runtime.parallel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.model.tensor.Torch;
import ai.bakery.runtime.config.JobConfig;
import ai.bakery.runtime.train.TinyParts;
import ai.bakery.runtime.train.TrainJob;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * NO_SHARD ranks of a job from separate parts start together (each writing the run's model folder at once, which
 * stays whole) from the weights one process starts from, and their checkpoint settings name that folder.
 */
class ReplicatedPretrainPartsTest {
  @TempDir
  Path tmp;

  @BeforeAll
  static void init() {
    Torch.init();
  }

  @Test
  void threeRanksStartFromThePartsAsOneProcessDoes() throws Exception {
    TinyParts.Written parts = TinyParts.writeAll(tmp);
    Path llm = parts.llm();
    Path vit = parts.vit();
    Path ae = parts.ae();
    Files.createDirectories(tmp.resolve("example"));
    Files.writeString(tmp.resolve("example/example.yaml"), "{}");
    Path run = tmp.resolve("run");
    JobConfig job = TinyParts.load(TinyParts.flags(tmp, llm, vit, ae, run, "--sharding_strategy", "NO_SHARD"));

    Map<String, float[]> one;
    try (TrainJob.Model built = TrainJob.buildModel(job)) {
      one = TinyRanks.copy(built.store());
    }
    List<Map<String, float[]>> ranks = TinyRanks.onRanks(3, (group, rank) -> {
      try (RankTrainer t = RankTrainer.create(job, group)) {
        assertEquals(run.resolve(TrainJob.MODEL_FOLDER), t.training().checkpoint().modelFiles());
        return TinyRanks.copy(t.store());
      }
    });
    for (Map<String, float[]> r : ranks) {
      assertEquals(0.0, TinyRanks.maxAbsDiff(one, r));
    }
    for (String f : List.of("config.json", "llm_config.json", "vit_config.json", "tokenizer.json", "ae.safetensors")) {
      assertTrue(Files.isRegularFile(run.resolve("model").resolve(f)), f);
    }
    assertArrayEquals(Files.readAllBytes(ae), Files.readAllBytes(run.resolve("model/ae.safetensors")));
    try (var left = Files.list(run.resolve("model"))) {
      assertEquals(5, left.count(), "no staging folder left behind");
    }
  }
}

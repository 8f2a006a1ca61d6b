package ai.bakery.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.actors.coordinator.ClusterCheckpoints;
import ai.bakery.actors.job.BatchId;
import ai.bakery.actors.job.JobEffect;
import ai.bakery.actors.job.JobSnapshot;
import ai.bakery.actors.worker.CheckpointWriter;
import ai.bakery.actors.worker.DataParallelRank;
import ai.bakery.model.io.SafetensorsReader;
import ai.bakery.model.tensor.Parameter;
import ai.bakery.runtime.config.JobConfig;
import ai.bakery.runtime.config.JobConfigLoader;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bakery checkpoint export} on a cluster checkpoint: three data-parallel ranks of the tiny preset write their
 * parts with the workers' writer, the coordinator's side commits them with the job's snapshot; the command finds the
 * newest complete step under the checkpoint root and writes the reference's consolidated model.safetensors and
 * ema.safetensors, equal to the rank's weights and EMA.
 */
class ClusterCheckpointExportCommandTest {
  @Test
  void exportsAClusterCheckpointAsTheReferencesFiles(@TempDir Path dir) throws Exception {
    String saved = System.getProperty("bakery.home");
    Path home = Files.isDirectory(Path.of("configs/model/tiny")) ? Path.of(".") : Path.of("..");
    System.setProperty("bakery.home", home.toString());
    Path root = dir.resolve("checkpoints");
    ClusterCheckpoints checkpoints = new ClusterCheckpoints(root, 0, true);
    List<String> ranks = List.of("worker-0", "worker-1", "worker-2");
    try {
      Path example = dir.resolve("example");
      ai.bakery.data.example.ExampleDataset.write(example, ai.bakery.data.example.ExampleDataset.Options.DEFAULTS);
      JobConfig config = JobConfigLoader.parse(String.join("\n", "model:", "  preset: tiny", "data:",
          "  dataset_config_file: " + example.resolve("example.yaml"), "output:", "  checkpoint_dir: " + root, ""),
          List.of()).config();
      try (DataParallelRank rank = DataParallelRank.create(config)) {
        Map<String, String> stepFiles = Map.of();
        for (int i = 0; i < ranks.size(); i++) {
          try (CheckpointWriter w = new CheckpointWriter()) {
            CheckpointWriter.Part p = w.save(rank, 1, "g1-s1", ranks, i, root).get();
            if (p.part() == 0) {
              stepFiles = p.stepFiles();
            }
          }
        }
        JobSnapshot job = new JobSnapshot(1, 1, Map.of(1L, List.of(new BatchId("shard-0", 0))), List.of());
        checkpoints.commit(new JobEffect.CommitCheckpoint(1, "g1-s1", 3, job, stepFiles));
        assertEquals(1, checkpoints.scan().latest().orElseThrow().checkpoint().step());

        Path out = dir.resolve("out");
        MainTest.Result r = MainTest.run("checkpoint", "export", root.toString(), out.toString());
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.out().contains("model.safetensors") && r.out().contains("ema.safetensors"), r.out());
        Map<String, NDArray> ema = rank.trainer().ema().stateDict();
        int compared = 0;
        try (SafetensorsReader model = SafetensorsReader.open(out.resolve("model.safetensors"));
            SafetensorsReader emaFile = SafetensorsReader.open(out.resolve("ema.safetensors"));
            NDManager m = NDManager.newBaseManager()) {
          for (Parameter p : rank.trainer().store().all().values()) {
            assertTrue(java.util.Arrays.equals(p.value().toFloatArray(),
                model.tensor(p.name()).load(m).toFloatArray()), p.name());
            assertTrue(java.util.Arrays.equals(ema.get(p.name()).toFloatArray(),
                emaFile.tensor(p.name()).load(m).toFloatArray()), "ema " + p.name());
            org.junit.jupiter.api.Assertions.assertArrayEquals(p.value().getShape().getShape(),
                model.tensor(p.name()).shape(), p.name());
            compared++;
          }
        }
        assertTrue(compared > 10, "compared " + compared + " weights");
      }
    } finally {
      if (saved == null) {
        System.clearProperty("bakery.home");
      } else {
        System.setProperty("bakery.home", saved);
      }
    }
  }
}

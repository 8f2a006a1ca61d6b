package ai.bakery.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.model.io.SafetensorsReader;
import ai.bakery.model.tensor.Torch;
import ai.bakery.runtime.checkpoint.CheckpointManager;
import ai.bakery.runtime.checkpoint.ShardedSaver;
import ai.bakery.runtime.checkpoint.ShardedTensor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code bakery checkpoint export} and {@code bakery bench recovery} end to end, on small inputs. */
class CheckpointExportCommandTest {

  @Test
  void exportsAThreeRankCheckpointAsTheReferencesFiles(@TempDir Path dir) throws Exception {
    Torch.init();
    Path root = dir.resolve("ckpt");
    try (NDManager m = NDManager.newBaseManager()) {
      Map<String, NDArray> model = new LinkedHashMap<>();
      model.put("language_model.model.norm.weight", m.arange(0f, 8f));
      model.put("vae2llm.weight", m.arange(100f, 110f).reshape(new Shape(2, 5)));
      Map<String, NDArray> ema = new LinkedHashMap<>();
      model.forEach((k, v) -> ema.put(k, v.mul(2f)));
      List<ShardedSaver.Ticket> tickets = new ArrayList<>();
      List<ShardedSaver> savers = new ArrayList<>();
      for (int r = 0; r < 3; r++) {
        ShardedSaver s = new ShardedSaver(ShardedSaver.Config.of(root, r, 3));
        savers.add(s);
        tickets.add(s.snapshot(ShardedSaver.Request.of(7, ShardedTensor.allOfFull(model, r, 3),
            ShardedTensor.allOfFull(ema, r, 3), null, Map.of(),
            r == 0 ? Map.of(CheckpointManager.TRAIN_STATE_JSON, "{\"step\":7}") : null)));
      }
      tickets.forEach(t -> t.done().join());
      savers.forEach(ShardedSaver::close);

      Path out = dir.resolve("out");
      MainTest.Result r = MainTest.run("checkpoint", "export", root.toString(), out.toString()); // root: newest step
      assertEquals(0, r.code(), r.toString());
      assertTrue(r.out().contains("model.safetensors") && r.out().contains("ema.safetensors"), r.out());
      try (SafetensorsReader f = SafetensorsReader.open(out.resolve("ema.safetensors"));
          NDManager s = m.newSubManager()) {
        assertEquals(List.of("language_model.model.norm.weight", "vae2llm.weight"), List.copyOf(f.tensors().keySet()));
        assertArrayEquals(new long[] {2, 5}, f.tensor("vae2llm.weight").shape());
        assertArrayEquals(ema.get("vae2llm.weight").toFloatArray(), f.tensor("vae2llm.weight").load(s).toFloatArray());
      }
      MainTest.Result inspect = MainTest.run("checkpoint", "inspect", root.resolve("0000007").toString(), "--summary");
      assertTrue(inspect.out().contains("sharded: complete"), inspect.out());
    }
    Files.delete(root.resolve("0000007").resolve("COMPLETE"));
    MainTest.Result torn = MainTest.run("checkpoint", "export", root.resolve("0000007").toString(),
        dir.resolve("out2").toString());
    assertEquals(2, torn.code(), torn.toString());
    assertTrue(torn.err().contains("no COMPLETE marker"), torn.err());
  }

  @Test
  void benchRecoveryPrintsStallSaveAndStepForTiny() throws Exception {
    // the presets live at the repository root; tests run in the module folder
    String saved = System.getProperty("bakery.home");
    Path home = Files.isDirectory(Path.of("configs/model/tiny")) ? Path.of(".") : Path.of("..");
    System.setProperty("bakery.home", home.toString());
    MainTest.Result r;
    try {
      r = MainTest.run("bench", "recovery", "--json", "--presets", "tiny", "--worlds", "1,3",
          "--saves", "2", "--tokens", "256", "--sample-len", "128", "--steps", "1", "--skip-cluster");
    } finally {
      if (saved == null) {
        System.clearProperty("bakery.home");
      } else {
        System.setProperty("bakery.home", saved);
      }
    }
    assertEquals(0, r.code(), r.toString());
    List<String> lines = r.out().lines().toList();
    assertEquals(2, lines.size(), r.out()); // the cluster kill (minutes) has its own test in actors
    ObjectMapper json = new ObjectMapper();
    for (int i = 0; i < 2; i++) {
      JsonNode row = json.readTree(lines.get(i));
      assertEquals("tiny", row.get("preset").asText());
      assertEquals(i == 0 ? 1 : 3, row.get("world").asInt());
      assertTrue(row.get("state_mib").asDouble() > 0, row.toString());
      assertTrue(row.get("stall_ms").asDouble() <= row.get("save_ms").asDouble(), row.toString());
      assertTrue(row.get("step_ms").asLong() >= 0, row.toString());
      assertTrue(row.get("stall_of_step").asText().endsWith("%"), row.toString());
    }
  }
}

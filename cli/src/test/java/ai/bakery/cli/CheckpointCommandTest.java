package ai.bakery.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointCommandTest {

  /** A safetensors file written by hand: header JSON then zeroed data, so the test does not trust our writer. */
  static void writeSafetensors(Path file, String headerJson, int dataBytes) throws Exception {
    byte[] header = headerJson.getBytes(StandardCharsets.UTF_8);
    var out = new ByteArrayOutputStream();
    out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).array());
    out.write(header);
    out.write(new byte[dataBytes]);
    Files.write(file, out.toByteArray());
  }

  @Test
  void listsTensorsWithDtypeShapeSizeAndStep(@TempDir Path dir) throws Exception {
    Path step = dir.resolve("0000020");
    Files.createDirectories(step);
    writeSafetensors(step.resolve("model.safetensors"),
        "{\"a.weight\":{\"dtype\":\"BF16\",\"shape\":[3,4],\"data_offsets\":[0,24]},"
            + "\"b\":{\"dtype\":\"F32\",\"shape\":[5],\"data_offsets\":[24,44]}}", 44);
    Files.writeString(step.resolve("train_state.json"),
        "{\"step\":20,\"micro_step\":40,\"global_seed\":1,\"world_size\":2,\"skipped_steps\":0,\"tokens_seen\":999}");
    MainTest.Result table = MainTest.run("checkpoint", "inspect", step.toString());
    assertEquals(0, table.code(), table.toString());
    assertTrue(table.out().contains("step: 20  micro_step: 40  world_size: 2  tokens_seen: 999"), table.out());
    MainTest.Result json = MainTest.run("checkpoint", "inspect", step.toString(), "--json");
    assertEquals(0, json.code(), json.toString());
    List<String> lines = json.out().lines().toList();
    assertEquals(2, lines.size(), json.out());
    JsonNode a = new ObjectMapper().readTree(lines.get(0));
    assertEquals("a.weight", a.get("tensor").asText());
    assertEquals("[3,4]", a.get("shape").toString());
    assertEquals(12, a.get("numel").asLong());
    assertEquals(24, a.get("bytes").asLong()); // bf16: 2 bytes each
    JsonNode b = new ObjectMapper().readTree(lines.get(1));
    assertEquals(20, b.get("bytes").asLong());
    MainTest.Result summary = MainTest.run("checkpoint", "inspect", step.toString(), "--summary", "--json");
    JsonNode s = new ObjectMapper().readTree(summary.out().lines().toList().get(0));
    assertEquals(2, s.get("tensors").asInt());
    assertEquals(44, s.get("bytes").asLong());
  }

  @Test
  void corruptOrMissingInputGivesOneLine(@TempDir Path dir) throws Exception {
    Path bad = dir.resolve("bad.safetensors");
    Files.write(bad, new byte[] {1, 2, 3});
    MainTest.Result r = MainTest.run("checkpoint", "inspect", bad.toString());
    assertEquals(2, r.code());
    assertEquals(1, r.errLines().size(), r.toString());
    assertTrue(r.err().contains("too short"), r.err());
    MainTest.assertOneLineError(MainTest.run("checkpoint", "inspect", dir.resolve("nope").toString()),
        "bakery checkpoint inspect: " + dir.resolve("nope") + " does not exist");
  }
}

package ai.bakery.model.io;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Hostile or corrupt headers are refused when the file is opened, before any tensor memory exists. */
class SafetensorsHeaderValidationTest {
  @TempDir Path dir;

  private Path file(String name, long headerLen, String header, int dataBytes) throws Exception {
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(headerLen).put(h);
    Path f = dir.resolve(name);
    Files.write(f, b.array());
    return f;
  }

  private Path file(String name, String header, int dataBytes) throws Exception {
    return file(name, header.getBytes(StandardCharsets.UTF_8).length, header, dataBytes);
  }

  private void rejected(Path f, String... fragments) {
    SafetensorsException e = assertThrows(SafetensorsException.class, () -> SafetensorsReader.open(f));
    for (String frag : fragments) {
      assertTrue(e.getMessage().contains(frag), "'" + e.getMessage() + "' should mention '" + frag + "'");
    }
  }

  @Test
  void headerLengthNegativeHugeOrBeyondFile() throws Exception {
    rejected(file("neg.safetensors", -8, "{}", 0), "header length");
    rejected(file("huge.safetensors", 1L << 40, "{}", 0), "header length");
    rejected(file("long.safetensors", 1000, "{}", 0), "exceeds the file");
    Path tiny = dir.resolve("tiny.safetensors");
    Files.write(tiny, new byte[] {1, 2, 3});
    rejected(tiny, "too short");
  }

  @Test
  void offsetsBeyondTheFile() throws Exception {
    rejected(file("far.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8),
        "tensor w", "beyond the data region");
    rejected(file("far2.safetensors",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[9223372036854775800,9223372036854775807]}}", 8),
        "tensor w");
  }

  @Test
  void hugeShapesAreRefusedWithoutAllocating() throws Exception {
    // 2^40 x 2^40 elements would overflow; 2^31 x 2^20 fits a long but not the 8 data bytes present.
    rejected(file("ovf.safetensors",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[1099511627776,1099511627776],\"data_offsets\":[0,8]}}", 8),
        "tensor w", "shape");
    rejected(file("big.safetensors",
        "{\"w\":{\"dtype\":\"BF16\",\"shape\":[2147483648,1048576],\"data_offsets\":[0,8]}}", 8),
        "tensor w", "needs");
    rejected(file("negshape.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8),
        "shape[0]");
  }

  @Test
  void sizeDisagreeingWithShapeAndOverlaps() throws Exception {
    rejected(file("size.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 16),
        "tensor w", "8 bytes", "needs 12");
    rejected(file("overlap.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 16), "overlap", "a", "b");
    rejected(file("range.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", 16),
        "not a range");
  }

  @Test
  void malformedHeaderContent() throws Exception {
    rejected(file("json.safetensors", "{not json", 0), "not valid JSON");
    rejected(file("arr.safetensors", "[1,2]", 0), "not a JSON object");
    rejected(file("dtype.safetensors", "{\"w\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1),
        "tensor w", "dtype");
    rejected(file("meta.safetensors", "{\"__metadata__\":{\"k\":1}}", 0), "__metadata__.k");
    rejected(file("offs.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4),
        "data_offsets");
  }

  @Test
  void indexNamingMissingOrEscapingShards() throws Exception {
    Path idx = dir.resolve("model.safetensors.index.json");
    Files.writeString(idx, "{\"weight_map\":{\"w\":\"model-00001-of-00002.safetensors\"}}");
    SafetensorsException e = assertThrows(SafetensorsException.class, () -> SafetensorsCheckpoint.open(idx));
    assertTrue(e.getMessage().contains("missing") && e.getMessage().contains("w"), e.getMessage());
    Files.writeString(idx, "{\"weight_map\":{\"w\":\"../etc/x.safetensors\"}}");
    e = assertThrows(SafetensorsException.class, () -> SafetensorsCheckpoint.open(idx));
    assertTrue(e.getMessage().contains("not a file in the index's folder"), e.getMessage());
    Files.writeString(idx, "{\"metadata\":{}}");
    e = assertThrows(SafetensorsException.class, () -> SafetensorsCheckpoint.open(idx));
    assertTrue(e.getMessage().contains("weight_map"), e.getMessage());
  }
}

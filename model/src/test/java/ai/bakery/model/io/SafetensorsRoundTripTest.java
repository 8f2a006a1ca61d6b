package ai.bakery.model.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsRoundTripTest {
  @TempDir Path dir;

  @BeforeAll
  static void start() {
    Torch.init();
  }

  @Test
  void f32RoundTripKeepsValuesShapesAndMetadata() {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray a = m.randomNormal(new Shape(3, 5));
      NDArray s = m.create(7.5f); // scalar
      NDArray empty = m.zeros(new Shape(0, 4));
      Path f = dir.resolve("a.safetensors");
      new SafetensorsWriter().metadata("format", "pt").add("w.a", a, Dtype.F32).add("s", s, Dtype.F32)
          .add("e", empty, Dtype.F32).write(f);
      try (SafetensorsReader r = SafetensorsReader.open(f)) {
        assertEquals(Map.of("format", "pt"), r.metadata());
        assertEquals(List.of("e", "s", "w.a"), List.copyOf(r.tensors().keySet()));
        NDArray b = r.tensor("w.a").load(m);
        assertEquals(DataType.FLOAT32, b.getDataType());
        assertArrayEquals(a.toFloatArray(), b.toFloatArray());
        assertEquals(new Shape(3, 5), b.getShape());
        assertEquals(7.5f, r.tensor("s").load(m).getFloat());
        assertEquals(new Shape(), r.tensor("s").load(m).getShape());
        assertEquals(new Shape(0, 4), r.tensor("e").load(m).getShape());
      }
    }
  }

  @Test
  void bf16RoundsToNearestEvenAndMatchesLibtorch() {
    try (NDManager m = NDManager.newBaseManager()) {
      float ulp = 1f / 128; // bf16 spacing in [1, 2)
      float[] v = {1f, 1f + ulp / 2, 1f + 1.5f * ulp, -2.75f, 1e-40f, Float.POSITIVE_INFINITY, 3.0e38f};
      NDArray a = m.create(v);
      Path f = dir.resolve("b.safetensors");
      new SafetensorsWriter().add("x", a, Dtype.BF16).write(f);
      try (SafetensorsReader r = SafetensorsReader.open(f)) {
        assertEquals(Dtype.BF16, r.tensor("x").dtype());
        float[] back = r.tensor("x").load(m).toFloatArray();
        assertEquals(1f, back[0]);
        assertEquals(1f, back[1]); // tie goes to the even mantissa (1.0)
        assertEquals(1f + 2 * ulp, back[2]); // tie between odd 1+ulp and even 1+2ulp
        assertEquals(-2.75f, back[3]);
        assertEquals(Float.POSITIVE_INFINITY, back[5]);
        ByteBuffer raw = r.raw("x");
        assertEquals((short) 0x3f80, raw.getShort(0));
      }
      // Against libtorch's own fp32 -> bf16 on random data.
      NDArray rnd = m.randomNormal(new Shape(1000)).mul(100);
      Path g = dir.resolve("c.safetensors");
      new SafetensorsWriter().add("r", rnd, Dtype.BF16).write(g);
      try (SafetensorsReader r = SafetensorsReader.open(g);
          Tensor bf = Torch.view(rnd).to(ScalarType.BFloat16);
          Tensor back = bf.to(ScalarType.Float)) {
        NDArray expect = Torch.adopt(back.clone(), m);
        assertArrayEquals(expect.toFloatArray(), r.tensor("r").load(m).toFloatArray());
      }
    }
  }

  @Test
  void f16RoundTripWithinHalfPrecision() {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray a = m.create(new float[] {1f, -0.5f, 65504f, 0.1f}, new Shape(2, 2));
      Path f = dir.resolve("h.safetensors");
      new SafetensorsWriter().add("h", a, Dtype.F16).write(f);
      try (SafetensorsReader r = SafetensorsReader.open(f)) {
        assertEquals((short) 0x3c00, r.raw("h").getShort(0)); // 1.0 in IEEE half
        float[] back = r.tensor("h").load(m).toFloatArray();
        assertArrayEquals(new float[] {1f, -0.5f, 65504f, 0.0999755859375f}, back);
      }
    }
  }

  @Test
  void saveLoadSaveIsByteIdentical() throws Exception {
    for (Dtype dtype : new Dtype[] {Dtype.F32, Dtype.BF16, Dtype.F16}) {
      try (NDManager m = NDManager.newBaseManager()) {
        Path first = dir.resolve("first-" + dtype + ".safetensors");
        new SafetensorsWriter().metadata("step", "12").add("b", m.randomNormal(new Shape(4, 3)), dtype)
            .add("a.weight", m.randomUniform(-1, 1, new Shape(7)), dtype).write(first);
        Path second = dir.resolve("second-" + dtype + ".safetensors");
        try (SafetensorsReader r = SafetensorsReader.open(first)) {
          SafetensorsWriter w = new SafetensorsWriter();
          r.metadata().forEach(w::metadata);
          for (TensorSource t : r.tensors().values()) {
            w.add(t.name(), t.load(m), dtype);
          }
          w.write(second);
        }
        assertArrayEquals(Files.readAllBytes(first), Files.readAllBytes(second), dtype.name());
        long headerLen = ByteBuffer.wrap(Files.readAllBytes(first)).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        assertEquals(0, headerLen % 8, "header padded to 8 bytes");
      }
    }
  }

  @Test
  void rowSlicesMatchTheWholeTensorAcrossMapWindows() {
    long saved = SafetensorsReader.mapWindow;
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray a = m.arange(0f, 60f).reshape(10, 6);
      Path f = dir.resolve("rows.safetensors");
      new SafetensorsWriter().add("other", m.ones(new Shape(3)), Dtype.F32).add("t", a, Dtype.BF16).write(f);
      SafetensorsReader.mapWindow = 3 * 6 * 2; // three bf16 rows per mapping
      try (SafetensorsReader r = SafetensorsReader.open(f)) {
        assertArrayEquals(a.toFloatArray(), r.tensor("t").load(m).toFloatArray());
        NDArray rows = r.tensor("t").loadRows(2, 9, m);
        assertEquals(new Shape(7, 6), rows.getShape());
        assertArrayEquals(a.get("2:9").toFloatArray(), rows.toFloatArray());
        assertEquals(new Shape(0, 6), r.tensor("t").loadRows(4, 4, m).getShape());
        // Straight into an existing array (a worker's shard of a weight), through several windows.
        NDArray shard = m.zeros(new Shape(5, 6));
        shard.setRequiresGradient(true);
        r.tensor("t").copyRowsInto(3, 8, shard);
        assertArrayEquals(a.get("3:8").toFloatArray(), shard.toFloatArray());
        NDArray whole = m.zeros(new Shape(60)); // same elements, any shape
        r.tensor("t").copyInto(whole);
        assertArrayEquals(a.toFloatArray(), whole.toFloatArray());
        assertThrows(SafetensorsException.class, () -> r.tensor("t").copyRowsInto(0, 2, m.zeros(new Shape(3, 6))));
      }
    } finally {
      SafetensorsReader.mapWindow = saved;
    }
  }

  @Test
  void repeatedLoadsHoldFlatMemory() {
    try (NDManager m = NDManager.newBaseManager()) {
      Path f = dir.resolve("big.safetensors");
      new SafetensorsWriter().add("w", m.randomNormal(new Shape(256, 1024)), Dtype.BF16).write(f); // 512 KiB
      NDArray into = m.zeros(new Shape(256, 1024));
      long before = 0;
      try (SafetensorsReader r = SafetensorsReader.open(f)) {
        for (int i = 0; i < 300; i++) {
          try (NDManager step = m.newSubManager()) {
            r.tensor("w").load(step);
            r.tensor("w").copyInto(into);
          }
          if (i == 60) {
            before = rss();
          }
        }
      }
      long growth = rss() - before;
      // 240 iterations of 1 MiB fp32 plus 0.5 MiB mapped each would be ~360 MiB if anything were kept.
      assertTrue(growth < 64L << 20, "resident memory grew by " + (growth >> 20) + " MiB");
    }
  }

  static long rss() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("VmRSS:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
      }
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
    throw new IllegalStateException("no VmRSS");
  }

  @Test
  void integerTensorsKeepTheirType() {
    try (NDManager m = NDManager.newBaseManager()) {
      ByteBuffer b = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
      b.putLong(5).putLong(-1).putLong(1L << 40).flip();
      Path f = dir.resolve("i.safetensors");
      new SafetensorsWriter().addRaw("ids", Dtype.I64, new long[] {3}, b)
          .add("i32", m.create(new int[] {4, 5}), Dtype.I32).write(f);
      try (SafetensorsReader r = SafetensorsReader.open(f)) {
        NDArray ids = r.tensor("ids").load(m);
        assertEquals(DataType.INT64, ids.getDataType());
        assertArrayEquals(new long[] {5, -1, 1L << 40}, ids.toLongArray());
        assertArrayEquals(new int[] {4, 5}, r.tensor("i32").load(m).toIntArray());
      }
    }
  }

  @Test
  void shardedWriteAndReadThroughIndex() throws Exception {
    try (NDManager m = NDManager.newBaseManager()) {
      SafetensorsWriter w = new SafetensorsWriter();
      for (int i = 0; i < 5; i++) {
        w.add("layer." + i + ".weight", m.randomNormal(new Shape(4, 4)), Dtype.F32); // 64 bytes each
      }
      Path out = dir.resolve("sharded");
      List<Path> files = w.writeSharded(out, "model", 150);
      assertEquals(4, files.size()); // 2 + 2 + 1 tensors, then the index
      assertTrue(Files.exists(out.resolve("model-00001-of-00003.safetensors")));
      String index = Files.readString(out.resolve("model.safetensors.index.json"));
      assertTrue(index.contains("\"total_size\" : 320"), index);
      try (SafetensorsCheckpoint c = SafetensorsCheckpoint.openIn(out, "model")) {
        assertEquals(5, c.tensors().size());
        NDArray l4 = c.tensors().get("layer.4.weight").load(m);
        assertEquals(new Shape(4, 4), l4.getShape());
      }
      // One shard: plain file, no index.
      Path single = dir.resolve("single");
      assertEquals(List.of(single.resolve("model.safetensors")), w.writeSharded(single, "model", 1 << 20));
      try (SafetensorsCheckpoint a = SafetensorsCheckpoint.openIn(single, "model");
          SafetensorsCheckpoint b = SafetensorsCheckpoint.open(out.resolve("model.safetensors.index.json"))) {
        for (String name : a.tensors().keySet()) {
          assertArrayEquals(a.tensors().get(name).load(m).toFloatArray(),
              b.tensors().get(name).load(m).toFloatArray(), name);
        }
      }
    }
  }
}

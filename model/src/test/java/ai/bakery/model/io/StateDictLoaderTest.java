package ai.bakery.model.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.model.nn.Init;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StateDictLoaderTest {
  @TempDir Path dir;

  @BeforeAll
  static void start() {
    Torch.init();
  }

  private static ParameterStore store(NDManager m) {
    ParameterStore s = new ParameterStore(m);
    s.create("block.fc.weight", new Shape(2, 3), Init.constant(new Shape(2, 3), 0f));
    s.create("block.fc.bias", new Shape(2), Init.constant(new Shape(2), 0f));
    s.create("norm.weight", new Shape(3), Init.constant(new Shape(3), 1f));
    s.create("vit_pos_embed.pos_embed", new Shape(4, 2), Init.constant(new Shape(4, 2), 7f));
    return s;
  }

  private Path write(NDManager m, String file, Dtype dtype, String... names) {
    SafetensorsWriter w = new SafetensorsWriter();
    for (String n : names) {
      Shape s = n.endsWith("fc.weight") || n.endsWith("renamed.weight") ? new Shape(2, 3)
          : n.endsWith("bias") ? new Shape(2) : n.endsWith("pos_embed") ? new Shape(4, 2) : new Shape(3);
      w.add(n, m.arange(1f, 1f + s.size()).reshape(s), dtype);
    }
    Path f = dir.resolve(file);
    w.write(f);
    return f;
  }

  @Test
  void strictLoadCopiesEveryTensorAndSkipsFixedTables() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore s = store(m)) {
      Path f = write(m, "ok.safetensors", Dtype.BF16, "block.fc.weight", "block.fc.bias", "norm.weight",
          "vit_pos_embed.pos_embed");
      try (SafetensorsReader r = SafetensorsReader.open(f)) {
        LoadReport rep = StateDictLoader.strict().load(r.tensors(), s);
        assertEquals(3, rep.loaded().size());
        assertEquals(List.of("vit_pos_embed.pos_embed"), rep.skipped());
      }
      assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, s.get("block.fc.weight").value().toFloatArray());
      assertArrayEquals(new float[] {1, 2, 3}, s.get("norm.weight").value().toFloatArray());
      assertEquals(7f, s.get("vit_pos_embed.pos_embed").value().getFloat(0, 0)); // sin-cos table kept
      assertTrue(s.get("block.fc.weight").trainable());
    }
  }

  @Test
  void renamedKeyFailsNamingBothAndChangesNothing() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore s = store(m)) {
      Path f = write(m, "renamed.safetensors", Dtype.F32, "block.fc_renamed.weight", "block.fc.bias", "norm.weight");
      try (SafetensorsReader r = SafetensorsReader.open(f)) {
        StateDictException e = assertThrows(StateDictException.class, () -> StateDictLoader.strict().load(r.tensors(), s));
        assertTrue(e.getMessage().contains("1 missing [block.fc.weight]"), e.getMessage());
        assertTrue(e.getMessage().contains("1 unexpected [block.fc_renamed.weight]"), e.getMessage());
        assertTrue(e.getMessage().contains("renamed? block.fc_renamed.weight -> block.fc.weight"), e.getMessage());
        assertEquals(List.of("block.fc.weight"), e.report().missing());
      }
      assertArrayEquals(new float[] {0, 0}, s.get("block.fc.bias").value().toFloatArray()); // nothing copied
    }
  }

  @Test
  void nonStrictReportsMissingAndUnexpectedAndLoadsTheRest() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore s = store(m)) {
      Path f = write(m, "partial.safetensors", Dtype.F32, "block.fc.bias", "extra.bias");
      try (SafetensorsReader r = SafetensorsReader.open(f)) {
        LoadReport rep = StateDictLoader.nonStrict().load(r.tensors(), s);
        assertEquals(List.of("block.fc.bias"), rep.loaded());
        assertEquals(List.of("block.fc.weight", "norm.weight"), rep.missing());
        assertEquals(List.of("extra.bias"), rep.unexpected());
      }
      assertArrayEquals(new float[] {1, 2}, s.get("block.fc.bias").value().toFloatArray());
    }
  }

  @Test
  void shapeMismatchIsNamedEvenWhenNotStrict() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore s = store(m)) {
      SafetensorsWriter w = new SafetensorsWriter().add("norm.weight", m.ones(new Shape(4)), Dtype.F32);
      Path f = dir.resolve("shape.safetensors");
      w.write(f);
      try (SafetensorsReader r = SafetensorsReader.open(f)) {
        StateDictException e = assertThrows(StateDictException.class, () -> StateDictLoader.nonStrict().load(r.tensors(), s));
        assertTrue(e.getMessage().contains("norm.weight: checkpoint [4]") && e.getMessage().contains("model [3]"),
            e.getMessage());
      }
    }
  }

  @Test
  void storeSaveLoadSaveIsByteIdentical() throws Exception {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore a = store(m); ParameterStore b = store(m)) {
      a.get("block.fc.weight").copyFrom(m.randomNormal(new Shape(2, 3)));
      a.get("norm.weight").copyFrom(m.randomNormal(new Shape(3)));
      Path first = dir.resolve("ema.safetensors");
      new SafetensorsWriter().addAll(a, Dtype.BF16).write(first);
      try (SafetensorsReader r = SafetensorsReader.open(first)) {
        StateDictLoader.strict().skipping(n -> false).load(r.tensors(), b);
      }
      Path second = dir.resolve("ema2.safetensors");
      new SafetensorsWriter().addAll(b, Dtype.BF16).write(second);
      assertArrayEquals(java.nio.file.Files.readAllBytes(first), java.nio.file.Files.readAllBytes(second));
    }
  }

  @Test
  void onlyLoadsTheSelectedShard() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore s = store(m)) {
      Path f = write(m, "shard.safetensors", Dtype.F32, "block.fc.weight", "block.fc.bias", "norm.weight");
      try (SafetensorsReader r = SafetensorsReader.open(f)) {
        LoadReport rep = StateDictLoader.strict().only(n -> n.startsWith("block.")).load(r.tensors(), s);
        assertEquals(List.of("block.fc.bias", "block.fc.weight"), rep.loaded());
        assertTrue(rep.clean());
      }
      assertArrayEquals(new float[] {1, 1, 1}, s.get("norm.weight").value().toFloatArray()); // untouched
    }
  }
}

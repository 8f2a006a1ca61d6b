package ai.bakery.runtime.parallel.fsdp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.model.bagel.Bagel;
import ai.bakery.model.io.Dtype;
import ai.bakery.model.io.SafetensorsReader;
import ai.bakery.model.io.SafetensorsWriter;
import ai.bakery.model.nn.Init;
import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Torch;
import ai.bakery.runtime.collective.ParallelDims;
import ai.djl.ndarray.NDManager;
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
 * Sharded start from a checkpoint: a rank builds the tiny BAGEL holding at most one full parameter at a time
 * (each is sliced and freed as it is created), reads exactly its own byte ranges of the memory-mapped
 * safetensors file, and a gathered unit equals the checkpoint's tensors.
 */
class ShardedLoadTest {
  @TempDir
  static Path tmp;
  static Path file;
  static Map<String, float[]> written = new LinkedHashMap<>();

  @BeforeAll
  static void checkpoint() {
    Torch.init();
    file = tmp.resolve("model.safetensors");
    try (NDManager root = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(root)) {
      TinyBagelRanks.bagel(store, Init.seeded(TinyBagelRanks.SEED));
      new SafetensorsWriter().addAll(store, Dtype.F32).write(file);
      for (Parameter p : store.all().values()) {
        written.put(p.name(), p.value().toFloatArray());
      }
    }
  }

  @Test
  void eachRankReadsOnlyItsSlicesAndGathersTheCheckpoint() throws Exception {
    long dataBytes = 0;
    for (float[] v : written.values()) {
      dataBytes += 4L * v.length;
    }
    long total = dataBytes;
    List<Long> read = TinyBagelRanks.runRanks(new ParallelDims(2, 2), (rank, mesh) -> {
      try (NDManager root = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(root);
          PreSharder pre = PreSharder.install(store, mesh.shard().rank(), mesh.shard().worldSize())) {
        Bagel bagel = TinyBagelRanks.bagel(store, Init.forLoading());
        for (Parameter p : store.all().values()) {
          assertTrue(released(p), p.name() + " was freed as soon as it was sliced");
        }
        List<SegmentChain> chains = BagelShardPlan.chains(bagel);
        try (ShardedState state = new ShardedState(store, BagelShardPlan.unitPrefixes(chains), mesh.shard(),
            mesh.replicate(), pre); SafetensorsReader reader = SafetensorsReader.open(file)) {
          ShardedLoader.Report report = ShardedLoader.load(reader.tensors(), state.params(), true);
          assertEquals(store.all().size(), report.loaded());
          long mine = 0;
          for (ShardSlice s : state.params()) {
            mine += 4 * s.range().length();
            float[] whole = written.get(s.name());
            assertArrayEquals(Arrays.copyOfRange(whole, (int) s.range().start(), (int) s.range().end()),
                s.shard().toFloatArray(), s.name());
          }
          assertEquals(mine, reader.bytesRead(), "the reader copied exactly this rank's slices");
          assertTrue(reader.bytesRead() <= total / 2 + 4L * store.all().size(), "about half of the file's data");

          ShardUnit layer = state.unit(chains.get(chains.size() - 1).unitPrefixes().get(1));
          state.gather(layer);
          for (ShardedParameter sp : layer.params()) {
            assertArrayEquals(written.get(sp.name()), sp.parameter().value().toFloatArray(), sp.name() + " gathered");
          }
          state.release(layer);
          assertTrue(layer.params().stream().allMatch(sp -> released(sp.parameter())), "released again");
          float[] nan = layer.params().get(0).parameter().value().toFloatArray();
          assertTrue(Float.isNaN(nan[0]), "a released weight reads as NaN, so a missed gather cannot go unnoticed");
          return reader.bytesRead();
        }
      }
    });
    assertEquals(total, read.get(0) + read.get(1), "the two ranks together read the model once");
  }

  @Test
  void aMismatchedCheckpointIsNamed() throws Exception {
    Path other = tmp.resolve("other.safetensors");
    try (NDManager root = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(root)) {
      store.create("vae2llm.weight", new ai.djl.ndarray.types.Shape(3, 3), m -> m.zeros(new ai.djl.ndarray.types.Shape(3, 3)));
      new SafetensorsWriter().addAll(store, Dtype.F32).write(other);
    }
    try (NDManager root = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(root)) {
      TinyBagelRanks.bagel(store, Init.forLoading());
      try (ShardedState state = new ShardedState(store, List.of(), null, null);
          SafetensorsReader reader = SafetensorsReader.open(other)) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> ShardedLoader.load(reader.tensors(), state.params(), false));
        assertTrue(e.getMessage().contains("vae2llm.weight"), e.getMessage());
      }
      try (ShardedState state = new ShardedState(store, List.of(), null, null);
          SafetensorsReader reader = SafetensorsReader.open(file)) {
        ShardedLoader.Report r = ShardedLoader.load(Map.of(), state.params(), false);
        assertEquals(0, r.loaded());
        assertEquals(store.all().size(), r.missing().size());
        assertThrows(IllegalArgumentException.class, () -> ShardedLoader.load(Map.of(), state.params(), true));
        assertTrue(Files.size(file) > 0 && reader.bytesRead() == 0);
      }
    }
  }

  /** Holds no full value: one NaN broadcast to the parameter's shape. */
  private static boolean released(Parameter p) {
    try (org.bytedeco.javacpp.PointerScope scope = new org.bytedeco.javacpp.PointerScope()) {
      org.bytedeco.pytorch.Tensor t = Torch.view(p.value());
      long[] strides = t.strides().vec().get();
      return Arrays.stream(strides).allMatch(s -> s == 0) && Arrays.equals(t.sizes().vec().get(),
          p.value().getShape().getShape());
    }
  }
}

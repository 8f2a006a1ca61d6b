package ai.bakery.runtime.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.model.io.SafetensorsReader;
import ai.bakery.model.io.TensorSource;
import ai.bakery.model.tensor.Torch;
import ai.bakery.runtime.parallel.ShardRange;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ShardedCheckpointTest {
  @TempDir
  Path tmp;

  private NDManager m;
  /** group -> name -> full tensor: the truth every layout must give back bit for bit. */
  private final Map<String, Map<String, NDArray>> truth = new LinkedHashMap<>();

  @BeforeAll
  static void start() {
    Torch.init();
  }

  @BeforeEach
  void tensors() {
    m = NDManager.newBaseManager();
    Random rnd = new Random(7);
    // sizes chosen so 2, 3 and 4 ranks split them unevenly, with empty tail ranks (1 and 2 elements)
    long[][] shapes = {{7, 5}, {3}, {1}, {2}, {2, 2, 2}, {11, 3}, {0}};
    String[] names = {"llm.w", "llm.b", "scale", "pair", "cube", "vit.w", "empty"};
    for (String group : List.of(ShardedSaver.MODEL, ShardedSaver.EMA, ShardedSaver.OPTIMIZER)) {
      Map<String, NDArray> g = new LinkedHashMap<>();
      for (int i = 0; i < names.length; i++) {
        long[] shape = shapes[i];
        int n = (int) ShardedTensor.numel(shape);
        float[] v = new float[n];
        for (int j = 0; j < n; j++) {
          v[j] = (float) rnd.nextGaussian();
        }
        if (n > 3) {
          v[0] = -0.0f; // bit-exact, not just equal
          v[1] = Float.intBitsToFloat(0x7fc00123); // a NaN with payload
        }
        String name = group.equals(ShardedSaver.OPTIMIZER) ? names[i] + ".exp_avg" : names[i];
        g.put(name, m.create(v, new Shape(shape)));
      }
      truth.put(group, g);
    }
  }

  @AfterEach
  void close() {
    m.close();
  }

  /** Saves the truth from {@code world} data-parallel ranks (each writes its ShardRange of every tensor). */
  private Path saveFull(Path root, long step, int world) {
    List<ShardedSaver> savers = new ArrayList<>();
    List<ShardedSaver.Ticket> tickets = new ArrayList<>();
    for (int r = 0; r < world; r++) {
      ShardedSaver s = new ShardedSaver(ShardedSaver.Config.of(root, r, world));
      savers.add(s);
      Map<String, List<ShardedTensor>> groups = new LinkedHashMap<>();
      for (var g : truth.entrySet()) {
        groups.put(g.getKey(), ShardedTensor.allOfFull(g.getValue(), r, world));
      }
      tickets.add(s.snapshot(new ShardedSaver.Request(step, groups, Map.of("data", "{\"rank\":" + r + "}"),
          r == 0 ? Map.of("train_state.json", "{\"step\":" + step + "}") : null)));
    }
    tickets.forEach(t -> t.done().join());
    savers.forEach(ShardedSaver::close);
    assertTrue(tickets.get(0).done().join().committed());
    return root.resolve(CheckpointManager.stepName(step));
  }

  private static int[] bits(NDArray a) {
    float[] f = a.toFloatArray();
    int[] out = new int[f.length];
    for (int i = 0; i < f.length; i++) {
      out[i] = Float.floatToRawIntBits(f[i]);
    }
    return out;
  }

  private static int[] bits(NDArray full, ShardRange r) {
    int[] all = bits(full);
    return java.util.Arrays.copyOfRange(all, (int) r.start(), (int) r.end());
  }

  @Test
  void reshardsThreeToTwoToFourAndToOneBitExact() {
    Path root = tmp.resolve("ckpt");
    Path three = saveFull(root, 3, 3);
    assertEquals(List.of(three), CheckpointManager.stepDirs(root));

    // world 2 (FULL_SHARD style): each rank reads only its slice, checks it, and saves it as its own flat slice
    List<ShardedSaver.Ticket> tickets = new ArrayList<>();
    List<ShardedSaver> savers = new ArrayList<>();
    try (NDManager two = m.newSubManager()) {
      for (int r = 0; r < 2; r++) {
        Map<String, List<ShardedTensor>> groups = new LinkedHashMap<>();
        try (ShardedReader reader = ShardedReader.open(three)) {
          assertEquals(3, reader.savedWorld());
          long expectBytes = 0;
          for (var g : truth.entrySet()) {
            List<ShardedTensor> slices = new ArrayList<>();
            for (var t : g.getValue().entrySet()) {
              NDArray slice = reader.readSlice(g.getKey(), t.getKey(), r, 2, two);
              long[] shape = t.getValue().getShape().getShape();
              ShardRange range = ShardRange.of(ShardedTensor.numel(shape), r, 2);
              assertArrayEquals(bits(t.getValue(), range), bits(slice), g.getKey() + "/" + t.getKey() + " rank " + r);
              expectBytes += range.length() * 4;
              slices.add(ShardedTensor.ofSlice(t.getKey(), shape, slice, r, 2));
            }
            groups.put(g.getKey(), slices);
          }
          assertEquals(expectBytes, reader.bytesRead(), "a rank reads exactly its own range's bytes");
          assertEquals("{\"rank\":1}", reader.rankStates(1).get("data").toString());
          assertEquals("{\"step\":3}", reader.stepFile("train_state.json").orElseThrow().replaceAll("\\s", ""));
        }
        ShardedSaver s = new ShardedSaver(ShardedSaver.Config.of(root, r, 2));
        savers.add(s);
        tickets.add(s.snapshot(new ShardedSaver.Request(4, groups, Map.of(),
            r == 1 ? Map.of("train_state.json", "{\"step\":4}") : null))); // any rank may commit
      }
      tickets.forEach(t -> t.done().join());
    }
    savers.forEach(ShardedSaver::close);
    Path twoDir = root.resolve(CheckpointManager.stepName(4));
    assertEquals(twoDir, CheckpointManager.latestComplete(root).orElseThrow());

    // world 4 from the world-2 files, and world 1 (full tensors, shaped) from both
    try (ShardedReader reader = ShardedReader.open(twoDir); NDManager four = m.newSubManager()) {
      assertEquals(2, reader.savedWorld());
      for (int r = 0; r < 4; r++) {
        for (var g : truth.entrySet()) {
          for (var t : g.getValue().entrySet()) {
            ShardRange range = ShardRange.of(t.getValue().size(), r, 4);
            assertArrayEquals(bits(t.getValue(), range), bits(reader.readSlice(g.getKey(), t.getKey(), r, 4, four)),
                g.getKey() + "/" + t.getKey() + " rank " + r + " of 4");
          }
        }
      }
    }
    for (Path dir : List.of(three, twoDir)) {
      try (ShardedReader reader = ShardedReader.open(dir, true); NDManager one = m.newSubManager()) {
        for (var g : truth.entrySet()) {
          assertEquals(new ArrayList<>(g.getValue().keySet()), reader.names(g.getKey()));
          for (var t : g.getValue().entrySet()) {
            NDArray full = reader.readFull(g.getKey(), t.getKey(), one);
            assertEquals(t.getValue().getShape(), full.getShape());
            assertArrayEquals(bits(t.getValue()), bits(full));
          }
        }
      }
    }
  }

  @Test
  void windowedMappingGivesTheSameBytes() {
    Path dir = saveFull(tmp.resolve("ckpt"), 1, 3);
    long saved = ShardedReader.mapWindow;
    ShardedReader.mapWindow = 12; // three floats per mapping
    try (ShardedReader reader = ShardedReader.open(dir); NDManager s = m.newSubManager()) {
      NDArray w = truth.get(ShardedSaver.MODEL).get("vit.w");
      assertArrayEquals(bits(w), bits(reader.readFull(ShardedSaver.MODEL, "vit.w", s)));
      NDArray into = s.zeros(new Shape(10));
      reader.readInto(ShardedSaver.MODEL, "vit.w", new ShardRange(9, 19), into);
      assertArrayEquals(bits(w, new ShardRange(9, 19)), bits(into));
    } finally {
      ShardedReader.mapWindow = saved;
    }
  }

  @Test
  void snapshotCopiesSoLaterUpdatesDoNotLeakIntoTheSave() throws Exception {
    Path root = tmp.resolve("ckpt");
    NDArray w = truth.get(ShardedSaver.MODEL).get("llm.w");
    int[] before = bits(w);
    try (ShardedSaver saver = new ShardedSaver(ShardedSaver.Config.of(root, 0, 1))) {
      ShardedSaver.Ticket t = saver.snapshot(ShardedSaver.Request.of(1, ShardedTensor.allOfFull(Map.of("llm.w", w),
          0, 1), null, null, Map.of(), Map.of("train_state.json", "{}")));
      w.subi(1000f); // the trainer's next update, while the write may still be in flight
      ShardedSaver.Written done = t.done().get();
      assertTrue(done.committed());
      assertTrue(t.stallNanos() <= done.totalNanos(), "the stall is part of the whole save");
      assertEquals(35 * 4, t.bytes());
      // with one staging set, a second snapshot waits for the first write, then reuses its buffers
      ShardedSaver.Ticket t2 = saver.snapshot(ShardedSaver.Request.of(2, ShardedTensor.allOfFull(Map.of("llm.w", w),
          0, 1), null, null, Map.of(), Map.of("train_state.json", "{}")));
      ShardedSaver.Ticket t3 = saver.snapshot(ShardedSaver.Request.of(3, ShardedTensor.allOfFull(Map.of("llm.w", w),
          0, 1), null, null, Map.of(), Map.of("train_state.json", "{}")));
      assertTrue(Files.isRegularFile(root.resolve("0000002").resolve(ShardFiles.manifestName(0, 1))),
          "buffers=1: step 3's snapshot waited for step 2's part to be written");
      assertFalse(t3.done().isCompletedExceptionally());
    } // close() flushes step 3
    try (ShardedReader r1 = ShardedReader.open(root.resolve(CheckpointManager.stepName(1)));
        ShardedReader r3 = ShardedReader.open(root.resolve(CheckpointManager.stepName(3)));
        NDManager s = m.newSubManager()) {
      assertArrayEquals(before, bits(r1.readFull(ShardedSaver.MODEL, "llm.w", s)));
      assertArrayEquals(bits(w), bits(r3.readFull(ShardedSaver.MODEL, "llm.w", s)));
    }
  }

  @Test
  void retentionKeepsTheNewestCommittedOnes() {
    Path root = tmp.resolve("ckpt");
    try (ShardedSaver saver = new ShardedSaver(ShardedSaver.Config.of(root, 0, 1).withKeepLast(2).withBuffers(2))) {
      for (long step = 1; step <= 4; step++) {
        saver.snapshot(ShardedSaver.Request.of(step, ShardedTensor.allOfFull(truth.get(ShardedSaver.MODEL), 0, 1),
            null, null, Map.of(), Map.of("train_state.json", "{}")));
      }
    }
    List<String> left = CheckpointManager.stepDirs(root).stream().map(p -> p.getFileName().toString()).toList();
    assertEquals(List.of("0000004", "0000003"), left);
  }

  @Test
  void exportEqualsTheSingleFileWritersModelAndEmaByteForByte() throws Exception {
    Path dir = saveFull(tmp.resolve("ckpt"), 5, 3);
    Path out = tmp.resolve("export");
    List<Path> files = ShardedExport.export(dir, out);
    assertEquals(List.of(out.resolve("model.safetensors"), out.resolve("ema.safetensors")), files);
    for (String group : List.of(ShardedSaver.MODEL, ShardedSaver.EMA)) {
      Path ref = tmp.resolve("ref-" + group + ".safetensors");
      ai.bakery.model.io.SafetensorsWriter w = new ai.bakery.model.io.SafetensorsWriter().metadata("format", "pt");
      truth.get(group).forEach((name, value) -> w.add(name, value, ai.bakery.model.io.Dtype.F32));
      w.write(ref);
      assertArrayEquals(Files.readAllBytes(ref), Files.readAllBytes(out.resolve(group + ".safetensors")), group);
      try (SafetensorsReader r = SafetensorsReader.open(out.resolve(group + ".safetensors"));
          NDManager s = m.newSubManager()) {
        Map<String, TensorSource> tensors = new TreeMap<>(r.tensors());
        assertEquals(new java.util.TreeSet<>(truth.get(group).keySet()), tensors.keySet());
        for (var t : truth.get(group).entrySet()) {
          assertArrayEquals(bits(t.getValue()), bits(tensors.get(t.getKey()).load(s)));
        }
      }
    }
  }

  @Test
  void commitWaitsForTheOtherRanks() throws Exception {
    Path root = tmp.resolve("ckpt");
    Map<String, List<ShardedTensor>> g0 = Map.of(ShardedSaver.MODEL,
        ShardedTensor.allOfFull(truth.get(ShardedSaver.MODEL), 0, 2));
    Map<String, List<ShardedTensor>> g1 = Map.of(ShardedSaver.MODEL,
        ShardedTensor.allOfFull(truth.get(ShardedSaver.MODEL), 1, 2));
    try (ShardedSaver r0 = new ShardedSaver(new ShardedSaver.Config(root, 0, 2, 1, 0, Duration.ofSeconds(30)));
        ShardedSaver r1 = new ShardedSaver(ShardedSaver.Config.of(root, 1, 2))) {
      ShardedSaver.Ticket t0 = r0.snapshot(new ShardedSaver.Request(1, g0, Map.of(), Map.of("train_state.json", "{}")));
      Thread.sleep(200);
      assertFalse(t0.done().isDone(), "rank 0 cannot commit before rank 1 wrote its part");
      assertTrue(CheckpointManager.latestComplete(root).isEmpty());
      r1.snapshot(new ShardedSaver.Request(1, g1, Map.of(), null)).done().get();
      assertTrue(t0.done().get().committed());
    }
    assertEquals(root.resolve("0000001"), CheckpointManager.latestComplete(root).orElseThrow());
  }
}

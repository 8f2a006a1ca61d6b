package ai.bakery.runtime.checkpoint;

import ai.bakery.model.bagel.Bagel;
import ai.bakery.model.bench.StepBench;
import ai.bakery.model.config.BagelConfig;
import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Torch;
import ai.bakery.runtime.optim.AdamW;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The checkpoint half of {@code bakery bench recovery}: for each preset, how long a sharded save stalls the
 * training step (the snapshot to host memory) next to the whole save (until {@code COMPLETE} is durable) and to
 * the preset's training step measured in the same run, plus how long a survivor takes to verify the checkpoint's
 * checksums and read its shard back after losing one rank. The state saved is the real model's weights, EMA and both AdamW moments.
 *
 * <p>The ranks of a world run in this one process: each rank's stall is its own snapshot (ranks snapshot in
 * parallel in a real job), while the save time spans all ranks' writes sharing this machine's disk, so it is an
 * upper bound. The step is the preset's language-model training step (fp32, {@link StepBench#stepMillis}), ViT and
 * VAE excluded: a lower bound on the real step, so the stall share is an upper bound.
 */
public final class CheckpointBench {
  /**
   * @param presets preset folder names under the presets folder
   * @param worlds ranks per save
   * @param saves saves timed per world (the first also allocates the staging buffers and is reported apart)
   * @param tokens tokens per timed training step
   * @param sampleLen tokens per packed sample of that step
   * @param steps timed training steps (best kept)
   */
  public record Config(List<String> presets, List<Integer> worlds, int saves, int tokens, int sampleLen, int steps) {
    public Config {
      if (presets.isEmpty() || worlds.isEmpty()) {
        throw new IllegalArgumentException("bench recovery: give at least one preset and one world size");
      }
      for (int w : worlds) {
        if (w < 1) {
          throw new IllegalArgumentException("bench recovery: world sizes must be >= 1, got " + w);
        }
      }
      if (saves < 2 || tokens < 1 || sampleLen < 1 || steps < 1) {
        throw new IllegalArgumentException("bench recovery: saves must be >= 2 and tokens, sample length and steps"
            + " >= 1");
      }
    }

    public static Config defaults() {
      return new Config(List.of("tiny", "mid"), List.of(1, 3), 3, 2048, 1024, 2);
    }
  }

  private CheckpointBench() {}

  /** One row per preset and world size; {@code workDir} receives the checkpoints and is emptied afterwards. */
  public static List<Map<String, Object>> run(Path presetsDir, Path workDir, Config config) {
    Torch.init();
    List<Map<String, Object>> rows = new ArrayList<>();
    for (String preset : config.presets()) {
      long stepMs = new StepBench(presetsDir).stepMillis(preset, config.tokens(), config.sampleLen(), config.steps());
      BagelConfig cfg = BagelConfig.readModelDir(presetsDir.resolve(preset));
      try (NDManager root = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(root)) {
        new Bagel(cfg, store, 1);
        Map<String, NDArray> model = new LinkedHashMap<>();
        Map<String, NDArray> ema = new LinkedHashMap<>();
        Map<String, NDArray> moments = new LinkedHashMap<>();
        for (Parameter p : store.all().values()) {
          model.put(p.name(), p.value());
          ema.put(p.name(), p.value().duplicate());
          moments.put(p.name() + AdamW.EXP_AVG, p.value().duplicate());
          moments.put(p.name() + AdamW.EXP_AVG_SQ, p.value().duplicate());
        }
        for (int world : config.worlds()) {
          Path dir = workDir.resolve(preset + "-w" + world);
          try {
            rows.add(measure(preset, world, dir, config.saves(), stepMs, model, ema, moments));
          } finally {
            CheckpointManager.deleteTreeForTests(dir);
          }
        }
      }
    }
    return rows;
  }

  private static Map<String, Object> measure(String preset, int world, Path dir, int saves, long stepMs,
      Map<String, NDArray> model, Map<String, NDArray> ema, Map<String, NDArray> moments) {
    List<ShardedSaver> savers = new ArrayList<>();
    double[] stallMs = new double[saves];
    double[] saveMs = new double[saves];
    long bytes = 0;
    Path last = null;
    try {
      for (int r = 0; r < world; r++) {
        savers.add(new ShardedSaver(ShardedSaver.Config.of(dir, r, world).withKeepLast(2)));
      }
      for (int i = 0; i < saves; i++) {
        long t0 = System.nanoTime();
        List<ShardedSaver.Ticket> tickets = new ArrayList<>();
        long stall = 0;
        bytes = 0;
        for (int r = 0; r < world; r++) {
          ShardedSaver.Request req = ShardedSaver.Request.of(i + 1, ShardedTensor.allOfFull(model, r, world),
              ShardedTensor.allOfFull(ema, r, world), ShardedTensor.allOfFull(moments, r, world),
              Map.of("data_status", "{\"rank\":" + r + "}"),
              r == 0 ? Map.of(CheckpointManager.TRAIN_STATE_JSON, "{\"step\":" + (i + 1) + "}") : null);
          ShardedSaver.Ticket t = savers.get(r).snapshot(req);
          stall = Math.max(stall, t.stallNanos());
          bytes += t.bytes();
          tickets.add(t);
        }
        for (ShardedSaver.Ticket t : tickets) {
          last = t.done().join().stepDir();
        }
        stallMs[i] = stall / 1e6;
        saveMs[i] = (System.nanoTime() - t0) / 1e6;
      }
    } finally {
      savers.forEach(ShardedSaver::close);
    }
    int survivors = Math.max(1, world - 1);
    long t0 = System.nanoTime();
    try (ShardedReader reader = ShardedReader.open(last); NDManager scratch = NDManager.newBaseManager()) {
      for (String group : reader.groups()) {
        for (String name : reader.names(group)) {
          reader.readSlice(group, name, 0, survivors, scratch).close();
        }
      }
    }
    double reloadMs = (System.nanoTime() - t0) / 1e6;
    double stall = median(Arrays.copyOfRange(stallMs, 1, saves));
    double save = median(Arrays.copyOfRange(saveMs, 1, saves));
    Map<String, Object> row = new LinkedHashMap<>();
    row.put("measure", "checkpoint save");
    row.put("preset", preset);
    row.put("world", world);
    row.put("state_mib", round(bytes / 1048576.0));
    row.put("step_ms", stepMs);
    row.put("stall_ms", round(stall));
    row.put("first_stall_ms", round(stallMs[0]));
    row.put("save_ms", round(save));
    row.put("stall_of_step", pct(stall / Math.max(1, stepMs)));
    row.put("stall_of_save", pct(stall / save));
    row.put("reload_ms", round(reloadMs));
    row.put("reload_as", "rank 0 of " + survivors);
    return row;
  }

  private static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }

  private static double round(double ms) {
    return Math.round(ms * 10) / 10.0;
  }

  private static String pct(double fraction) {
    return String.format(Locale.ROOT, "%.2f%%", 100 * fraction);
  }

  /** A temporary work folder for {@link #run}. */
  public static Path tempDir() {
    try {
      return Files.createTempDirectory("bakery-bench-recovery");
    } catch (IOException e) {
      throw new CheckpointException("cannot create a temporary folder: " + e.getMessage(), e);
    }
  }
}

package ai.bakery.runtime.parallel.fsdp;

import ai.bakery.runtime.checkpoint.CheckpointException;
import ai.bakery.runtime.checkpoint.ShardedReader;
import ai.bakery.runtime.checkpoint.ShardedSaver;
import ai.bakery.runtime.checkpoint.ShardedTensor;
import ai.bakery.runtime.optim.AdamW;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A sharded rank's state as the sharded checkpoint stores it, under the single-process names: group
 * {@code model} (the weights), {@code ema}, {@code optimizer} ({@code <param>.exp_avg}, {@code <param>.exp_avg_sq})
 * plus the per-parameter AdamW step counts of {@code optimizer.json}. The shard group's rank and size are the
 * checkpoint's; under HYBRID_SHARD one replica (replicate rank 0) saves, every replica restores.
 */
public final class ShardedCheckpointParts {
  private ShardedCheckpointParts() {}

  /** This rank's slices by checkpoint group, for {@code ShardedSaver.Request}. Live views: snapshot before the next step. */
  public static Map<String, List<ShardedTensor>> groups(ShardedState state) {
    Map<String, List<ShardedTensor>> out = new LinkedHashMap<>();
    out.put(ShardedSaver.MODEL, tensors(state.params(), ""));
    if (state.hasEma()) {
      out.put(ShardedSaver.EMA, tensors(state.ema(), ""));
    }
    List<ShardedTensor> opt = new ArrayList<>(tensors(state.expAvg(), AdamW.EXP_AVG));
    opt.addAll(tensors(state.expAvgSq(), AdamW.EXP_AVG_SQ));
    out.put(ShardedSaver.OPTIMIZER, opt);
    return out;
  }

  /** AdamW updates per parameter as {@code optimizer.json} keeps them (parameters that had one). */
  public static Map<String, Long> optimizerSteps(ShardedState state) {
    Map<String, Long> out = new LinkedHashMap<>();
    state.steps().forEach((name, n) -> {
      if (n > 0) {
        out.put(name, n);
      }
    });
    return out;
  }

  /**
   * Reads this rank's slices from a sharded checkpoint saved at any world size: the weights, the EMA of the
   * averaged parameters (when the state keeps one and the checkpoint has it) and, unless {@code modelOnly}, the
   * moments and {@code steps} (from its optimizer.json). A weight the checkpoint lacks is an error naming it.
   */
  public static void restore(ShardedReader reader, ShardedState state, Map<String, Long> steps, boolean modelOnly) {
    for (ShardSlice s : state.params()) {
      require(reader, ShardedSaver.MODEL, s.name());
      reader.readInto(ShardedSaver.MODEL, s.name(), s.range(), s.shard());
    }
    if (state.hasEma() && reader.groups().contains(ShardedSaver.EMA)) {
      for (ShardSlice s : state.ema()) {
        if (state.emaTracks(s.name()) && reader.has(ShardedSaver.EMA, s.name())) {
          reader.readInto(ShardedSaver.EMA, s.name(), s.range(), s.shard());
        }
      }
    }
    if (modelOnly) {
      return;
    }
    for (Map.Entry<String, Long> e : steps.entrySet()) {
      List<ShardSlice> m = state.moments(e.getKey());
      require(reader, ShardedSaver.OPTIMIZER, e.getKey() + AdamW.EXP_AVG);
      require(reader, ShardedSaver.OPTIMIZER, e.getKey() + AdamW.EXP_AVG_SQ);
      reader.readInto(ShardedSaver.OPTIMIZER, e.getKey() + AdamW.EXP_AVG, m.get(0).range(), m.get(0).shard());
      reader.readInto(ShardedSaver.OPTIMIZER, e.getKey() + AdamW.EXP_AVG_SQ, m.get(1).range(), m.get(1).shard());
      state.setStep(e.getKey(), e.getValue());
    }
  }

  private static void require(ShardedReader reader, String group, String name) {
    if (!reader.has(group, name)) {
      throw new CheckpointException(reader.dir() + ": group " + group + " has no tensor " + name);
    }
  }

  private static List<ShardedTensor> tensors(List<ShardSlice> slices, String suffix) {
    List<ShardedTensor> out = new ArrayList<>(slices.size());
    for (ShardSlice s : slices) {
      out.add(new ShardedTensor(s.name() + suffix, s.shape(), s.range(), s.shard(), 0));
    }
    return out;
  }
}

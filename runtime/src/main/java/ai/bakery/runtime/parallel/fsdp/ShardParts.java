package ai.bakery.runtime.parallel.fsdp;

import ai.bakery.model.tensor.Torch;
import ai.bakery.runtime.parallel.ShardRange;
import ai.djl.ndarray.NDArray;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;

/**
 * A sharded state read and written one unit at a time as flat buffers in the unit's layout (parameter {@code p}
 * at its offset, {@code chunk(p)} elements reserved, the real ones first), one buffer per part of the state:
 * weights, both AdamW moments, EMA. Moving a unit's part between ranks is then one collective of one buffer.
 * Absent entries (moments of a parameter never updated, the EMA of a frozen weight) read as zeros and are not
 * written.
 */
final class ShardParts {
  /** What a unit's state is made of. */
  enum Part {
    WEIGHTS,
    EXP_AVG,
    EXP_AVG_SQ,
    EMA
  }

  private final ShardedState state;
  private final Map<String, NDArray> expAvg = new HashMap<>();
  private final Map<String, NDArray> expAvgSq = new HashMap<>();
  private final Map<String, NDArray> ema = new HashMap<>();

  ShardParts(ShardedState state) {
    this.state = state;
    for (ShardSlice s : state.expAvg()) {
      expAvg.put(s.name(), s.shard());
    }
    for (ShardSlice s : state.expAvgSq()) {
      expAvgSq.put(s.name(), s.shard());
    }
    for (ShardSlice s : state.ema()) {
      if (state.emaTracks(s.name())) {
        ema.put(s.name(), s.shard());
      }
    }
  }

  /** The parts a state holds, in the order they are moved (the EMA only when one was started). */
  static List<Part> parts(ShardedState state) {
    List<Part> out = new ArrayList<>(List.of(Part.WEIGHTS, Part.EXP_AVG, Part.EXP_AVG_SQ));
    if (state.hasEma()) {
      out.add(Part.EMA);
    }
    return out;
  }

  /** Writes unit {@code u}'s {@code part} into {@code dst} ({@code u.shardNumel()} elements). */
  void pack(ShardUnit u, Part part, Tensor dst) {
    if (part == Part.WEIGHTS) {
      dst.copy_(Torch.view(u.master()));
      return;
    }
    dst.zero_();
    Map<String, NDArray> from = map(part);
    for (ShardedParameter sp : u.params()) {
      NDArray a = from.get(sp.name());
      if (a != null && sp.range().length() > 0) {
        dst.narrow(0, sp.offset(), sp.range().length()).copy_(Torch.view(a));
      }
    }
  }

  /**
   * Sets unit {@code u}'s {@code part} from {@code src} (this rank's layout). Moments are written (and created)
   * for parameters with {@code steps > 0} only, as AdamW creates them at a parameter's first update.
   */
  void unpack(ShardUnit u, Part part, Tensor src, Map<String, Long> steps) {
    for (ShardedParameter sp : u.params()) {
      long len = sp.range().length();
      NDArray dst;
      switch (part) {
        case WEIGHTS -> dst = null;
        case EXP_AVG, EXP_AVG_SQ -> {
          if (steps.getOrDefault(sp.name(), 0L) <= 0) {
            continue;
          }
          dst = state.moments(sp.name()).get(part == Part.EXP_AVG ? 0 : 1).shard();
        }
        default -> {
          dst = ema.get(sp.name());
          if (dst == null) {
            continue;
          }
        }
      }
      if (len == 0) {
        continue;
      }
      Tensor to = dst == null ? Torch.view(u.master()).narrow(0, sp.offset(), len) : Torch.view(dst);
      to.copy_(src.narrow(0, sp.offset(), len));
    }
  }

  private Map<String, NDArray> map(Part part) {
    return switch (part) {
      case EXP_AVG -> expAvg;
      case EXP_AVG_SQ -> expAvgSq;
      case EMA -> ema;
      default -> throw new IllegalArgumentException(part.toString());
    };
  }

  /** Offsets of each parameter (by its element count) in a unit's flat buffer for shard size {@code size}. */
  static long[] offsets(long[] numels, int size) {
    long[] out = new long[numels.length + 1];
    for (int i = 0; i < numels.length; i++) {
      out[i + 1] = out[i] + ShardRange.chunk(numels[i], size);
    }
    return out;
  }

  /** Element counts of a unit's parameters, in unit order. */
  static long[] numels(ShardUnit u) {
    long[] out = new long[u.params().size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = u.params().get(i).numel();
    }
    return out;
  }
}

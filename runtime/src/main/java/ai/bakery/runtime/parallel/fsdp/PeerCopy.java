package ai.bakery.runtime.parallel.fsdp;

import ai.bakery.model.tensor.Torch;
import ai.bakery.runtime.collective.Collective;
import ai.bakery.runtime.collective.DType;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import ai.bakery.runtime.optim.AdamW;
import ai.bakery.runtime.optim.OptimizerConfig;
import ai.bakery.runtime.parallel.ShardRange;
import ai.bakery.runtime.train.StepResult;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

/**
 * An in-memory redundant copy of a peer's shard: shard rank {@code r} of a shard group of {@code S} keeps the
 * weights, AdamW moments and EMA of shard {@code (r + 1) mod S}, tagged with the committed step they belong to.
 * When a worker is lost, its shard survives in the copy its left neighbour holds ({@link ShardRegroup} reads
 * it); when both are lost, the state must come from a checkpoint.
 *
 * <p>The copy is taken whole when a group forms ({@link #refresh}: one all-gather per unit and part over the
 * shard group, of which this rank keeps its neighbour's block) and then follows every step: after the compute the
 * ranks exchange their reduced gradient shards the same way ({@link #exchangeGradients}, part of the step, so a
 * failure aborts the step and leaves shards and copies at the same committed step), and the commit applies the
 * same AdamW and EMA update to the copy locally ({@link #followCommit}). Each all-gather receives {@code S - 1}
 * shards' worth to keep one (collective-only; a point-to-point exchange would move one). Memory: one more shard
 * of the state per rank and one of the gradient, plus one unit's gathered part while exchanging.
 */
public final class PeerCopy implements AutoCloseable {
  /** Made at the first copy (building a copy before libtorch is loaded must not load it). */
  private NDManager manager;
  /** Per unit (state order), per part: the copied shard's flat buffer. */
  private List<NDArray[]> buffers = List.of();
  /** Per unit: the copied shard's gradient of the step being computed (exchanged before the commit). */
  private List<NDArray> grads = List.of();
  private List<long[]> numels = List.of();
  private List<ShardParts.Part> parts = List.of();
  private int shardIndex = -1;
  private int shardSize;
  private long step = -1;

  /**
   * Sends this rank's reduced gradient shard (of the step just computed, not yet committed) to the rank holding its
   * copy and keeps the right neighbour's, so that {@link #followCommit} can apply the same update to the copy
   * without any exchange at commit time: a commit stays local, and a copy never lags its shard. Collective over
   * the shard group; every rank calls it after every compute when copies are kept (a group of one does nothing).
   */
  public void exchangeGradients(ShardedState state, Collective shardGroup) {
    int size = shardGroup == null ? 1 : shardGroup.worldSize();
    if (size == 1) {
      return;
    }
    List<ShardUnit> units = state.units();
    if (!valid() || shardSize != size || grads.size() != units.size()) {
      // no copy to follow (it failed to refresh): still take part, the others may hold one
      try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
        for (ShardUnit u : units) {
          Tensor send = Torch.view(u.grad());
          Tensor recv = send.new_empty(new long[] {size * u.shardNumel()});
          shardGroup.allGather(send.data_ptr(), recv.data_ptr(), u.shardNumel(), DType.FLOAT32);
        }
      }
      invalidate();
      return;
    }
    try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
      for (int i = 0; i < units.size(); i++) {
        ShardUnit u = units.get(i);
        long n = u.shardNumel();
        Tensor send = Torch.view(u.grad());
        Tensor recv = send.new_empty(new long[] {size * n});
        shardGroup.allGather(send.data_ptr(), recv.data_ptr(), n, DType.FLOAT32);
        Torch.view(grads.get(i)).copy_(recv.narrow(0, shardIndex * n, n));
      }
    }
  }

  /**
   * Applies to the copy what the commit of step {@code result.step()} just applied to the shards (AdamW with the
   * exchanged gradient for the parameters whose step count went up from {@code stepsBefore}, then the EMA), so
   * the copy stands for the new committed step. Nothing changes for a skipped step but the tag. Local.
   */
  public void followCommit(ShardedState state, Map<String, Long> stepsBefore, StepResult result,
      OptimizerConfig optimizer, double emaDecay) {
    if (!valid()) {
      return;
    }
    if (!result.skipped()) {
      Map<String, Long> now = state.steps();
      int w = parts.indexOf(ShardParts.Part.WEIGHTS);
      int m = parts.indexOf(ShardParts.Part.EXP_AVG);
      int v = parts.indexOf(ShardParts.Part.EXP_AVG_SQ);
      int e = parts.indexOf(ShardParts.Part.EMA);
      List<ShardUnit> units = state.units();
      try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
        Scalar keep = new Scalar(emaDecay);
        Scalar take = new Scalar(1 - emaDecay);
        for (int i = 0; i < units.size(); i++) {
          NDArray[] b = buffers.get(i);
          Tensor grad = Torch.view(grads.get(i));
          for (ShardedParameter sp : units.get(i).params()) {
            long len = ShardRange.of(sp.numel(), shardIndex, shardSize).length();
            if (len == 0) {
              continue;
            }
            Tensor weight = Torch.view(b[w]).narrow(0, sp.offset(), len);
            long step = now.getOrDefault(sp.name(), 0L);
            if (sp.parameter().trainable() && step > stepsBefore.getOrDefault(sp.name(), 0L)) {
              AdamW.update(weight, grad.narrow(0, sp.offset(), len), Torch.view(b[m]).narrow(0, sp.offset(), len),
                  Torch.view(b[v]).narrow(0, sp.offset(), len), step, result.lr(), optimizer);
            }
            if (e >= 0 && state.emaTracks(sp.name())) {
              Torch.view(b[e]).narrow(0, sp.offset(), len).mul_(keep).add_(weight, take);
            }
          }
        }
      }
    }
    this.step = result.step();
  }

  /**
   * Replaces the copy with the shard of this rank's right neighbour in {@code shardGroup}, tagged {@code step} (the
   * state's committed step). Collective over the shard group; a group of one keeps no copy. On failure the copy is
   * left untagged (not usable), never half old and half new.
   */
  public void refresh(ShardedState state, Collective shardGroup, long step) {
    int size = shardGroup == null ? 1 : shardGroup.worldSize();
    if (size != state.shardSize() || (shardGroup != null && shardGroup.rank() != state.shardRank())) {
      throw new IllegalArgumentException("the state holds shard " + state.shardRank() + " of " + state.shardSize()
          + ", the group makes this rank " + (shardGroup == null ? 0 : shardGroup.rank()) + " of " + size);
    }
    invalidate();
    if (size == 1) {
      return;
    }
    List<ShardUnit> units = state.units();
    List<ShardParts.Part> want = ShardParts.parts(state);
    if (!sameLayout(units, want)) {
      allocate(units, want);
    }
    ShardParts from = new ShardParts(state);
    int keep = (state.shardRank() + 1) % size;
    try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
      for (int i = 0; i < units.size(); i++) {
        ShardUnit u = units.get(i);
        long n = u.shardNumel();
        if (n == 0) {
          continue;
        }
        Tensor send = Torch.view(u.master()).new_empty(new long[] {n});
        Tensor recv = send.new_empty(new long[] {size * n});
        for (int p = 0; p < want.size(); p++) {
          from.pack(u, want.get(p), send);
          shardGroup.allGather(send.data_ptr(), recv.data_ptr(), n, DType.FLOAT32);
          Torch.view(buffers.get(i)[p]).copy_(recv.narrow(0, keep * n, n));
        }
      }
    }
    this.shardIndex = keep;
    this.shardSize = size;
    this.step = step;
  }

  private boolean sameLayout(List<ShardUnit> units, List<ShardParts.Part> want) {
    if (units.size() != numels.size() || !want.equals(parts)) {
      return false;
    }
    for (int i = 0; i < units.size(); i++) {
      if (!java.util.Arrays.equals(ShardParts.numels(units.get(i)), numels.get(i))
          || buffers.get(i)[0].size() != units.get(i).shardNumel()) {
        return false;
      }
    }
    return true;
  }

  private void allocate(List<ShardUnit> units, List<ShardParts.Part> want) {
    freeBuffers();
    if (manager == null) {
      manager = NDManager.newBaseManager();
    }
    List<NDArray[]> b = new ArrayList<>();
    List<long[]> n = new ArrayList<>();
    List<NDArray> g = new ArrayList<>();
    for (ShardUnit u : units) {
      NDArray[] perPart = new NDArray[want.size()];
      for (int p = 0; p < perPart.length; p++) {
        perPart[p] = manager.zeros(new Shape(u.shardNumel()), DataType.FLOAT32);
      }
      b.add(perPart);
      n.add(ShardParts.numels(u));
      g.add(manager.zeros(new Shape(u.shardNumel()), DataType.FLOAT32));
    }
    grads = g;
    buffers = b;
    numels = n;
    parts = List.copyOf(want);
  }

  private void freeBuffers() {
    for (NDArray[] perPart : buffers) {
      for (NDArray a : perPart) {
        a.close();
      }
    }
    for (NDArray a : grads) {
      a.close();
    }
    buffers = List.of();
    grads = List.of();
    numels = List.of();
    parts = List.of();
  }

  /** Forgets the copy's tag: it no longer stands for any step (the buffers are kept for the next refresh). */
  public void invalidate() {
    shardIndex = -1;
    step = -1;
  }

  /** Frees the buffers and forgets the copy. */
  public void clear() {
    invalidate();
    freeBuffers();
  }

  /** Whether the copy holds a peer's shard (of a committed step, or of the initial weights: step -1). */
  public boolean valid() {
    return shardIndex >= 0;
  }

  /** The shard rank whose state this copy holds, or -1. */
  public int shardIndex() {
    return shardIndex;
  }

  /** The shard group size the copied shard belongs to (valid copies only). */
  public int shardSize() {
    return shardSize;
  }

  /** The committed step of the copied state, -1 for the initial weights (or no copy). */
  public long step() {
    return step;
  }

  /** Bytes held for the copy. */
  public long bytes() {
    long n = 0;
    for (NDArray[] perPart : buffers) {
      for (NDArray a : perPart) {
        n += a.size();
      }
    }
    return n * Float.BYTES;
  }

  /** The copied unit {@code unit}'s {@code part} as a flat buffer in the copied shard's layout. */
  NDArray buffer(int unit, ShardParts.Part part) {
    int p = parts.indexOf(part);
    if (!valid() || p < 0) {
      throw new IllegalStateException("the peer copy holds no " + part + " (valid: " + valid() + ")");
    }
    return buffers.get(unit)[p];
  }

  @Override
  public void close() {
    invalidate();
    if (manager != null) {
      manager.close();
    }
  }
}

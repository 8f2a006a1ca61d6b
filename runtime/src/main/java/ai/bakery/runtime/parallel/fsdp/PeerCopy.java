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
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

/**
 * An in-memory redundant copy of a peer's shard: shard rank {@code r} of a shard group of {@code S} keeps the
 * weights, AdamW moments and EMA of shard {@code (r + 1) mod S}, tagged with the committed step they belong to.
 * When a worker is lost, its shard survives in the copy its left neighbour holds ({@link ShardRegroup} reads
 * it); when both are lost, the state must come from a checkpoint.
 *
 * <p>A {@link #refresh} is one all-gather per unit and part over the shard group, of which this rank keeps its
 * neighbour's block: each rank receives {@code S - 1} shards' worth to keep one (simple and collective-only; a
 * point-to-point exchange would move one). Memory: one more shard of the state per rank (what
 * {@link ShardedState#stateBytes} counts), plus one unit's gathered part while refreshing.
 */
public final class PeerCopy implements AutoCloseable {
  /** Made at the first copy (building a copy before libtorch is loaded must not load it). */
  private NDManager manager;
  /** Per unit (state order), per part: the copied shard's flat buffer. */
  private List<NDArray[]> buffers = List.of();
  private List<long[]> numels = List.of();
  private List<ShardParts.Part> parts = List.of();
  private int shardIndex = -1;
  private int shardSize;
  private long step = -1;

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
    for (ShardUnit u : units) {
      NDArray[] perPart = new NDArray[want.size()];
      for (int p = 0; p < perPart.length; p++) {
        perPart[p] = manager.zeros(new Shape(u.shardNumel()), DataType.FLOAT32);
      }
      b.add(perPart);
      n.add(ShardParts.numels(u));
    }
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
    buffers = List.of();
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

  /** Whether the copy holds a shard of a committed step. */
  public boolean valid() {
    return shardIndex >= 0 && step >= 0;
  }

  /** The shard rank whose state this copy holds, or -1. */
  public int shardIndex() {
    return shardIndex;
  }

  /** The shard group size the copied shard belongs to (valid copies only). */
  public int shardSize() {
    return shardSize;
  }

  /** The committed step of the copied state, or -1. */
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

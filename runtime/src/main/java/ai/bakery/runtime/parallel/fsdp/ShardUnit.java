package ai.bakery.runtime.parallel.fsdp;

import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.Torch;
import ai.bakery.runtime.collective.Collective;
import ai.bakery.runtime.collective.DType;
import ai.bakery.runtime.collective.ReduceOp;
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
 * The parameters gathered and freed together (one decoder layer, one ViT layer, the connector, or everything
 * outside the checkpointed segments), as one flat fp32 shard per rank: parameter {@code p} occupies
 * {@code chunk(p)} elements at its offset, of which the first {@code range(p).length()} are real. Gathering is
 * one all-gather of that buffer; the gradient is one reduce-scatter into {@link #grad}.
 *
 * <p>Between gathers every parameter's data is a single NaN broadcast to its shape (no memory): a computation that
 * forgot to gather poisons its loss instead of silently using stale weights.
 */
final class ShardUnit {
  private final String name;
  private final List<ShardedParameter> params;
  private final long shardNumel;
  private final NDArray master;
  private final NDArray grad;
  private boolean gathered = true; // built from full parameters, released by the state right after

  /** @param preSharded this rank's slices taken while the model was built, or null to slice the full values */
  ShardUnit(String name, List<Parameter> members, int rank, int world, NDManager manager, PreSharder preSharded) {
    this.name = name;
    List<ShardedParameter> list = new ArrayList<>(members.size());
    long offset = 0;
    for (Parameter p : members) {
      ShardedParameter sp = ShardedParameter.of(p, rank, world, offset);
      list.add(sp);
      offset += sp.chunk();
    }
    this.params = List.copyOf(list);
    this.shardNumel = offset;
    this.master = manager.zeros(new Shape(offset), DataType.FLOAT32);
    this.grad = manager.zeros(new Shape(offset), DataType.FLOAT32);
    try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
      Tensor m = Torch.view(master);
      for (ShardedParameter sp : params) {
        if (sp.range().length() == 0) {
          continue;
        }
        NDArray pre = preSharded == null ? null : preSharded.slice(sp.name());
        if (pre == null && preSharded != null && preSharded.valuesLater()) {
          continue; // zeros until drawn or loaded; the full value was never kept
        }
        Tensor part = pre != null ? Torch.view(pre)
            : Torch.view(sp.parameter().value()).reshape(-1).narrow(0, sp.range().start(), sp.range().length());
        m.narrow(0, sp.offset(), sp.range().length()).copy_(part);
      }
    }
  }

  String name() {
    return name;
  }

  List<ShardedParameter> params() {
    return params;
  }

  long shardNumel() {
    return shardNumel;
  }

  NDArray master() {
    return master;
  }

  NDArray grad() {
    return grad;
  }

  boolean gathered() {
    return gathered;
  }

  /** Rebuilds every parameter's full value from the group's shards; the parameters compute with it until {@link #release}. */
  void gather(Collective group) {
    if (gathered) {
      throw new IllegalStateException("unit " + name + " is already gathered");
    }
    int world = group == null ? 1 : group.worldSize();
    try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
      Tensor send = Torch.view(master);
      Tensor rows; // (world, shardNumel): row q is rank q's shard
      if (world == 1) {
        rows = send.view(1, shardNumel);
      } else {
        Tensor recv = send.new_empty(new long[] {world * shardNumel});
        group.allGather(send.data_ptr(), recv.data_ptr(), shardNumel, DType.FLOAT32);
        rows = recv.view(world, shardNumel);
      }
      for (ShardedParameter sp : params) {
        // (world, chunk) in rank order is the padded flat parameter; reshape copies it out of the shared buffer
        Tensor full = rows.narrow(1, sp.offset(), sp.chunk()).reshape(-1).narrow(0, 0, sp.numel()).view(sp.shape());
        if (world == 1) {
          full = full.clone();
        }
        Torch.view(sp.parameter().value()).__dispatch_set_data(full);
      }
    }
    gathered = true;
  }

  /** Frees every parameter's full value (their gradients must have been taken or dropped). */
  void release() {
    if (!gathered) {
      return;
    }
    try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
      Tensor nan = Torch.view(master).new_full(new long[] {}, new org.bytedeco.pytorch.Scalar(Float.NaN));
      for (ShardedParameter sp : params) {
        Torch.view(sp.parameter().value()).__dispatch_set_data(nan.expand(sp.shape()));
      }
    }
    gathered = false;
  }

  /**
   * Averages the full gradients of this unit's parameters over {@code group} and adds this rank's part to
   * {@link #grad}; a parameter without a gradient contributes zeros. Drops the full gradients. Returns which
   * parameters had one here (by position).
   */
  boolean[] reduceScatter(Collective group) {
    int world = group == null ? 1 : group.worldSize();
    boolean[] had = new boolean[params.size()];
    try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
      Tensor shard = Torch.view(grad);
      Tensor send = shard.new_zeros(new long[] {world, shardNumel});
      Tensor undefined = new Tensor();
      for (int i = 0; i < params.size(); i++) {
        ShardedParameter sp = params.get(i);
        Tensor pv = Torch.view(sp.parameter().value());
        Tensor g = pv.grad();
        if (!g.defined()) {
          continue;
        }
        had[i] = true;
        Tensor flat = g.reshape(-1);
        long padded = world * sp.chunk();
        if (padded > sp.numel()) {
          Tensor tmp = flat.new_zeros(new long[] {padded});
          tmp.narrow(0, 0, sp.numel()).copy_(flat);
          flat = tmp;
        }
        send.narrow(1, sp.offset(), sp.chunk()).copy_(flat.view(world, sp.chunk()));
        pv.mutable_grad().put(undefined);
      }
      if (world == 1) {
        shard.add_(send.view(shardNumel));
      } else {
        Tensor recv = shard.new_empty(new long[] {shardNumel});
        group.reduceScatter(send.data_ptr(), recv.data_ptr(), shardNumel, DType.FLOAT32, ReduceOp.AVG);
        shard.add_(recv);
      }
    }
    return had;
  }

  /** Averages {@link #grad} over {@code replicas} (HYBRID_SHARD: the ranks holding the same shard). */
  void allReduceGrad(Collective replicas) {
    if (replicas == null || replicas.worldSize() == 1) {
      return;
    }
    try (PointerScope scope = new PointerScope()) {
      Tensor g = Torch.view(grad);
      replicas.allReduce(g.data_ptr(), shardNumel, DType.FLOAT32, ReduceOp.AVG);
    }
  }

  void zeroGrad() {
    try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
      Torch.view(grad).zero_();
    }
  }

  /** The real part of parameter {@code i}'s slice of {@code flat} (master, grad or a moment of this unit). */
  static Tensor slice(Tensor flat, ShardedParameter sp) {
    return flat.narrow(0, sp.offset(), sp.range().length());
  }
}

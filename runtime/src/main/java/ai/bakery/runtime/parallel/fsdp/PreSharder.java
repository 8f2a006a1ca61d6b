package ai.bakery.runtime.parallel.fsdp;

import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Torch;
import ai.bakery.runtime.parallel.ShardRange;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Consumer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;

/**
 * Shards a model while it is being built: installed on a {@link ParameterStore} before the model's constructor
 * runs, it keeps this rank's slice of each new parameter and frees the full value at once, so at most one full
 * parameter exists at a time. Build the model with {@code Init.forLoading()} (its constructor must not read
 * weights back, as copy_init_moe does when drawing) and load the real values into the shards afterwards.
 */
public final class PreSharder implements Consumer<Parameter>, AutoCloseable {
  private final ParameterStore store;
  private final int rank;
  private final int world;
  private final NDManager manager;
  private final Map<String, NDArray> slices = new HashMap<>();

  private PreSharder(ParameterStore store, int rank, int world) {
    ShardRange.of(1, rank, world); // validates rank and world
    this.store = store;
    this.rank = rank;
    this.world = world;
    this.manager = store.manager().newSubManager();
  }

  /** Installs itself on {@code store}: every parameter created from now on is sharded as it appears. */
  public static PreSharder install(ParameterStore store, int shardRank, int shardSize) {
    PreSharder s = new PreSharder(store, shardRank, shardSize);
    store.onCreate(s);
    return s;
  }

  @Override
  public void accept(Parameter p) {
    ShardRange r = ShardRange.of(p.value().getShape().size(), rank, world);
    NDArray slice = manager.zeros(new Shape(r.length()), DataType.FLOAT32);
    try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
      Tensor full = Torch.view(p.value());
      if (r.length() > 0) {
        Torch.view(slice).copy_(full.reshape(-1).narrow(0, r.start(), r.length()));
      }
      Tensor nan = full.new_full(new long[] {}, new Scalar(Float.NaN));
      full.__dispatch_set_data(nan.expand(full.sizes().vec().get()));
    }
    slices.put(p.name(), slice);
  }

  /** This rank's slice of {@code name}, or null when the parameter was created before installation. */
  NDArray slice(String name) {
    return slices.get(name);
  }

  /** Stops sharding new parameters and frees the slices (the sharded state has copied them). */
  @Override
  public void close() {
    store.onCreate(p -> {});
    manager.close();
  }
}

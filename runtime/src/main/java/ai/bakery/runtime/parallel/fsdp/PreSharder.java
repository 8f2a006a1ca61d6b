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
import org.bytedeco.pytorch.Tensor;

/**
 * Shards a model while it is being built: installed on a {@link ParameterStore} before the model's constructor
 * runs, it keeps this rank's slice of each new parameter and frees the full value at once, so at most one full
 * parameter exists at a time. Build the model with {@code Init.forLoading()} (its constructor must not read
 * weights back, as copy_init_moe does when drawing) and load the real values into the shards afterwards.
 *
 * <p>{@link #structureOnly} keeps no slice at all: the shards start at zero and every value comes later (drawn by
 * {@link ShardedInit#draw} or loaded by {@link ShardedLoader}).
 */
public final class PreSharder implements Consumer<Parameter>, AutoCloseable {
  private final ParameterStore store;
  private final int rank;
  private final int world;
  private final NDManager manager;
  private final Map<String, NDArray> slices = new HashMap<>();
  private final boolean keepSlices;
  private final ShardedInit.Meter meter;
  private final ShardedInit.Freer freer;

  private PreSharder(ParameterStore store, int rank, int world, boolean keepSlices, ShardedInit.Meter meter) {
    ShardRange.of(1, rank, world); // validates rank and world
    this.store = store;
    this.rank = rank;
    this.world = world;
    this.keepSlices = keepSlices;
    this.meter = meter;
    this.manager = store.manager().newSubManager();
    this.freer = new ShardedInit.Freer(store.manager());
  }

  /** Installs itself on {@code store}: every parameter created from now on is sharded as it appears. */
  public static PreSharder install(ParameterStore store, int shardRank, int shardSize) {
    PreSharder s = new PreSharder(store, shardRank, shardSize, true, new ShardedInit.Meter());
    store.onCreate(s);
    return s;
  }

  /**
   * Installs itself on {@code store} keeping nothing: every parameter created from now on is freed as it appears
   * (the model's structure without its values) and its shards start at zero. {@code meter} samples each one.
   */
  public static PreSharder structureOnly(ParameterStore store, ShardedInit.Meter meter) {
    PreSharder s = new PreSharder(store, 0, 1, false, meter);
    store.onCreate(s);
    return s;
  }

  @Override
  public void accept(Parameter p) {
    meter.sample(p);
    if (keepSlices) {
      ShardRange r = ShardRange.of(p.value().getShape().size(), rank, world);
      NDArray slice = manager.zeros(new Shape(r.length()), DataType.FLOAT32);
      if (r.length() > 0) {
        try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
          Torch.view(slice).copy_(Torch.view(p.value()).reshape(-1).narrow(0, r.start(), r.length()));
        }
      }
      slices.put(p.name(), slice);
    }
    freer.free(p);
  }

  /** This rank's slice of {@code name}, or null when the parameter was created before installation. */
  NDArray slice(String name) {
    return slices.get(name);
  }

  /** Whether the shards start at zero, their values to be drawn or loaded later ({@link #structureOnly}). */
  boolean valuesLater() {
    return !keepSlices;
  }

  /** Stops sharding new parameters and frees the slices (the sharded state has copied them). */
  @Override
  public void close() {
    store.onCreate(p -> {});
    try (NDManager m = manager; ShardedInit.Freer f = freer) {
      // closed in reverse order
    }
  }
}

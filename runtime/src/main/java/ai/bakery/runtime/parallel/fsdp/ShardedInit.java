package ai.bakery.runtime.parallel.fsdp;

import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

/**
 * Seeded initial weights for a sharded rank without the whole model in memory. {@link Init} draws every value in
 * registration order from one generator (and Gaussians by rejection, so a draw cannot be skipped), hence exact
 * equality with a full initialisation needs every parameter drawn in order: here a throwaway copy of the model is
 * built on a scratch store, and each parameter, the moment it is created, gives this rank its slice and is freed.
 * One full parameter exists at a time on top of the rank's shards.
 *
 * <p>The model that trains is built first with {@link PreSharder#structureOnly} (each value freed as it appears),
 * so the shard layout is known before any value is drawn.
 *
 * <p>{@link Meter} measures what the rank holds while doing so: the distinct storage of every parameter value of
 * the stores it watches (a freed value is a broadcast of one shared NaN) plus the shard buffers.
 *
 * @see ai.bakery.model.nn.Init
 */
public final class ShardedInit {
  private ShardedInit() {}

  /** Weight elements held by a rank while it starts, sampled whenever a parameter is created. */
  public static final class Meter {
    private final List<ParameterStore> stores = new ArrayList<>();
    private long shardElements;
    private long peak;
    private long largestParameter;
    private long samples;

    /** Counts the parameter values of {@code store} from now on. */
    public void watch(ParameterStore store) {
      stores.add(store);
    }

    void unwatch(ParameterStore store) {
      stores.remove(store);
    }

    /** The weight shards now allocated (the state's master buffers). */
    void shards(long elements) {
      shardElements = elements;
    }

    /** Samples the elements held now: distinct parameter storages of the watched stores, plus the shards. */
    void sample(Parameter created) {
      if (created != null) {
        largestParameter = Math.max(largestParameter, created.value().getShape().size());
      }
      sample();
    }

    /** Samples the elements held now. */
    void sample() {
      long held = shardElements;
      Set<Long> seen = new HashSet<>();
      try (PointerScope scope = new PointerScope()) {
        for (ParameterStore s : stores) {
          for (Parameter p : s.all().values()) {
            Tensor t = Torch.view(p.value());
            if (t.has_storage() && seen.add(t.storage().data().address())) {
              held += t.storage().nbytes() / Float.BYTES;
            }
          }
        }
      }
      peak = Math.max(peak, held);
      samples++;
    }

    /** The most weight elements held at once (parameter values and shards). */
    public long peakElements() {
      return peak;
    }

    /** Elements of the largest parameter seen. */
    public long largestParameter() {
      return largestParameter;
    }

    /** Parameter creations sampled. */
    public long samples() {
      return samples;
    }
  }

  /** Draws a model's values into a state's shards (see {@link #draw}); given to the build. */
  public static final class Scratch {
    private final ParameterStore store;
    private final Map<String, ShardSlice> slices;
    private final Set<String> drawn = new LinkedHashSet<>();

    private Scratch(ParameterStore store, Map<String, ShardSlice> slices) {
      this.store = store;
      this.slices = slices;
    }

    /** The store to build the throwaway model on. */
    public ParameterStore store() {
      return store;
    }

    /**
     * The reference's copy_init_moe on the shards: each {@code *_moe_gen} parameter drawn so far under
     * {@code prefix} becomes its understanding twin's values (same shape, so the same slice). Returns how many.
     */
    public int copyUndToGen(String prefix) {
      int n = 0;
      try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
        for (String name : drawn) {
          if (!name.startsWith(prefix) || !name.contains(ai.bakery.model.io.MoeInit.GEN)) {
            continue;
          }
          ShardSlice twin = slices.get(name.replace(ai.bakery.model.io.MoeInit.GEN, ""));
          if (twin == null || !drawn.contains(twin.name())) {
            throw new IllegalStateException(name + " has no understanding twin drawn before it");
          }
          ShardSlice gen = slices.get(name);
          if (gen.range().length() > 0) {
            Torch.view(gen.shard()).copy_(Torch.view(twin.shard()));
          }
          n++;
        }
      }
      return n;
    }
  }

  /**
   * Builds a throwaway model with {@code build} on a scratch store (the same constructors and {@code Init} as a
   * full initialisation, so the same draws in the same order); each parameter, as it is created, has this rank's
   * elements copied into {@code state}'s slice of the same name and is freed. Every parameter of the state must be
   * drawn, and nothing else.
   *
   * @param build builds the model on {@link Scratch#store()} (calling {@link Scratch#copyUndToGen} where the full
   *     initialisation copies MoT weights)
   */
  static void draw(ShardedState state, NDManager parent, Meter meter, Consumer<Scratch> build) {
    Map<String, ShardSlice> slices = new HashMap<>();
    for (ShardSlice s : state.params()) {
      slices.put(s.name(), s);
    }
    try (NDManager scratchManager = parent.newSubManager();
        ParameterStore store = new ParameterStore(scratchManager);
        Freer freer = new Freer(scratchManager)) {
      Scratch scratch = new Scratch(store, slices);
      meter.watch(store);
      store.onCreate(p -> {
        ShardSlice slice = slices.get(p.name());
        if (slice == null) {
          throw new IllegalStateException("the drawn model has a parameter the sharded one lacks: " + p.name());
        }
        if (!java.util.Arrays.equals(slice.shape(), p.value().getShape().getShape())) {
          throw new IllegalStateException(p.name() + ": drawn with shape " + p.value().getShape() + ", the shard is"
              + " of " + java.util.Arrays.toString(slice.shape()));
        }
        meter.sample(p);
        if (slice.range().length() > 0) {
          try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
            Tensor full = Torch.view(p.value());
            Torch.view(slice.shard()).copy_(full.reshape(-1).narrow(0, slice.range().start(), slice.range().length()));
          }
        }
        freer.free(p);
        scratch.drawn.add(p.name());
      });
      try {
        build.accept(scratch);
      } finally {
        store.onCreate(p -> {});
        meter.unwatch(store);
      }
      if (scratch.drawn.size() != slices.size()) {
        List<String> missing = new ArrayList<>(slices.keySet());
        missing.removeAll(scratch.drawn);
        throw new IllegalStateException(missing.size() + " parameter(s) of the sharded model were not drawn, first "
            + missing.get(0));
      }
    }
  }

  /** Frees parameter values by pointing them at a broadcast of one NaN (no memory; poisons any stray use). */
  static final class Freer implements AutoCloseable {
    private final NDManager manager;
    private final NDArray nan;

    Freer(NDManager parent) {
      this.manager = parent.newSubManager();
      this.nan = manager.create(new float[] {Float.NaN}, new Shape());
    }

    void free(Parameter p) {
      try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
        Tensor full = Torch.view(p.value());
        full.__dispatch_set_data(Torch.view(nan).expand(full.sizes().vec().get()));
      }
    }

    @Override
    public void close() {
      manager.close();
    }
  }
}

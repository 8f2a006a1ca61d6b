package ai.bakery.runtime.parallel;

import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.ScalarTypes;
import ai.bakery.model.tensor.Torch;
import ai.bakery.runtime.collective.Collective;
import ai.bakery.runtime.collective.DType;
import ai.bakery.runtime.collective.HostBuffer;
import ai.bakery.runtime.collective.ReduceOp;
import ai.bakery.runtime.optim.AdamW;
import ai.bakery.runtime.train.Ema;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.nio.ByteBuffer;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * A replicated rank's whole training state, made equal across a group: {@link #broadcast} copies the weights,
 * the AdamW moments and update counts, the EMA and a few counters from a root rank to every other (when a group
 * forms, or a worker joins with fresh or stale state); {@link #fingerprint} hashes the same state bit for bit, so
 * ranks (and tests) can check they agree without moving it.
 *
 * <p>Every rank must hold the same model layout (names, shapes, dtypes, which weights train): the ranks compare a
 * hash of it first and all fail with the same message when one differs, rather than exchange garbage.
 */
public final class StateSync {
  /** Bytes per broadcast; consecutive tensors of one dtype share one. */
  private static final long BUCKET_BYTES = 25L << 20;

  private StateSync() {}

  /**
   * Hashes of one rank's state: bit-exact, so two ranks with equal fingerprints hold the same numbers (up to
   * hash collisions). Weights in store order, then AdamW's moments and update counts, then the EMA.
   */
  public record Fingerprint(long weights, long optimizer, long ema) {
    @Override
    public String toString() {
      return String.format("weights %016x optimizer %016x ema %016x", weights, optimizer, ema);
    }
  }

  /**
   * Copies {@code root}'s state into every other rank's: all weights of {@code store} (frozen ones too), the
   * optimizer's moments and per-weight update counts (a rank's own moments are replaced), the EMA when given,
   * and {@code counters}. Collective: every rank calls it with the same {@code root} and a {@code counters}
   * array of the same length.
   *
   * @param ema null when the job keeps no EMA (then on every rank)
   * @return root's counters
   * @throws IllegalStateException on every rank when the ranks' model layouts differ
   */
  public static long[] broadcast(Collective group, int root, ParameterStore store, AdamW optimizer, Ema ema,
      long[] counters) {
    if (root < 0 || root >= group.worldSize()) {
      throw new IllegalArgumentException("root " + root + " outside a group of " + group.worldSize());
    }
    boolean isRoot = group.rank() == root;
    List<Parameter> params = new ArrayList<>(store.all().values());
    long layout = layoutHash(params, ema, counters.length);

    // 1. header size and layout, then agreement on the layout
    long[] header = isRoot ? header(params, optimizer, counters) : null;
    long[] head = SmallVectors.broadcast(group, new long[] {layout, isRoot ? header.length : 0}, root);
    long[] mismatch = SmallVectors.allReduce(group, new long[] {head[0] == layout ? 0 : 1}, ReduceOp.MAX);
    if (mismatch[0] != 0) {
      throw new IllegalStateException("state broadcast from rank " + root + ": the ranks hold different model"
          + " layouts (parameter names, shapes, dtypes, trainable flags or EMA); "
          + (head[0] == layout ? "another rank differs" : "this rank (" + group.rank() + ") differs"));
    }
    // 2. counters and which weights have optimizer state, with their update counts
    header = SmallVectors.broadcast(group, isRoot ? header : new long[Math.toIntExact(head[1])], root);
    long[] rootCounters = new long[counters.length];
    System.arraycopy(header, 0, rootCounters, 0, counters.length);
    int moments = Math.toIntExact(header[counters.length]);
    Map<String, Long> steps = new LinkedHashMap<>();
    for (int i = 0; i < moments; i++) {
      int at = counters.length + 1 + 2 * i;
      steps.put(params.get(Math.toIntExact(header[at])).name(), header[at + 1]);
    }
    if (!isRoot) {
      resetMoments(optimizer, store, steps);
    }
    // 3. the tensors, in one order on every rank
    List<NDArray> tensors = new ArrayList<>();
    for (Parameter p : params) {
      tensors.add(p.value());
    }
    AdamW.State state = optimizer.exportState();
    for (String name : steps.keySet()) {
      tensors.add(state.tensors().get(name + AdamW.EXP_AVG));
      tensors.add(state.tensors().get(name + AdamW.EXP_AVG_SQ));
    }
    if (ema != null) {
      for (Parameter p : params) {
        if (ema.tracks(p.name())) {
          tensors.add(ema.get(p.name()));
        }
      }
    }
    broadcastTensors(group, root, tensors);
    return rootCounters;
  }

  /** This rank's fingerprint. */
  public static Fingerprint fingerprint(ParameterStore store, AdamW optimizer, Ema ema) {
    long weights = 17;
    for (Parameter p : store.all().values()) {
      weights = mix(weights, p.name().hashCode());
      weights = mix(weights, hashBytes(p.value()));
    }
    long opt = 19;
    AdamW.State state = optimizer.exportState();
    for (Map.Entry<String, Long> e : state.steps().entrySet()) {
      opt = mix(opt, e.getKey().hashCode());
      opt = mix(opt, e.getValue());
      opt = mix(opt, hashBytes(state.tensors().get(e.getKey() + AdamW.EXP_AVG)));
      opt = mix(opt, hashBytes(state.tensors().get(e.getKey() + AdamW.EXP_AVG_SQ)));
    }
    long avg = 23;
    if (ema != null) {
      for (Map.Entry<String, NDArray> e : ema.stateDict().entrySet()) {
        avg = mix(avg, e.getKey().hashCode());
        avg = mix(avg, hashBytes(e.getValue()));
      }
    }
    return new Fingerprint(weights, opt, avg);
  }

  /** Every rank's fingerprint, by rank. Collective. */
  public static List<Fingerprint> gather(Collective group, Fingerprint mine) {
    long[] all = SmallVectors.allGather(group, new long[] {mine.weights(), mine.optimizer(), mine.ema()});
    List<Fingerprint> out = new ArrayList<>();
    for (int r = 0; r < group.worldSize(); r++) {
      out.add(new Fingerprint(all[3 * r], all[3 * r + 1], all[3 * r + 2]));
    }
    return out;
  }

  /** [counters..., number of weights with moments, then (store index, update count) for each]. */
  private static long[] header(List<Parameter> params, AdamW optimizer, long[] counters) {
    Map<String, Long> steps = optimizer.exportState().steps();
    long[] h = new long[counters.length + 1 + 2 * steps.size()];
    System.arraycopy(counters, 0, h, 0, counters.length);
    h[counters.length] = steps.size();
    int at = counters.length + 1;
    for (int i = 0; i < params.size(); i++) {
      Long step = steps.get(params.get(i).name());
      if (step != null) {
        h[at++] = i;
        h[at++] = step;
      }
    }
    return h;
  }

  /** Gives the optimizer zero moments with these update counts (the broadcast then fills them). */
  private static void resetMoments(AdamW optimizer, ParameterStore store, Map<String, Long> steps) {
    try (NDManager zeros = NDManager.newBaseManager()) {
      Map<String, NDArray> tensors = new LinkedHashMap<>();
      for (String name : steps.keySet()) {
        NDArray v = store.get(name).value();
        NDArray z = zeros.zeros(v.getShape(), DataType.FLOAT32, v.getDevice());
        tensors.put(name + AdamW.EXP_AVG, z);
        tensors.put(name + AdamW.EXP_AVG_SQ, z);
      }
      optimizer.importState(new AdamW.State(tensors, steps));
    }
  }

  private static long layoutHash(List<Parameter> params, Ema ema, int counters) {
    long h = mix(29, counters);
    for (Parameter p : params) {
      h = mix(h, p.name().hashCode());
      for (long d : p.value().getShape().getShape()) {
        h = mix(h, d);
      }
      h = mix(h, p.value().getDataType().ordinal());
      h = mix(h, p.trainable() ? 1 : 0);
      h = mix(h, ema != null && ema.tracks(p.name()) ? 1 : 0);
    }
    return mix(h, ema == null ? 0 : 1);
  }

  /** Broadcasts the tensors in buckets of one dtype; every rank's tensors receive root's values. */
  private static void broadcastTensors(Collective group, int root, List<NDArray> tensors) {
    boolean isRoot = group.rank() == root;
    int i = 0;
    while (i < tensors.size()) {
      DType dtype = dtypeOf(tensors.get(i), i);
      int j = i;
      long bytes = 0;
      while (j < tensors.size() && dtypeOf(tensors.get(j), j) == dtype
          && (j == i || bytes + dtype.bytes(tensors.get(j).size()) <= BUCKET_BYTES)) {
        bytes += dtype.bytes(tensors.get(j).size());
        j++;
      }
      try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
        TensorVector parts = new TensorVector();
        for (int k = i; k < j; k++) {
          Tensor t = Torch.view(tensors.get(k));
          checkPlacement(group, t, k);
          parts.push_back(t.reshape(-1));
        }
        Tensor flat = torch.cat(parts);
        group.broadcast(flat.data_ptr(), flat.numel(), dtype, root);
        if (!isRoot) {
          long offset = 0;
          for (int k = i; k < j; k++) {
            Tensor t = Torch.view(tensors.get(k));
            long n = t.numel();
            t.copy_(flat.narrow(0, offset, n).view(t.sizes()));
            offset += n;
          }
        }
      }
      i = j;
    }
  }

  private static void checkPlacement(Collective group, Tensor t, int index) {
    if (t.is_cuda() != (group.memory() == Collective.Memory.CUDA)) {
      throw new IllegalArgumentException("state tensor " + index + " lives on " + (t.is_cuda() ? "CUDA" : "the host")
          + " but the group moves " + group.memory() + " memory");
    }
  }

  private static DType dtypeOf(NDArray a, int index) {
    ScalarType t = ScalarTypes.canonical(Torch.view(a).scalar_type());
    switch (t) {
      case Float:
        return DType.FLOAT32;
      case BFloat16:
        return DType.BFLOAT16;
      case Long:
        return DType.INT64;
      default:
        throw new IllegalArgumentException("state tensor " + index + " has dtype " + t
            + "; only float32, bfloat16 and int64 state can be broadcast");
    }
  }

  /** A hash of the tensor's bytes (copied to the host first when it lives on a device). */
  private static long hashBytes(NDArray a) {
    try (PointerScope scope = new PointerScope()) {
      Tensor t = Torch.view(a).contiguous();
      if (t.is_cuda()) {
        t = t.cpu();
      }
      long bytes = t.numel() * t.element_size();
      long address = Collective.address(t.data_ptr());
      long h = mix(31, bytes);
      long window = 1L << 30;
      for (long at = 0; at < bytes; at += window) {
        ByteBuffer b = HostBuffer.view(address + at, Math.min(window, bytes - at));
        LongBuffer longs = b.asLongBuffer();
        while (longs.hasRemaining()) {
          h = h * 0x9E3779B97F4A7C15L + longs.get();
        }
        for (int k = longs.position() * 8; k < b.limit(); k++) {
          h = h * 31 + b.get(k);
        }
      }
      return mix(h, 0);
    }
  }

  /** SplitMix64 finaliser of {@code h} combined with {@code x}. */
  private static long mix(long h, long x) {
    long z = h * 0x9E3779B97F4A7C15L + x;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}

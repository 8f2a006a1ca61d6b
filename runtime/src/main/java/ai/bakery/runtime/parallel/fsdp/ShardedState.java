package ai.bakery.runtime.parallel.fsdp;

import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Torch;
import ai.bakery.runtime.collective.Collective;
import ai.bakery.runtime.collective.DType;
import ai.bakery.runtime.collective.ReduceOp;
import ai.bakery.runtime.optim.AdamW;
import ai.bakery.runtime.optim.OptimizerConfig;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * One rank's FULL_SHARD state: for every parameter of a {@link ParameterStore}, only the slice
 * {@code ShardRange.of(numel, shardRank, shardSize)} of the fp32 master weights, of the gradient, of both AdamW
 * moments and of the EMA. The full weights exist only while a unit is gathered ({@link #gather}/{@link #release});
 * the optimizer and the EMA run on the shards.
 *
 * <p>Parameters are grouped into units by name: each prefix given at construction makes one unit (a decoder
 * layer, a ViT layer, the connector), and every parameter matching none forms the root unit (embeddings, heads,
 * norms), which is gathered for a whole step. Moments and EMA exist for trainable parameters only, as in the
 * single-process {@link AdamW} and {@link ai.bakery.runtime.train.Ema}.
 */
public final class ShardedState implements AutoCloseable {
  /** Unit name of the parameters outside every segment. */
  public static final String ROOT = "<root>";

  private final NDManager manager;
  private Collective shardGroup;
  private Collective replicaGroup;
  private final ShardUnit root;
  private final List<ShardUnit> segments = new ArrayList<>();
  private final Map<String, ShardUnit> byPrefix = new LinkedHashMap<>();
  private final List<ShardUnit> all = new ArrayList<>();
  private final Map<String, Moments> moments = new LinkedHashMap<>();
  private final Map<String, NDArray> ema = new LinkedHashMap<>();
  private final Map<String, Long> steps = new LinkedHashMap<>();
  private final Map<String, Integer> flagIndex = new LinkedHashMap<>();
  private final boolean[] hadGrad;
  private double emaDecay = Double.NaN;
  private int gatheredParams;
  private long gatheredElements;
  private int peakGatheredParams;
  private long peakGatheredElements;

  private record Moments(NDArray expAvg, NDArray expAvgSq) {}

  /**
   * Shards {@code store} (whose parameters must hold their full values now) and frees the full values.
   *
   * @param unitPrefixes one unit per prefix (names starting with it), in the order the model runs them
   * @param shardGroup the ranks sharing one copy of the state (all ranks for FULL_SHARD)
   * @param replicaGroup the ranks holding the same shard (HYBRID_SHARD), or null
   */
  public ShardedState(ParameterStore store, List<String> unitPrefixes, Collective shardGroup, Collective replicaGroup) {
    this(store, unitPrefixes, shardGroup, replicaGroup, null);
  }

  /**
   * As above for a store sharded while it was built: the slices come from {@code preSharded} (whose rank and
   * size must be the shard group's), the full values are never read.
   */
  public ShardedState(ParameterStore store, List<String> unitPrefixes, Collective shardGroup, Collective replicaGroup,
      PreSharder preSharded) {
    this.manager = store.manager().newSubManager();
    this.shardGroup = shardGroup;
    this.replicaGroup = replicaGroup;
    int rank = shardGroup == null ? 0 : shardGroup.rank();
    int world = shardGroup == null ? 1 : shardGroup.worldSize();
    Map<String, List<Parameter>> members = new LinkedHashMap<>();
    for (String prefix : unitPrefixes) {
      if (members.put(prefix, new ArrayList<>()) != null) {
        throw new IllegalArgumentException("unit prefix given twice: " + prefix);
      }
    }
    List<Parameter> rest = new ArrayList<>();
    for (Parameter p : store.all().values()) {
      String owner = null;
      for (String prefix : unitPrefixes) {
        if (p.name().startsWith(prefix)) {
          if (owner != null) {
            throw new IllegalArgumentException(p.name() + " matches two unit prefixes: " + owner + " and " + prefix);
          }
          owner = prefix;
        }
      }
      (owner == null ? rest : members.get(owner)).add(p);
    }
    for (Map.Entry<String, List<Parameter>> e : members.entrySet()) {
      if (e.getValue().isEmpty()) {
        throw new IllegalArgumentException("no parameter starts with unit prefix " + e.getKey());
      }
      ShardUnit u = new ShardUnit(e.getKey(), e.getValue(), rank, world, manager, preSharded);
      segments.add(u);
      byPrefix.put(e.getKey(), u);
    }
    root = new ShardUnit(ROOT, rest, rank, world, manager, preSharded);
    all.add(root);
    all.addAll(segments);
    int i = 0;
    for (ShardUnit u : all) {
      for (ShardedParameter sp : u.params()) {
        flagIndex.put(sp.name(), i++);
        steps.put(sp.name(), 0L);
      }
    }
    hadGrad = new boolean[i];
    for (ShardUnit u : all) {
      u.release();
    }
  }

  // ------------------------------------------------------------------ units

  /** The unit of a segment prefix. */
  ShardUnit unit(String prefix) {
    ShardUnit u = byPrefix.get(prefix);
    if (u == null) {
      throw new IllegalArgumentException("no unit " + prefix);
    }
    return u;
  }

  ShardUnit root() {
    return root;
  }

  List<ShardUnit> units() {
    return all;
  }

  /** Rebuilds the unit's full parameters from the shard group (a collective: every rank of the group calls it). */
  void gather(ShardUnit u) {
    u.gather(shardGroup);
    gatheredParams += u.params().size();
    for (ShardedParameter sp : u.params()) {
      gatheredElements += sp.numel();
    }
    peakGatheredParams = Math.max(peakGatheredParams, gatheredParams);
    peakGatheredElements = Math.max(peakGatheredElements, gatheredElements);
  }

  void release(ShardUnit u) {
    if (!u.gathered()) {
      return;
    }
    u.release();
    gatheredParams -= u.params().size();
    for (ShardedParameter sp : u.params()) {
      gatheredElements -= sp.numel();
    }
  }

  /** Reduce-scatters the unit's gradients into its shard gradient and notes which parameters had one. */
  void reduceScatter(ShardUnit u) {
    boolean[] had = u.reduceScatter(shardGroup);
    for (int i = 0; i < had.length; i++) {
      if (had[i]) {
        hadGrad[flagIndex.get(u.params().get(i).name())] = true;
      }
    }
  }

  /**
   * After the last micro-batch: averages the shard gradients across replicas (HYBRID_SHARD) and agrees on which
   * parameters had a gradient anywhere (those, and only those, get an optimizer update, as in torch).
   */
  void finishGradients() {
    for (ShardUnit u : all) {
      u.allReduceGrad(replicaGroup);
    }
    float[] flags = new float[hadGrad.length];
    for (int i = 0; i < flags.length; i++) {
      flags[i] = hadGrad[i] ? 1f : 0f;
    }
    float[] any = allReduce(flags, ReduceOp.MAX);
    for (int i = 0; i < any.length; i++) {
      hadGrad[i] = any[i] > 0;
    }
  }

  /** The mean over every rank (shard group, then replicas) of each value. */
  double[] meanOverRanks(double[] values) {
    return ranks() == 1 ? values : reduceOverRanks(values, ReduceOp.AVG);
  }

  /** The sum over every rank of each value (token counts: exact in fp32 below 2^24). */
  double[] sumOverRanks(double[] values) {
    return ranks() == 1 ? values : reduceOverRanks(values, ReduceOp.SUM);
  }

  private double[] reduceOverRanks(double[] values, ReduceOp op) {
    float[] f = new float[values.length];
    for (int i = 0; i < f.length; i++) {
      f[i] = (float) values[i];
    }
    float[] r = allReduce(f, op);
    double[] out = new double[r.length];
    for (int i = 0; i < out.length; i++) {
      out[i] = r[i];
    }
    return out;
  }

  /** Every rank of the job: shard group times replicas. */
  int ranks() {
    return (shardGroup == null ? 1 : shardGroup.worldSize()) * (replicaGroup == null ? 1 : replicaGroup.worldSize());
  }

  /** The element-wise maximum over the shard group. */
  float[] maxOverShardGroup(float[] values) {
    return allReduce(values, ReduceOp.MAX, false);
  }

  /** In the shard group, then across replicas: over all ranks. */
  private float[] allReduce(float[] values, ReduceOp op) {
    return allReduce(values, op, true);
  }

  private float[] allReduce(float[] values, ReduceOp op, boolean acrossReplicas) {
    if (values.length == 0) {
      return values;
    }
    try (PointerScope scope = new PointerScope()) {
      Tensor t = torch.tensor(values).clone();
      for (Collective c : new Collective[] {shardGroup, acrossReplicas ? replicaGroup : null}) {
        if (c != null && c.worldSize() > 1) {
          c.allReduce(t.data_ptr(), values.length, DType.FLOAT32, op);
        }
      }
      float[] out = new float[values.length];
      t.data_ptr_float().get(out);
      return out;
    }
  }

  /**
   * The squared L2 norm of the whole averaged gradient: each rank's shard squares summed over the shard group
   * (replicas hold equal shards by now). NaN or infinity when any part holds one.
   */
  double globalSquaredNorm() {
    float local;
    try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
      TensorVector norms = new TensorVector();
      for (ShardUnit u : all) {
        if (u.shardNumel() > 0) {
          norms.push_back(Torch.view(u.grad()).norm());
        }
      }
      if (norms.empty()) {
        local = 0f;
      } else {
        double n = torch.stack(norms).norm().item_double();
        local = (float) (n * n);
      }
    }
    return allReduce(new float[] {local}, ReduceOp.SUM, false)[0];
  }

  /** Multiplies every shard gradient by {@code factor} (clipping). */
  void scaleGradients(double factor) {
    try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
      Scalar f = new Scalar(factor);
      for (ShardUnit u : all) {
        Torch.view(u.grad()).mul_(f);
      }
    }
  }

  /** Zeroes every shard gradient and forgets which parameters had one. */
  void clearGradients() {
    for (ShardUnit u : all) {
      u.zeroGrad();
    }
    java.util.Arrays.fill(hadGrad, false);
  }

  // ------------------------------------------------------------------ optimizer and EMA

  /**
   * One AdamW update of the shards, torch's sequence ({@link AdamW#update}) per parameter: parameters without a
   * gradient on any rank this step are left alone (no decay, no moment update, no step count), as torch does.
   */
  public void optimizerStep(OptimizerConfig config, double lr) {
    try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
      for (ShardUnit u : all) {
        Tensor master = Torch.view(u.master());
        Tensor grad = Torch.view(u.grad());
        for (ShardedParameter sp : u.params()) {
          if (!sp.parameter().trainable() || !hadGrad[flagIndex.get(sp.name())]) {
            continue;
          }
          Moments m = moments.computeIfAbsent(sp.name(), n -> newMoments(sp));
          long step = steps.merge(sp.name(), 1L, Long::sum);
          if (sp.range().length() == 0) {
            continue; // the tail rank of a tiny tensor holds nothing of it
          }
          AdamW.update(ShardUnit.slice(master, sp), ShardUnit.slice(grad, sp), Torch.view(m.expAvg()),
              Torch.view(m.expAvgSq()), step, lr, config);
        }
      }
    }
  }

  private Moments newMoments(ShardedParameter sp) {
    Shape s = new Shape(sp.range().length());
    return new Moments(manager.zeros(s, DataType.FLOAT32), manager.zeros(s, DataType.FLOAT32));
  }

  /** Starts the EMA at the current shards of every trainable parameter (the reference's ema copy at start). */
  public void startEma(double decay) {
    if (!(decay >= 0 && decay <= 1)) {
      throw new IllegalArgumentException("ema decay must be in [0, 1], got " + decay);
    }
    emaDecay = decay;
    for (NDArray a : ema.values()) {
      a.close();
    }
    ema.clear();
    try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
      for (ShardUnit u : all) {
        Tensor master = Torch.view(u.master());
        for (ShardedParameter sp : u.params()) {
          if (sp.parameter().trainable()) {
            NDArray shadow = manager.zeros(new Shape(sp.range().length()), DataType.FLOAT32);
            Torch.view(shadow).copy_(ShardUnit.slice(master, sp));
            ema.put(sp.name(), shadow);
          }
        }
      }
    }
  }

  /** ema = ema * decay + w * (1 - decay) on every averaged shard. */
  public void emaUpdate() {
    if (ema.isEmpty()) {
      return;
    }
    try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
      Scalar keep = new Scalar(emaDecay);
      Scalar take = new Scalar(1 - emaDecay);
      for (ShardUnit u : all) {
        Tensor master = Torch.view(u.master());
        for (ShardedParameter sp : u.params()) {
          NDArray shadow = ema.get(sp.name());
          if (shadow != null) {
            Torch.view(shadow).mul_(keep).add_(ShardUnit.slice(master, sp), take);
          }
        }
      }
    }
  }

  public boolean hasEma() {
    return !ema.isEmpty();
  }

  // ------------------------------------------------------------------ export for checkpoints and tests

  /** This rank's slice of every parameter, in store order of units (root first), as live fp32 views. */
  public List<ShardSlice> params() {
    return masterSlices();
  }

  /** This rank's slice of each AdamW first moment ({@code <name>.exp_avg} in a single-process checkpoint). */
  public List<ShardSlice> expAvg() {
    return momentSlices(true);
  }

  /** This rank's slice of each AdamW second moment ({@code <name>.exp_avg_sq}). */
  public List<ShardSlice> expAvgSq() {
    return momentSlices(false);
  }

  /** AdamW updates per parameter so far (0 before its first gradient). */
  public Map<String, Long> steps() {
    return Collections.unmodifiableMap(steps);
  }

  /**
   * This rank's slice of the EMA of every parameter: the averaged shard for trainable ones, the weight's own
   * shard for frozen ones (they never change), as the single-process EMA's state dict.
   */
  public List<ShardSlice> ema() {
    List<ShardSlice> out = new ArrayList<>();
    for (ShardSlice s : params()) {
      NDArray shadow = ema.get(s.name());
      out.add(shadow == null ? s : new ShardSlice(s.name(), s.shape(), s.range(), shadow));
    }
    return out;
  }

  /** Whether {@code name} has its own averaged shard (it is trainable and an EMA was started). */
  public boolean emaTracks(String name) {
    return ema.containsKey(name);
  }

  /**
   * This rank's two moment slices of {@code name} ({@code exp_avg}, {@code exp_avg_sq}), created as zeros when the
   * parameter had no update yet: a checkpoint restore writes into them.
   */
  public List<ShardSlice> moments(String name) {
    for (ShardUnit u : all) {
      for (ShardedParameter sp : u.params()) {
        if (sp.name().equals(name)) {
          Moments m = moments.computeIfAbsent(name, n -> newMoments(sp));
          return List.of(new ShardSlice(name, sp.shape().clone(), sp.range(), m.expAvg()),
              new ShardSlice(name, sp.shape().clone(), sp.range(), m.expAvgSq()));
        }
      }
    }
    throw new IllegalArgumentException("no parameter named " + name);
  }

  /** Sets a parameter's AdamW step count (resuming from a checkpoint). */
  public void setStep(String name, long step) {
    if (!steps.containsKey(name)) {
      throw new IllegalArgumentException("no parameter named " + name);
    }
    steps.put(name, step);
  }

  /**
   * Bytes of the training state this rank holds in tensors: master weight shards, AdamW moments and EMA (the
   * shard gradient buffers, {@link #gradientBytes}, and gathered full weights are not state).
   */
  public long stateBytes() {
    long n = 0;
    for (ShardUnit u : all) {
      n += u.shardNumel();
    }
    for (Moments m : moments.values()) {
      n += m.expAvg().size() + m.expAvgSq().size();
    }
    for (NDArray a : ema.values()) {
      n += a.size();
    }
    return n * Float.BYTES;
  }

  /** Bytes of this rank's shard gradient buffers. */
  public long gradientBytes() {
    long n = 0;
    for (ShardUnit u : all) {
      n += u.shardNumel();
    }
    return n * Float.BYTES;
  }

  /** Parameters fully gathered right now. */
  public int gatheredParams() {
    return gatheredParams;
  }

  /** The most parameters fully gathered at any one time since {@link #resetPeaks}. */
  public int peakGatheredParams() {
    return peakGatheredParams;
  }

  /** The most elements of fully gathered parameters at any one time since {@link #resetPeaks}. */
  public long peakGatheredElements() {
    return peakGatheredElements;
  }

  public void resetPeaks() {
    peakGatheredParams = gatheredParams;
    peakGatheredElements = gatheredElements;
  }

  /** Parameters of the root unit (gathered for a whole step). */
  public int rootParams() {
    return root.params().size();
  }

  /** Parameters of the largest segment unit. */
  public int largestSegmentParams() {
    int max = 0;
    for (ShardUnit u : segments) {
      max = Math.max(max, u.params().size());
    }
    return max;
  }

  /**
   * Moves this state onto a new generation's groups (a cluster re-formed with the same ranks): the shards stay,
   * so the new shard group must give this rank the same place and size.
   */
  public void regroup(Collective shardGroup, Collective replicaGroup) {
    int rank = shardGroup == null ? 0 : shardGroup.rank();
    int world = shardGroup == null ? 1 : shardGroup.worldSize();
    if (rank != shardRank() || world != shardSize()) {
      throw new IllegalArgumentException("this state holds shard " + shardRank() + " of " + shardSize()
          + ", the new shard group makes it " + rank + " of " + world);
    }
    this.shardGroup = shardGroup;
    this.replicaGroup = replicaGroup;
  }

  public int shardRank() {
    return shardGroup == null ? 0 : shardGroup.rank();
  }

  public int shardSize() {
    return shardGroup == null ? 1 : shardGroup.worldSize();
  }

  private List<ShardSlice> momentSlices(boolean first) {
    List<ShardSlice> out = new ArrayList<>();
    for (ShardUnit u : all) {
      for (ShardedParameter sp : u.params()) {
        Moments m = moments.get(sp.name());
        if (m != null) {
          out.add(new ShardSlice(sp.name(), sp.shape().clone(), sp.range(), first ? m.expAvg() : m.expAvgSq()));
        }
      }
    }
    return out;
  }

  private List<ShardSlice> paramSlices;

  /** Views of the master slices, made once (they belong to this state's manager). */
  private List<ShardSlice> masterSlices() {
    if (paramSlices == null) {
      List<ShardSlice> out = new ArrayList<>();
      for (ShardUnit u : all) {
        Tensor master = Torch.view(u.master());
        for (ShardedParameter sp : u.params()) {
          // adopted outside any PointerScope: the view's handle then belongs to DJL alone
          NDArray a = Torch.adopt(master.narrow(0, sp.offset(), sp.range().length()), manager);
          out.add(new ShardSlice(sp.name(), sp.shape().clone(), sp.range(), a));
        }
      }
      paramSlices = List.copyOf(out);
    }
    return paramSlices;
  }

  @Override
  public void close() {
    manager.close();
  }
}

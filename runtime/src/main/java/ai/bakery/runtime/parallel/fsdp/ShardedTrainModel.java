package ai.bakery.runtime.parallel.fsdp;

import ai.bakery.data.pack.PackedBatch;
import ai.bakery.model.bagel.BagelOutput;
import ai.bakery.model.recompute.SegmentListener;
import ai.bakery.model.recompute.SegmentRunner;
import ai.bakery.model.recompute.SegmentedBackward;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.runtime.metrics.FlopCounter;
import ai.bakery.runtime.train.TrainModel;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.bytedeco.pytorch.GradMode;

/**
 * A model run under FULL_SHARD. With activation recompute each checkpointed segment's unit is gathered right
 * before the segment runs and freed right after, in the forward and again for its recompute in backward, where
 * its gradients are reduce-scattered into the shard as soon as the segment's backward is done; the root unit
 * (everything outside segments) stays gathered from a step's first forward to {@link #synchronize}. Without
 * recompute every unit is gathered for the whole step (autograd keeps the weights until backward anyway).
 *
 * <p>Collectives must match across the shard group, but packs differ: a rank whose pack has no image skips the
 * ViT chain that another rank runs, and a segment the loss does not reach gets no backward. So the ranks agree
 * per micro-batch on the chains anyone runs, and a rank stands in for what it skips (gathers and frees the unit,
 * reduce-scatters zeros) at the same point of the sequence.
 */
public final class ShardedTrainModel implements TrainModel, SegmentListener {
  private final TrainModel inner;
  private final ShardedState state;
  private final List<SegmentChain> chains;
  private final SegmentedBackward recompute;
  private final List<List<ShardUnit>> chainUnits = new ArrayList<>();
  private final Consumer<SegmentRunner> install;

  private List<Integer> forwardPlan = List.of(); // chains run anywhere in the group, in order
  private int forwardDone;
  private List<Integer> localPlan = List.of();
  private int localNext;
  private final Map<Integer, Integer> chainOfOrdinal = new HashMap<>();
  private List<ShardUnit> backwardPlan = List.of();
  private int backwardDone;
  private boolean backwardPending;

  /**
   * @param inner the model's single-device training forward (without recompute of its own)
   * @param install sets the model's segment runner (e.g. {@code bagel::setSegmentRunner})
   * @param chains the model's checkpointed chains in run order; their unit prefixes must be the state's
   * @param withRecompute activation recompute (gradient_checkpointing): per-segment gathers
   */
  public ShardedTrainModel(TrainModel inner, Consumer<SegmentRunner> install, List<SegmentChain> chains,
      ShardedState state, boolean withRecompute) {
    this.inner = inner;
    this.state = state;
    this.chains = List.copyOf(chains);
    for (SegmentChain c : this.chains) {
      List<ShardUnit> units = new ArrayList<>();
      for (String prefix : c.unitPrefixes()) {
        units.add(state.unit(prefix));
      }
      chainUnits.add(units);
    }
    this.recompute = withRecompute ? new SegmentedBackward(this) : null;
    this.install = install;
    install.accept(withRecompute ? recompute : SegmentRunner.PLAIN);
  }

  /**
   * The same model run over another sharded state of the same store (a new shard layout after the world
   * changed): the new model's segment runner replaces this one's, which must not run again.
   */
  ShardedTrainModel over(ShardedState next) {
    return new ShardedTrainModel(inner, install, chains, next, recompute != null);
  }

  @Override
  public ParameterStore store() {
    return inner.store();
  }

  @Override
  public FlopCounter flops() {
    return inner.flops();
  }

  public ShardedState state() {
    return state;
  }

  @Override
  public BagelOutput forward(PackedBatch batch, NDManager step) {
    finishPendingBackward();
    if (!state.root().gathered()) {
      state.gather(state.root());
    }
    if (recompute == null) {
      for (ShardUnit u : state.units()) {
        if (!u.gathered()) {
          state.gather(u);
        }
      }
      return inner.forward(batch, step);
    }
    planChains(batch);
    try {
      BagelOutput out = inner.forward(batch, step);
      while (forwardDone < forwardPlan.size()) {
        ghostForward(forwardPlan.get(forwardDone++));
      }
      List<ShardUnit> back = new ArrayList<>();
      for (int i = forwardPlan.size() - 1; i >= 0; i--) {
        List<ShardUnit> units = chainUnits.get(forwardPlan.get(i));
        for (int j = units.size() - 1; j >= 0; j--) {
          back.add(units.get(j));
        }
      }
      backwardPlan = back;
      backwardDone = 0;
      backwardPending = GradMode.is_enabled();
      return out;
    } catch (RuntimeException | Error e) {
      releaseSegments();
      throw e;
    }
  }

  /** Agrees with the shard group on which chains this micro-batch runs anywhere. */
  private void planChains(PackedBatch batch) {
    float[] local = new float[chains.size()];
    for (int c = 0; c < local.length; c++) {
      local[c] = chains.get(c).runsOn().test(batch) ? 1f : 0f;
    }
    float[] any = state.maxOverShardGroup(local);
    List<Integer> global = new ArrayList<>();
    List<Integer> mine = new ArrayList<>();
    for (int c = 0; c < local.length; c++) {
      if (any[c] > 0) {
        global.add(c);
      }
      if (local[c] > 0) {
        mine.add(c);
      }
    }
    forwardPlan = global;
    localPlan = mine;
    forwardDone = 0;
    localNext = 0;
    chainOfOrdinal.clear();
  }

  @Override
  public void chainStarted(int chain, int segments) {
    if (localNext >= localPlan.size()) {
      throw new IllegalStateException("the model ran a checkpointed chain of " + segments + " segments after the "
          + localPlan.size() + " chains FULL_SHARD expected for this pack");
    }
    int c = localPlan.get(localNext++);
    SegmentChain spec = chains.get(c);
    if (spec.unitPrefixes().size() != segments) {
      throw new IllegalStateException("the model ran a checkpointed chain of " + segments + " segments where FULL_SHARD"
          + " expected chain '" + spec.name() + "' of " + spec.unitPrefixes().size() + " (" + spec.unitPrefixes().get(0)
          + "...)");
    }
    while (forwardPlan.get(forwardDone) != c) { // the plan holds every chain this rank runs, in order
      ghostForward(forwardPlan.get(forwardDone++)); // a chain another rank runs before this one
    }
    forwardDone++;
    chainOfOrdinal.put(chain, c);
  }

  @Override
  public void beforeSegment(int chain, int index, boolean inBackward) {
    ShardUnit u = unitOf(chain, index);
    if (inBackward) {
      if (!backwardPlan.subList(backwardDone, backwardPlan.size()).contains(u)) {
        throw new IllegalStateException("backward reached unit " + u.name() + " out of the forward's order");
      }
      while (backwardPlan.get(backwardDone) != u) {
        ghostBackward(backwardPlan.get(backwardDone++)); // a segment the loss does not reach here
      }
    }
    state.gather(u);
  }

  @Override
  public void afterSegment(int chain, int index, boolean inBackward) {
    ShardUnit u = unitOf(chain, index);
    if (inBackward) {
      state.reduceScatter(u);
      backwardDone++;
    }
    state.release(u);
  }

  private ShardUnit unitOf(int chain, int index) {
    Integer c = chainOfOrdinal.get(chain);
    if (c == null) {
      throw new IllegalStateException("segment of unknown chain " + chain);
    }
    return chainUnits.get(c).get(index);
  }

  @Override
  public void afterBackward(GradientCollector gc) {
    if (recompute == null) {
      return;
    }
    recompute.backward(gc);
    finishBackwardPlan();
  }

  /**
   * After the step's last micro-batch: reduce-scatters what is still gathered (the root unit, or every unit
   * without recompute), frees it, and finishes the shard gradients (replica average, which parameters had one).
   */
  public void synchronize() {
    finishPendingBackward();
    for (ShardUnit u : state.units()) {
      if (u.gathered()) {
        state.reduceScatter(u);
        state.release(u);
      }
    }
    state.finishGradients();
  }

  /** A micro-batch whose loss was empty ran no backward here: stand in for it where the others run theirs. */
  private void finishPendingBackward() {
    if (!backwardPending) {
      return;
    }
    if (recompute != null) {
      recompute.discard();
    }
    finishBackwardPlan();
  }

  private void finishBackwardPlan() {
    while (backwardDone < backwardPlan.size()) {
      ghostBackward(backwardPlan.get(backwardDone++));
    }
    backwardPending = false;
  }

  private void ghostForward(int chain) {
    for (ShardUnit u : chainUnits.get(chain)) {
      state.gather(u);
      state.release(u);
    }
  }

  private void ghostBackward(ShardUnit u) {
    state.gather(u);
    state.release(u);
    state.reduceScatter(u);
  }

  /**
   * Forgets a step that will not be finished (aborted, or failed): frees every gathered unit and drops the
   * schedule without the stand-in collectives a pending backward would otherwise issue, since the other ranks
   * abandon the step too. Gradients are the sync's to clear.
   */
  public void reset() {
    if (recompute != null) {
      recompute.discard();
    }
    backwardPending = false;
    backwardPlan = List.of();
    backwardDone = 0;
    forwardPlan = List.of();
    forwardDone = 0;
    releaseAll();
  }

  /** Frees every gathered unit without touching gradients (after an evaluation). */
  public void releaseAll() {
    for (ShardUnit u : state.units()) {
      state.release(u);
    }
  }

  private void releaseSegments() {
    for (ShardUnit u : state.units()) {
      if (u != state.root()) {
        state.release(u);
      }
    }
  }
}

package ai.bakery.runtime.train;

import ai.bakery.data.pack.PackedBatch;
import ai.bakery.model.bagel.BagelLoss;
import ai.bakery.model.bagel.BagelOutput;
import ai.bakery.model.tensor.Parameter;
import ai.bakery.runtime.optim.AdamW;
import ai.bakery.runtime.optim.GradClipper;
import ai.bakery.runtime.parallel.GradientSync;
import ai.bakery.runtime.parallel.ThreadGradientCollector;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.GradientCollector;
import java.util.Collection;
import java.util.function.Supplier;
import org.bytedeco.pytorch.global.torch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One optimizer step, in the reference's order: for each of {@code gradient_accumulation_steps} micro-batches,
 * forward in its own manager, normalise the loss by the step's token counts, backward (gradients add up); then
 * synchronise the gradients across ranks, clip by the global norm, and either update (AdamW, then EMA) or, when
 * anything is not finite, drop the gradients and count a skipped step. Gradients are cleared either way.
 *
 * <p>The step runs in two phases so that a data-parallel group can agree before anything changes:
 * {@link #compute} does everything up to the update and returns a {@link Pending}; {@link #apply} updates and
 * advances the counters, {@link #discard} drops the gradients and leaves every counter and weight as it was, so
 * that the same step can be computed again with the same result. {@link #run} is both phases at once.
 *
 * <p>Randomness: micro-batch {@code i} of step {@code s} on rank {@code r} of {@code w} seeds libtorch's
 * generator from {@code (seed, (s * w + r) * accumulation + i)}, its position among all the step's micro-batches
 * of the group. So {@code w} ranks draw what one process accumulating {@code w * accumulation} micro-batches
 * draws, and a recomputed step draws what it drew the first time.
 */
public final class TrainStep {
  private static final Logger LOG = LoggerFactory.getLogger(TrainStep.class);

  /** Sums a micro-batch's token counts over ranks; the identity for a single process. */
  @FunctionalInterface
  public interface CountReducer {
    BagelLoss.GlobalCounts reduce(BagelLoss.GlobalCounts local);
  }

  /**
   * The update of a step whose gradients and losses are finite, applied to the synchronised (and clipped)
   * gradients with learning rate {@code lr}: AdamW then EMA for replicated state, a sharded optimizer otherwise.
   */
  @FunctionalInterface
  public interface Update {
    void apply(double lr);

    /** AdamW, then the EMA when there is one. */
    static Update of(AdamW optimizer, Ema ema) {
      return lr -> {
        optimizer.step(lr);
        if (ema != null) {
          ema.update();
        }
      };
    }
  }

  /**
   * A computed step waiting for {@link #apply} or {@link #discard}: the gradients are synchronised and clipped,
   * nothing else has changed yet. {@link #result()} is what {@code apply} will return.
   */
  public static final class Pending {
    private final TrainStep owner;
    private final StepResult result;
    private final int microBatches;

    private Pending(TrainStep owner, StepResult result, int microBatches) {
      this.owner = owner;
      this.result = result;
      this.microBatches = microBatches;
    }

    public long step() {
      return result.step();
    }

    /** True when gradients and losses are finite, so that {@link #apply} updates the weights. */
    public boolean finite() {
      return !result.skipped();
    }

    /** What {@link #apply} returns for this step. */
    public StepResult result() {
      return result;
    }
  }

  private final TrainModel model;
  private final NDManager root;
  private final Update update;
  private final GradClipper clipper;
  private final BagelLoss loss;
  private final int accumulation;
  private final boolean ceReweighting;
  private final long seed;
  private final int rank;
  private final int world;
  private final CountReducer counts;
  private final GradientSync sync;
  private Object generatorLock;
  private Pending pending;
  private long microStep;
  private long skippedSteps;
  private long tokensSeen;

  /**
   * A single process (rank 0 of 1, no gradient exchange).
   *
   * @param root parent of every micro-batch's manager
   * @param ema null to keep no average
   * @param seed the run's {@code global_seed}
   */
  public TrainStep(TrainModel model, NDManager root, AdamW optimizer, GradClipper clipper, Ema ema,
      TrainLoopConfig loop, long seed, CountReducer counts) {
    this(model, root, Update.of(optimizer, ema), clipper, loop, seed, 0, 1, counts, GradientSync.LOCAL);
  }

  /**
   * One rank of a data-parallel group.
   *
   * @param root parent of every micro-batch's manager
   * @param update the optimizer (and EMA) step
   * @param seed the run's {@code global_seed}, the same on every rank
   * @param counts sums each micro-batch's token counts over the group (the loss is normalised by those)
   * @param sync averages the gradients over the group once per step
   */
  public TrainStep(TrainModel model, NDManager root, Update update, GradClipper clipper, TrainLoopConfig loop,
      long seed, int rank, int world, CountReducer counts, GradientSync sync) {
    if (world < 1 || rank < 0 || rank >= world) {
      throw new IllegalArgumentException("rank " + rank + " of " + world);
    }
    this.model = model;
    this.root = root;
    this.update = update;
    this.clipper = clipper;
    this.loss = new BagelLoss(loop.ceWeight(), loop.mseWeight());
    this.accumulation = loop.gradientAccumulationSteps();
    this.ceReweighting = loop.ceLossReweighting();
    this.seed = seed;
    this.rank = rank;
    this.world = world;
    this.counts = counts;
    this.sync = sync;
  }

  /**
   * Ranks running as threads of one JVM share libtorch's default generator: with a lock shared by all of them,
   * each seeds it and runs its forward (where the randomness is drawn) while holding the lock, so every rank draws
   * its own numbers. Only for models whose forward has no collectives (replicated ranks); null (the default) for
   * one rank per process.
   */
  public void setGeneratorLock(Object lock) {
    this.generatorLock = lock;
  }

  /** Runs step {@code step} with learning rate {@code lr} on the next micro-batches from {@code batches}. */
  public StepResult run(long step, double lr, Supplier<PackedBatch> batches) {
    return apply(compute(step, lr, batches));
  }

  /**
   * Forward and backward of every micro-batch of step {@code step}, then gradient synchronisation, global norm,
   * clip and the finite check. Weights, optimizer state and counters are unchanged until {@link #apply}. On
   * failure (a collective breaking, a bad batch) the gradients are dropped and the failure rethrown.
   */
  public Pending compute(long step, double lr, Supplier<PackedBatch> batches) {
    if (pending != null) {
      throw new IllegalStateException("step " + pending.step() + " is computed but neither applied nor discarded");
    }
    Collection<Parameter> params = model.store().all().values();
    try {
      double ce = 0;
      double mse = 0;
      long tokens = 0;
      double sumSquares = 0;
      int samples = 0;
      long ceTokens = 0;
      long mseTokens = 0;
      for (int i = 0; i < accumulation; i++) {
        PackedBatch batch = batches.get();
        tokens += batch.sequenceLength();
        for (int len : batch.sampleLens()) {
          sumSquares += (double) len * len;
        }
        samples += batch.sampleLens().length;
        long microSeed = seedFor(seed, (step * world + rank) * accumulation + i);
        try (NDManager m = root.newSubManager(); GradientCollector gc = new ThreadGradientCollector()) {
          BagelOutput out;
          if (generatorLock == null) {
            torch.manual_seed(microSeed);
            out = model.forward(batch, m);
          } else {
            synchronized (generatorLock) {
              torch.manual_seed(microSeed);
              out = model.forward(batch, m);
            }
          }
          NDArray weights = ceReweighting && batch.ceLossWeights() != null && batch.ceLossWeights().length > 0
              ? m.create(batch.ceLossWeights()) : null;
          BagelLoss.GlobalCounts global = counts.reduce(BagelLoss.GlobalCounts.local(out, weights));
          BagelLoss.Terms t = loss.compute(out, weights, global, accumulation);
          if (t.loss() != null) {
            gc.backward(t.loss());
            model.afterBackward(gc);
          } else {
            model.discardPending(); // no backward: what the forward kept for it would reach the next one
          }
          ce += scalar(t.ce());
          mse += scalar(t.mse());
          ceTokens += out.ceTokens();
          mseTokens += out.mseTokens();
        }
      }
      sync.synchronize(params);
      double[] losses = sync.meanOverRanks(ce / accumulation, mse / accumulation);
      ce = losses[0];
      mse = losses[1];
      double norm = Math.sqrt(sync.globalSquaredNorm(params));
      if (Double.isFinite(norm)) {
        double coef = clipper.coefficient(norm);
        if (coef < 1.0) {
          sync.scale(params, coef);
        }
      }
      boolean finite = Double.isFinite(norm) && Double.isFinite(ce) && Double.isFinite(mse);
      pending = new Pending(this, new StepResult(step, ce, mse, lr, norm, !finite, tokens, sumSquares, samples,
          ceTokens, mseTokens), accumulation);
      return pending;
    } catch (RuntimeException | Error e) {
      // a micro-batch that failed between forward and backward (e.g. a peer lost in the token-count
      // all-reduce) leaves recompute segments whose activations its closed manager released
      model.discardPending();
      sync.clear(params);
      throw e;
    }
  }

  /**
   * Updates the weights with {@code p}'s gradients (or counts a skipped step when they are not finite), clears
   * the gradients and advances the counters.
   */
  public StepResult apply(Pending p) {
    check(p);
    Collection<Parameter> params = model.store().all().values();
    StepResult r = p.result();
    try {
      if (!r.skipped()) {
        update.apply(r.lr());
      } else {
        skippedSteps++;
        LOG.warn("(step={}) skipped: non-finite {} (grad norm {}, ce {}, mse {}); {} steps skipped so far",
            String.format("%07d", r.step()), Double.isFinite(r.gradNorm()) ? "loss" : "gradients", r.gradNorm(),
            r.ce(), r.mse(), skippedSteps);
      }
      microStep += p.microBatches;
      tokensSeen += r.tokens();
    } finally {
      pending = null;
      sync.clear(params);
    }
    return r;
  }

  /** Drops {@code p}'s gradients without an update; counters, weights and optimizer state stay as they were. */
  public void discard(Pending p) {
    check(p);
    pending = null;
    sync.clear(model.store().all().values());
  }

  private void check(Pending p) {
    if (p == null || p.owner != this || p != pending) {
      throw new IllegalStateException(p == null ? "no pending step" : "step " + p.step()
          + " is not this trainer's pending step (already applied or discarded?)");
    }
  }

  /** The step computed and not yet applied or discarded, or null. */
  public Pending pending() {
    return pending;
  }

  public long microStep() {
    return microStep;
  }

  public long skippedSteps() {
    return skippedSteps;
  }

  /** Packed tokens trained on by this rank. */
  public long tokensSeen() {
    return tokensSeen;
  }

  /** Continues the counters of a resumed run. */
  public void resumeCounters(long microStep, long skippedSteps, long tokensSeen) {
    this.microStep = microStep;
    this.skippedSteps = skippedSteps;
    this.tokensSeen = tokensSeen;
  }

  /** A 0-dim loss term as a double (BagelLoss may promote it to float64); 0 when absent. */
  private static double scalar(NDArray term) {
    if (term == null) {
      return 0;
    }
    return term.getDataType() == DataType.FLOAT64 ? term.getDouble() : term.toType(DataType.FLOAT64, false).getDouble();
  }

  /** SplitMix64 of the pair: well spread seeds for consecutive micro-batches. */
  static long seedFor(long seed, long micro) {
    long z = seed * 0x9E3779B97F4A7C15L + micro + 0x632BE59BD9B4E019L;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}

package ai.bakery.runtime.train;

import ai.bakery.data.pack.PackedBatch;
import ai.bakery.model.bagel.BagelLoss;
import ai.bakery.model.bagel.BagelOutput;
import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.Torch;
import ai.bakery.runtime.optim.AdamW;
import ai.bakery.runtime.optim.GradClipper;
import ai.bakery.runtime.optim.Gradients;
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
 * clip, and either update (AdamW, then EMA) or, when anything is not finite, drop the gradients and count a
 * skipped step. Gradients are cleared either way.
 */
public final class TrainStep {
  private static final Logger LOG = LoggerFactory.getLogger(TrainStep.class);

  /** Sums a micro-batch's token counts over ranks; the identity for a single process. */
  @FunctionalInterface
  public interface CountReducer {
    BagelLoss.GlobalCounts reduce(BagelLoss.GlobalCounts local);
  }

  private final TrainModel model;
  private final NDManager root;
  private final AdamW optimizer;
  private final GradClipper clipper;
  private final Ema ema;
  private final BagelLoss loss;
  private final int accumulation;
  private final boolean ceReweighting;
  private final long rankSeed;
  private final CountReducer counts;
  private long microStep;
  private long skippedSteps;
  private long tokensSeen;

  /**
   * @param root parent of every micro-batch's manager
   * @param ema null to keep no average
   * @param rankSeed this rank's seed ({@code global_seed * world + rank}); micro-batch {@code i} draws its
   *     randomness from {@code mix(rankSeed, i)}
   */
  public TrainStep(TrainModel model, NDManager root, AdamW optimizer, GradClipper clipper, Ema ema,
      TrainLoopConfig loop, long rankSeed, CountReducer counts) {
    this.model = model;
    this.root = root;
    this.optimizer = optimizer;
    this.clipper = clipper;
    this.ema = ema;
    this.loss = new BagelLoss(loop.ceWeight(), loop.mseWeight());
    this.accumulation = loop.gradientAccumulationSteps();
    this.ceReweighting = loop.ceLossReweighting();
    this.rankSeed = rankSeed;
    this.counts = counts;
  }

  /** Runs step {@code step} with learning rate {@code lr} on the next micro-batches from {@code batches}. */
  public StepResult run(long step, double lr, Supplier<PackedBatch> batches) {
    Collection<Parameter> params = model.store().all().values();
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
      torch.manual_seed(seedFor(rankSeed, microStep++));
      try (NDManager m = root.newSubManager(); GradientCollector gc = Torch.init().newGradientCollector()) {
        BagelOutput out = model.forward(batch, m);
        NDArray weights = ceReweighting && batch.ceLossWeights() != null && batch.ceLossWeights().length > 0
            ? m.create(batch.ceLossWeights()) : null;
        BagelLoss.GlobalCounts global = counts.reduce(BagelLoss.GlobalCounts.local(out, weights));
        BagelLoss.Terms t = loss.compute(out, weights, global, accumulation);
        if (t.loss() != null) {
          gc.backward(t.loss());
          model.afterBackward(gc);
        }
        ce += scalar(t.ce());
        mse += scalar(t.mse());
        ceTokens += out.ceTokens();
        mseTokens += out.mseTokens();
      }
    }
    tokensSeen += tokens;
    ce /= accumulation;
    mse /= accumulation;
    double norm = clipper.clip(params);
    boolean finite = Double.isFinite(norm) && Double.isFinite(ce) && Double.isFinite(mse);
    if (finite) {
      optimizer.step(lr);
      if (ema != null) {
        ema.update();
      }
    } else {
      skippedSteps++;
      LOG.warn("(step={}) skipped: non-finite {} (grad norm {}, ce {}, mse {}); {} steps skipped so far",
          String.format("%07d", step), Double.isFinite(norm) ? "loss" : "gradients", norm, ce, mse, skippedSteps);
    }
    Gradients.clear(params);
    return new StepResult(step, ce, mse, lr, norm, !finite, tokens, sumSquares, samples, ceTokens, mseTokens);
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
  static long seedFor(long rankSeed, long micro) {
    long z = rankSeed * 0x9E3779B97F4A7C15L + micro + 0x632BE59BD9B4E019L;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}

package ai.bakery.runtime.parallel.fsdp;

import ai.bakery.model.bagel.Bagel;
import ai.bakery.model.bagel.BagelLoss;
import ai.bakery.model.vae.FluxAutoencoder;
import ai.bakery.runtime.collective.Collective;
import ai.bakery.runtime.collective.ProcessMesh;
import ai.bakery.runtime.optim.OptimizerConfig;
import ai.bakery.runtime.parallel.GradientSync;
import ai.bakery.runtime.train.BagelTrainModel;
import ai.bakery.runtime.train.TrainModel;
import ai.bakery.runtime.train.TrainStep;
import java.util.List;

/**
 * FULL_SHARD and HYBRID_SHARD applied to a BAGEL from outside (the model stays single-device code): shard its
 * store over the mesh's shard group, wrap its forward so that units are gathered per segment, and hand the
 * trainer the pieces it plugs into a {@link TrainStep}. FULL_SHARD is a mesh whose shard group is the world;
 * HYBRID_SHARD one whose replicate groups hold the copies.
 */
public final class Fsdp {
  private Fsdp() {}

  /**
   * One rank's sharded training pieces.
   *
   * @param model the step's model (gathers as it runs)
   * @param sync the step's gradient exchange
   * @param state the rank's shards of weights, moments and EMA
   */
  public record Rank(ShardedTrainModel model, GradientSync sync, ShardedState state) implements AutoCloseable {
    /** AdamW on the shards with {@code config}, then the EMA update when one was started. */
    public TrainStep.Update update(OptimizerConfig config) {
      return lr -> {
        state.optimizerStep(config, lr);
        state.emaUpdate();
      };
    }

    /** Sums each micro-batch's token counts over every rank (the loss is normalised by those). */
    public TrainStep.CountReducer counts() {
      return local -> {
        double[] s = state.sumOverRanks(new double[] {local.ceTokens(), local.ceWeightSum(), local.mseTokens()});
        return new BagelLoss.GlobalCounts(Math.round(s[0]), s[1], Math.round(s[2]), state.ranks());
      };
    }

    @Override
    public void close() {
      state.close();
    }
  }

  /**
   * Shards {@code bagel}'s store (its parameters must hold their full values, which are freed here) over the
   * mesh's shard group and replicates across its replicate group.
   *
   * @param recompute gradient_checkpointing: gather per segment (otherwise every unit for the whole step)
   * @param emaDecay start a sharded EMA with this decay, or NaN for none
   */
  public static Rank apply(Bagel bagel, FluxAutoencoder vae, ProcessMesh mesh, boolean recompute, double emaDecay) {
    return apply(bagel, vae, mesh.shard(), mesh.replicate(), recompute, emaDecay);
  }

  /** As {@link #apply(Bagel, FluxAutoencoder, ProcessMesh, boolean, double)} with the two groups given. */
  public static Rank apply(Bagel bagel, FluxAutoencoder vae, Collective shardGroup, Collective replicaGroup,
      boolean recompute, double emaDecay) {
    return apply(bagel, vae, shardGroup, replicaGroup, recompute, emaDecay, null);
  }

  /**
   * For a model built with a {@link PreSharder} installed on its store (no full weights ever held): the shards
   * come from it. Load the checkpoint into {@code state().params()} with {@link ShardedLoader}, then start the
   * EMA ({@link ShardedState#startEma}) so it starts from the loaded weights.
   */
  public static Rank apply(Bagel bagel, FluxAutoencoder vae, Collective shardGroup, Collective replicaGroup,
      boolean recompute, double emaDecay, PreSharder preSharded) {
    return apply(bagel, new BagelTrainModel(bagel, vae, false), shardGroup, replicaGroup, recompute, emaDecay,
        preSharded);
  }

  /**
   * With the single-device training forward given ({@code forward}: pack to loss terms through {@code bagel},
   * without activation recompute of its own; e.g. a {@link BagelTrainModel} built with recompute off).
   */
  public static Rank apply(Bagel bagel, TrainModel forward, Collective shardGroup, Collective replicaGroup,
      boolean recompute, double emaDecay, PreSharder preSharded) {
    List<SegmentChain> chains = BagelShardPlan.chains(bagel);
    ShardedState state = new ShardedState(bagel.store(), BagelShardPlan.unitPrefixes(chains), shardGroup,
        replicaGroup, preSharded);
    try {
      if (!Double.isNaN(emaDecay)) {
        state.startEma(emaDecay);
      }
      ShardedTrainModel model = new ShardedTrainModel(forward, bagel::setSegmentRunner, chains, state, recompute);
      return new Rank(model, new ShardedGradientSync(model), state);
    } catch (RuntimeException e) {
      state.close();
      throw e;
    }
  }
}

package ai.bakery.runtime.checkpoint;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * The loop's own counters and random state at a checkpoint ({@code train_state.json}). Randomness in a step is
 * derived from {@code (seed, micro_step)}, so these two numbers are the whole RNG state.
 *
 * @param step the optimizer step the checkpoint was taken after (training resumes at {@code step + 1})
 * @param microStep micro-batches consumed so far (the RNG counter)
 * @param globalSeed the run's {@code global_seed}
 * @param worldSize ranks when saved
 * @param skippedSteps optimizer steps skipped because the gradients were not finite
 * @param tokensSeen packed tokens this rank trained on
 */
public record TrainState(
    @JsonProperty("step") long step,
    @JsonProperty("micro_step") long microStep,
    @JsonProperty("global_seed") long globalSeed,
    @JsonProperty("world_size") int worldSize,
    @JsonProperty("skipped_steps") long skippedSteps,
    @JsonProperty("tokens_seen") long tokensSeen) {}

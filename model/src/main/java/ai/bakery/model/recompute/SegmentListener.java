package ai.bakery.model.recompute;

/**
 * Told when each checkpointed segment runs, so that state a segment needs only while it computes can exist only
 * then: a sharded run gathers the segment's full weights before it and frees them after, and reduce-scatters the
 * segment's gradients right after its backward. Calls come on the thread that runs the step.
 *
 * <p>{@code chain} numbers the chains started since the last {@link SegmentedBackward#backward} (0, 1, ...), in
 * the order the model ran them; {@code index} is the segment's position in its chain. In the forward every
 * segment of a chain is announced in order; in backward ({@code recompute} true) the chains come latest first and
 * their segments last first, and a segment the loss does not reach is left out.
 */
public interface SegmentListener {
  /** Does nothing. */
  SegmentListener NONE = new SegmentListener() {};

  /** A chain of {@code segments} segments starts its forward (with or without autograd). */
  default void chainStarted(int chain, int segments) {}

  /** Segment {@code index} of {@code chain} is about to run: in the forward, or again for its backward. */
  default void beforeSegment(int chain, int index, boolean recompute) {}

  /**
   * Segment {@code index} of {@code chain} has run; with {@code recompute} its backward is done too, so the
   * gradients of its parameters are complete for this micro-batch.
   */
  default void afterSegment(int chain, int index, boolean recompute) {}
}

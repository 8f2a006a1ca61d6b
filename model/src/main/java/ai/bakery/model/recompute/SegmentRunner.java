package ai.bakery.model.recompute;

import ai.djl.ndarray.NDArray;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * Runs a chain of segments (decoder layers, ViT layers, the connector) over a hidden state. A model calls its
 * runner where it would loop over its layers, so activation checkpointing is applied from outside the model.
 */
public interface SegmentRunner {
  /** @return the last segment's output for input {@code x} */
  NDArray run(List<UnaryOperator<NDArray>> segments, NDArray x);

  /** Plain execution: every segment's graph is kept for the one backward pass. */
  SegmentRunner PLAIN = (segments, x) -> {
    NDArray h = x;
    for (UnaryOperator<NDArray> s : segments) {
      h = s.apply(h);
    }
    return h;
  };
}

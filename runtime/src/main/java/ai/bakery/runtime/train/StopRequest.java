package ai.bakery.runtime.train;

/**
 * A request, from another thread, that a {@link Trainer} stop at its next step boundary: it finishes the step in
 * flight, checkpoints the last finished step (unless that step is already saved) and returns a result marked
 * {@link TrainResult#stopped()}. {@code bakery train} raises one on SIGTERM (a preemption notice) or SIGINT.
 */
public final class StopRequest {
  private volatile String reason;

  /** Asks for a stop; the first reason given is kept. */
  public synchronized void request(String why) {
    if (reason == null) {
      reason = why == null ? "stop requested" : why;
    }
  }

  public boolean requested() {
    return reason != null;
  }

  /** Why the stop was asked for (e.g. {@code SIGTERM}), or null while none was. */
  public String reason() {
    return reason;
  }
}

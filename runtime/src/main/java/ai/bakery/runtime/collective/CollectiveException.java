package ai.bakery.runtime.collective;

/**
 * A collective failed. The group that threw it is unusable afterwards (every later call rethrows); the
 * elastic layer reads {@link #reason()} to decide whether to rebuild the group for a new generation.
 */
public class CollectiveException extends RuntimeException {
  /** Why a collective failed. */
  public enum Reason {
    /** No progress from a peer within the configured timeout (hung or unreachable peer). */
    TIMEOUT,
    /** A peer closed its connection or the connection broke (peer process died). */
    PEER_LOST,
    /** This group was closed while the operation was pending or before it started. */
    CLOSED,
    /** A peer belongs to another membership generation or group. */
    GENERATION_MISMATCH,
    /** Peers disagree on the sequence or shape of operations, or sent malformed frames. */
    PROTOCOL,
    /** The rendezvous did not complete. */
    RENDEZVOUS,
    /** The backend library reported an error (NCCL, CUDA). */
    BACKEND
  }

  private final Reason reason;
  private final String detail;

  public CollectiveException(Reason reason, String message) {
    super(reason + ": " + message);
    this.reason = reason;
    this.detail = message;
  }

  public CollectiveException(Reason reason, String message, Throwable cause) {
    super(reason + ": " + message, cause);
    this.reason = reason;
    this.detail = message;
  }

  /** The same failure rethrown on another thread, so its stack shows the caller too. */
  public CollectiveException(CollectiveException original) {
    this(original.reason, original.detail, original);
  }

  public Reason reason() {
    return reason;
  }
}

package ai.bakery.actors.worker;

/**
 * Forming a group, the ranks found that none of them holds the job's committed state and no peer can provide it
 * (every worker restarted, or sharded state of another world whose copies are gone): the state must come from a
 * checkpoint. The worker tells the coordinator, which goes back to its newest complete checkpoint.
 */
public class StateUnavailableException extends IllegalStateException {
  public StateUnavailableException(String message) {
    super(message);
  }

  public StateUnavailableException(String message, Throwable cause) {
    super(message, cause);
  }
}

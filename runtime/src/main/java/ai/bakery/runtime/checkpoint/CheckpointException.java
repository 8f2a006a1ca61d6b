package ai.bakery.runtime.checkpoint;

/** A checkpoint cannot be written or read; the message names the folder or file and why. */
public class CheckpointException extends RuntimeException {
  public CheckpointException(String message) {
    super(message);
  }

  public CheckpointException(String message, Throwable cause) {
    super(message, cause);
  }
}
